"""Date spellings found in IMR letters: 10/13/2016, 10-13-16, October 13, 2016, 2016-10-13."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from datetime import date

from imr_llm.text.spans import matches_at

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
