"""Score summaries against hand-written summary gold (``evals/summary-gold/<letter_id>.json``):
coverage of each gold fact by the record's ``summary_parts``.

A quoted part is right when it and a gold quote share most of their words (the shorter's words
are at least half in the longer), so a summary may quote a little more or less than the gold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from imr_llm.schemas import AuditRecord

_WORD = re.compile(r"[a-z0-9]+")
# The summary's region names that the gold's closed vocabulary folds into a coarser one.
_GOLD_REGION = {"chest": "other", "jaw": "head", "spine": "other"}
_SHARED = 0.5


class Coverage(BaseModel):
    right: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return self.right / self.total if self.total else None


class SummaryScore(BaseModel):
    letters: int = 0
    injury: Coverage = Coverage()
    body_parts_letters: Coverage = Coverage()
    body_parts_padded: int = 0
    body_parts_missing: int = 0
    diagnoses: Coverage = Coverage()
    treatment_to_date: Coverage = Coverage()
    reasons: Coverage = Coverage()


def _words(s: str) -> set[str]:
    return set(_WORD.findall(s.lower()))


def same_quote(produced: str | None, gold: str | None) -> bool:
    if not produced or not gold:
        return False
    p, g = _words(produced), _words(gold)
    if not p or not g:
        return False
    return len(p & g) / min(len(p), len(g)) >= _SHARED and len(p & g) / len(g) >= _SHARED


def load_gold(gold_dir: Path) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(gold_dir.glob("*.json"))
    }


def score_summaries(records: Iterable[AuditRecord], gold: dict[str, dict]) -> SummaryScore:
    out = SummaryScore()
    for rec in records:
        g = gold.get(rec.letter_id)
        parts = rec.summary_parts
        if g is None or rec.status != "ok" or parts is None:
            continue
        out.letters += 1
        out.injury.total += 1
        out.injury.right += same_quote(
            parts.injury.quote if parts.injury else None, (g.get("injury") or {}).get("quote")
        )
        want = set(g.get("body_parts") or [])
        got = {_GOLD_REGION.get(p, p) for p in parts.body_parts}
        out.body_parts_letters.total += 1
        out.body_parts_letters.right += want == got
        out.body_parts_padded += len(got - want)
        out.body_parts_missing += len(want - got)
        if g.get("diagnoses_quote"):
            out.diagnoses.total += 1
            out.diagnoses.right += same_quote(
                parts.diagnoses.quote if parts.diagnoses else None, g["diagnoses_quote"]
            )
        if g.get("treatment_to_date"):
            out.treatment_to_date.total += 1
            out.treatment_to_date.right += same_quote(
                parts.treatment_to_date.quote if parts.treatment_to_date else None,
                g["treatment_to_date"],
            )
        by_index = {it.index: it for it in parts.items}
        for gi in g.get("items") or []:
            if not gi.get("decisive_reason"):
                continue
            out.reasons.total += 1
            it = by_index.get(gi["index"])
            quote = it.reason.quote if it is not None and it.reason is not None else None
            golds = [gi["decisive_reason"], *(gi.get("alternatives") or [])]
            out.reasons.right += any(same_quote(quote, q) for q in golds)
    return out


def to_markdown(s: SummaryScore) -> list[str]:
    def row(name: str, c: Coverage) -> str:
        rate = f"{c.rate:.3f}" if c.rate is not None else "–"
        return f"| {name} | {c.right} | {c.total} | {rate} |"

    return [
        "## Summary",
        "",
        f"Against hand-written summary gold for {s.letters} letters.",
        "",
        "| part | right | of | rate |",
        "|---|---:|---:|---:|",
        row("injury statement", s.injury),
        row("body parts exactly right (letters)", s.body_parts_letters),
        row("diagnoses", s.diagnoses),
        row("treatment to date", s.treatment_to_date),
        row("decisive reason per item", s.reasons),
        "",
        f"Body parts padded: {s.body_parts_padded}; missing: {s.body_parts_missing}.",
        "",
    ]
