"""The check registry: every rule check is a function registered here by its finding code."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from imr_llm.schemas import AuditRecord, Decision, Evidence, Finding, Letter, Severity


@dataclass(frozen=True)
class Sections:
    """Character spans of the template's sections in the letter text (None when absent)."""

    header: tuple[int, int] | None = None
    credentials: tuple[int, int] | None = None
    summary: tuple[int, int] | None = None
    documents: tuple[int, int] | None = None
    issues: tuple[int, int] | None = None


@dataclass
class CheckContext:
    """What a check sees. ``text`` has planted instructions blanked out (same offsets);
    ``raw_text`` is the letter as read."""

    letter: Letter
    record: AuditRecord
    sections: Sections = field(default_factory=Sections)
    masked_text: str | None = None
    injections: list[tuple[int, int]] | None = None

    @property
    def text(self) -> str:
        return self.masked_text if self.masked_text is not None else self.letter.text

    @property
    def raw_text(self) -> str:
        return self.letter.text

    def raw_evidence(self, start: int, end: int) -> Evidence:
        return Evidence(quote=self.raw_text[start:end], start=start, end=end)

    def section_text(self, name: str) -> str:
        span = getattr(self.sections, name)
        return self.text[span[0] : span[1]] if span else ""

    def evidence(self, start: int, end: int) -> Evidence:
        return Evidence(quote=self.text[start:end], start=start, end=end)

    def rationale_evidence(self, decision: Decision, start: int, end: int) -> Evidence:
        """Evidence for a span given relative to the decision's rationale text."""
        base = decision.rationale_span[0] if decision.rationale_span else 0
        return self.evidence(base + start, base + end)


CheckFn = Callable[[CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    codes: tuple[str, ...]
    fn: CheckFn
    description: str


REGISTRY: dict[str, CheckSpec] = {}


def register(name: str, *codes: str) -> Callable[[CheckFn], CheckFn]:
    """Register a rule check under ``name``; ``codes`` lists the finding codes it may emit."""

    def wrap(fn: CheckFn) -> CheckFn:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        REGISTRY[name] = CheckSpec(name, codes, fn, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return wrap


def finding(
    code: str,
    severity: Severity | str,
    message: str,
    evidence: list[Evidence],
    decision_index: int | None = None,
) -> Finding:
    return Finding(
        code=code,
        severity=Severity(severity),
        decision_index=decision_index,
        message=message,
        detector="rules",
        evidence=evidence,
    )


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
