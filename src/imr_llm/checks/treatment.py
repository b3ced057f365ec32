"""Rationale about a different treatment, body region or side than the item (rules part).

Conservative by design: rationales often quote guideline text about other treatments and
summarise other complaints, so a finding needs the rationale never to name the item's
treatment (or region) at all while naming another one, and never to repeat the item's
own distinctive words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from imr_llm.checks.base import CheckContext, finding, register
from imr_llm.checks.guidelines import find_loose, item_evidence, region_names, topic_names
from imr_llm.guidelines import find_regions, find_topics, related, topics_related
from imr_llm.guidelines.catalog import Mention
from imr_llm.schemas import Decision, Finding, Severity

_GENERIC = {
    "request", "requested", "additional", "continue", "continued", "retrospective", "associated",
    "surgical", "service", "services", "with", "without", "contrast", "times", "time", "week",
    "weeks", "weekly", "visits", "visit", "sessions", "session", "therapy", "treatment",
    "treatments", "left", "right", "bilateral", "spine", "unknown", "quantity", "purchase",
    "rental", "initial", "possible", "one", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "twelve", "for", "the", "and", "of", "to", "per", "day", "days",
    "month", "months", "supply", "tablet", "tablets", "refill", "affected", "area", "apply",
    "orally", "needed", "hours", "every", "take", "pre", "post", "op", "dos", "evaluation",
}  # fmt: skip
_OTHER_SIDE = {"left": "right", "right": "left"}


_LINKED = {"surgery", "surgical-assistant", "preop-testing"}


_WORD = re.compile(r"[a-z][a-z\-]{3,}")


def _stem(word: str) -> str:
    """``word`` without a final "es" or "s" (what ``re.sub(r"(?:es|s)$", "", word)`` gives)."""
    if word.endswith("es"):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _content_words(text: str) -> set[str]:
    """Distinctive lower-case word stems of ``text`` (no generic request words)."""
    return {
        _stem(w)
        for w in set(_WORD.findall(text.lower()))
        if w not in _GENERIC and not w.endswith("mg")
    }


def _shares_content_word(item: str, rationale: str) -> bool:
    """Whether ``_content_words(item) & _content_words(rationale)`` is non-empty.

    Only the rationale words that could stem to one of the item's few stems are looked for,
    with ``str.find`` instead of collecting every word of the rationale.
    """
    stems = _content_words(item)
    if not stems:
        return False
    low = rationale.lower()
    return any(
        len(w) >= 4
        and w not in _GENERIC
        and not w.endswith("mg")
        and _stem(w) == s
        and _has_word(low, w)
        for s in stems
        for w in (s, s + "s", s + "es")
    )


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz-")


def _has_word(low: str, word: str) -> bool:
    """Whether ``word`` (``_WORD``-shaped) is one of ``_WORD.findall(low)``.

    Those words are the maximal runs of ``[a-z-]`` from their first letter on, so an
    occurrence counts when no ``[a-z-]`` follows it and only hyphens lie between it and the
    previous character outside ``[a-z-]`` (or the start).
    """
    n = len(word)
    i = low.find(word)
    while i >= 0:
        e = i + n
        if e == len(low) or low[e] not in _WORD_CHARS:
            j = i - 1
            while j >= 0 and low[j] == "-":
                j -= 1
            if j < 0 or low[j] not in _WORD_CHARS:
                return True
        i = low.find(word, i + 1)
    return False


def _rationale(ctx: CheckContext, d: Decision) -> tuple[str, int] | None:
    if d.rationale_span:
        return ctx.text[d.rationale_span[0] : d.rationale_span[1]], d.rationale_span[0]
    if not d.rationale:
        return None
    hit = find_loose(ctx.text, d.rationale, *d.span)
    return (ctx.text[hit[0] : hit[1]], hit[0]) if hit else None


def _most_named(mentions: list[Mention], exclude: set[str]) -> Mention | None:
    counts = Counter(i for m in mentions for i in m.ids if i not in exclude)
    if not counts:
        return None
    top = counts.most_common(1)[0][0]
    return next(m for m in mentions if top in m.ids)


@register("treatment", "treatment-mismatch")
def check_treatment_mismatch(ctx: CheckContext) -> Iterable[Finding]:
    """Rationale names another treatment, region or side and never the item's own."""
    for d in ctx.record.decisions:
        found = _rationale(ctx, d)
        if found is None:
            continue
        rationale, base = found
        shared = _shares_content_word(d.item, rationale)
        topic = [] if shared else _topic_mismatch(ctx, d, rationale, base)
        if topic:
            yield from topic
            continue
        if not find_regions(d.item):
            continue  # no region or side of the item to compare
        regions = find_regions(rationale)
        yield from (
            _region_mismatch(ctx, d, regions, base) or _side_mismatch(ctx, d, regions, base)
        )


def _topic_mismatch(ctx, d, rationale: str, base: int) -> list[Finding]:
    item_topics = {i for m in find_topics(d.item) for i in m.ids}
    mentions = find_topics(rationale)
    named = {i for m in mentions for i in m.ids}
    if not item_topics or not named - _LINKED or topics_related(item_topics, named):
        return []
    other = _most_named(mentions, _LINKED)
    evidence = item_evidence(ctx, d) + [ctx.evidence(base + other.start, base + other.end)]
    if len(evidence) < 2:
        return []
    names = {i for i in other.ids if not any(related(i, t) for t in item_topics)}
    return [
        finding(
            "treatment-mismatch",
            Severity.medium,
            f"The rationale never names the item's treatment ({topic_names(item_topics)}) but "
            f"discusses {topic_names(names or other.ids)}.",
            evidence,
            d.index,
        )
    ]


