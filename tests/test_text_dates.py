"""A date's role read from its clause, and the date checks that rest on it."""

from __future__ import annotations

from datetime import date

import pytest

from builders import EXAMPLES, Item, dated, run
from imr_llm.checks.dates import date_order
from imr_llm.ingest import read_letter
from imr_llm.text.dates import _CUE, _cues, date_role, find_dates

DECIDED = date(2016, 12, 20)


def role_of(sentence: str, nth: int = 0) -> str:
    m, _ = list(find_dates(sentence))[nth]
    return date_role(sentence, m.start(), m.end())


@pytest.mark.parametrize(
    "sentence, role",
    [
        ("Her birthdate was listed as 04-02-1961 in the records.", "birth"),
        ("The patient (DOB 7/9/1970) reports pain.", "birth"),
        ("Per CCR §9792.24.2 (July 28, 2016), the MTUS applies.", "regulation"),
        ("The ODG, updated 11/21/2016, recommends it.", "regulation"),
        ("The retrospective request for naproxen provided on 10/03/2016 was denied.", "dispensing"),
        ("The medication was dispensed on 11/02/2016.", "dispensing"),
        ("A utilization review dated 11/03/2016 non-certified the request.", "ur"),
        ("In a utilization review report dated November 15, 2016, it was denied.", "ur"),
        ("A prior review dated 11/13/2016 indicated the request was not certified.", "ur"),
        ("She was seen on 11/10/2016 for her neck.", "visit"),
        ("On 11-21-16, the injured worker complained of low back pain.", "visit"),
        ("The first report of occupational injury from 08/20/2016 notes neck pain.", "visit"),
        ("An MRI of the lumbar spine dated 10/20/2016 showed a disc bulge.", "imaging"),
        ("The patient was injured on 10/13/2016 while lifting boxes.", "injury"),
        ("The Request for Authorization dated 10/25/2016 asked for 12 sessions.", "request"),
        ("She is scheduled to follow up on 01/15/2017.", "future"),
        # a cue inside a longer word ("eversion") is no cue
        ("The progress report of 08-22-2016 documented eversion weakness.", "visit"),
    ],
)
def test_date_roles(sentence, role):
    assert role_of(sentence) == role


@pytest.mark.parametrize(
    "summary",
    [
        "Her birthdate was listed as 04-02-1961. She was seen on 11/01/2016 for neck pain.",
        "Treatment followed CCR §9792.24.2 (July 28, 2015). She was seen on 11/01/2016.",
        "On 10-01-16, the injured worker was examined before the injury claim was filed "
        "for an earlier injury.",
    ],
)
def test_dates_that_are_not_care_before_the_injury_are_silent(summary):
    ctx = dated(summary)
    assert [f for f in run(date_order, ctx) if "before the" in f.message] == []


def test_retrospective_dispensing_date_is_not_the_reviews_date():
    ctx = dated(
        "The retrospective request for naproxen provided on 11/03/2016 was non-certified.",
        Item("Retrospective naproxen 550mg #60", "Naproxen is an NSAID."),
    )
    assert run(date_order, ctx) == []


@pytest.mark.parametrize(
    "summary, says",
    [
        ("A utilization review dated 11/30/3016 non-certified the request.", "3016"),
        ("She was examined on 02/14/2017 with ongoing neck pain.", "after its own decision date"),
        ("An MRI of the cervical spine dated March 3, 2017 showed a disc bulge.", "after its own"),
    ],
)
def test_impossible_dates(summary, says):
    ctx = dated("A 40-year-old female injured on 10/23/2016. " + summary, decision_date=DECIDED)
    found = [f for f in run(date_order, ctx) if says in f.message]
    assert len(found) == 1 and found[0].severity.value == "medium"


@pytest.mark.parametrize(
    "summary",
    [
        "She is scheduled to follow up on 02/14/2017.",
        "A follow-up visit will be held on 02/14/2017.",
        "The MTUS (effective 03/01/2017) was cited.",
    ],
)
def test_future_and_regulation_dates_after_the_decision_are_silent(summary):
    ctx = dated("A 40-year-old female injured on 10/23/2016. " + summary, decision_date=DECIDED)
    assert [f for f in run(date_order, ctx) if "after its own" in f.message] == []


def test_rationale_date_after_decision():
    item = Item("MRI of the left knee", "The progress report of 03/20/2017 documents no tear.")
    ctx = dated("Knee strain.", item, date_of_injury=date(2016, 10, 21), decision_date=DECIDED)
    (f,) = [f for f in run(date_order, ctx) if "after its own" in f.message]
    assert "2017-03-20" in f.message


def _cue_spans(matches) -> list[tuple[int, int, str | None]]:
    return [(m.start(), m.end(), m.lastgroup) for m in matches]


def test_cue_scan_finds_what_the_cue_regex_finds():
    """``_cues`` tries the role cues only where one can start; it must find exactly what
    ``_CUE.finditer`` finds, in any window (a window's edge may cut a word or a cue)."""
    texts = [read_letter(p).text for p in sorted(EXAMPLES.glob("*.pdf"))[:2]]
    texts += [
        "Per CCR §9792.24.2 and 8 C.C.R. section 9792, the DOB was 1/2/1960; x-rays, X-Ray, "
        "non-certified, noncertification, PR-2 and PR2 notes, follow-up, the first report of "
        "occupational injury, prior review, a cumulative trauma claim, felt a pop, was hit",
        "The injured worker was seen; the injured knee; reinjured; DOIs; URs; _UR; 2UR; Ürology",
        "Kelvin \u212a and long \u017f: injury, \u0130njury, dispen\u017fed",
    ]
    for text in texts:
        step = max(1, len(text) // 120)
        for lo in range(0, len(text), step):
            for hi in (lo + 7, lo + 150, lo + 300, len(text)):
                hi = min(hi, len(text))
                assert _cue_spans(_cues(text, lo, hi)) == _cue_spans(_CUE.finditer(text, lo, hi))
