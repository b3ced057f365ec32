"""Rationale about a different treatment, body region or side than the item (rules part).

Conservative by design: rationales often quote guideline text about other treatments and
summarise other complaints, so a finding needs the rationale never to name the item's
treatment (or region) at all while naming another one, and never to repeat the item's
own distinctive words.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable

from imr_llm.checks.base import CheckContext, finding, register, spaced
from imr_llm.checks.guidelines import find_loose, item_evidence, topic_names
from imr_llm.checks.treatment_sites import (
    _LINKED,
    _region_names,
    _site_mismatch,
    _sites,
    _treatment_words,
)
from imr_llm.guidelines import (
    catalog,
    find_topics,
    related,
    topics_related,
    treatment_topics,
)
from imr_llm.guidelines.catalog import Mention
from imr_llm.schemas import Decision, Finding, Severity
from imr_llm.text.anatomy import compatible

_GENERIC = {
    "request", "requested", "additional", "continue", "continued", "retrospective", "associated",
    "surgical", "service", "services", "with", "without", "contrast", "times", "time", "week",
    "weeks", "weekly", "visits", "visit", "sessions", "session", "therapy", "treatment",
    "treatments", "left", "right", "bilateral", "spine", "unknown", "quantity", "purchase",
    "rental", "initial", "possible", "one", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "twelve", "for", "the", "and", "of", "to", "per", "day", "days",
    "month", "months", "supply", "tablet", "tablets", "refill", "affected", "area", "apply",
    "orally", "needed", "hours", "every", "take", "pre", "post", "op", "dos", "evaluation",
    "pain", "pre-op", "post-op", "preop", "postop", "pre-operative", "post-operative",
    "preoperative", "postoperative",
}  # fmt: skip
# Words of health-care prose that any rationale may use whatever its item ("the records do
# not support the request", "home care", "a management program"): they never name a
# treatment on their own, so a rationale using one does not point at another item.
_WEAK = frozenset({
    "support", "supports", "supported", "supportive", "aide", "aides", "care", "program",
    "programs", "service", "services", "evaluation", "evaluations", "evaluate",
    "management", "manage", "assessment", "plan", "plans", "medical", "medication",
    "medications", "medicine", "patient", "patients", "health", "home", "follow",
    "follow-up", "followup", "office", "provider", "unit", "units", "device", "devices",
    "equipment", "system", "study", "studies", "test", "tests", "testing", "procedure",
    "procedures", "exam", "examination", "functional", "exercise", "exercises", "muscle",
    "acute", "chronic", "range", "motion", "treat", "treating", "therapy", "therapies",
    "treatment", "treatments", "session", "sessions", "visit", "visits",
    "consultation", "consult", "referral", "intervention", "interventions", "modality",
    "modalities", "supplies", "supply", "item", "items", "kit", "kits", "trial", "rental",
    "purchase", "daily", "night", "nightly",
})  # fmt: skip
_WEAK_STEMS = _WEAK | {
    w[:-2] if w.endswith("es") else w[:-1] if w.endswith("s") else w for w in _WEAK
}
_WORD = re.compile(r"[a-z][a-z\-]{3,}")


def _stem(word: str) -> str:
    """``word`` without a final "es" or "s" (what ``re.sub(r"(?:es|s)$", "", word)`` gives)."""
    if word.endswith("es"):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=4096)
def _content_words(text: str) -> frozenset[str]:
    """Distinctive lower-case word stems of ``text`` (no generic request words)."""
    return frozenset(
        _stem(w)
        for w in set(_WORD.findall(text.lower()))
        if w not in _GENERIC and not w.endswith("mg")
    )


def _shares_content_word(item: str, rationale: str, common: frozenset[str] = frozenset()) -> bool:
    """Whether ``(_content_words(item) - common) & _content_words(rationale)`` is non-empty.

    Only the rationale words that could stem to one of the item's few stems are looked for,
    with ``str.find`` instead of collecting every word of the rationale.
    """
    stems = _content_words(item) - common
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


def _common_words(decisions: list[Decision], d: Decision) -> frozenset[str]:
    """Content words ``d``'s item shares with another item of the letter: they do not tell
    the items apart ("oral suspension" in two compounded drugs, "post-op" in two
    post-operative prescriptions)."""
    own = _content_words(d.item)
    if not own or len(decisions) < 2:
        return frozenset()
    key = d.item.strip().lower()
    return frozenset(
        w
        for o in decisions
        if o.index != d.index and o.item.strip().lower() != key
        for w in own & _content_words(o.item)
    )


@functools.lru_cache(maxsize=1)
def _alias_words() -> frozenset[str]:
    """Content words of the catalog's several-word treatment names ("physical therapy")."""
    return frozenset(
        w
        for t in catalog().topics.values()
        for alias in (*t.aliases, *t.misspellings)
        if len(alias.split()) > 1
        for w in _content_words(alias)
    )


