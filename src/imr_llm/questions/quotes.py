"""Placing a model's quote in the letter section it must come from, and item evidence.

The model's quotes are never trusted for offsets: each is found in the letter (``locate``) and
kept only inside the span it has to come from.
"""

from __future__ import annotations

import re

from imr_llm.llm.responses import locate
from imr_llm.schemas import Decision, Evidence
from imr_llm.text.spans import clauses


def short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


MIN_TRIMMED_WORDS = 5
"""A quote that is not in the letter as given may still be placed with up to two words trimmed
from either edge (a small model often writes "The MRI" for the letter's "An MRI"), keeping at
least this many words. The evidence is always the exact letter text that was found."""


def find_in(text: str, quote: str, span: tuple[int, int]) -> Evidence | None:
    ev = locate(text, quote, span)
    if ev is None or not (span[0] <= ev.start and ev.end <= span[1]):
        return None
    return ev


def inside(text: str, quote: str | None, span: tuple[int, int]) -> Evidence | None:
    """Evidence for ``quote`` inside ``text[span[0]:span[1]]``, or None. Tries the quote as
    given, then each of its sentences (longest first), then the quote with up to two words
    trimmed from either edge."""
    if not quote or not quote.strip():
        return None
    ev = find_in(text, quote, span)
    if ev is not None:
        return ev
    parts = [p for p in re.split(r"(?<=[.;])\s+", quote.strip()) if len(p.split()) >= 3]
    if len(parts) > 1:
        for part in sorted(parts, key=len, reverse=True):
            ev = find_in(text, part, span)
            if ev is not None:
                return ev
    words = quote.split()
    for lead in range(3):
        for tail in range(3):
            if not (lead or tail) or len(words) - lead - tail < MIN_TRIMMED_WORDS:
                continue
            ev = find_in(text, " ".join(words[lead : len(words) - tail]), span)
            if ev is not None:
                return ev
    return None


def narrow(text: str, ev: Evidence, keep) -> Evidence:
    """The first sentence of a multi-sentence quote that still satisfies ``keep``."""
    for a, b in clauses(text, ev.start, ev.end):
        if (a, b) != (ev.start, ev.end) and keep(text[a:b]):
            return Evidence(quote=text[a:b], start=a, end=b)
    return ev


def item_evidence(text: str, d: Decision) -> list[Evidence]:
    if d.heading_span:
        a, b = d.heading_span
        words = " ".join(d.item.split())
        ev = locate(text, words, (a, b)) if words else None
        if ev is not None and a <= ev.start and ev.end <= b:
            return [ev]
        return [Evidence(quote=text[a:b], start=a, end=b)]
    ev = locate(text, d.item, d.span) if d.item.strip() else None
    return [ev] if ev is not None else []


def conclusion_evidence(d: Decision) -> list[Evidence]:
    return [d.conclusion_evidence] if d.conclusion_evidence is not None else []


CONCLUSION = re.compile(
    r"medically\s+necessary|\b(?:is|are)\s+(?:not\s+)?(?:supported|indicated|warranted|"
    r"appropriate|recommended)\s*(?:at\s+this\s+time)?\W*$",
    re.I,
)
"""A rationale's concluding sentence ("... is not medically necessary"): never evidence of a
criterion or a verdict."""
