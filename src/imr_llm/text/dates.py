"""Date spellings found in IMR letters: 10/13/2016, 10-13-16, October 13, 2016, 2016-10-13."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from datetime import date
from typing import Literal, cast

from imr_llm.text.spans import lower_folds, matches_at

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
DATE_RE = re.compile(
    r"(?<![\d/.-])(?:"
    r"(?P<m>\d{1,2})[/-](?P<d>\d{1,2})[/-](?P<y>\d{4}|\d{2})"
    r"|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
    r"|(?P<mon>"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\.?\s+(?P<md>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<my>\d{4})"
    r")(?![\d/])",
    re.I,
)


def to_date(m: re.Match) -> date | None:
    try:
        if m.group("m"):
            y = int(m.group("y"))
            if y < 100:
                y += 2000 if y < 50 else 1900
            return date(y, int(m.group("m")), int(m.group("d")))
        if m.group("iy"):
            return date(int(m.group("iy")), int(m.group("im")), int(m.group("id")))
        return date(int(m.group("my")), _MONTHS[m.group("mon").lower()], int(m.group("md")))
    except ValueError:
        return None


# ``DATE_RE.finditer`` is slow: ``re`` tries the case-insensitive month names at every position
# of the text. ``_matches`` yields the very same matches, but tries ``DATE_RE`` only where a date
# can start, found by ``str.find``: a number of one to four digits, not after [\d/.-], that runs
# into "/" or "-", and the first three letters of a month name in a lower-cased copy of the range
# (same offsets). Every start of a ``DATE_RE`` match is one of these positions, so trying
# ``DATE_RE.match`` at each in order, skipping those inside the last match, is ``finditer``.
_MONTH_PREFIXES = sorted({name[:3] for name in _MONTHS})
# Under re.I the month letters also match U+017F (long s) for "s"; nothing else in the first
# three letters has a non-ASCII case twin. The fallback keeps offsets when lower() would not.
_ASCII_LOWER = str.maketrans({**{chr(c): chr(c + 32) for c in range(65, 91)}, "\u017f": "s"})


def _lower_same_offsets(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):  # e.g. U+0130 lower-cases to two characters
        return text.translate(_ASCII_LOWER)
    return low.replace("\u017f", "s")


# The ranges of the last text searched, with their date starts: the checks search a range and
# then its sentences.
_SCANNED: tuple[str, list[tuple[int, int, list[int]]]] = ("", [])


def _starts(text: str, start: int, end: int) -> list[int]:
    """Sorted positions in ``text[start:end]`` where a date can start. Those found for an
    enclosing range are a superset (their lookaheads see further), and ``DATE_RE.match``
    within this range fails at every extra one, so a range searched before serves."""
    global _SCANNED
    if _SCANNED[0] is not text:
        _SCANNED = (text, [])
    ranges = _SCANNED[1]
    for lo, hi, starts in ranges:
        if lo <= start and end <= hi:
            return starts[bisect_left(starts, start) : bisect_left(starts, end)]
    starts = _number_starts(text, start, end)
    low = _lower_same_offsets(text[start:end])
    for prefix in _MONTH_PREFIXES:
        i = low.find(prefix)
        while i != -1:
            starts.append(start + i)
            i = low.find(prefix, i + 1)
    starts.sort()
    if len(ranges) >= 32:
        ranges.clear()
    ranges.append((start, end, starts))
    return starts


def _number_starts(text: str, start: int, end: int) -> list[int]:
    """Where a number that runs into "/" or "-" starts in ``text[start:end]``: one to four
    digits (``\\d``: ``str.isdecimal``) not after [\\d/.-], found back from each separator."""
    out = []
    for sep in "/-":
        q = text.find(sep, start, end)
        while q != -1:
            p = q
            while p > 0 and q - p < 5 and text[p - 1].isdecimal():
                p -= 1
            if 0 < q - p <= 4 and p >= start and (p == 0 or text[p - 1] not in "/.-"):
                out.append(p)
            q = text.find(sep, q + 1, end)
    return out


def _matches(text: str, start: int, end: int) -> Iterator[re.Match]:
    """``DATE_RE.finditer(text, start, end)``, faster."""
    return matches_at(DATE_RE, text, _starts(text, start, end), end)


def find_dates(
    text: str, start: int = 0, end: int | None = None
) -> Iterator[tuple[re.Match, date]]:
    for m in _matches(text, start, len(text) if end is None else end):
        d = to_date(m)
        if d is not None and 1950 <= d.year <= 2100:
            yield m, d


def date_at(text: str, pos: int) -> date | None:
    """The date spelled exactly at ``pos`` in ``text``, or None."""
    m = DATE_RE.match(text, pos)
    if m is None:
        return None
    d = to_date(m)
    return d if d is not None and 1950 <= d.year <= 2100 else None


def parse_date(s: str) -> date | None:
    for _, d in find_dates(s):
        return d
    return None


def find_any_year(
    text: str, start: int = 0, end: int | None = None
) -> Iterator[tuple[re.Match, date]]:
    """Like ``find_dates`` but with every year a calendar allows (3016 included): a date no
    letter can hold is itself a finding."""
    for m in _matches(text, start, len(text) if end is None else end):
        d = to_date(m)
        if d is not None:
            yield m, d


# ---------------------------------------------------------------- the role of a date

Role = Literal[
    "birth",
    "regulation",
    "injury",
    "dispensing",
    "ur",
    "imr",
    "request",
    "imaging",
    "visit",
    "future",
    "unknown",
]
# Roles of dates that are events of this patient's care or of its review.
CARE_ROLES = frozenset(("injury", "dispensing", "ur", "request", "imaging", "visit"))
# Cues for each role, searched in the date's clause; the nearest cue wins, except that the
# roles of dates that are not events of this patient's care (birth, a regulation's or
# guideline edition's date) win whenever their cue stands right next to the date.
_ROLE_CUES: dict[str, str] = {
    "birth": r"birth\s*date|date\s+of\s+birth|birthday|DOB|born|birth",
    "regulation": r"sections?|regulations?|CCR|C\.C\.R|Labor\s+Code|guidelines?|MTUS|ODG|"
    r"ACOEM|edition|effective|updated|revised|published|version|chapter|Official\s+Disability",
    # "the injured worker" names the patient, not the injury's date
    "injury": r"injur(?:y|ies)|injured(?!\s+(?:worker|employee|patient|party|individual|"
    r"claimant|man|woman|person))|DOI|accident|cumulative\s+trauma|"
    r"(?:occupational|industrial)\s+claim|claim\s+(?:from|of|dated)|"
    # the mechanism: "twisted his knee on DATE", "felt a pop in his shoulder on DATE while"
    r"fell|falling|slipped|tripped|twisted|inverted|sprained|strained|struck|crushed|"
    r"felt\s+a\s+pop|landed|was\s+hit|collided|assaulted",
    "dispensing": r"dispens\w*|date\s+of\s+service|DOS|retrospective(?:ly)?|retro|filled|"
    r"provided\s+on|administered|refill\w*",
    "ur": r"utilization\s+review|UR|non-?\s?certif\w*|denied|denial|modified|adverse|"
    r"determination|peer\s+review|(?:prior|previous|initial|original)\s+(?:review|decision)",
    "imr": r"independent\s+medical\s+review|IMR|application|assigned|this\s+decision",
    "request": r"request\s+for\s+authori[sz]ation|RFA|requested|request",
    "imaging": r"MRI|x-?rays?|radiograph\w*|EMG|NCV|NCS|CT\s+scan|CT|ultrasound|scan|"
    r"electrodiagnostic|imaging|study|studies|bone\s+scan|arthrogram",
    "visit": r"(?:first\s+)?report\s+of\s+(?:\w+\s+){0,2}injury|complain\w*|visit|seen|evaluat\w+|examin\w+|exam|progress\s+(?:report|note)|report\w*|"
    r"note[sd]?|office|PR-?2|consult\w*|follow[- ]?up|presented|appointment|treated|surgery|"
    r"underwent|performed|therapy|injection|session|(?:medical\s+)?records?|"
    r"(?:objective\s+)?findings|procedure|operation|exploration|excision|arthroscop\w*|"
    r"repair|release|fusion|discectomy|decompression|prescribed",
}
# A date the clause puts in the future ("scheduled to follow up on", "will be seen on").
_FUTURE = re.compile(
    r"\b(?:will|scheduled|planned|upcoming|next|pending|to\s+be\s+(?:seen|held|performed)|"
    r"return\s+in|expected|anticipated)\b",
    re.I,
)
# A cue takes the document noun after it: "utilization review report", "MRI report" are the
# review's and the study's dates, not a visit's.
_DOCUMENT = r"(?:\s+(?:report|reports|note|notes|letter|form|records?|dated))?"
_CUE = re.compile(
    "|".join(
        rf"(?P<{role}>{'§|' if role == 'regulation' else ''}\b(?:{cue}){_DOCUMENT}\b)"
        for role, cue in _ROLE_CUES.items()
    ),
    re.I,
)
_NON_CARE = ("birth", "regulation")
_ADJACENT = 40


def _split_top(pattern: str) -> list[str]:
    """The alternatives of ``pattern`` at its top level (outside brackets)."""
    out, depth, cur, i = [], 0, [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _leads(alternative: str) -> set[str]:
    """Lower-case letters every match of ``alternative`` starts with: its leading run of
    letters (less a last one a quantifier makes optional), through a leading ``(?:...)``
    group's own alternatives, and past the group too when it is optional."""
    if alternative.startswith("(?:"):
        i = _closing(alternative)
        leads = set().union(*(_leads(a) for a in _split_top(alternative[3:i])))
        if alternative[i + 1 : i + 2] in ("?", "*"):
            leads |= _leads(alternative[i + 2 :].lstrip("\\s+"))
        return leads
    n = 0
    while n < len(alternative) and alternative[n].isalpha():
        n += 1
    if n < len(alternative) and alternative[n] in "?*{":
        n -= 1
    if n == 0:
        raise ValueError(f"a role cue must start with a letter: {alternative!r}")
    return {alternative[:n].lower()}


