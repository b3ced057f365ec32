"""Guideline, quantity and treatment checks on constructed letters, the seeds and the corpus."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from builders import CORPUS, NONE, ROOT, SEEDS, Item, build, need_corpus, run
from imr_llm.checks.base import CheckContext
from imr_llm.checks.guidelines import (
    SEVERITY_POLICY,
    check_citation_disagreement,
    check_guideline_region,
    check_guideline_topic,
)
from imr_llm.checks.quantity import check_quantity
from imr_llm.checks.treatment import check_treatment_mismatch
from imr_llm.schemas import AuditRecord, Severity

LOW_BACK = (
    "The injured worker hurt his lower back lifting a box; lumbar range of motion is reduced."
)
MASSAGE = "Massage therapy is recommended as an adjunct. A maximum of 4 to 6 massage therapy visits is recommended."


# guideline-topic-mismatch


def test_topic_mismatch_massage_cited_to_trigger_point_page():
    ctx = build(
        LOW_BACK,
        Item(
            "12 massage therapy sessions",
            MASSAGE,
            rv="Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122.",
        ),
    )
    (f,) = run(check_guideline_topic, ctx)
    assert (f.code, f.severity, f.decision_index) == (
        "guideline-topic-mismatch",
        Severity.medium,
        0,
    )
    assert [e.quote for e in f.evidence] == [
        "12 massage therapy sessions",
        "Chronic Pain Treatment Guidelines Page(s): 122",
    ]
    assert "reviewer" in f.message and "trigger point" in f.message.lower()


def test_topic_mismatch_flags_each_party():
    page122 = "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122."
    ctx = build(LOW_BACK, Item("Message therapy x 6", MASSAGE, ca=page122, rv=page122))
    assert [("claims administrator" in f.message) for f in run(check_guideline_topic, ctx)] == [
        True,
        False,
    ]


@pytest.mark.parametrize(
    "rv",
    [
        "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 60.",
        "Decision based on MTUS ACOEM Chapter 12 Low Back Complaints Page(s): 300.",
        "Decision based on MTUS Low Back Complaints 2004, Section(s): Summary.",
        "Decision based on MTUS Low Back Complaints 2004.",
        "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122, 60.",
        "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 999.",
        "Decision based on Non-MTUS Citation Official Disability Guidelines (ODG), Pain.",
        "The Expert Reviewer did not cite any medical evidence for its decision.",
    ],
)
def test_topic_mismatch_silent_when_citation_fits_or_is_unknown(rv):
    ctx = build(LOW_BACK, Item("12 massage therapy sessions", MASSAGE, rv=rv))
    assert run(check_guideline_topic, ctx) == []


def test_topic_mismatch_silent_for_items_without_known_topic():
    ctx = build(
        LOW_BACK,
        Item(
            "Shower chair",
            "Not necessary.",
            rv="Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122.",
        ),
    )
    assert run(check_guideline_topic, ctx) == []


def test_topic_mismatch_mri_cited_to_injection_sections():
    rv = (
        "Decision based on MTUS Low Back Complaints 2004, Section(s): Physical Methods, and Chronic Pain "
        "Medical Treatment 2009, Section(s): Epidural steroid injections (ESIs)."
    )
    ctx = build(
        LOW_BACK, Item("MRI Lumbosacral Spine without Contrast", "An MRI is not needed.", rv=rv)
    )
    (f,) = run(check_guideline_topic, ctx)
    assert len(f.evidence) == 3
    ok = "Decision based on MTUS Low Back Complaints 2004, Section(s): Special Studies."
    assert (
        run(check_guideline_topic, build(LOW_BACK, Item("MRI of the lumbar spine", "No.", rv=ok)))
        == []
    )


# guideline-region-mismatch

SEED_004_SUMMARY = (
    "The claimant is a 45 yo male who slipped while lifting a box and injured his lower back. "
    "Diagnoses are low back pain, s/p L5-S1 decompression and chronic radiculopathy."
)
TPI_RATIONALE = "Trigger point injections are only indicated if there are palpable trigger points."


def test_region_mismatch_low_back_injection_cited_to_ankle_chapter():
    ctx = build(
        SEED_004_SUMMARY,
        Item(
            "Trigger Point Injections",
            TPI_RATIONALE,
            ca="Decision based on MTUS ACOEM Chapter 12 Low Back Complaints.",
            rv="Decision based on MTUS ACOEM Chapter 12 Low Back Complaints, Chapter 14 Ankle and Foot Complaints.",
        ),
    )
    (f,) = run(check_guideline_region, ctx)
    assert (f.code, f.severity) == ("guideline-region-mismatch", Severity.medium)
    assert f.evidence[0].quote == "Chapter 14 Ankle and Foot Complaints"
    assert f.evidence[1].quote == "Trigger Point Injections"
    assert "ankle" in f.message


@pytest.mark.parametrize(
    ("summary", "item", "rv"),
    [
        (
            SEED_004_SUMMARY + " He also sprained his left ankle.",
            "Trigger Point Injections",
            "Decision based on MTUS Ankle and Foot Complaints 2004.",
        ),
        (
            SEED_004_SUMMARY,
            "MRI of the right foot",
            "Decision based on MTUS Ankle and Foot Complaints 2004.",
        ),
        (
            SEED_004_SUMMARY,
            "Trigger Point Injections",
            "Decision based on Non-MTUS Citation Official Disability Guidelines, Ankle & Foot.",
        ),
        (
            SEED_004_SUMMARY,
            "Trigger Point Injections",
            "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Physical medicine treatment.",
        ),
        (
            SEED_004_SUMMARY,
            "Functional capacity evaluation",
            "Decision based on MTUS General Approaches 2004, Section(s): Cornerstones of Disability Prevention and Management.",
        ),
        ("", "Trigger Point Injections", "Decision based on MTUS Ankle and Foot Complaints 2004."),
    ],
)
def test_region_mismatch_silent(summary, item, rv):
    assert run(check_guideline_region, build(summary, Item(item, TPI_RATIONALE, rv=rv))) == []


def test_region_mismatch_thoracic_fits_both_spine_chapters():
    ctx = build(
        "Mid back pain after a fall.",
        Item(
            "CT scan of the thoracic spine",
            "No.",
            rv="Decision based on MTUS Low Back Complaints 2004, Section(s): Special Studies.",
        ),
    )
    assert run(check_guideline_region, ctx) == []


# citation-disagreement


def test_citation_disagreement_is_info():
    ctx = build(
        LOW_BACK,
        Item(
            "12 message therapy sessions",
            MASSAGE,
            ca="Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 60.",
            rv="Decision based on MTUS ACOEM Chapter 12 Low Back Complaints Page(s): 300.",
        ),
    )
    (f,) = run(check_citation_disagreement, ctx)
    assert f.severity == Severity.info
    assert [e.quote for e in f.evidence] == [
        "Chronic Pain Treatment Guidelines Page(s): 60",
        "Chapter 12 Low Back Complaints Page(s): 300",
    ]


@pytest.mark.parametrize(
    ("ca", "rv"),
    [
        (NONE, "Decision based on MTUS ACOEM Chapter 12 Low Back Complaints Page(s): 300."),
        (
            "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122.",
            "Decision based on MTUS Chronic Pain Treatment Guidelines Trigger Point Injections Page(s): 122.",
        ),
        (
            "Decision based on MTUS Shoulder Complaints 2004.",
            "Decision based on MTUS Shoulder Complaints 2004, Section(s): Special Studies.",
        ),
        (
            "Decision based on MTUS ACOEM Chapter 12 Low Back Complaints.",
            "Decision based on MTUS ACOEM Chapter 12 Low Back Complaints, Chapter 14 Ankle and Foot Complaints.",
        ),
    ],
)
def test_citation_disagreement_silent(ca, rv):
    assert (
        run(
            check_citation_disagreement,
            build(LOW_BACK, Item("Trigger point injections", "No.", ca=ca, rv=rv)),
        )
        == []
    )


# quantity-over-limit


def test_quantity_over_stated_limit_upheld_is_low():
    ctx = build(LOW_BACK, Item("12 message therapy sessions", MASSAGE))
    (f,) = run(check_quantity, ctx)
    assert (f.code, f.severity) == ("quantity-over-limit", Severity.low)
    assert f.evidence[0].quote == "12 message therapy sessions"
    assert f.evidence[1].quote == "A maximum of 4 to 6 massage therapy visits is recommended."


def test_quantity_over_stated_limit_overturned_is_high():
    rationale = (
        "Trigger point injections: (5) Not more than 3-4 injections per session. "
        "The documentation supports the request, which is medically necessary."
    )
    ctx = build(LOW_BACK, Item("Five trigger point injections", rationale, outcome="Overturned"))
    (f,) = run(check_quantity, ctx)
    assert f.severity == Severity.high and "Overturned" in f.message
    assert f.evidence[0].quote == "Five trigger point injections"


@pytest.mark.parametrize(
    ("item", "rationale"),
    [
        ("Massage therapy 2 times a week for 3 weeks", MASSAGE),
        (
            "12 message therapy sessions",
            "Massage is not recommended for chronic pain. She had 6 massage visits before.",
        ),
        (
            "12 message therapy sessions",
            "The guidelines recommend up to 9 visits of something else.",
        ),
        (
            "MRI of the lumbar spine",
            "MRI is recommended when red flags exist; not more than 4 injections.",
        ),
    ],
)
def test_quantity_silent(item, rationale):
    assert run(check_quantity, build(LOW_BACK, Item(item, rationale))) == []


def test_quantity_condition_specific_limits_apply_only_to_that_condition():
    rationale = "Guidelines recommend 9-10 visits over 8 weeks for myalgia, and 24 visits over 16 weeks for CRPS."
    (f,) = run(check_quantity, build(LOW_BACK, Item("Physical therapy 2x6", rationale)))
    assert "limit of 10" in f.message
    crps = "She has complex regional pain syndrome (CRPS) of the right hand."
    assert run(check_quantity, build(crps, Item("Physical therapy 2x6", rationale))) == []


def test_quantity_frequency_times_duration():
    rationale = "The guidelines recommend 9-10 visits over 8 weeks for myalgia."
    (f,) = run(
        check_quantity,
        build(LOW_BACK, Item("Physical therapy 3 times a week for 4 weeks", rationale)),
    )
    assert f.evidence[0].quote == "3 times a week for 4 weeks" and "12 visits" in f.message


# treatment-mismatch


def test_treatment_mismatch_other_body_part():
    rationale = (
        "The right knee has had mechanical symptoms. Knee MRI is indicated only when surgery is considered "
        "for the knee. The request is not medically necessary."
    )
    (f,) = run(check_treatment_mismatch, build(LOW_BACK, Item("MRI left shoulder", rationale)))
    assert (f.code, f.severity) == ("treatment-mismatch", Severity.medium)
    assert f.evidence[0].quote == "MRI left shoulder" and f.evidence[1].quote.lower() == "knee"


def test_treatment_mismatch_other_treatment():
    rationale = (
        "A TENS unit requires a one-month trial with documented benefit. No TENS trial was documented. "
        "The request is not medically necessary."
    )
    (f,) = run(check_treatment_mismatch, build(LOW_BACK, Item("Urine drug screen", rationale)))
    assert "TENS" in f.message and f.evidence[1].quote == "TENS unit"


def test_treatment_mismatch_other_side():
    rationale = "The right shoulder shows impingement. MRI of the right shoulder is not indicated without red flags."
    (f,) = run(
        check_treatment_mismatch, build(LOW_BACK, Item("MRI of the left shoulder", rationale))
    )
    assert "left" in f.message
    assert f.evidence[1].quote.startswith("MRI of the right shoulder is not indicated")


@pytest.mark.parametrize(
    ("item", "rationale"),
    [
        (
            "12 message therapy sessions",
            "As noted on page 300 of ACOEM, massage has no proven efficacy; the same is noted for other "
            "chapters for neck, shoulder and knee complaints. Passive therapy is not recommended.",
        ),
        (
            "MRI of the left shoulder",
            "MRI of the shoulder is not indicated; both shoulders were examined.",
        ),
        (
            "MRI of the left shoulder",
            "Imaging of the left shoulder is not needed; the right knee is normal.",
        ),
        (
            "Associated surgical service: Shoulder Brace",
            "As the requested surgical intervention is not medically necessary, the ancillary service is not.",
        ),
        (
            "Norflex 100mg #60",
            "Muscle relaxants are a second-line option. NSAIDs were not tried first.",
        ),
        ("Large gloves", "These are not medical equipment."),
    ],
)
def test_treatment_mismatch_silent(item, rationale):
    assert run(check_treatment_mismatch, build(LOW_BACK, Item(item, rationale))) == []


# seeds and corpus through ingest + segmenter

MINE = (
    check_guideline_topic,
    check_guideline_region,
    check_citation_disagreement,
    check_quantity,
    check_treatment_mismatch,
)


def _analyze(path: Path) -> tuple[CheckContext, list]:
    from imr_llm.ingest import read_letter
    from imr_llm.segment import segment

    letter = read_letter(path)
    seg = segment(letter)
    record = AuditRecord(
        letter_id=letter.letter_id, source=str(path), decisions=seg.decisions, case=seg.case
    )
    ctx = CheckContext(letter=letter, record=record, sections=seg.sections)
    return ctx, [f for check in MINE for f in run(check, ctx)]


def _seed(name: str) -> Path:
    found = sorted(SEEDS.glob(f"{name}_*.txt")) if SEEDS.is_dir() else []
    return found[0] if found else ROOT / "tests" / "data" / f"seed_{name}.txt"


def test_seed_000_quantities_and_citations():
    _, findings = _analyze(_seed("000"))
    got = sorted((f.code, f.severity.value, f.decision_index) for f in findings)
    assert got == [
        ("citation-disagreement", "info", 1),
        ("quantity-over-limit", "low", 0),
        ("quantity-over-limit", "low", 1),
    ]


def test_seed_004_region_mismatch():
    _, findings = _analyze(_seed("004"))
    assert [(f.code, f.severity.value) for f in findings] == [
        ("guideline-region-mismatch", "medium")
    ]
    assert findings[0].evidence[0].quote == "Chapter 14 Ankle and Foot Complaints"


def _reviewed_true() -> set[tuple[str, str]]:
    """(letter, code) of the rules findings a reader judged true in the corpus review."""
    rows = (json.loads(x) for x in (ROOT / "evals/corpus/reviews.jsonl").open())
    return {
        (r["letter_id"], r["code"])
        for r in rows
        if r["detector"] == "rules" and r["verdict"] == "true_positive"
    }


@pytest.mark.slow
def test_corpus_medium_and_high_findings_are_the_reviewed_ones():
    need_corpus()
    counts: Counter = Counter()
    serious = set()
    for path in sorted(CORPUS.glob("*.pdf")):
        ctx, findings = _analyze(path)
        for f in findings:
            counts[f.severity.value] += 1
            if f.severity in (Severity.high, Severity.medium):
                serious.add((ctx.letter.letter_id, f.code))
    assert counts["high"] == 0
    assert serious <= _reviewed_true()


# Severity follows evidence: the claims administrator's citation is background (at most low);
# the reviewer's own keeps medium.

PAGE_122 = "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122."
OFFICE_VISITS = "Decision based on MTUS ACOEM Chapter 7 Page(s): 127."
NECK = "Decision based on MTUS ACOEM Chapter 8 Neck and Upper Back Complaints."


def _basis(f) -> str:
    return "claims_administrator" if "claims administrator" in f.message else "reviewer"


def _held_to_policy(findings):
    for f in findings:
        rule = SEVERITY_POLICY[(f.code, _basis(f))]
        assert f.severity.rank <= rule.severity.rank, (f, rule)
    return findings


def test_topic_mismatch_on_the_claims_administrators_citation_is_low():
    ctx = build(LOW_BACK, Item("Message therapy x 6", MASSAGE, ca=PAGE_122, rv=PAGE_122))
    found = _held_to_policy(run(check_guideline_topic, ctx))
    assert [(_basis(f), f.severity) for f in found] == [
        ("claims_administrator", Severity.low),
        ("reviewer", Severity.medium),
    ]


def test_region_mismatch_on_the_claims_administrators_citation_is_low():
    ctx = build(
        SEED_004_SUMMARY,
        Item("Trigger Point Injections", TPI_RATIONALE, ca=NECK, rv=NONE),
    )
    (f,) = _held_to_policy(run(check_guideline_region, ctx))
    assert (f.code, f.severity, _basis(f)) == (
        "guideline-region-mismatch",
        Severity.low,
        "claims_administrator",
    )


def test_one_claims_administrator_citation_for_a_whole_plan_is_low():
    ca = "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 60."
    ctx = build(
        LOW_BACK,
        Item("Lumbar facet injections", "No.", ca=ca),
        Item("Urine drug screen", "No.", ca=ca),
        Item("12 massage therapy sessions", MASSAGE, ca=ca),
    )
    found = _held_to_policy(run(check_guideline_topic, ctx))
    assert sorted(f.decision_index for f in found) == [0, 1]
    assert {f.severity for f in found} == {Severity.low}


def test_severity_policy_rows_cover_every_guideline_code():
    codes = {code for code, _ in SEVERITY_POLICY}
    assert codes == {
        "guideline-topic-mismatch",
        "guideline-region-mismatch",
        "citation-disagreement",
    }
    for rule in SEVERITY_POLICY.values():
        assert rule.row().startswith(f"| `{rule.code}` |")
    assert SEVERITY_POLICY[("guideline-topic-mismatch", "claims_administrator")].severity == (
        Severity.low
    )


# An item's class comes from its head: a consultation about surgery fits a visits citation,
# home health aide fits home health services, a consultation that reviews an MRI is no study.


@pytest.mark.parametrize(
    ("item", "rv"),
    [
        ("Spine surgery evaluation", OFFICE_VISITS),
        ("Cervical spine surgery consultation", OFFICE_VISITS),
        (
            "Cervical spine surgery consultation",
            "Decision based on MTUS ACOEM Chapter 8 Neck "
            "and Upper Back Complaints, Section(s): Surgical Considerations.",
        ),
        ("Referral to physical therapy", OFFICE_VISITS),
        (
            "Referral to physical therapy",
            "Decision based on MTUS Chronic Pain Medical "
            "Treatment 2009, Section(s): Physical Medicine.",
        ),
        (
            "Home health aide daily for 3 weeks",
            "Decision based on MTUS Chronic Pain Medical "
            "Treatment 2009, Section(s): Home health services.",
        ),
        (
            "Home health aid 4 hours per day",
            "Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 51.",
        ),
        ("Transportation to office visits", PAGE_122),
        ("Ultrasound guided injection to the shoulder", PAGE_122),
    ],
)
def test_topic_fits_the_items_head_or_subject(item, rv):
    assert run(check_guideline_topic, build(NECK_SUMMARY, Item(item, "No.", rv=rv))) == []


NECK_SUMMARY = "The injured worker has neck pain and low back pain after a fall."


@pytest.mark.parametrize(
    ("item", "rv"),
    [
        ("Home health aide daily for 3 weeks", OFFICE_VISITS),
        ("Spine surgery evaluation", PAGE_122),
    ],
)
def test_topic_mismatch_still_found_on_the_head(item, rv):
    (f,) = run(check_guideline_topic, build(NECK_SUMMARY, Item(item, "No.", rv=rv)))
    assert f.severity == Severity.medium


def test_consultation_to_review_a_study_is_not_a_study():
    # the neck was injured too: a Neck chapter fits the case, and the item is a consultation
    ctx = build(
        NECK_SUMMARY,
        Item("Consultation to review MRI of the lumbar spine", "No.", rv=NECK),
    )
    assert run(check_guideline_region, ctx) == []
    ctx = build(NECK_SUMMARY, Item("MRI of the lumbar spine", "No.", rv=NECK))
    (f,) = run(check_guideline_region, ctx)
    assert f.severity == Severity.medium


def test_region_chapter_the_rationale_discusses_is_not_flagged():
    # the summary names only the low back, but the reviewer's rationale is about the neck
    item = Item(
        "Trigger Point Injections",
        "Cervical paraspinal trigger points are documented in the neck.",
        rv=NECK,
    )
    assert run(check_guideline_region, build(SEED_004_SUMMARY, item)) == []
