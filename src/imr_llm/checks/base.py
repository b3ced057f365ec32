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
    starts: re.Pattern, rx: re.Pattern, text: str, pos: int = 0, endpos: int | None = None
) -> Iterator[re.Match]:
    """``rx.finditer(text, pos, endpos)``, trying ``rx`` only where ``starts`` matches.

    ``re`` tries a pattern that opens with ``\\b`` or a case-insensitive word list at every
    position of the text, which is slow; ``starts``, opening with a plain character class, lets
    it skip ahead in C. ``starts`` must match (in the same bounds) wherever ``rx`` can begin a
    match, and ``rx`` must never match the empty string.
    """
    end = len(text) if endpos is None else endpos
    while True:
        c = starts.search(text, pos, end)
        if c is None:
            return
        m = rx.match(text, c.start(), end)
        if m is None:
            pos = c.start() + 1
        else:
            yield m
            pos = m.end()
