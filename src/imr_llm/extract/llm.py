"""What LLM pass 1 read in a letter (``LLMExtraction``), and the letter as prompts see it.

The pass-1 questions (``imr_llm.questions``: ``case_basics``, ``items_list``,
``item_rationale``) are answered with grounded quotes; ``extraction_from`` places every quote
in the letter. ``letter_head`` and ``compact`` give every prompt the same letter prefix.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, Field

from imr_llm.llm.responses import (
    CaseBasics,
    ItemRationale,
    ItemsList,
    locate,
    quote_in_text,
)
from imr_llm.schemas import Decision, Evidence
from imr_llm.text.dates import parse_date
from imr_llm.text.spans import Sections


class ItemExtraction(BaseModel):
    """The LLM's reading of one rules-parsed item (``index`` = the record's decision index)."""

    index: int
    rationale: ItemRationale | None = None


class LLMExtraction(BaseModel):
    """Pass-1 answers plus, for every quote, its exact place in the letter.

    ``evidence`` maps a fact's path to its Evidence: ``basics.age``, ``basics.diagnoses[0]``,
    ``items_list.items[1]``, ``items[0].rationale.conclusion``,
    ``items[0].rationale.missing[1]``. ``dropped`` lists facts removed because their value does
    not appear in their own quote; ``failed_questions`` the templates the model could not
    answer with grounded quotes (their parts stay None).
    """

    basics: CaseBasics | None = None
    items_list: ItemsList | None = None
    items: list[ItemExtraction] = Field(default_factory=list)
    evidence: dict[str, Evidence] = Field(default_factory=dict)
    dropped: list[str] = Field(default_factory=list)
    failed_questions: list[str] = Field(default_factory=list)

    def ev(self, path: str) -> Evidence | None:
        return self.evidence.get(path)

    def item(self, index: int) -> ItemExtraction | None:
        return next((i for i in self.items if i.index == index), None)

    @property
    def date_of_injury(self) -> date | None:
        fact = self.basics.date_of_injury if self.basics else None
        return parse_date(fact.as_written) if fact else None


def letter_head(text: str, sections: Sections, decisions: list[Decision]) -> int:
    """Where the shared prompt prefix ends: the start of the issues section (or first item)."""
    if sections.issues:
        return sections.issues[0]
    starts = [d.span[0] for d in decisions if d.span[1] > d.span[0]]
    return min(starts) if starts else len(text)


_BLANK_LINES = re.compile(r"[ \t]*\n(?:[ \t]*\n)+")
_TRAILING = re.compile(r"[ \t]+\n")


def compact(text: str) -> str:
    """Letter text for a prompt: blank lines and trailing blanks removed (quotes are matched
    ignoring whitespace, so nothing a model can quote changes)."""
    return _TRAILING.sub("\n", _BLANK_LINES.sub("\n", text)).strip()


def extraction_from(
    text: str,
    sections: Sections,
    basics: CaseBasics | None,
    items_list: ItemsList | None,
    rationales: list[tuple[Decision, ItemRationale | None]],
    failed: list[str],
) -> LLMExtraction:
    """Pass 1's answers as one extraction: facts whose value is not in their own quote dropped,
    every quote placed in the letter (``evidence``)."""
    out = LLMExtraction(basics=basics, items_list=items_list, failed_questions=list(failed))
    if basics is not None:
        out.dropped.extend(f"basics.{name}" for name in basics.ungrounded)
    out.items = [ItemExtraction(index=d.index, rationale=r) for d, r in rationales]
    _drop_unsupported_values(out)
    _ground(out, "basics", out.basics, text, None)
    _ground(out, "items_list", out.items_list, text, sections.issues)
    spans = {d.index: d.span for d, _ in rationales}
    for i, it in enumerate(out.items):
        _ground(out, f"items[{i}].rationale", it.rationale, text, spans.get(it.index))
    return out


def _drop_unsupported_values(out: LLMExtraction) -> None:
    """Drop facts whose value is not in their own quote (a grounded quote, a made-up value)."""
    b = out.basics
    if b is None:
        return
    if b.age is not None and not re.search(rf"(?<!\d){b.age.years}(?!\d)", b.age.quote):
        b.age = None
        out.dropped.append("basics.age")
    if b.date_of_injury is not None:
        fact = b.date_of_injury
        if parse_date(fact.as_written) is None or not quote_in_text(fact.as_written, fact.quote):
            b.date_of_injury = None
            out.dropped.append("basics.date_of_injury")


def _ground(
    out: LLMExtraction, path: str, obj: BaseModel | None, text: str, window: tuple[int, int] | None
) -> None:
    if obj is None:
        return
    for name, value in obj:
        if isinstance(value, str) and (name == "quote" or name.endswith("_quote")):
            where = path if name == "quote" else f"{path}.{name[: -len('_quote')]}"
            ev = locate(text, value, window)
            if ev is not None:
                out.evidence[where] = ev
        elif isinstance(value, BaseModel):
            _ground(out, f"{path}.{name}", value, text, window)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, BaseModel):
                    _ground(out, f"{path}.{name}[{i}]", v, text, window)
