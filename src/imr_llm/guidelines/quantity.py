"""Requested quantities in item headings and the numeric limits rationales state.

``requested_quantity("PT 2x6")`` -> 12 visits; ``stated_limits(rationale, {"massage"})`` finds
"a maximum of 4 to 6 massage therapy visits" -> 6, using the catalog limits only to recognise
which number in the rationale is a limit for the item's topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imr_llm.guidelines.catalog import limit_for
from imr_llm.text.spans import clauses

_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "twenty-four": 24, "thirty": 30, "single": 1, "once": 1, "twice": 2,
}  # fmt: skip
NUM = r"(?:\d{1,3}|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
_COUNT_UNIT = r"(?P<unit>visits?|sessions?|treatments?|injections?|appointments?)"
_VISIT_UNITS = {"visit", "session", "treatment", "appointment", "time"}

_FREQ = re.compile(
    rf"(?<![\w/.])(?P<f>{NUM})(?:\s*(?:-|to)\s*(?P<f2>{NUM}))?\s*(?:x|times|visits?|sessions?)\s*"
    rf"(?:(?:a|per|each|/)\s*)?(?:week|wk)(?:ly|s)?\s*,?\s*(?:for|x|times|over|during)?\s*"
    rf"(?:(?:a|the)\s+)?(?:total\s+of\s+)?(?:period\s+of\s+)?(?P<d>{NUM})\s*(?:weeks?|wks?)\b",
    re.IGNORECASE,
)
_TIMES = re.compile(
    rf"(?<![\w/.])(?P<f>{NUM})\s*(?:x|times|\*)\s*(?P<d>{NUM})(?!\s*(?:weeks?|wks?|days?|months?|mg|%|/|\.\d))\b",
    re.IGNORECASE,
)
_COUNT = re.compile(
    rf"(?<![\w/.#-])(?P<n>{NUM})\s*(?:\(\s*\d{{1,3}}\s*\)\s*)?(?:[A-Za-z-]+\s+){{0,4}}?{_COUNT_UNIT}\b",
    re.IGNORECASE,
)
_UNIT_THEN_COUNT = re.compile(
    rf"\b{_COUNT_UNIT}\s*(?:,|:)?\s*(?:#|x|times|qty:?)?\s*(?P<n>\d{{1,3}})\b", re.IGNORECASE
)
_HASH = re.compile(
    r"(?:#|\bQTY:?\s*|\bquantity:?\s*)\s*(?P<n>\d{1,4})\b(?!\s*(?:mg|%|/))", re.IGNORECASE
)
_TRAILING_TIMES = re.compile(
    rf"(?:\btimes|\bx)\s*(?P<n>{NUM})\b(?!\s*(?:weeks?|wks?|days?|/))", re.IGNORECASE
)

# Words each pattern cannot match without (same flag, so the same case folding): a text
# without them is skipped instead of scanned with the number-heavy patterns.
_WEEK_HINT = re.compile(r"week|wk", re.IGNORECASE)
_TIMES_HINT = re.compile(r"x|times|\*", re.IGNORECASE)
_UNIT_HINT = re.compile(r"visit|session|treatment|injection|appointment", re.IGNORECASE)
_HASH_HINT = re.compile(r"#|qty|quantity", re.IGNORECASE)


def number(token: str) -> int | None:
    """An integer from digits or an English number word."""
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    return _WORDS.get(token)


@dataclass(frozen=True)
class Quantity:
    """A requested count: ``value`` in ``unit`` ("visits", "injections" or "" when unstated)."""

    value: int
    unit: str
    start: int
    end: int
    text: str


def _unit(word: str | None) -> str:
    if not word:
        return ""
    w = word.lower().rstrip("s")
    return "injections" if w == "injection" else "visits" if w in _VISIT_UNITS else ""


def requested_quantities(text: str) -> list[Quantity]:
    """Every requested count in an item heading, with spans into ``text``."""
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []

    def add(value, unit, m):
        if value and not any(a < m.end() and m.start() < b for a, b in taken):
            found.append(Quantity(value, unit, m.start(), m.end(), m.group()))
            taken.append((m.start(), m.end()))

    times = _TIMES_HINT.search(text) is not None
    for regex, hint in ((_FREQ, _WEEK_HINT.search(text)), (_TIMES, times)):
        if not hint:
            continue
        for m in regex.finditer(text):
            f, d = number(m.group("f")), number(m.group("d"))
            if f and d:
                add(f * d, "visits", m)
    if _UNIT_HINT.search(text):
        for regex in (_COUNT, _UNIT_THEN_COUNT):
            for m in regex.finditer(text):
                add(number(m.group("n")), _unit(m.group("unit")), m)
    if _HASH_HINT.search(text):
        for m in _HASH.finditer(text):
            add(number(m.group("n")), "", m)
    if times:
        for m in _TRAILING_TIMES.finditer(text):
            add(number(m.group("n")), "", m)
    return sorted(found, key=lambda q: q.start)


def requested_quantity(text: str) -> Quantity | None:
    """The smallest requested count in an item heading (conservative when several disagree)."""
    qs = requested_quantities(text)
    return min(qs, key=lambda q: q.value) if qs else None


@dataclass(frozen=True)
class StatedLimit:
    """A limit stated in rationale text: ``value`` (upper bound), the phrase and its sentence."""

    value: int
    low: int | None
    unit: str
    topic: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int


_LIMIT_NUM = re.compile(
    rf"(?<![\w/.])(?P<lo>{NUM})(?:\s*(?:-|to|or)\s*(?P<hi>{NUM}))?\s*(?:\(\s*\d{{1,3}}\s*\)\s*)?"
    rf"(?:[A-Za-z-]+\s+){{0,4}}?-?{_COUNT_UNIT}\b",
    re.IGNORECASE,
)
_CUE = re.compile(
    r"\b(?:not\s+more\s+than|no\s+more\s+than|more\s+than|maximum|max\.?|up\s+to|limited\s+to|limit|allow(?:s|ed)?|"
    r"recommend(?:s|ed|ation)?|trial|total\s+of|exceed(?:s|ed|ing)?|fade|indicated\s+for|time\s+to\s+produce|"
    r"support(?:s|ed)?|guidelines?|ODG|MTUS|specif(?:y|ies|ied))\b",
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(?:has\s+had|had\s+(?:at\s+least\s+)?|completed|attended|received|underwent|prior|previous(?:ly)?|"
    r"authorized|certified|modified|approved|to\s+date|so\s+far|already)\b",
    re.IGNORECASE,
)
_SPECIAL = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:CRPS|RSD|reflex\s+sympathetic|sympathetic\s+dystrophy|complex\s+regional)",
        r"\b(?:post-?\s*surgical|post-?\s*operative|post-?op\b|arthroscopic|open\b|arthroplasty|replacement|"
        r"surgery|surgical|repair|fusion|meniscectomy|release)",
        r"\bfractures?\b",
        r"\bdislocations?\b",
        r"\bsprains?\b|\bstrains?\b",
        r"\bheadaches?\b",
        r"\barthritis\b|\barthropathy\b|osteoarthritis",
    )
]
_REQUEST_BEFORE = re.compile(
    r"\b(?:request(?:ed|s)?|additional|approv\w*|further|another|remaining|for)\b[^.]{0,20}$",
    re.IGNORECASE,
)


def stated_limits(
    text: str, topics: set[str], context: str = "", requested: int | None = None
) -> list[StatedLimit]:
    """Count limits ``text`` states for any of ``topics``.

    A number is taken as a limit when a catalog limit for the topic has the same value (or
    range), its unit is a count, its sentence reads like a limit and not like treatment
    history, and it is not a condition-specific figure (CRPS, post-surgical ...) that
    ``context`` (item and case summary) does not mention, nor the ``requested`` count itself
    ("an additional 12 sessions will exceed ...").
    """
    known: dict[int, tuple[str, str]] = {}
    for topic in sorted(topics):
        for lim in limit_for(topic):
            unit = _unit(lim.unit.split()[0])
            if lim.kind == "max" and unit:
                known.setdefault(int(lim.value), (unit, topic))
    if not known or not _UNIT_HINT.search(text):
        return []  # every limit names a count unit
    out: list[StatedLimit] = []
    for s0, s1 in clauses(text):
        sentence = text[s0:s1]
        if not _UNIT_HINT.search(sentence) or not _CUE.search(sentence):
            continue
        matches = list(_LIMIT_NUM.finditer(sentence))
        for k, m in enumerate(matches):
            lo, hi = number(m.group("lo")), number(m.group("hi") or "")
            value = hi or lo
            if value is None or value not in known:
                continue
            unit, topic = known[value]
            if _unit(m.group("unit")) != unit:
                continue
            prev_end = matches[k - 1].end() if k else 0
            next_start = matches[k + 1].start() if k + 1 < len(matches) else len(sentence)
            before = sentence[max(prev_end, m.start() - 60) : m.start()]
            after = sentence[m.end() : min(next_start, m.end() + 70)]
            if _PAST.search(before) and not _CUE.search(before):
                continue
            if value == requested and _REQUEST_BEFORE.search(before):
                continue
            if any(p.search(before + " " + after) and not p.search(context) for p in _SPECIAL):
                continue
            out.append(
                StatedLimit(
                    value, lo if hi else None, unit, topic, s0 + m.start(), s0 + m.end(), s0, s1
                )
            )
    return out