def _blank_other_treatments(rationale: str, item: str, item_topics: set[str]) -> str:
    """``rationale`` with the names of treatments unrelated to ``item_topics`` blanked (same
    offsets): "physical" in "physical therapy" does not name a "Physical exam" item."""
    if not item_topics or not _content_words(item) & _alias_words():
        return rationale
    for m in find_topics(rationale):
        if not topics_related(set(m.ids), item_topics):
            rationale = rationale[: m.start] + " " * (m.end - m.start) + rationale[m.end :]
    return rationale


@register("treatment", "treatment-mismatch")
def check_treatment_mismatch(ctx: CheckContext) -> Iterable[Finding]:
    """Rationale about another treatment, region or side than its item (one finding an item).

    Tried in order, the first that fires gives the finding: the rationale says it decides
    another treatment; a sentence deciding the request names the item's body site only on the
    other side, or its treatment only for another body site; it never names the item's
    treatment (or region) but names another; it names another disputed item of the letter
    instead of its own.
    """
    for d in ctx.record.decisions:
        found = _rationale(ctx, d)
        if found is None:
            continue
        rationale, base = found
        common = _common_words(ctx.record.decisions, d)
        for rule in (_self_reference, _site_mismatch, _other_treatment, _crossed):
            hits = rule(ctx, d, rationale, base, common)
            if hits:
                yield hits[0]
                break


def _other_treatment(ctx, d, rationale: str, base: int, common: frozenset[str]) -> list[Finding]:
    """Never the item's treatment (nor its distinctive words) but another's; or, for an
    item with a body region or side, only other regions or the other side."""
    words = _blank_other_treatments(rationale, d.item, treatment_topics(d.item))
    if not _shares_content_word(d.item, words, common) and not _names_head(d.item, words):
        topic = _topic_mismatch(ctx, d, rationale, base)
        if topic:
            return topic
    return _region_mismatch(ctx, d, rationale, base)


def _topic_mismatch(ctx, d, rationale: str, base: int) -> list[Finding]:
    item_topics = treatment_topics(d.item)
    mentions = [m for m in find_topics(rationale) if m.text.lower() not in _WEAK]
    named = {i for m in mentions for i in m.ids}
    if not item_topics or not named - _LINKED or topics_related(item_topics, named):
        return []
    other = _most_named(mentions, _LINKED)
    assert other is not None  # some named topic is outside _LINKED
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


def _region_mismatch(ctx, d, rationale: str, base: int) -> list[Finding]:
    """The rationale names body sites, but never one the item's could be."""
    item_regions = {x.region for x in _sites(d.item)}
    if not item_regions:
        return []
    sites = _sites(rationale)
    if len(sites) < 2 or any(compatible(x.region, r) for x in sites for r in item_regions):
        return []
    other = Counter(x.region for x in sites).most_common(1)[0][0]
    first = next(x for x in sites if x.region == other)
    evidence = item_evidence(ctx, d) + [ctx.evidence(base + first.start, base + first.end)]
    if len(evidence) < 2:
        return []
    return [
        finding(
            "treatment-mismatch",
            Severity.medium,
            f"The item concerns the {_region_names(item_regions)}, but the rationale only names "
            f"the {_region_names({x.region for x in sites})}.",
            evidence,
            d.index,
        )
    ]


