"""The grounded LLM summary, in the extractive summary's parts.

The model writes one plain sentence per part (injury, diagnoses, treatment to date, each item's
decision and reason), each with a quote copied from the letter. A part whose quote is not in
the letter (for an item's reason: not in that item's rationale) keeps the extractive quote, and
``SummaryParts.extractive_parts`` names it; body parts stay the rules' list. Imported only when
an LLM backend is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from imr_llm.extract.llm import compact, letter_head
from imr_llm.llm.responses import LooseQuote, locate, quote_in_text
from imr_llm.schemas import AuditRecord, Decision, Evidence, Letter, SummaryParts
from imr_llm.text.spans import Sections, sentences

if TYPE_CHECKING:
    from imr_llm.llm.client import LLMClient

# How much of each rationale's end the prompt shows (its reason leads into the verdict), in
# all and at most per item: the prompt must fit a small model's context with the letter head.
_RATIONALE_CHARS = 6000
_RATIONALE_CHARS_ITEM = 1400


class PartSentence(BaseModel):
    sentence: str = Field(min_length=3, max_length=300, description="one plain sentence")
    quote: LooseQuote


class ItemReasonSentence(PartSentence):
    item: int = Field(ge=1, description="the item's number as shown in <item number=...>")


class SummaryPartsAnswer(BaseModel):
    """The summary part by part. Parts whose quote is not in the letter are dropped; only an
    answer with no grounded part left is re-asked."""

    injury: PartSentence | None = None
    diagnoses: PartSentence | None = None
    treatment_to_date: PartSentence | None = None
    items: list[ItemReasonSentence] = Field(default_factory=list, max_length=40)

    @model_validator(mode="after")
    def _keep_grounded(self, info: ValidationInfo) -> SummaryPartsAnswer:
        text = (info.context or {}).get("text")
        if text is None:
            return self
        for name in ("injury", "diagnoses", "treatment_to_date"):
            setattr(self, name, _grounded(getattr(self, name), text))
        self.items = [g for it in self.items if (g := _grounded(it, text)) is not None]
        if not (self.injury or self.diagnoses or self.treatment_to_date or self.items):
            raise ValueError(
                "no part's quote occurs in the letter. Copy each quote exactly as the letter "
                "writes it (3 to 25 words), for example the sentence that dates the injury."
            )
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


class _Item(BaseModel):
    number: int
    heading: str
    rationale: str


def prompt_items(text: str, decisions: list[Decision]) -> list[_Item]:
    """Each item's heading and the closing sentences of its rationale, for the prompt."""
    share = min(_RATIONALE_CHARS_ITEM, _RATIONALE_CHARS // max(1, len(decisions)))
    out = []
    for d in decisions:
        heading = f"{d.item}: {d.outcome.capitalize()}"
        if d.heading_span is not None:
            heading = " ".join(text[d.heading_span[0] : d.heading_span[1]].split())
        tail = ""
        if d.rationale_span:
            r0, r1 = d.rationale_span
            kept: list[str] = []
            for a, b in reversed(sentences(text, r0, r1)):
                if kept and sum(map(len, kept)) + (b - a) > share:
                    break
                kept.insert(0, text[a:b])
            tail = compact(" ".join(kept))
        out.append(_Item(number=d.index + 1, heading=heading, rationale=tail))
    return out


class GroundedSentence(BaseModel):
    text: str
    evidence: Evidence


class GroundedSummary(BaseModel):
    """The LLM's grounded sentences (one per part it answered) and the summary text."""

    sentences: list[GroundedSentence] = Field(default_factory=list)
    text: str = ""


def _sentence(s: str) -> str:
    s = " ".join(s.split())
    return s if s.endswith((".", "!", "?")) else s + "."


def merge(
    answer: SummaryPartsAnswer, text: str, record: AuditRecord, extractive: SummaryParts
) -> tuple[SummaryParts, list[GroundedSentence]]:
    """The extractive parts with each part the LLM grounded replaced by its quote and sentence;
    an item's reason counts only when its quote lies in that item's rationale."""
    parts = extractive.model_copy(deep=True)
    parts.source = "llm"
    grounded: list[GroundedSentence] = []
    fell_back: list[str] = []

    def take(name: str, part: PartSentence | None, window: tuple[int, int] | None) -> bool:
        ev = locate(text, part.quote, window) if part is not None else None
        if part is None or ev is None or (window and not window[0] <= ev.start < window[1]):
            fell_back.append(name)
            return False
        if not name.startswith("item:"):
            setattr(parts, name, ev)
        parts.sentences[name] = _sentence(part.sentence)
        grounded.append(GroundedSentence(text=parts.sentences[name], evidence=ev))
        return True

    for name in ("injury", "diagnoses", "treatment_to_date"):
        take(name, getattr(answer, name), None)
    by_number = {it.item: it for it in answer.items}
    for item, d in zip(parts.items, record.decisions, strict=True):
        key = f"item:{item.index}"
        if take(key, by_number.get(item.index + 1), d.rationale_span):
            item.reason = grounded[-1].evidence
    parts.extractive_parts = fell_back
    return parts, grounded


async def llm_summary_parts(
    letter: Letter, record: AuditRecord, client: LLMClient, sections: Sections | None = None
) -> GroundedSummary:
    """Ask for the summary part by part; where some part is grounded, ``record.summary_parts``
    becomes the merged parts and ``record.summary`` their text (the extractive summary stays
    otherwise). Raises ``LLMError``."""
    from imr_llm.summarize import extractive_summary, summary_text

    text = letter.text
    head_end = letter_head(text, sections or Sections(), record.decisions)
    variables = {
        "letter_head": compact(text[:head_end]),
        "items": [i.model_dump() for i in prompt_items(text, record.decisions)],
    }
    answer, _ = await client.ask(SummaryPartsAnswer, "summary", letter=letter, variables=variables)
    extractive = record.summary_parts or extractive_summary(text, record, sections or Sections())
    parts, grounded = merge(answer, text, record, extractive)
    record.llm = client.usage_for(letter)
    if not grounded:
        return GroundedSummary()
    record.summary_parts = parts
    record.summary = summary_text(parts, record)
    return GroundedSummary(sentences=grounded, text=record.summary)
