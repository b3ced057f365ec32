"""Spans of letter text: the template's sections, one sentence splitter, and fast regex scans.

The bottom of the package: everything else imports from here, and this imports nothing of
imr_llm.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Sections:
    """Character spans of the template's sections in the letter text (None when absent)."""

    header: tuple[int, int] | None = None
    credentials: tuple[int, int] | None = None
    summary: tuple[int, int] | None = None
    documents: tuple[int, int] | None = None
    issues: tuple[int, int] | None = None


def finditer_at(
    starts: re.Pattern,
    rx: re.Pattern,
    text: str,
    pos: int = 0,
    endpos: int | None = None,
    scan: str | None = None,
) -> Iterator[re.Match]:
    """``rx.finditer(text, pos, endpos)``, trying ``rx`` only where ``starts`` matches.

    ``re`` tries a pattern that opens with ``\\b`` or a case-insensitive word list at every
    position of the text, which is slow; ``starts``, opening with a plain character class, lets
    it skip ahead in C. ``starts`` must match (in the same bounds) wherever ``rx`` can begin a
    match, and ``rx`` must never match the empty string. ``scan``, when given, is the text
    ``starts`` searches instead: a copy with the same offsets (``text.lower()``, see
    ``lower_folds``).
    """
    end = len(text) if endpos is None else endpos
    scan = text if scan is None else scan
    while True:
        c = starts.search(scan, pos, end)
        if c is None:
            return
        m = rx.match(text, c.start(), end)
        if m is None:
            pos = c.start() + 1
        else:
            yield m
            pos = m.end()


def matches_at(
    rx: re.Pattern, text: str, starts: Iterable[int], endpos: int | None = None
) -> Iterator[re.Match]:
    """``rx.finditer`` over ``text`` (up to ``endpos``), trying ``rx`` only at ``starts``:
    sorted positions, a superset of those where ``rx`` can begin a match (which must never be
    empty)."""
    end = len(text) if endpos is None else endpos
    pos = 0
    for p in starts:
        if p < pos:
            continue
        m = rx.match(text, p, end)
        if m is not None:
            yield m
            pos = m.end()


def spaced(pattern: str, flags: int = re.I) -> re.Pattern:
    """``pattern`` compiled (case-insensitively by default), each space in it matching any
    run of whitespace: letters break lines anywhere. Spaces inside character classes are
    replaced too, so write those with ``\\s`` or without a space."""
    return re.compile(pattern.replace(" ", r"[ \t\r\n]+"), flags)


# The non-ASCII characters re.I matches to ASCII letters; ``str.lower`` maps none of them to
# its ASCII letter one for one.
FOLD_UNSAFE = ("\u0130", "\u0131", "\u017f", "\u212a")


def lower_folds(text: str, low: str) -> bool:
    """Whether ``low`` (``text.lower()``) can stand in for ``text`` under re.I: wherever a
    case-insensitive run of ASCII letters matches in ``text``, ``low`` holds it lower-cased at
    the same offset."""
    return len(low) == len(text) and not any(c in text for c in FOLD_UNSAFE)


class LineRegex:
    """A pattern anchored at line starts (``^`` under ``re.M``) with ``search`` and ``finditer``
    that find the very same matches, faster.

    ``re`` tries a ``^`` pattern at every position of the text; the same body after a literal
    newline lets it skip from line to line in C. ``body`` must never match the empty string.
    """

    def __init__(self, body: str, flags: int = 0):
        self.rx = re.compile(f"^(?:{body})", flags | re.M)
        self._after_newline = re.compile(f"\n(?:{body})", flags | re.M)

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> re.Match | None:
        pos = max(pos, 0)
        end = len(text) if endpos is None else endpos
        if pos == 0 or (0 < pos <= len(text) and text[pos - 1] == "\n"):
            m = self.rx.match(text, pos, end)
            if m is not None:
                return m
        n = self._after_newline.search(text, pos, end)
        return None if n is None else self.rx.match(text, n.start() + 1, end)

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match]:
        while (m := self.search(text, pos, endpos)) is not None:
            yield m
            pos = m.end()


