"""``item_rationale``: what one item's rationale applies, finds and concludes (pass 1)."""

from __future__ import annotations

from imr_llm.codes import Code
from imr_llm.llm.responses import ItemRationale
from imr_llm.questions.base import Question


class ItemRationaleQuestion(Question):
    name = "item_rationale"
    response_model = ItemRationale
    codes = (Code.extraction_disagreement,)
    scope = "item"
    variables = ("item_block",)
    stage = 1
