"""Guideline catalog, citation parsing and lookups, on citation strings copied from real letters."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from imr_llm.guidelines import (
    body_regions,
    catalog,
    cites_nothing,
    find_regions,
    is_regional,
    limit_for,
    parse_citations,
    regions_for_ref,
    related,
    topics_for_ref,
    topics_related,
    treatment_topics,
)
from imr_llm.guidelines.catalog import item_class
from imr_llm.guidelines.citations import ref_coverage
from imr_llm.guidelines.quantity import requested_quantity, stated_limits


def one(text: str):
    refs = parse_citations(text)
    assert len(refs) == 1, refs
    return refs[0]


def test_catalog_loads_once_and_every_entry_says_where_it_was_verified():
    assert catalog() is catalog()
    raw = json.loads(resources.files("imr_llm.guidelines").joinpath("catalog.json").read_text())
    for kind in ("families", "chapters", "sections", "pages", "topics", "regions", "region_groups"):
        for entry in raw[kind]:
            assert entry["verified"], entry
    for topic in raw["topics"]:
        for lim in topic["limits"]:
            assert lim["verified"], topic["id"]
    ids = {t["id"] for t in raw["topics"]}
    for section in raw["sections"]:
        assert set(section["topics"]) <= ids, section
    for page in raw["pages"]:
        assert set(page["topics"]) <= ids, page


def test_only_pages_seen_in_letters_are_marked_verified():
    for entry in catalog().data.pages:
        if entry.family == "cpmtg" and entry.version == "2009" and not set(entry.pages) & {60, 122}:
            assert entry.verified == "reference catalog, unverified"


def test_seed_2014_page_citations():
    ca = one("Decision based on MTUS Chronic Pain Treatment Guidelines \n\nPage(s): 122.")
    assert (ca.family, ca.version, ca.pages, ca.sections) == ("cpmtg", "2009", [122], [])
    assert topics_for_ref(ca) == {"trigger-point-injections"}

    rv = one(
        "Decision based on MTUS Chronic Pain Treatment Guidelines Trigger \n\nPoint Injections Page(s): 122."
    )
    assert rv.sections == ["Trigger Point Injections"] and rv.pages == [122]

    massage = one("Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 60.")
    assert topics_for_ref(massage) == {"massage"}

    text = "Decision based on MTUS ACOEM Chapter 12 Low Back Complaints \n\nPage(s): 300."
    ch12 = one(text)
    assert (ch12.family, ch12.chapter, ch12.chapter_id, ch12.pages) == (
        "acoem",
        12,
        "acoem-12",
        [300],
    )
    assert "massage" in topics_for_ref(ch12)
    assert regions_for_ref(ch12) == {"low_back", "thoracic"} and is_regional(ch12)
    assert text[ch12.start : ch12.end] == ch12.raw
    assert ch12.raw.startswith("Chapter 12 Low Back Complaints")


def test_seed_two_chapters_in_one_citation():
    refs = parse_citations(
        "Decision based on MTUS ACOEM Chapter 12 Low Back \n\nComplaints, Chapter 14 Ankle and Foot Complaints."
    )
    assert [r.chapter for r in refs] == [12, 14]
    assert regions_for_ref(refs[1]) == {"ankle_foot"}


def test_2016_section_citations():
    mri = one("Decision based on MTUS Shoulder Complaints 2004, Section(s): \nSpecial Studies.")
    assert (mri.family, mri.version, mri.chapter, mri.sections) == (
        "acoem",
        "2004",
        9,
        ["Special Studies"],
    )
    assert "mri" in topics_for_ref(mri)

    flexeril = one(
        "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Cyclobenzaprine (Flexeril)."
    )
    assert (flexeril.family, flexeril.version) == ("cpmtg", "2016")
    assert topics_for_ref(flexeril) == {"muscle-relaxants"}

    tens = one(
        "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): TENS, chronic pain "
        "(transcutaneous electrical nerve stimulation)."
    )
    assert tens.sections == ["TENS, chronic pain (transcutaneous electrical nerve stimulation)"]

    gi = one(
        "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): NSAIDs, GI symptoms & "
        "cardiovascular risk, Proton Pump Inhibitors (PPIs)."
    )
    assert gi.sections == [
        "NSAIDs, GI symptoms & cardiovascular risk",
        "Proton Pump Inhibitors (PPIs)",
    ]
    assert topics_for_ref(gi) == {"nsaids", "gi-protection"}


def test_multi_guideline_citation_with_non_mtus_part():
    text = (
        "Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004, Section(s): Work-Relatedness, "
        "and Postsurgical Treatment 2009, Section(s): Forearm, Wrist, & Hand, and Chronic Pain Medical "
        "Treatment 2016, Section(s): Physical medicine treatment. Decision based on Non-MTUS Citation "
        "Official Disability Guidelines, Forearm, Wrist, and Hand Chapter (Online Version): "
        "Physical/Occupational Therapy, Official Disability Guidelines, Physical/Occupational Therapy "
        "Guidelines: Trigger Finger."
    )
    refs = parse_citations(text)
    assert [r.family for r in refs] == ["acoem", "postsurgical", "cpmtg", "odg", "odg"]
    assert refs[0].chapter == 11 and refs[1].sections == ["Forearm, Wrist, & Hand"]
    assert regions_for_ref(refs[1]) == {"wrist_hand"}
    assert refs[3].chapter_id == "odg-hand"
    for r in refs:
        assert text[r.start : r.end] == r.raw


def test_opioid_guideline_numbered_sections():
    ref = one(
        "Decision based on MTUS Opioid Treatment 2016, Section(s): 3.3.6 Opioids for Chronic Pain and "
        "Chronic Opioid Treatment: Use of Urine Drug Testing (UDT)."
    )
    assert ref.family == "opioids"
    assert topics_for_ref(ref) == {"opioids", "drug-testing"}
    refs = parse_citations(
        "Decision based on MTUS Chronic Pain Medical Treatment 2016, Section(s): Tramadol (Ultram), and "
        "Opioid Treatment 2016, Section(s): 3.3.1.1 Opioids for Chronic Pain and Chronic Opioid Treatment: "
        "Screening for Risk of Addiction or Adverse Events, Prior to Chronic Opioid Treatment: Screening for "
        "Drug Misuse/Abuse, 3.3.1.2 Opioids for Chronic Pain and Chronic Opioid Treatment: Screening for Risk "
        "of Addiction or Adverse Events, Prior to Chronic Opioid Treatment: Screening for Alcohol Misuse/Abuse."
    )
    assert [r.family for r in refs] == ["cpmtg", "opioids"]
    assert len(refs[1].sections) == 2 and refs[1].sections[1].startswith("3.3.1.2")


def test_non_mtus_forms():
    ref = one(
        "The Expert Reviewer based their decision on recommendation(s) outside of the MTUS Guidelines. "
        "Decision based on Non-MTUS Citation Official Disability Guidelines (ODG) Hips & Pelvis Chapter, X-Ray."
    )
    assert (ref.family, ref.mtus, ref.chapter_id) == ("odg", False, "odg-hip")
    assert topics_for_ref(ref) == {"x-ray"} and not is_regional(ref)

    acoem3 = parse_citations(
        "Decision based on MTUS Low Back Complaints 2004, Section(s): Summary, and Chronic Pain Medical "
        "Treatment 2016, Section(s): Facet blocks. Decision based on Non-MTUS Citation ACOEM Occupational "
        "Medicine Practice Guidelines, 3rd ed., Low Back Disorders, pg. 607."
    )
    assert [(r.family, r.pages) for r in acoem3] == [
        ("acoem", []),
        ("cpmtg", []),
        ("acoem-current", [607]),
    ]
    assert acoem3[2].chapter_id == "acoem3-low-back" and topics_for_ref(acoem3[2]) == {"facet"}
    assert ref_coverage(acoem3[0]).general

    ch7 = one(
        "The Claims Administrator based their decision on recommendation(s) outside of the MTUS Guidelines. "
        "Decision based on Non-MTUS Citation ACOEM Guidelines, Chapter 7, Independent Medical Examinations "
        "and Consultations, page 137."
    )
    assert (ch7.family, ch7.chapter, ch7.pages) == ("acoem", 7, [137])
    assert topics_for_ref(ch7) == {"fce"} and not is_regional(ch7)

    other = one(
        "The Expert Reviewer based their decision on recommendation(s) outside of the MTUS Guidelines. "
        "Decision based on Non-MTUS Citation Sildenafil: Drug information, accessed from UpToDate.com on 12/17/2016."
    )
    assert other.family == "other" and topics_for_ref(other) == set()

    split = parse_citations(
        "Decision based on MTUS Low Back Complaints 2004, Section(s): Surgical Considerations, Physical "
        "Methods, Summary. Decision based on Non\ufffeMTUS Citation Official Disability Guidelines (ODG) Low "
        "Back (Thoracic and Lumbar, Acute and Chronic) Chapter, Epidural Steroid Injection (ESI) and Other "
        "Medical Treatment Guidelines www.mdguidelines.com."
    )
    assert [r.family for r in split] == ["acoem", "odg", "other"]
    assert topics_for_ref(split[1]) == {"esi"}


def test_citation_text_without_lead_in_and_no_citation():
    ref = one("MTUS Knee Complaints 2004, Section(s): Special Studies.")
    assert ref.chapter == 13
    assert (
        parse_citations(
            "The Claims Administrator did not cite any medical evidence for its decision."
        )
        == []
    )
    assert cites_nothing("The Expert Reviewer did not cite any medical evidence for its decision.")
    assert cites_nothing(None) and not cites_nothing(
        "Decision based on MTUS Acupuncture Treatment 2007."
    )
    acu = one("Decision based on MTUS Acupuncture Treatment 2007.")
    assert (acu.family, acu.version) == ("acupuncture", "2007") and topics_for_ref(acu) == {
        "acupuncture"
    }


def test_prose_citation_of_older_letters():
    ref = one(
        "The Claims Administrator based its decision on the Chronic Pain Medical Treatment Guidelines, "
        "page 122, which is part of the MTUS."
    )
    assert (ref.family, ref.pages, ref.sections) == ("cpmtg", [122], [])


def test_general_and_unspecified_refs_have_no_topics():
    general = one("Decision based on MTUS Low Back Complaints 2004, Section(s): General Approach.")
    assert ref_coverage(general).general and topics_for_ref(general) == set()
    bare = one("Decision based on MTUS Low Back Complaints 2004.")
    assert ref_coverage(bare).unspecified and is_regional(bare)
    odg = parse_citations(
        "Decision based on MTUS Neck and Upper Back Complaints 2004. Decision based on Non-MTUS Citation "
        "Official Disability Guidelines (ODG)."
    )[1]
    assert odg.family == "odg" and ref_coverage(odg).unspecified


def test_same_guideline():
    a = one("Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 122.")
    b = one(
        "Decision based on MTUS Chronic Pain Treatment Guidelines Trigger Point Injections Page(s): 122."
    )
    c = one("Decision based on MTUS Chronic Pain Treatment Guidelines Page(s): 60.")
    assert a.same_guideline(b) and not a.same_guideline(c)


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("12 message therapy sessions", {"massage"}),
        ("Five trigger point injections with sedation", {"trigger-point-injections"}),
        ("Norco 10/325mg #35", {"opioids"}),
        ("Pre-op labs: PT/PTT", {"preop-testing", "lab-tests"}),
        ("PT/OT 18 sessions left hand", {"physical-therapy"}),
        ("Chirophysio therapy two times a week", {"physical-therapy", "manual-therapy"}),
        ("Flexiril 10mg #90", {"muscle-relaxants"}),
        ("Accupuncture 12 sessions", {"acupuncture"}),
        ("EMG/NCS of the bilateral hand", {"emg-ncv"}),
        ("Trigger points impedance imaging (TPII)", {"tpii"}),
        ("TENS unit", {"tens"}),
        ("the tens of patients", set()),
        ("Sit-stand workstation", {"ergonomic-equipment"}),
        ("Shower chair", set()),
    ],
)
def test_treatment_topics(text, topics):
    assert treatment_topics(text) == topics


def test_topic_relations():
    assert related("massage", "physical-therapy")
    assert not related("massage", "trigger-point-injections")
    assert related("compound-drugs", "gi-protection")
    assert related("drug-testing", "opioids")
    assert topics_related({"mri"}, {"imaging"}) and not topics_related({"mri"}, {"esi"})


def test_body_regions_and_sides():
    assert body_regions("MRI of the cervical spine") == {"neck"}
    assert body_regions("injured his lower back; L5-S1 decompression") == {"low_back"}
    assert body_regions("EMG bilateral lower extremities") >= {"knee", "low_back"}
    assert body_regions("Right elbow MRI") == {"elbow"}
    assert body_regions("fingers of the right hand") == {"wrist_hand"}
    sides = [
        (m.text, m.side)
        for m in find_regions("MRI of the left shoulder and right and left knees, RUE")
    ]
    assert sides == [("shoulder", "left"), ("knees", "bilateral"), ("RUE", "right")]
    assert body_regions("Guide\ufffelines for the lum\ufffebar spine") == {"low_back"}


def test_limits():
    assert {lim.value for lim in limit_for("massage")} == {6}
    assert {lim.value for lim in limit_for("trigger-point-injections")} == {4}
    assert {6, 18} <= {lim.value for lim in limit_for("manual-therapy")}
    assert {lim.value for lim in limit_for("acupuncture")} == {6}
    assert 10 in {lim.value for lim in limit_for("physical-therapy")}
    assert limit_for("no-such-topic") == []


@pytest.mark.parametrize(
    ("item", "value", "unit"),
    [
        ("PT 2x6", 12, "visits"),
        ("physical therapy 2 times a week for 6 weeks", 12, "visits"),
        ("Additional physical therapy two times four visits (8) for the lumbar", 8, "visits"),
        ("Norflex 100mg #90", 90, ""),
        ("Five trigger point injections with sedation", 5, "injections"),
        ("Trigger point injections x 3", 3, "injections"),
        ("12 sessions of acupuncture", 12, "visits"),
        ("Eight (8) physical therapy sessions", 8, "visits"),
        ("Associated surgical service: Physical therapy, times 12", 12, ""),
    ],
)
def test_requested_quantity(item, value, unit):
    q = requested_quantity(item)
    assert (q.value, q.unit) == (value, unit)
    assert item[q.start : q.end] == q.text


def test_requested_quantity_none():
    assert requested_quantity("MRI of the right shoulder without contrast") is None


def test_stated_limits_read_only_limit_sentences():
    tpi = "Criteria: (4) Radiculopathy is not present; (5) Not more than 3-4 injections per session; (6) No repeat."
    (lim,) = stated_limits(tpi, {"trigger-point-injections"})
    assert (lim.value, lim.low, lim.unit) == (4, 3, "injections")
    assert tpi[lim.start : lim.end] == "3-4 injections"

    history = "She had at least 6 massage visits and 52 physical therapy visits."
    assert stated_limits(history, {"massage"}) == []

    crps = (
        "The Guidelines recommend 9-10 visits over 8 weeks for myalgia and myositis, and 24 visits over "
        "16 weeks for reflex sympathetic dystrophy (CRPS)."
    )
    assert {lim.value for lim in stated_limits(crps, {"physical-therapy"})} == {10}
    assert {lim.value for lim in stated_limits(crps, {"physical-therapy"}, context="CRPS")} == {
        10,
        24,
    }

    request = "An approval of an additional 12 sessions will exceed guideline recommendations."
    assert stated_limits(request, {"physical-therapy"}, requested=12) == []


# An item's class comes from the head of its phrase; modifiers give its subject.

ITEM_CLASSES = [
    # (item, head topics, topics that must be in the subject)
    ("Cervical spine surgery consultation", {"office-visits"}, {"surgery"}),
    ("Spine surgery evaluation", {"office-visits"}, {"surgery"}),
    ("Orthopedic surgery consult for the lumbar spine", {"office-visits"}, {"surgery"}),
    ("Neurosurgical consultation", {"office-visits"}, set()),
    ("Referral to a spine surgeon", {"office-visits"}, set()),
    ("Referral to physical therapy", {"office-visits"}, {"physical-therapy"}),
    ("Consultation with a psychiatrist", {"office-visits"}, {"psych"}),
    ("Pain management follow-up visit", {"office-visits"}, set()),
    ("Pain management visit", {"office-visits"}, set()),
    ("Internal medicine consult", {"office-visits"}, set()),
    ("Epidural steroid injection consultation", {"office-visits"}, {"esi"}),
    ("Consultation to review MRI of the cervical spine", {"office-visits"}, {"mri"}),
    ("Home health evaluation", {"office-visits"}, {"home-health"}),
    ("Physical therapy evaluation", {"office-visits", "physical-therapy"}, set()),
    ("Acupuncture evaluation and treatment", {"office-visits"}, {"acupuncture"}),
    ("Home health aide daily for 3 weeks", {"home-health"}, set()),
    ("Home health aid 4 hours per day, 5 days per week", {"home-health"}, set()),
    ("Personal care aide 6 hours a day", {"home-health"}, set()),
    ("Home health visits 3 times a week", {"home-health"}, set()),
    ("Caregiver 8 hours per day", {"home-health"}, set()),
    ("Functional capacity evaluation", {"fce"}, set()),
    ("Psychological evaluation", {"psych"}, set()),
    ("Twelve sessions of physical therapy for the knee", {"physical-therapy"}, set()),
    ("12 physical therapy visits", {"physical-therapy"}, set()),
    ("Additional physical therapy lumbar spine two times a week", {"physical-therapy"}, set()),
    ("Chiropractic visits x 6", {"manual-therapy"}, set()),
    ("Six (6) acupuncture sessions", {"acupuncture"}, set()),
    ("Retrospective request for MRI of the knee", {"mri"}, set()),
    ("MRI right knee", {"mri"}, set()),
    ("Lumbar spine MRI", {"mri"}, set()),
    ("X-rays lumbar spine", {"x-ray"}, set()),
    ("EMG/NCV of bilateral upper extremities", {"emg-ncv"}, set()),
    ("TENS unit purchase", {"tens"}, set()),
    ("Purchase of a TENS unit", {"tens"}, set()),
    ("Post-op cold therapy unit rental x 7 days", {"cold-therapy-unit"}, set()),
    ("Lidoderm patches #30", {"lidoderm"}, set()),
    ("Tramadol ER 150mg #60", {"tramadol"}, set()),
    ("Norco 10/325mg #120", {"opioids"}, set()),
    ("Pantoprazole sodium 20mg #60", {"gi-protection"}, set()),
    ("Facet joint injections L4-5, L5-S1", {"facet"}, set()),
    ("Bilateral L4-5 transforaminal ESI", {"esi"}, set()),
    ("1 platelet rich plasma injection to left foot", {"prp"}, set()),
    ("Ultrasound guided steroid injection to the left shoulder", {"joint-injection"}, set()),
    ("Left lateral epicondyle corticosteroid injection", {"joint-injection"}, set()),
    ("Right shoulder arthroscopy", {"surgery"}, set()),
    ("Knee brace", {"braces-supports"}, set()),
    ("Physical therapy and acupuncture", {"physical-therapy", "acupuncture"}, set()),
    ("Pre-operative medical clearance", {"preop-testing"}, set()),
]


@pytest.mark.parametrize(("item", "head", "subject"), ITEM_CLASSES)
def test_item_class_comes_from_the_head(item, head, subject):
    cls = item_class(item)
    assert set(cls.head) == head, cls
    assert subject <= cls.subject, cls


@pytest.mark.parametrize(
    "item",
    [
        # heads the catalog does not know: no class, whatever the modifiers name
        "Transportation to office visits",
        "Ultrasound guided injection",
        "Gym membership with pool access",
        "Sleep study",
        "Injection for the knee",
    ],
)
def test_item_class_unknown_head_has_no_class(item):
    assert item_class(item).head == frozenset()


def test_item_class_generic_word_never_classes_the_item():
    # "visits" after a treatment is its count, not an office visit; "therapy" after a named
    # treatment is its form
    assert "office-visits" not in item_class("Chiropractic treatment 6 visits").head
    assert item_class("Acupuncture therapy sessions lumbar spine #6").head == {"acupuncture"}
