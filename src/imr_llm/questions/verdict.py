"""``item_verdict``: by the rationale's own account of this patient's records, does the patient
meet the guideline's conditions (meets / does not meet / not stated), with a quote.

Measured on the local 1.5B model, this overall question and ``item_criteria``'s per-criterion
list miss different items, so either one suffices once verified; ``item_criteria`` decides from
both (this question decides nothing on its own). Asked in one response with the criteria list
(tried at 2d3fbea: half the askings), the verdict followed the list: on the blind authored set
the 4 findings this question gave (2 true) all went, so it stays a question of its own.
"""

from __future__ import annotations

from imr_llm.llm.responses import CriteriaVerdict
from imr_llm.questions.base import LetterView, RationaleQuestion
from imr_llm.questions.quotes import CONCLUSION, inside
from imr_llm.schemas import Decision, Evidence


class VerdictQuestion(RationaleQuestion):
    name = "item_verdict"
    response_model = CriteriaVerdict

    def worth_asking(self, view: LetterView, item: Decision) -> bool:
        from imr_llm.questions.criteria import could_mismatch

        return could_mismatch(view, item)  # only item_criteria reads this answer


def read_verdict(
    answer: CriteriaVerdict | None, text: str, span: tuple[int, int]
) -> tuple[str, Evidence | None]:
    """The model's verdict and its quote, placed inside the rationale (else "not_stated")."""
    if answer is None or answer.verdict == "not_stated":
        return "not_stated", None
    ev = inside(text, answer.quote, span)
    if ev is None or CONCLUSION.search(ev.quote):
        return "not_stated", None
    return answer.verdict, ev
