"""Letter summaries: a template built from the record alone, or a grounded LLM summary.

``template_summary`` needs no LLM: who, the injury, what was disputed, what was decided, what was
flagged; importing this module does not load the LLM stack. ``llm_summary`` asks for 2-4 plain sentences, each backed by a verbatim quote that must
occur in the letter (validated and re-asked like every other quote), and appends the template's
flags sentence, which comes from the record rather than the letter.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from imr_llm.schemas import AuditRecord, Decision, Evidence, Letter, Severity
from imr_llm.text.spans import Sections

if TYPE_CHECKING:
    from imr_llm.llm.client import LLMClient

_MAX_ITEMS_LISTED = 3
_ITEM_CHARS = 70


def _who(record: AuditRecord) -> str:
    age, sex = record.case.patient_age, record.case.patient_sex
    if age is not None and sex:
        return f"A {age}-year-old {sex} patient"
    if age is not None:
        return f"A {age}-year-old patient"
    if sex:
        return f"A {sex} patient"
    return "A patient"


def _short(item: str) -> str:
    item = " ".join(item.split())
    return item if len(item) <= _ITEM_CHARS else item[: _ITEM_CHARS - 1].rstrip() + "…"


def _listing(items: list[str]) -> str:
    shown = [_short(i) for i in items[:_MAX_ITEMS_LISTED]]
    more = len(items) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")


def _decided(decisions: list[Decision]) -> str:
    groups = [
        ("upheld (not medically necessary)", [d.item for d in decisions if d.outcome == "upheld"]),
        (
            "overturned (medically necessary)",
            [d.item for d in decisions if d.outcome == "overturned"],
        ),
        ("decision not read", [d.item for d in decisions if d.outcome == "unknown"]),
    ]
    parts = [f"{label}: {_listing(items)}" for label, items in groups if items]
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def flags_sentence(record: AuditRecord) -> str:
    """ "Flagged: 1 high (decision-conclusion-mismatch), 1 low (extraction-disagreement)." """
    flagged = [f for f in record.findings if f.severity != Severity.info]
    if not flagged:
        return "Nothing was flagged."
    parts = []
    for sev in (Severity.high, Severity.medium, Severity.low):
        codes = Counter(f.code for f in flagged if f.severity == sev)
        if codes:
            n = sum(codes.values())
            parts.append(f"{n} {sev.value} ({', '.join(sorted(codes))})")
    return "Flagged: " + ", ".join(parts) + "."


def template_summary(record: AuditRecord) -> str:
    """2-4 sentences from the record only (no LLM); empty for an error record."""
    if record.status == "error":
        return ""
    case = record.case
    first = _who(record)
    if case.date_of_injury:
        first += f" injured on {case.date_of_injury.isoformat()}"
    if case.body_regions:
        first += f" ({', '.join(case.body_regions[:4])})"
    n = len(record.decisions)
    if n:
        first += f" disputed {n} item{'s' if n != 1 else ''}."
        sentences = [first, _decided(record.decisions)]
    else:
        sentences = [first + " had no disputed items read from the letter."]
    sentences.append(flags_sentence(record))
    return " ".join(sentences)


class GroundedSentence(BaseModel):
    text: str
    evidence: Evidence


class GroundedSummary(BaseModel):
    """LLM sentences with the letter span that backs each, plus the record's flags sentence."""

    sentences: list[GroundedSentence] = Field(default_factory=list)
    flags: str = ""

    @property
    def text(self) -> str:
        return " ".join([s.text for s in self.sentences] + ([self.flags] if self.flags else []))


def _sentence(s: str) -> str:
    s = " ".join(s.split())
    return s if re.search(r"[.!?]$", s) else s + "."


def _heading(text: str, d: Decision) -> str:
    if d.heading_span is not None:
        return " ".join(text[d.heading_span[0] : d.heading_span[1]].split())
    return f"{d.item}: {d.outcome.capitalize()}"


async def llm_summary(
    letter: Letter, record: AuditRecord, client: LLMClient, sections: Sections | None = None
) -> GroundedSummary:
    """Ask for a grounded summary; sets ``record.summary`` and ``record.llm``. Pass the letter's
    ``sections`` so the prompt starts with the same prefix as pass 1 (server prompt cache).
    Raises ``LLMError``."""
    from imr_llm.extract.llm import compact, letter_head
    from imr_llm.llm.responses import SummaryAnswer, locate

    text = letter.text
    head_end = letter_head(text, sections or Sections(), record.decisions)
    variables = {
        "letter_head": compact(text[:head_end]),
        "headings": [_heading(text, d) for d in record.decisions],
    }
    answer, _ = await client.ask(SummaryAnswer, "summary", letter=letter, variables=variables)
    grounded = []
    for s in answer.sentences:
        ev = locate(text, s.quote)
        if ev is not None:
            grounded.append(GroundedSentence(text=_sentence(s.sentence), evidence=ev))
    summary = GroundedSummary(sentences=grounded, flags=flags_sentence(record))
    record.summary = summary.text
    record.llm = client.usage_for(letter)
    return summary
