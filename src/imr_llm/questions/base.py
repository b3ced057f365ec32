"""What an LLM question is, and what it sees.

A question is one prompt file (``prompts/<name>.j2``, versioned), one response model, a scope
(asked once per ``letter`` or once per ``item``), the variables its prompt renders besides the
shared letter head, and the code that decides findings from its answers. The model never
decides: ``decide`` reads answers that were placed in the letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from imr_llm.codes import Code
from imr_llm.extract.llm import compact, letter_head
from imr_llm.schemas import AuditRecord, Decision, Finding, Letter
from imr_llm.text.spans import Sections

if TYPE_CHECKING:
    from imr_llm.extract.llm import LLMExtraction

Scope = Literal["letter", "item"]


@dataclass
class LetterView:
    """What questions read about one letter: the (masked) letter, the rules record, its
    sections, the shared prompt head and, once pass 1 has run, its extraction."""

    letter: Letter
    record: AuditRecord
    sections: Sections
    extraction: LLMExtraction | None = None
    head_end: int = field(init=False)
    base: dict[str, Any] = field(init=False)
    """The variables every prompt renders: ``letter_head``, the shared prefix."""

    def __post_init__(self) -> None:
        self.head_end = letter_head(self.text, self.sections, self.record.decisions)
        self.base = {"letter_head": compact(self.text[: self.head_end])}

    @property
    def text(self) -> str:
        return self.letter.text

    def item_block(self, d: Decision) -> str:
        return compact(self.text[d.span[0] : d.span[1]])


@dataclass
class Ask:
    """One asking of a question: its prompt variables and what it is about (a claim, say)."""

    variables: dict[str, Any]
    about: Any = None


@dataclass
class Asked:
    ask: Ask
    answer: Any
    """The response model instance, or None when the model could not answer."""


class Answers:
    """Every answer of one scheduler run, by question name and item index (None: the letter)."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, int | None], list[Asked]] = {}

    def add(self, name: str, index: int | None, asked: Asked) -> None:
        self._by.setdefault((name, index), []).append(asked)

    def all(self, name: str, index: int | None = None) -> list[Asked]:
        return self._by.get((name, index), [])

    def one(self, name: str, index: int | None = None) -> Any:
        """The answer of a question asked once (per item), or None."""
        asked = self.all(name, index)
        return asked[0].answer if asked else None


class Question:
    """One LLM question; subclasses set the class attributes and override ``asks`` / ``decide``."""

    name: ClassVar[str]
    """The prompt file ``prompts/<name>.j2``; also the name in records and logs."""
    response_model: ClassVar[type[BaseModel]]
    scope: ClassVar[Scope]
    variables: ClassVar[tuple[str, ...]] = ()
    """What the prompt renders besides ``letter_head`` (documentation; ``asks`` fills them)."""
    codes: ClassVar[tuple[Code, ...]] = ()
    """The finding codes its answers can raise (through ``decide``; for pass 1, through
    ``imr_llm.extract.reconcile``)."""
    stage: ClassVar[int]
    """When it is asked: 0 first and alone (it warms the server's prompt cache with the letter),
    1 the rest of pass 1, 2 pass 2 (reads pass 1's extraction). Questions of one stage run
    concurrently, grouped by question so that consecutive requests share the longest prefix."""
    quiet: ClassVar[frozenset[str]] = frozenset()
    """``LLMError`` kinds that skip this question silently (besides the unanswerable ones)."""
    listed_when_unanswered: ClassVar[bool] = True
    """Whether an unanswerable asking goes into the record's ``llm.failed_questions``."""

    def asks(self, view: LetterView, item: Decision | None) -> list[Ask]:
        """The askings for the letter (``item`` None) or one item; default one, with the item's
        block for item questions."""
        if item is None:
            return [Ask(dict(view.base))]
        return [Ask({**view.base, "item_block": view.item_block(item)})]

    def decide(self, view: LetterView, item: Decision | None, answers: Answers) -> list[Finding]:
        """Findings from this question's answers (and, where it reads them, other questions')."""
        return []


class RationaleQuestion(Question):
    """A pass-2 question about one item's rationale (items without one are not asked). Its
    unanswerable askings are logged and skipped, not listed in the record."""

    scope: ClassVar[Scope] = "item"
    variables: ClassVar[tuple[str, ...]] = ("item_block",)
    stage: ClassVar[int] = 2
    listed_when_unanswered: ClassVar[bool] = False

    def asks(self, view: LetterView, item: Decision | None) -> list[Ask]:
        if item is None or rationale_span(item) is None or not self.worth_asking(view, item):
            return []
        return super().asks(view, item)

    def worth_asking(self, view: LetterView, item: Decision) -> bool:
        """Whether some answer could make ``decide`` flag ``item`` (what ``decide`` needs of
        the letter before it reads an answer); an item where none could is not asked."""
        return True


def rationale_span(d: Decision) -> tuple[int, int] | None:
    if d.rationale_span and d.rationale_span[1] > d.rationale_span[0]:
        return d.rationale_span
    return None
