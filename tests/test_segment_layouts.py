"""The deterministic parse of the authored letters in all four layouts, and the layout gaps.

Every authored letter (evals/authored) must parse to its label: layout, items, outcomes,
conclusions and the case fields. An item printed without a decision word is a decision with
outcome "unknown" (its label carries a missing-decision finding); an item without a rationale
has an empty rationale and conclusion "unclear" (its label carries missing-rationale).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from imr_llm.evals.metrics import CASE_FIELDS, load_label, normalize_item
from imr_llm.ingest import read_letter
from imr_llm.schemas import Letter
from imr_llm.segment import HeaderFields, injury_date_from_summary, parse_header, segment
from imr_llm.text import dates as dateparse

AUTHORED = Path(__file__).resolve().parents[1] / "evals" / "authored"
LABELS = [load_label(p) for p in sorted((AUTHORED / "labels").glob("*.json"))]
_SUMMARY_OPENING = re.compile(r"(The|This) (patient|injured worker|claimant|applicant)\b")


def _letter(text: str) -> Letter:
    return Letter(letter_id="t", source="t.txt", sha256="-", text=text)


def _value(v):
    if v is None:
        return None
    return v if isinstance(v, int) else " ".join(str(v).split()).casefold()


@pytest.fixture(scope="module")
def parsed():
    out = {}
    for lab in LABELS:
        letter = read_letter(AUTHORED / "letters" / lab.file)
        out[lab.letter_id] = (letter, segment(letter))
    return out


def test_every_layout_is_covered():
    assert {lab.layout for lab in LABELS} == {"dwc-2013", "dwc-2014", "dwc-2015", "dwc-2016"}
    assert len(LABELS) == 33


@pytest.mark.parametrize("lab", LABELS, ids=[lab.letter_id for lab in LABELS])
def test_authored_letter_matches_label(parsed, lab):
    letter, seg = parsed[lab.letter_id]
    assert seg.layout == lab.layout
    got = [(normalize_item(d.item), d.outcome, d.conclusion) for d in seg.decisions]
    want = [(normalize_item(g.item), g.outcome, g.conclusion) for g in lab.decisions]
    assert got == want
    for name in CASE_FIELDS:
        assert _value(getattr(seg.case, name)) == _value(getattr(lab.case, name)), name


@pytest.mark.parametrize("lab", LABELS, ids=[lab.letter_id for lab in LABELS])
def test_authored_letter_sections_and_blocks(parsed, lab):
    letter, seg = parsed[lab.letter_id]
    text, secs = letter.text, seg.sections
    assert secs.issues and secs.credentials and secs.summary
    assert (secs.header is not None) == (lab.layout != "dwc-2014")
    summary = text[secs.summary[0] : secs.summary[1]]
    assert _SUMMARY_OPENING.match(summary.lstrip()), summary[:80]
    no_rationale = {f.decision_index for f in lab.findings if f.code == "missing-rationale"}
    undecided = {f.decision_index for f in lab.findings if f.code == "missing-decision"}
    assert {d.index for d in seg.decisions if d.outcome == "unknown"} == undecided
    for k, d in enumerate(seg.decisions):
        assert d.index == k
        assert d.span[0] == d.heading_span[0] < d.heading_span[1] <= d.span[1]
        if k:
            assert seg.decisions[k - 1].span[1] <= d.span[0]
        assert d.claims_administrator_guideline and d.reviewer_guideline
        for cited in (d.claims_administrator_guideline, d.reviewer_guideline):
            assert not re.search(r"guideline:|rationale|Expert Reviewer", cited), cited
        if k in no_rationale:
            assert not d.rationale and d.conclusion == "unclear"
            continue
        assert d.rationale == text[d.rationale_span[0] : d.rationale_span[1]]
        assert d.span[0] < d.rationale_span[0] < d.rationale_span[1] <= d.span[1]
        assert d.conclusion_evidence is not None


# ---------------------------------------------------------------- 2013 item headings

_BLOCK_2013 = """\
The Claims Administrator based its decision on the MTUS Chronic Pain Medical Treatment
Guidelines (2009), Physical Medicine, pages 98-99.
The Expert Reviewer based his/her decision on the MTUS Chronic Pain Medical Treatment
Guidelines (2009), Physical Medicine, pages 98-99.
The Expert Reviewer's decision rationale:
{rationale}
"""
_NOTICE_2013 = "Notice of Independent Medical Review Determination\nDated: 11/06/2013\n\n"


def _letter_2013(*items: tuple[str, str]) -> Letter:
    parts = [_NOTICE_2013]
    for k, (heading, rationale) in enumerate(items, 1):
        parts.append(f"{k}. {heading}\n" + _BLOCK_2013.format(rationale=rationale) + "\n")
    return _letter("".join(parts))


def test_2013_heading_wrapped_inside_necessary_and_appropriate():
    seg = segment(
        _letter_2013(
            (
                "Request for acupuncture, six sessions for the cervical spine is medically "
                "necessary and\nappropriate.",
                "An initial trial fits the guideline. The request for acupuncture, six sessions "
                "for the\ncervical spine, is medically necessary and appropriate.",
            ),
            (
                "Request for hydrocodone/acetaminophen 5/325 mg #60 is not medically necessary "
                "and\nappropriate.",
                "No functional benefit is documented. The request is not medically necessary "
                "and appropriate.",
            ),
        )
    )
    assert seg.layout == "dwc-2013"
    assert [(d.item, d.outcome, d.conclusion) for d in seg.decisions] == [
        (
            "acupuncture, six sessions for the cervical spine",
            "overturned",
            "medically_necessary",
        ),
        ("hydrocodone/acetaminophen 5/325 mg #60", "upheld", "not_medically_necessary"),
    ]
    first = seg.decisions[0]
    assert first.rationale.startswith("An initial trial")
    assert first.reviewer_guideline.startswith("MTUS Chronic Pain")


def test_2013_item_wrapped_over_lines():
    seg = segment(
        _letter_2013(
            (
                "Request for compounded cream of\nflurbiprofen 20% and lidocaine 5%, 180\ngrams "
                "is not medically necessary and appropriate.",
                "Compounded creams are not recommended. The request is not medically necessary.",
            )
        )
    )
    (d,) = seg.decisions
    assert d.item == "compounded cream of flurbiprofen 20% and lidocaine 5%, 180 grams"
    assert d.outcome == "upheld"


def test_2013_heading_without_decision_is_unknown():
    seg = segment(
        _letter_2013(
            (
                "Request for TENS unit for home use is not medically necessary and appropriate.",
                "Other modalities have not failed. The request is not medically necessary.",
            ),
            (
                "Request for lumbar support brace",
                "No instability is described. The request for lumbar support brace is not "
                "medically necessary.",
            ),
        )
    )
    assert [(d.item, d.outcome) for d in seg.decisions] == [
        ("TENS unit for home use", "upheld"),
        ("lumbar support brace", "unknown"),
    ]
    assert seg.decisions[1].conclusion == "not_medically_necessary"
    assert seg.decisions[0].rationale.endswith("not medically necessary.")


# ---------------------------------------------------------------- summary headings

_QUALS = (
    "Medical Qualifications of the Expert Reviewer:\nThe physician who reviewed this file is "
    "board certified in {spec}\nand is licensed to practice in California.\n\n"
)


def test_2013_expert_reviewer_case_summary_heading():
    text = (
        _NOTICE_2013
        + _QUALS.format(spec="Family Practice")
        + "Expert Reviewer Case Summary:\nThe case summary below was taken from the utilization "
        "review denial and has\nbeen checked against the medical records supplied for this "
        "review.\n\nThe patient is a 45 year old female who injured her low back on 4/22/2013.\n\n"
        "1. Request for naproxen 550 mg #60 is medically necessary and appropriate.\n"
        + _BLOCK_2013.format(rationale="The request is medically necessary and appropriate.")
    )
    seg = segment(_letter(text))
    summary = text[seg.sections.summary[0] : seg.sections.summary[1]]
    assert summary.lstrip().startswith("The patient is a 45 year old female")
    assert "1. Request for" not in summary
    assert (seg.case.patient_age, seg.case.patient_sex) == (45, "female")
    assert seg.case.date_of_injury == date(2013, 4, 22)


@pytest.mark.parametrize(
    "heading", ["CLINICAL CASE SUMMARY", "Expert Reviewer Case Summary:", "CASE SUMMARY:"]
)
def test_summary_heading_variants_and_wrapped_intro(heading):
    text = (
        "MAXIMUS FEDERAL SERVICES, INC.\nCase Number: CM15-0000001\n"
        "HOW THE IMR FINAL DETERMINATION WAS MADE\nThe expert reviewer is Board Certified in "
        "Internal Medicine, Pulmonary Disease.\n"
        f"{heading}\nThe expert reviewer prepared this clinical case summary from the case file, "
        "including all\nmedical records:\nThe injured worker is a 50 year old male.\n"
        "IMR DECISION(S) AND RATIONALE(S)\n"
    )
    seg = segment(_letter(text))
    summary = text[seg.sections.summary[0] : seg.sections.summary[1]]
    assert summary.startswith("The injured worker is a 50 year old male.")
    assert seg.case.reviewer_specialty == "Internal Medicine"


# ---------------------------------------------------------------- 2013 header

_HEADER_2013 = """\
Notice of Independent Medical Review Determination
Dated: 11/06/2013

