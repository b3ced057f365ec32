"""``case_basics``: patient and injury facts from the CLINICAL CASE SUMMARY (pass 1)."""

from __future__ import annotations

from imr_llm.codes import Code
from imr_llm.llm.responses import CaseBasics
from imr_llm.questions.base import Question


class CaseBasicsQuestion(Question):
    name = "case_basics"
    response_model = CaseBasics
    codes = (Code.extraction_disagreement,)
    scope = "letter"
    stage = 0
