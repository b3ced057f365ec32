"""What tests share: where the letters are, and builders of constructed letters for the checks
(import from here; conftest.py holds only fixtures)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from imr_llm.checks.base import CheckContext, Sections
from imr_llm.schemas import AuditRecord, CaseFacts, Decision, Letter

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = Path(os.environ.get("IMR_LLM_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus" / "dwc-2016"
SEEDS = SHARED / "corpus" / "seeds"
EVALS = ROOT / "evals"


def need_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set IMR_LLM_SHARED)")


NONE = "The Claims Administrator did not cite any medical evidence for its decision."


@dataclass
class Item:
    item: str
    rationale: str
    ca: str = NONE
    rv: str = "Decision based on MTUS Chronic Pain Medical Treatment 2016."
    outcome: str = "Upheld"


def build(summary: str, *items: Item) -> CheckContext:
    """Assemble a letter in the 2016 layout with exact spans for every field."""
    text = "CLINICAL CASE SUMMARY\n" + summary + "\n"
    summary_span = (0, len(text))
    text += "IMR ISSUES, DECISIONS AND RATIONALES\n"
    decisions = []
    for i, it in enumerate(items):
        start = len(text)
        text += f"{it.item}: {it.outcome}\n"
        heading = (start, len(text) - 1)
        text += "Claims Administrator guideline: "
        ca = (len(text), len(text) + len(it.ca))
        text += it.ca + "\nMAXIMUS guideline: "
        rv = (len(text), len(text) + len(it.rv))
        text += it.rv + "\nDecision rationale: "
        rat = (len(text), len(text) + len(it.rationale))
        text += it.rationale + "\n"
        decisions.append(
            Decision(
                index=i,
                item=it.item,
                outcome=it.outcome.lower(),
                claims_administrator_guideline=it.ca.removeprefix("Decision based on "),
                reviewer_guideline=it.rv.removeprefix("Decision based on "),
                rationale=it.rationale,
                span=(start, len(text)),
                heading_span=heading,
                ca_guideline_span=ca,
                reviewer_guideline_span=rv,
                rationale_span=rat,
            )
        )
    letter = Letter(letter_id="t", source="t", sha256="0", text=text)
    record = AuditRecord(letter_id="t", source="t", decisions=decisions)
    return CheckContext(letter=letter, record=record, sections=Sections(summary=summary_span))


def run(check, ctx):
    findings = list(check(ctx))
    for f in findings:
        assert f.detector == "rules"
        for e in f.evidence:
            assert ctx.text[e.start : e.end] == e.quote
    return findings


def with_case(ctx: CheckContext, **case) -> CheckContext:
    ctx.record.case = CaseFacts(**case)
    return ctx


def dated(summary: str, *items: Item, **case) -> CheckContext:
    """A constructed letter with an injury date of 2016-10-23 and a UR date of 2016-11-30."""
    base = {"date_of_injury": date(2016, 10, 23), "ur_denial_date": date(2016, 11, 30)}
    return with_case(
        build(summary, *(items or (Item("MRI of the lumbar spine", "No."),))), **(base | case)
    )
