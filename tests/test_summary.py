"""The extractive summary: parts quoted from the letter, in a fixed order, with offsets."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from builders import EXAMPLES
from imr_llm.cli import app
from imr_llm.pipeline import analyze

LETTERS = sorted(EXAMPLES.glob("*.pdf")) + sorted(EXAMPLES.glob("*.txt"))


@pytest.mark.parametrize("path", LETTERS, ids=lambda p: p.name)
def test_every_part_is_a_quote_of_the_letter(path):
    a = analyze(path)
    parts = a.record.summary_parts
    assert parts is not None and parts.source == "extractive"
    text = a.letter.text
    quotes = [parts.injury, parts.diagnoses, parts.treatment_to_date]
    quotes += [it.reason for it in parts.items]
    for q in quotes:
        if q is not None:
            assert text[q.start : q.end] == q.quote
            assert q.end == len(text) or not (text[q.end - 1].isalnum() and text[q.end].isalnum())
    assert [it.index for it in parts.items] == [d.index for d in a.record.decisions]
    assert all(it.reason is not None for it in parts.items)


@pytest.mark.parametrize("path", LETTERS, ids=lambda p: p.name)
def test_summary_text_has_a_fixed_order(path):
    summary = analyze(path).record.summary
    labels = [
        m.group(1)
        for m in re.finditer(
            r"^(Injury|Body parts|Diagnoses|Treatment to date|Item \d+|Flagged|Nothing)",
            summary,
            re.M,
        )
    ]
    order = ["Injury", "Body parts", "Diagnoses", "Treatment to date"]
    heads = [x for x in labels if x in order]
    assert heads == sorted(heads, key=order.index)
    items = [int(x.split()[1]) for x in labels if x.startswith("Item")]
    assert items == list(range(1, len(items) + 1))
    assert labels[-1] in ("Flagged", "Nothing")
    assert "…" not in summary


def test_body_parts_come_from_the_injury_diagnoses_and_items_only():
    rec = analyze(EXAMPLES / "CM16-0213037.pdf").record
    # injury statement names none; diagnoses: shoulder, neck, "right arm paresthesias"
    assert rec.summary_parts.body_parts == ["shoulder", "cervical spine", "upper extremity"]


def test_where_pain_radiates_is_not_a_body_part():
    from imr_llm.summarize import _body_parts

    injury = "She developed neck pain radiating into the right arm while lifting boxes."
    assert _body_parts([injury], []) == ["cervical spine"]


def test_body_parts_leave_out_lengths_differentials_mechanisms_and_devices():
    from imr_llm.summarize import _body_parts

    told = [
        "He sustained an industrial injury on 10/13/2016 in an 8 foot fall off a ladder.",
        "Diagnoses include carpal tunnel syndrome versus cervical radiculopathy.",
    ]
    assert _body_parts(told, ["1 knee scooter"]) == ["wrist/hand"]
    twisted = ["He twisted his right knee on 04/25/2015 when his foot caught on a pallet."]
    assert _body_parts(twisted, []) == ["knee"]
    strained = ["He was injured on 11/19/2012 when he strained his neck while lifting."]
    assert _body_parts(strained, []) == ["cervical spine"]
    assert _body_parts(["Diagnoses: lumbar sprain, sacroiliac joint dysfunction."], []) == [
        "lumbar spine"
    ]
    assert _body_parts(["Diagnoses include posttraumatic headache and neck strain."], []) == [
        "head",
        "cervical spine",
    ]


def test_reason_kinds():
    from imr_llm.summarize import _reason_clause

    def kind(s):
        found = _reason_clause(s, 0, len(s))
        return found[1] if found else None

    assert kind("In this case, there is no documentation of a 30-day home trial.") == "shortfall"
    assert kind("The MTUS recommends imaging when red flags are present.") == "rule"
    assert kind("Therefore, the request is not medically necessary.") is None
    assert kind("Given the above, the request for Deprizine is not medically necessary.") is None
    assert kind("An additional 6 sessions would surpass the upper limit the MTUS allows.") == (
        "shortfall"
    )
    assert (
        kind(
            "The treating physician has not provided documentation to go against "
            "guideline recommendations."
        )
        == "closing"
    )
    assert (
        kind(
            "This patient completed a six-visit trial with measurable gains, so further "
            "manipulation is supported."
        )
        == "meets"
    )


def test_reason_kinds_read_negation_and_clauses():
    from imr_llm.summarize import _reason_clause

    def kind(s):
        found = _reason_clause(s, 0, len(s))
        return found[1] if found else None

    # the verdict's own negation is not a shortfall in what comes before it
    assert kind(
        "Per the clinical notes, further massage is not considered medically necessary."
    ) != ("shortfall")
    assert kind("Based on the notes, a repeat scan is not a medical necessity.") != "shortfall"
    # a negation the sentence supposes ("if there is no ...") is a condition, not a shortfall
    assert (
        kind("Here, she warrants close follow-up, with a taper if there is no sign of benefit.")
        != "shortfall"
    )
    # a verdict conceded first: the main clause after it is the reason
    assert (
        kind("Although the cream itself is reasonable, the order failed to give a quantity.")
        == "shortfall"
    )
    assert (
        kind("There is no record of his response to the first visits to justify more at this time.")
        == "shortfall"
    )
    # a negation the sentence concedes ("although ... unable") is not the shortfall it states
    conceded = "Here, although it is noted she is unable to take tablets, she can take syrup."
    assert kind(conceded) != "shortfall"
    assert (
        kind("Here, she is unable to take tablets, and no trial of the syrup is noted.")
        == "shortfall"
    )
    # where the guideline came from is not a reason
    assert kind(
        "For pre-operative labs, the ACOEM does not address them, so the ODG was cited."
    ) == ("rule")


def test_decisive_reason_is_the_patients_not_the_guidelines():
    rec = analyze(EXAMPLES / "000_9c64455a8480a098.txt").record
    reason = rec.summary_parts.items[0].reason.quote
    assert "3 to 4 trigger point injections per session" in reason


def test_summarize_json_has_the_parts():
    res = CliRunner().invoke(app, ["summarize", str(EXAMPLES / "CM16-0213037.pdf"), "--json"])
    assert res.exit_code == 0, res.output
    import json

    obj = json.loads(res.stdout)
    assert obj["summary"].startswith("Injury: ")
    assert obj["summary_parts"]["items"][0]["outcome"] == "upheld"
