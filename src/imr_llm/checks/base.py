"""The check registry: every rule check is a function registered here by its finding code."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from imr_llm.codes import Code
from imr_llm.schemas import AuditRecord, Decision, Evidence, Finding, Letter, Severity
from imr_llm.text.spans import (  # noqa: F401  re-exported for checks
    FOLD_UNSAFE,
    LineRegex,
    Sections,
    finditer_at,
    lower_folds,
    matches_at,
    spaced,
)


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
        code=Code(code),
        severity=Severity(severity),
        decision_index=decision_index,
        message=message,
        detector="rules",
        evidence=evidence,
    )
