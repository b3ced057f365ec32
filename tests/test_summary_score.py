"""Summary coverage against hand-written gold: the scorer itself."""

from __future__ import annotations

from imr_llm.evals.summaries import same_quote, score_summaries
from imr_llm.schemas import AuditRecord, Evidence, ItemSummary, SummaryParts


def ev(s: str) -> Evidence:
    return Evidence(quote=s, start=0, end=len(s))


def test_same_quote_tolerates_a_little_more_or_less():
    gold = "There is no documentation of functional improvement from prior sessions."
    assert same_quote("no documentation of functional improvement from prior sessions", gold)
    assert same_quote("Moreover, there is no documentation of functional improvement.", gold)
    assert not same_quote("The MTUS recommends up to 10 visits for myalgia.", gold)
    assert not same_quote(None, gold)


def test_score_counts_each_gold_fact():
    rec = AuditRecord(
        letter_id="X",
        source="x",
        summary_parts=SummaryParts(
            injury=ev("She slipped on a wet floor on 1/2/2016 and twisted her knee."),
            body_parts=["knee", "hip"],
            items=[ItemSummary(index=0, item="MRI", outcome="upheld", reason=ev("No red flags."))],
        ),
    )
    gold = {
        "X": {
            "injury": {"quote": "She slipped on a wet floor on 1/2/2016 and twisted her knee."},
            "body_parts": ["knee"],
            "diagnoses_quote": "Diagnoses: knee sprain.",
            "treatment_to_date": None,
            "items": [
                {"index": 0, "decisive_reason": "There are no red flags.", "alternatives": []}
            ],
        }
    }
    s = score_summaries([rec], gold)
    assert (s.injury.right, s.injury.total) == (1, 1)
    assert (s.body_parts_letters.right, s.body_parts_padded, s.body_parts_missing) == (0, 1, 0)
    assert (s.diagnoses.right, s.diagnoses.total) == (0, 1)
    assert s.treatment_to_date.total == 0
    assert (s.reasons.right, s.reasons.total) == (1, 1)
