"""The grounded LLM summary, in the extractive summary's parts.

Two questions, sized for a small local model: one for the case parts (injury, diagnoses,
treatment to date) over the letter's head, and one per item for its decision and reason over
the end of that item's rationale. Each answer is a plain sentence with a quote copied from the
letter. A part whose quote is not in the letter (for an item's reason: not in that item's
rationale), does not read as that part (a complaint given as the diagnoses, a bare verdict
given as the reason) or does not back the sentence (``text.support``), or whose question could
not be answered with a grounded quote, keeps the extractive quote, and
``SummaryParts.extractive_parts`` names it; body parts stay the rules' list. Imported only when
an LLM backend is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from imr_llm.extract.llm import compact, letter_head
from imr_llm.llm.responses import LooseQuote, locate, quote_in_text
from imr_llm.schemas import AuditRecord, Decision, Evidence, Letter, SummaryParts
from imr_llm.summarize import reads_as
from imr_llm.text.spans import Sections, sentences
from imr_llm.text.support import supports

if TYPE_CHECKING:
    from imr_llm.llm.client import LLMClient

# How much of a rationale's end the item question shows: its reason leads into the verdict.
_RATIONALE_CHARS = 1400


class PartSentence(BaseModel):
    sentence: str = Field(min_length=3, max_length=300, description="one plain sentence")
    quote: LooseQuote


class SummaryPartsAnswer(BaseModel):
    """The case parts of the summary, each required (a small model given the choice answers
    null). A part whose quote is not in the letter is left out when merged; only an answer with
    no grounded part is re-asked."""

    injury: PartSentence
    diagnoses: PartSentence
    treatment_to_date: PartSentence

    @model_validator(mode="after")
    def _some_grounded(self, info: ValidationInfo) -> SummaryPartsAnswer:
        text = (info.context or {}).get("text")
        if text is None:
            return self
        for name in ("injury", "diagnoses", "treatment_to_date"):
            kept = _grounded(getattr(self, name), text)
            if kept is not None:
                setattr(self, name, kept)
        if not any(
            quote_in_text(p.quote, text)
            for p in (self.injury, self.diagnoses, self.treatment_to_date)
        ):
            raise ValueError(
                "no part's quote occurs in the letter. Copy each quote exactly as the letter "
                "writes it (3 to 25 words), for example the sentence that dates the injury."
            )
        return self


class ItemReasonAnswer(PartSentence):
    """One item's decision and reason; re-asked when the quote is not in the letter."""

    @model_validator(mode="after")
    def _grounded_quote(self, info: ValidationInfo) -> ItemReasonAnswer:
        text = (info.context or {}).get("text")
        if text is None:
            return self
        kept = _grounded(self, text)
        if kept is None:
            raise ValueError(
                "the quote does not occur in the letter. Copy the reason exactly as the item's "
                "rationale writes it (3 to 25 words)."
            )
        self.quote = kept.quote
        return self


P = TypeVar("P", bound="PartSentence")


def _grounded(part: P | None, text: str) -> P | None:
    """``part`` with a quote that occurs in the letter, or None. A small model often puts the
    letter's words in ``sentence``: then the sentence is its own quote."""
    if part is None or quote_in_text(part.quote, text):
        return part
    if quote_in_text(part.sentence, text):
        return part.model_copy(update={"quote": part.sentence})
    return None


def item_block(text: str, d: Decision) -> str:
    """An item's heading and the closing sentences of its rationale (where its reason leads
    into the verdict), for the item question."""
    heading = f"{d.item}: {d.outcome.capitalize()}"
    if d.heading_span is not None:
        heading = " ".join(text[d.heading_span[0] : d.heading_span[1]].split())
    kept: list[str] = []
    if d.rationale_span:
        for a, b in reversed(sentences(text, *d.rationale_span)):
            if kept and sum(map(len, kept)) + (b - a) > _RATIONALE_CHARS:
                break
            kept.insert(0, text[a:b])
    return f"{heading}\n...\n{compact(' '.join(kept))}"


class GroundedSentence(BaseModel):
    text: str
    evidence: Evidence


class GroundedSummary(BaseModel):
    """The LLM's grounded sentences (one per part it answered) and the summary text."""

    sentences: list[GroundedSentence] = Field(default_factory=list)
    text: str = ""


