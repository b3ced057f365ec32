"""LLM pass 1: narrow, quotable questions about one letter, answered with grounded quotes.

Questions (``prompts/*.j2``): ``case_basics`` over the letter up to its issues section;
``items_list`` over the whole letter (skipped when it is too long for ``max_prompt_chars``);
``item_rationale`` once per rules-parsed item. Only questions whose answers reach the record
(reconciliation, the case's diagnoses and regions) or pass 2 are asked. Every
prompt starts with the same letter prefix, so the first question warms the server's prompt cache
and the rest run concurrently (bounded by the client's ``concurrency``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from imr_llm.llm.client import UNANSWERABLE, LLMClient, LLMError
from imr_llm.llm.responses import (
    CaseBasics,
    ItemRationale,
    ItemsList,
    locate,
    quote_in_text,
)
from imr_llm.schemas import AuditRecord, Decision, Evidence, Letter
from imr_llm.text.dates import parse_date
from imr_llm.text.spans import Sections

T = TypeVar("T")


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


async def gather_or_cancel(*aws: Awaitable[T]) -> list[T]:
    """``asyncio.gather`` that cancels the siblings when one fails, then re-raises."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def llm_pass1(
    letter: Letter, record: AuditRecord, sections: Sections, client: LLMClient
) -> LLMExtraction:
    """Ask the pass-1 questions about ``letter``; sets ``record.llm`` to the usage so far.
    Raises ``LLMError`` (the caller turns it into the letter's error record)."""
    text = letter.text
    head_end = letter_head(text, sections, record.decisions)
    base: dict[str, Any] = {"letter_head": compact(text[:head_end])}
    out = LLMExtraction()

    async def answer(model, template: str, variables: dict[str, Any]):
        """One question; a question the model cannot answer with grounded quotes is recorded in
        ``out.failed_questions`` and skipped, so one bad answer costs no other fact."""
        try:
            value, _ = await client.ask(model, template, letter=letter, variables=variables)
            return value
        except LLMError as exc:
            if exc.kind not in UNANSWERABLE:
                raise
            out.failed_questions.append(template)
            return None

    out.basics = await answer(CaseBasics, "case_basics", base)
    if out.basics is not None:
        out.dropped.extend(f"basics.{name}" for name in out.basics.ungrounded)

    async def items_list() -> None:
        rest = compact(text[head_end:])
        if not rest:
            return
        try:
            out.items_list = await answer(ItemsList, "items_list", {**base, "letter_rest": rest})
        except LLMError as exc:
            if exc.kind != "prompt_too_long":
                raise

    async def item(d: Decision) -> ItemExtraction:
        variables = {**base, "item_block": compact(text[d.span[0] : d.span[1]])}
        rationale = await answer(ItemRationale, "item_rationale", variables)
        return ItemExtraction(index=d.index, rationale=rationale)

    decisions = [d for d in record.decisions if d.span[1] > d.span[0]]
    results = await gather_or_cancel(items_list(), *(item(d) for d in decisions))
    out.items = [r for r in results if isinstance(r, ItemExtraction)]

    _drop_unsupported_values(out)
    _ground(out, "basics", out.basics, text, None)
    _ground(out, "items_list", out.items_list, text, sections.issues)
    spans = {d.index: d.span for d in decisions}
    for i, it in enumerate(out.items):
        _ground(out, f"items[{i}].rationale", it.rationale, text, spans.get(it.index))
    record.llm = client.usage_for(letter)
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