def _closing(pattern: str) -> int:
    """Where the group ``pattern`` opens with closes."""
    depth = 0
    for i, ch in enumerate(pattern):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return i
    raise ValueError(f"unbalanced group: {pattern!r}")


# Every _CUE match starts at a word that begins with one of these (or at "§"): ``re`` would
# try _CUE's word lists at every position, this finds the few places worth trying in C.
_CUE_LEADS = re.compile(
    "|".join(
        sorted(
            {lead for cue in _ROLE_CUES.values() for a in _split_top(cue) for lead in _leads(a)}
            | {"§"},
            key=lambda w: (-len(w), w),
        )
    )
)


def _cues(text: str, lo: int, hi: int) -> Iterator[re.Match]:
    """``_CUE.finditer(text, lo, hi)``, faster."""
    window = text[lo:hi]
    low = window.lower()
    if not lower_folds(window, low):
        return _CUE.finditer(text, lo, hi)
    # a cue starts a word (``\b``: the character before is no ``\w``), or is "§"
    starts = [
        p
        for p in (lo + m.start() for m in _CUE_LEADS.finditer(low))
        if p == lo or text[p] == "§" or not (text[p - 1].isalnum() or text[p - 1] == "_")
    ]
    return matches_at(_CUE, text, starts, hi)