def _overlap(a: Evidence, b: Evidence) -> bool:
    return a.start < b.end and b.start < a.end


def _sentence(s: str) -> str:
    s = " ".join(s.split())
    return s if s.endswith((".", "!", "?")) else s + "."


def merge(
    case: SummaryPartsAnswer | None,
    reasons: list[ItemReasonAnswer | None],
    text: str,
    record: AuditRecord,
    extractive: SummaryParts,
) -> tuple[SummaryParts, list[GroundedSentence]]:
    """The extractive parts with each part the LLM grounded replaced by its quote and sentence.
    A part counts only when its quote is in the letter, reads as that part (``reads_as``: an
    injury statement, a diagnosis, care so far) and backs the sentence (``supports``: most of
    its content words, the same negation; on 36 read letters it kept 34 of 43 faithful
    sentences and 1 of 4 unfaithful ones, the faithful ones it drops stating facts their quote
    does not hold); an item's reason only when its quote lies in that item's rationale,
    neither it nor the sentence is a guideline's rule or a bare verdict, and its quote overlaps
    the extractive decisive reason: the two readers agree on which clause decided the item. (Read on 14 check-split letters, 5 of 6 item sentences whose quote lay
    elsewhere in the rationale gave a reason the rationale does not give.)"""
    parts = extractive.model_copy(deep=True)
    parts.source = "llm"
    grounded: list[GroundedSentence] = []
    fell_back: list[str] = []

    def take(
        name: str,
        part: PartSentence | None,
        window: tuple[int, int] | None,
        agree: Evidence | None = None,
    ) -> bool:
        ev = locate(text, part.quote, window) if part is not None else None
        kind = name.split(":")[0]
        if (
            part is None
            or ev is None
            or (window and not window[0] <= ev.start < window[1])
            or not reads_as(kind, text, ev.start, ev.end)
            or not supports(ev.quote, part.sentence)
            or (kind == "item" and not reads_as(kind, part.sentence, 0, len(part.sentence)))
            or (kind == "item" and (agree is None or not _overlap(ev, agree)))
        ):
            fell_back.append(name)
            return False
        if not name.startswith("item:"):
            setattr(parts, name, ev)
        parts.sentences[name] = _sentence(part.sentence)
        grounded.append(GroundedSentence(text=parts.sentences[name], evidence=ev))
        return True

    for name in ("injury", "diagnoses", "treatment_to_date"):
        take(name, getattr(case, name) if case else None, None)
    for item, d, reason in zip(parts.items, record.decisions, reasons, strict=True):
        if take(f"item:{item.index}", reason, d.rationale_span, agree=item.reason):
            item.reason = grounded[-1].evidence
    parts.extractive_parts = fell_back
    return parts, grounded


async def llm_summary_parts(
    letter: Letter, record: AuditRecord, client: LLMClient, sections: Sections | None = None
) -> GroundedSummary:
    """Ask the case question and one question per item; where some part is grounded,
    ``record.summary_parts`` becomes the merged parts and ``record.summary`` their text (the
    extractive summary stays otherwise). A question the model cannot answer with a grounded
    quote leaves its parts extractive; other failures raise ``LLMError``."""
    from imr_llm.llm.client import UNANSWERABLE, LLMError
    from imr_llm.summarize import extractive_summary, summary_text

    text = letter.text
    head = {
        "letter_head": compact(text[: letter_head(text, sections or Sections(), record.decisions)])
    }

    async def answer(model, template: str, extra: dict):
        try:
            value, _ = await client.ask(model, template, letter=letter, variables=head | extra)
        except LLMError as exc:
            if exc.kind not in UNANSWERABLE:
                raise
            return None
        return value

    case = await answer(SummaryPartsAnswer, "summary", {})
    reasons = [
        await answer(ItemReasonAnswer, "summary_item", {"item_block": item_block(text, d)})
        for d in record.decisions
    ]
    extractive = record.summary_parts or extractive_summary(text, record, sections or Sections())
    parts, grounded = merge(case, reasons, text, record, extractive)
    record.llm = client.usage_for(letter)
    if not grounded:
        return GroundedSummary()
    record.summary_parts = parts
    record.summary = summary_text(parts, record)
    return GroundedSummary(sentences=grounded, text=record.summary)