# A sentence ends at . ! or ? (after an optional closing quote or bracket) followed by
# whitespace and anything but a lower-case letter, or at the end of the text; a blank line
# (a paragraph break, or a heading's end) ends one too.
# Abbreviations that take a period mid-sentence do not end one.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s+[^a-z\s]|\s*$)|\n[ \t]*\n")
_ABBREVIATIONS = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "vs",
        "no",
        "nos",
        "pg",
        "pp",
        "p",
        "approx",
        "dept",
        "inc",
        "jr",
        "sr",
        "st",
        "mt",
        "ft",
        "ca",
        "pa",
        "md",
        "do",
        "fig",
        "e.g",
        "i.e",
        "etc",
        "al",
        "cf",
        "ref",
        "sec",
        "u.s",
        "a.m",
        "p.m",
    ]
)
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_sentence_end(text: str, m: re.Match) -> bool:
    if text[m.start()] != ".":  # ! ? or a blank line
        return True
    w = _LAST_WORD.search(text, max(0, m.start() - 12), m.start())
    if w is None:
        return True
    word = w.group(1).lower().rstrip(".")
    return word not in _ABBREVIATIONS and not (len(word) == 1 and word.isalpha())


def sentences(text: str, start: int = 0, end: int | None = None) -> tuple[tuple[int, int], ...]:
    """Sentence spans of ``text[start:end]``, leading whitespace trimmed, each ending after its
    closing mark (the last may end without one). The spans of the last text split are kept:
    segmentation, the checks and the summary split the same rationales."""
    global _CACHED
    end = len(text) if end is None else end
    if _CACHED[0] is not text:
        _CACHED = (text, {})
    memo = _CACHED[1]
    got = memo.get((start, end))
    if got is not None:
        return got
    out: list[tuple[int, int]] = []
    a = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if not _is_sentence_end(text, m):
            continue
        _append(text, out, a, m.end())
        a = m.end()
    _append(text, out, a, end)
    memo[(start, end)] = result = tuple(out)
    return result


_CACHED: tuple[str | None, dict[tuple[int, int], tuple[tuple[int, int], ...]]] = (None, {})


def clauses(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``sentences`` split further at semicolons: the units a claim or a limit is read in."""
    out: list[tuple[int, int]] = []
    for a, b in sentences(text, start, end):
        i = a
        for m in _SEMICOLON.finditer(text, a, b):
            _append(text, out, i, m.start())
            i = m.end()
        _append(text, out, i, b)
    return out


_SEMICOLON = re.compile(r";\s+")


def _append(text: str, out: list[tuple[int, int]], a: int, b: int) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        out.append((a, b))


def sentence_around(
    text: str, pos: int, floor: int = 0, ceil: int | None = None
) -> tuple[int, int]:
    """The span of the sentence holding ``pos``, within ``text[floor:ceil]``, by the same
    rule as ``sentences``. Looks at most ``_REACH`` characters either way."""
    ceil = len(text) if ceil is None else ceil
    a = max(floor, pos - _REACH)
    for reach in (_NEAR, _REACH):  # most sentences start near: look there first
        lo = max(floor, pos - reach)
        ends = [m.end() for m in _SENTENCE_END.finditer(text, lo, pos) if _is_sentence_end(text, m)]
        if ends:
            a = ends[-1]
            break
        if lo == floor:
            a = lo
            break
    b = min(ceil, pos + _REACH)
    for m in _SENTENCE_END.finditer(text, pos, b):
        if _is_sentence_end(text, m):
            b = m.end()
            break
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b)


_REACH = 1500
_NEAR = 300


_BLANK_BETWEEN = re.compile(r"\n[ \t]*\n")
# A text whose every other line is blank: some PDF-to-text conversions double-space.
_DOUBLE_SPACED_SHARE = 0.6


def undouble_lines(text: str) -> str:
    """``text`` with one blank line fewer between lines when nearly every line is followed
    by a blank one (a double-spaced conversion), so that a wrapped heading reads as one; a
    paragraph break (two or more blank lines there) stays a blank line. Other texts are
    returned as they are."""
    lines = text.count("\n") + 1
    if text.count("\n\n") < _DOUBLE_SPACED_SHARE * lines / 2:
        return text  # most lines run straight on: the common case, decided without a scan
    doubled = len(_BLANK_BETWEEN.findall(text))
    nonblank = sum(1 for line in text.split("\n") if line.strip())
    if nonblank < 10 or doubled < _DOUBLE_SPACED_SHARE * nonblank or doubled > lines:
        return text
    return _BLANK_BETWEEN.sub("\n", text)


def find_all(haystack: str, needle: str) -> Iterator[int]:
    """Every position of ``needle`` in ``haystack`` (overlapping), in order."""
    i = haystack.find(needle)
    while i != -1:
        yield i
        i = haystack.find(needle, i + 1)