Employee: [Redacted]
Claim Number: [Redacted]
Date of UR Decision: 9/12/2013
Date of Injury: 4/22/2013
IMR Application Received: 9/20/2013
MAXIMUS Case Number: CM13-0990101

The IMR application was filed on 9/20/2013. The parties were sent a Notice of Assignment and
Request for Information on 9/27/2013. The utilization review denial in dispute is dated
9/12/2013.

Medical Qualifications of the Expert Reviewer:
"""


def test_2013_header_fields():
    got = parse_header(_HEADER_2013, "dwc-2013")
    assert got == HeaderFields(
        case_number="CM13-0990101",
        decision_date=date(2013, 11, 6),
        ur_denial_date=date(2013, 9, 12),
        date_of_injury=date(2013, 4, 22),
        application_received=date(2013, 9, 20),
        date_assigned=date(2013, 9, 27),
    )


def test_2013_labels_only_apply_to_2013_letters():
    got = parse_header(_HEADER_2013)
    assert got.decision_date is None
    assert got.date_assigned is None


# ---------------------------------------------------------------- reviewer specialty


@pytest.mark.parametrize(
    ("sentence", "specialty"),
    [
        ("is board certified in Orthopaedic Surgery and is licensed", "Orthopaedic Surgery"),
        (
            "is board certified in Physical Medicine and Rehabilitation\nand is licensed",
            "Physical Medicine and Rehabilitation",
        ),
        (
            "is Board Certified in Physical Medicine and\nRehabilitation and is licensed",
            "Physical Medicine and Rehabilitation",
        ),
        ("is Board Certified in Anesthesiology, Pain Medicine.", "Anesthesiology"),
    ],
)
def test_board_certified_specialty(sentence, specialty):
    text = f"{_NOTICE_2013}Medical Qualifications of the Expert Reviewer:\nThe physician {sentence}"
    assert segment(_letter(text)).case.reviewer_specialty == specialty


# ---------------------------------------------------------------- date of injury


@pytest.mark.parametrize(
    ("summary", "want"),
    [
        (
            "The patient is a 48 year old female school custodian who slipped on a wet floor on "
            "02/27/2012\nand twisted her right knee. An MRI on 05/10/2012 showed a tear.",
            date(2012, 2, 27),
        ),
        (
            "The patient is a 44 year old male driver. He inverted his left ankle on 3/19/2013 "
            "when he stepped off a truck.",
            date(2013, 3, 19),
        ),
        (
            "The patient is a 58 year old male forklift operator who twisted his right knee on "
            "July 15, 2012 while stepping down.",
            date(2012, 7, 15),
        ),
        (
            "The patient is a 52 year old female with a date of injury of 10/14/2011. She fell "
            "on 01/02/2012.",
            date(2011, 10, 14),
        ),
    ],
)
def test_injury_date_from_event_sentence(summary, want):
    assert injury_date_from_summary(summary) == want


@pytest.mark.parametrize(
    "summary",
    [
        # an event in the third sentence is a later event, not the injury
        "The patient is a 40 year old male clerk. He has neck pain. He fell on 03/04/2014.",
        # no event verb: a visit date is not the date of injury
        "The patient is a 40 year old male clerk who was seen on 03/04/2014 for neck pain.",
        # the event and the date are in different sentences
        "The patient is a 40 year old male who slipped at work. He was seen on 03/04/2014.",
        # a date not introduced by "on"
        "The patient is a 40 year old male who fell from a ladder; an MRI of 03/04/2014 followed.",
    ],
)
def test_no_injury_date_without_an_event_sentence(summary):
    assert injury_date_from_summary(summary) is None


def test_date_at():
    text = "sent on 9/27/2013 and on October 3, 2013; not 13/45/2013"
    assert dateparse.date_at(text, text.index("9/27")) == date(2013, 9, 27)
    assert dateparse.date_at(text, text.index("October")) == date(2013, 10, 3)
    assert dateparse.date_at(text, text.index("13/45")) is None
    assert dateparse.date_at(text, 0) is None


# ---------------------------------------------------------------- items without a decision word

_ISSUES_2016 = """\
Case Number: CM16-0000001
HOW THE IMR FINAL DETERMINATION WAS MADE
The reviewer is Board Certified in Family Practice.
CLINICAL CASE SUMMARY
The injured worker is a 34 year old female.
IMR ISSUES, DECISIONS AND RATIONALES
The Final Determination was based on decisions for the disputed items/services set forth below:
Right wrist injection: Overturned
Claims Administrator guideline: Decision based on MTUS Forearm, Wrist, and Hand Complaints.
MAXIMUS guideline: Decision based on MTUS Forearm, Wrist, and Hand Complaints.
Decision rationale: The injection is supported. Therefore, the request is medically necessary.