def _region_mismatch(ctx, d, mentions: list[Mention], base: int) -> list[Finding]:
    item_regions = {i for m in find_regions(d.item) for i in m.ids}
    named = {i for m in mentions for i in m.ids}
    if not item_regions or len(mentions) < 2 or item_regions & named:
        return []
    other = _most_named(mentions, set())
    evidence = item_evidence(ctx, d) + [ctx.evidence(base + other.start, base + other.end)]
    if len(evidence) < 2:
        return []
    return [
        finding(
            "treatment-mismatch",
            Severity.medium,
            f"The item concerns the {region_names(item_regions)}, but the rationale only names "
            f"the {region_names(named)}.",
            evidence,
            d.index,
        )
    ]


def _side_mismatch(ctx, d, mentions: list[Mention], base: int) -> list[Finding]:
    for item_m in find_regions(d.item):
        side = item_m.side
        if side not in _OTHER_SIDE:
            continue
        same = [m for m in mentions if m.ids & item_m.ids]
        if not same or any(m.side in (side, "bilateral", None) for m in same):
            continue
        if not all(m.side == _OTHER_SIDE[side] for m in same):
            continue
        other = same[0]
        evidence = item_evidence(ctx, d) + [ctx.evidence(base + other.start, base + other.end)]
        if len(evidence) < 2:
            continue
        return [
            finding(
                "treatment-mismatch",
                Severity.medium,
                f"The item is for the {side} {item_m.text}, but the rationale only discusses the "
                f"{_OTHER_SIDE[side]} side.",
                evidence,
                d.index,
            )
        ]
    return []


_ABBREV = re.compile(r"\b[A-Z][A-Z0-9]{1,5}\b")
_GENERIC_ABBREV = {
    "DOS", "ER", "XR", "SR", "CR", "IR", "ODT", "HCL", "OR", "AND", "FOR", "THE", "RFA", "UR",
    "IMR", "MTUS", "ODG", "ACOEM", "BID", "TID", "QID", "PRN", "QD", "QHS", "HS", "PO", "MG",
    "ML", "UNK",
}  # fmt: skip


def _abbreviations(text: str) -> set[str]:
    return {a for a in _ABBREV.findall(text) if a not in _GENERIC_ABBREV}


def _treatment_words(item: str) -> str:
    """``item`` with its body-region words blanked: what names the treatment itself."""
    for m in reversed(find_regions(item)):
        item = item[: m.start] + " " * (m.end - m.start) + item[m.end :]
    return item


def _names_item(item: str, rationale: str) -> bool:
    """Whether the rationale names the item's treatment: a distinctive word, an
    abbreviation, or a topic (region words do not count: two items often share one)."""
    item = _treatment_words(item)
    if _shares_content_word(item, rationale):
        return True
    if any(re.search(rf"\b{re.escape(a)}\b", rationale) for a in _abbreviations(item)):
        return True
    item_topics = {i for m in find_topics(item) for i in m.ids}
    return any(m.ids & item_topics for m in find_topics(rationale))


def _other_item_term(item: str, other: str, rationale: str) -> tuple[int, int] | None:
    """Where the rationale names a treatment word or abbreviation of ``other`` that ``item``
    lacks."""
    item, other = _treatment_words(item), _treatment_words(other)
    own = _content_words(item)
    low = rationale.lower()
    for w in sorted(_content_words(other) - own, key=len, reverse=True):
        if len(w) < 5:
            continue
        for form in (w, w + "s", w + "es"):
            if _has_word(low, form):
                m = re.search(rf"(?<![a-z-]){re.escape(form)}(?![a-z-])", low)
                if m:
                    return m.start(), m.end()
    for a in sorted(_abbreviations(other) - _abbreviations(item)):
        m = re.search(rf"\b{re.escape(a)}\b", rationale)
        if m:
            return m.start(), m.end()
    return None


@register("treatment-crossed", "treatment-mismatch")
def check_crossed_rationale(ctx: CheckContext) -> Iterable[Finding]:
    """A rationale that never names its own item but names another disputed item.

    In a letter with several items, a rationale that names none of its item's words,
    abbreviations or treatment topics, but names a word of another item's request that its
    own item lacks, is about that other item (e.g. two rationales swapped).
    """
    decisions = ctx.record.decisions
    if len(decisions) < 2:
        return
    for d in decisions:
        found = _rationale(ctx, d)
        if found is None:
            continue
        rationale, base = found
        if _names_item(d.item, rationale):
            continue
        for other in decisions:
            if other.index == d.index or other.item.strip().lower() == d.item.strip().lower():
                continue
            if {i for m in find_topics(other.item) for i in m.ids} & _LINKED:
                continue  # pre- and post-operative items are judged by their surgery
            hit = _other_item_term(d.item, other.item, rationale)
            if hit is None:
                continue
            evidence = item_evidence(ctx, d) + [ctx.evidence(base + hit[0], base + hit[1])]
            if len(evidence) < 2:
                continue
            yield finding(
                "treatment-mismatch",
                Severity.medium,
                f"The rationale never names the item ('{d.item[:80]}') but names "
                f"'{rationale[hit[0] : hit[1]]}' from another disputed item ('{other.item[:80]}').",
                evidence,
                d.index,
            )
            break