_ABBREV = re.compile(r"\b[A-Z][A-Z0-9]{1,5}\b")
_GENERIC_ABBREV = {
    "DOS", "ER", "XR", "SR", "CR", "IR", "ODT", "HCL", "OR", "AND", "FOR", "THE", "RFA", "UR",
    "IMR", "MTUS", "ODG", "ACOEM", "BID", "TID", "QID", "PRN", "QD", "QHS", "HS", "PO", "MG",
    "ML", "UNK",
}  # fmt: skip


def _abbreviations(text: str) -> set[str]:
    return {a for a in _ABBREV.findall(text) if a not in _GENERIC_ABBREV}


_HEAD_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|[^\sA-Za-z]+")
_HEAD_STOP = frozenset({
    "of", "for", "to", "x", "times", "per", "with", "without", "at", "in", "on", "qty",
    "quantity", "and", "or", "via", "under", "from", "by", "as", "including", "each",
    "every",
})  # fmt: skip
_LEADING = frozenset({
    "a", "an", "the", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "ten", "eleven", "twelve",
})  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _head_noun(item: str) -> re.Pattern | None:
    """The item's head noun ("pillow" in "Orthopedic pillows", "Norco" in "Norco 10/325mg
    #60"): the last word of its first phrase, before any quantity, preposition or comma; as a
    pattern matching it singular or plural, hyphenated or not. None when that word is generic
    ("Physical therapy", "TENS unit") or an abbreviation."""
    words: list[str] = []
    for tok in _HEAD_TOKEN.findall(_treatment_words(item)):
        low = tok.lower()
        if not tok[0].isalpha() or low in _HEAD_STOP:
            if words:
                break
            continue
        if not words and low in _LEADING:
            continue
        words.append(tok)
    for tok in reversed(words):
        if len(tok) < 3 or tok.upper() in _GENERIC_ABBREV:
            continue
        low = _stem(tok.lower())
        if len(low) < 4 or low in _GENERIC or low in _WEAK_STEMS or tok.isupper():
            return None
        body = r"[\s\-]?".join(re.escape(p) for p in low.split("-"))
        return re.compile(rf"(?<![a-z\-]){body}(?:e?s)?(?![a-z\-])")
    return None


def _names_head(item: str, rationale: str) -> bool:
    """Whether the rationale names the item's head noun (see ``_head_noun``): a rationale
    about "orthopedic pillows" names a "Cervical pillow" item, even though another item of
    the letter shares the word."""
    rx = _head_noun(item)
    return rx is not None and rx.search(rationale.lower()) is not None


def _names_item(item: str, rationale: str, common: frozenset[str] = frozenset()) -> bool:
    """Whether the rationale names the item's treatment: a distinctive word (not one of
    ``common``), an abbreviation, or a topic (region words do not count: two items often
    share one)."""
    if _names_head(item, rationale):
        return True
    item = _treatment_words(item)
    if _shares_content_word(item, rationale, common):
        return True
    if any(re.search(rf"\b{re.escape(a)}\b", rationale) for a in _abbreviations(item)):
        return True
    item_topics = treatment_topics(item)
    return any(m.ids & item_topics for m in find_topics(rationale))


def _other_item_term(item: str, other: str, rationale: str) -> tuple[int, int] | None:
    """Where the rationale names a treatment word or abbreviation of ``other`` that ``item``
    lacks."""
    item, other = _treatment_words(item), _treatment_words(other)
    own = _content_words(item)
    low = rationale.lower()
    for w in sorted(_content_words(other) - own, key=len, reverse=True):
        if len(w) < 5 or w in _WEAK_STEMS:
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


