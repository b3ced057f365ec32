"""``items_list``: the disputed items and their decision words, over the whole letter (pass 1).

Not asked when nothing follows the letter head; skipped silently when the letter is too long for
``max_prompt_chars``.
"""

from __future__ import annotations

from imr_llm.codes import Code
from imr_llm.extract.llm import compact
from imr_llm.llm.responses import ItemsList
from imr_llm.questions.base import Ask, LetterView, Question
from imr_llm.schemas import Decision


class ItemsListQuestion(Question):
    name = "items_list"
    response_model = ItemsList
    codes = (Code.extraction_disagreement,)
    scope = "letter"
    variables = ("letter_rest",)
    stage = 1
    quiet = frozenset({"prompt_too_long"})

    def asks(self, view: LetterView, item: Decision | None) -> list[Ask]:
        rest = compact(view.text[view.head_end :])
        return [Ask({**view.base, "letter_rest": rest})] if rest else []