def date_role(text: str, start: int, end: int, floor: int = 0, ceil: int | None = None) -> Role:
    """What the date at ``text[start:end]`` is the date of, read from its clause: the nearest
    role cue wins (a cue after the date counts at twice its distance, since "seen on DATE" is
    the common order); a birth or regulation cue within a few words wins outright."""
    ceil = len(text) if ceil is None else ceil
    lo = _clause_edge(text, start, floor, -1)
    hi = _clause_edge(text, end, ceil, +1)
    if _FUTURE.search(text, lo, start):
        return "future"
    best: tuple[int, Role] | None = None
    for m in _cues(text, lo, hi):
        if m.start() < end and m.end() > start:
            continue
        role = cast(Role, m.lastgroup)
        dist = start - m.end() if m.end() <= start else 2 * (m.start() - end)
        if role in _NON_CARE and dist <= _ADJACENT:
            return role
        if best is None or dist < best[0]:
            best = (dist, role)
    return best[1] if best else "unknown"


_CLAUSE_REACH = 150


def _clause_edge(text: str, pos: int, limit: int, step: int) -> int:
    """The edge of the clause around ``pos`` towards ``limit``: a sentence end, a semicolon or
    a blank line, at most ``_CLAUSE_REACH`` characters away."""
    i = pos
    reach = _CLAUSE_REACH
    if step < 0:
        lo = max(limit, pos - reach)
        while i > lo:
            ch = text[i - 1]
            if ch in ";\n" and (ch == ";" or text[i - 2 : i] == "\n\n"):
                break
            if ch == "." and i < len(text) and text[i].isspace():
                break
            i -= 1
        return i
    hi = min(limit, pos + reach)
    while i < hi:
        ch = text[i]
        if ch == ";" or (ch == "." and (i + 1 >= len(text) or text[i + 1].isspace())):
            break
        i += 1
    return i