def _crossed(ctx, d, rationale: str, base: int, common: frozenset[str]) -> list[Finding]:
    """Never its own item but a word or abbreviation of another disputed item's request.

    A rationale that names none of its item's words, abbreviations or treatment topics, but
    names a word of another item that its own item lacks, is about that other item (two
    rationales swapped).
    """
    decisions = ctx.record.decisions
    if len(decisions) < 2 or _names_item(d.item, rationale, common):
        return []
    for other in decisions:
        if other.index == d.index or other.item.strip().lower() == d.item.strip().lower():
            continue
        if treatment_topics(other.item) & _LINKED:
            continue  # pre- and post-operative items are judged by their surgery
        hit = _other_item_term(d.item, other.item, rationale)
        if hit is None:
            continue
        evidence = item_evidence(ctx, d) + [ctx.evidence(base + hit[0], base + hit[1])]
        if len(evidence) < 2:
            continue
        return [
            finding(
                "treatment-mismatch",
                Severity.medium,
                f"The rationale never names the item ('{d.item[:80]}') but names "
                f"'{rationale[hit[0] : hit[1]]}' from another disputed item ('{other.item[:80]}').",
                evidence,
                d.index,
            )
        ]
    return []


_X = r"[\"“]?(?P<x>[A-Za-z][\w/().,'-]*(?: [\w/().,'-]+){0,11}?)[\"”]?"
_SHORT_X = r"(?P<x>[A-Za-z][\w/-]*(?: [\w/-]+){0,3})"
# Phrases where the rationale names what it is deciding: "the ultrasound testing in
# question", "would warrant a cervical MRI at this time".
_DEICTIC = (
    ("question", spaced(r"\bthe " + _SHORT_X + r" in question\b")),
    ("warrant", spaced(r"\bwarrant (?:an?|the) " + _SHORT_X + r" at this time\b")),
)
# Its conclusion: "the request for MRI of the lumbar spine is not medically necessary",
# 'the requested "Assistant PA" is medically necessary'.
_CONCLUSION = spaced(
    r"\bthe request(?:ed | for (?:an? |the )?)"
    + _X
    + r" (?:is|was|are|were) (?:(?:not|also|therefore|deemed|determined|to|be) )*"
    r"(?:medically )?(?:necessary|appropriate|indicated|supported|certified)\b"
)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9/ ]", " ", text.lower()).split())


def _points_away(item: str, phrase: str, other_items: list[str]) -> bool:
    """Whether ``phrase`` (what the rationale says it decides) names a treatment that is not
    the item's: an unrelated treatment, or another disputed item word for word. (The same
    treatment for another body site or side is ``_site_mismatch``'s.)"""
    if _names_item(item, phrase):
        return False
    if _norm(phrase) in {_norm(o) for o in other_items}:
        return True
    item_topics, topics = treatment_topics(item), treatment_topics(phrase) - _LINKED
    if not item_topics or not topics:
        return False
    return not topics_related(item_topics, topics)


def _self_reference(ctx, d, rationale: str, base: int, common: frozenset[str]) -> list[Finding]:
    """The rationale says it decides something other than the item.

    Either a pointing phrase ("the ultrasound testing in question") names another treatment
    or region, or every conclusion that names what it decides ("the request for MRI of the
    lumbar spine is not medically necessary") names something other than the item.
    """
    low = rationale.lower()
    others = [o.item for o in ctx.record.decisions if o.index != d.index]
    away = [
        m
        for cue, rx in _DEICTIC
        if cue in low
        for m in rx.finditer(rationale)
        if _points_away(d.item, _phrase(m), others)
    ]
    named = (
        [m for m in _CONCLUSION.finditer(rationale) if _names_something(m)]
        if "request" in low
        else []
    )
    own = [m for m in named if not _points_away(d.item, _phrase(m), others)]
    severity = Severity.medium
    if not away:
        away = [m for m in named if m not in own]
        if own:
            return []
    elif own:
        # a pointing phrase names something else, but a conclusion names the item itself:
        # a slip of the pen, not a rationale about another treatment
        severity = Severity.low
    if not away:
        return []
    m = away[0]
    evidence = item_evidence(ctx, d) + [ctx.evidence(base + m.start(), base + m.end())]
    if len(evidence) < 2:
        return []
    return [
        finding(
            "treatment-mismatch",
            severity,
            f"The item is '{d.item[:80]}', but the rationale says it decides '{_phrase(m)}'.",
            evidence,
            d.index,
        )
    ]


def _phrase(m: re.Match) -> str:
    return " ".join(m.group("x").split())


def _names_something(m: re.Match) -> bool:
    phrase = _phrase(m)
    return bool(_content_words(phrase) or _abbreviations(phrase) or find_topics(phrase))
