"""The operator registry and what every operator shares: edits, the source letter, findings.

An operator proposes candidate edits to a letter's extracted text (``ingest.read_letter``),
located with the deterministic segmenter, and says how to check that the re-read letter shows
the change (``verify``). Each family module registers its operators with ``@register``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from imr_llm.codes import Code
from imr_llm.schemas import Decision, Letter
from imr_llm.segment import Segmentation


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` of the source text with ``new``."""

    start: int
    end: int
    new: str


@dataclass
class Change:
    """One changed span, located in the mutated text."""

    start: int
    end: int
    before: str
    after: str


@dataclass
class Planted:
    """A candidate mutation: the edits, the findings it plants and the label fields it changes."""

    edits: list[Edit]
    findings: list[dict]
    description: str
    decision_updates: dict[int, dict] = field(default_factory=dict)
    expect: dict = field(default_factory=dict)


class CannotApply(Exception):
    """The operator has nothing to work on in this letter; the message says why."""


@dataclass
class Source:
    """A letter ready for mutation: its text, its parse and its base label."""

    path: Path
    letter: Letter
    seg: Segmentation
    label: dict
    label_source: str

    @property
    def text(self) -> str:
        return self.letter.text

    def decisions(self) -> list[Decision]:
        """The parsed decisions, when they line up with the label's; else CannotApply."""
        n_gold = len(self.label.get("decisions", []))
        if n_gold != len(self.seg.decisions):
            raise CannotApply(
                f"the parse finds {len(self.seg.decisions)} items but the label lists {n_gold}"
            )
        if not self.seg.decisions:
            raise CannotApply("no decisions parsed")
        return self.seg.decisions

    def gold_decision(self, index: int) -> dict:
        return self.label["decisions"][index]

    def flagged(self, index: int) -> bool:
        """Whether the label already lists a finding on this decision."""
        return any(f.get("decision_index") == index for f in self.label.get("findings", []))

    def has_code(self, code: str) -> bool:
        return any(f.get("code") == code for f in self.label.get("findings", []))

    def span_text(self, span: tuple[int, int] | None) -> str:
        return self.text[span[0] : span[1]] if span else ""

    @property
    def summary_span(self) -> tuple[int, int] | None:
        return self.seg.sections.summary


class Operator:
    """One kind of planted defect. ``code`` is the finding it plants; ``also`` lists codes it
    may plant as a consequence (a swapped rationale can contradict its decision)."""

    name = ""
    code: Code
    also: tuple[Code, ...] = ()
    description = ""

    @property
    def codes(self) -> tuple[Code, ...]:
        return (self.code, *self.also)

    def candidates(self, src: Source, rng: random.Random) -> list[Planted]:
        raise NotImplementedError

    def verify(self, src: Source, planted: Planted, text: str, seg: Segmentation) -> list[str]:
        """Problems with the mutated letter as re-parsed; empty when the change is there."""
        problems = []
        if len(seg.decisions) != len(src.seg.decisions):
            problems.append(
                f"item count changed from {len(src.seg.decisions)} to {len(seg.decisions)}"
            )
        return problems


REGISTRY: dict[str, Operator] = {}

OperatorType = TypeVar("OperatorType", bound=type[Operator])


def register(cls: OperatorType) -> OperatorType:
    """Register one instance of the operator class under its ``name``."""
    op = cls()
    if not op.name or op.name in REGISTRY:
        raise ValueError(f"operator {op.name!r} has no name or is registered twice")
    REGISTRY[op.name] = op
    return cls


def apply_edits(text: str, edits: Sequence[Edit]) -> tuple[str, list[Change]]:
    """Apply non-overlapping edits; returns the new text and the changes in its coordinates."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            raise ValueError("overlapping edits")
    parts, changes, pos, shift = [], [], 0, 0
    for e in ordered:
        parts.append(text[pos : e.start])
        start = e.start + shift
        changes.append(Change(start, start + len(e.new), text[e.start : e.end], e.new))
        parts.append(e.new)
        shift += len(e.new) - (e.end - e.start)
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts), changes


def flex(s: str) -> str:
    """A regex matching ``s`` with any run of whitespace where ``s`` has whitespace."""
    return r"\s+".join(re.escape(w) for w in s.split())


def match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def consistent(outcome: str, conclusion: str) -> bool:
    return (outcome, conclusion) in (
        ("upheld", "not_medically_necessary"),
        ("overturned", "medically_necessary"),
    )


def planted_finding(code: Code, index: int | None, note: str) -> dict:
    return {"code": code, "decision_index": index, "note": note}