Repeat radiograph of the
right wrist:

Claims Administrator guideline: Decision based on MTUS Forearm, Wrist, and Hand Complaints.
MAXIMUS guideline: Decision based on MTUS Forearm, Wrist, and Hand Complaints.
Decision rationale: No red flag is present. Therefore, the request is not medically necessary.
Paraffin bath for home use: Upheld
Claims Administrator guideline: Decision based on ODG Forearm, Wrist & Hand.
MAXIMUS guideline: Decision based on ODG Forearm, Wrist & Hand.
"""


def test_heading_without_decision_word_is_unknown_item():
    letter = _letter(_ISSUES_2016)
    seg = segment(letter)
    assert [(d.item, d.outcome, d.conclusion) for d in seg.decisions] == [
        ("Right wrist injection", "overturned", "medically_necessary"),
        ("Repeat radiograph of the right wrist", "unknown", "not_medically_necessary"),
        ("Paraffin bath for home use", "upheld", "unclear"),
    ]
    first, second, third = seg.decisions
    assert first.span[1] == second.span[0] == second.heading_span[0]
    assert first.rationale.endswith("the request is medically necessary.")
    assert letter.text[slice(*second.heading_span)] == "Repeat radiograph of the\nright wrist:"
    assert second.claims_administrator_guideline.startswith("MTUS Forearm")
    assert third.rationale == "" and third.rationale_span is None


def test_guideline_label_without_any_heading_adds_no_item():
    text = _ISSUES_2016.replace("Repeat radiograph of the\nright wrist:\n", "")
    seg = segment(_letter(text))
    assert [d.outcome for d in seg.decisions] == ["overturned", "upheld"]
