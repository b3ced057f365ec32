"""Rule checks added for recall on the mutation set: each flags a short realistic letter and
stays silent on a near miss."""

from __future__ import annotations

from datetime import date

import pytest

from builders import Item, build, dated, run, with_case
from imr_llm.checks.dates import date_order
from imr_llm.checks.demographics import demographics
from imr_llm.checks.guidelines import check_guideline_region, check_guideline_topic
from imr_llm.checks.treatment import check_treatment_mismatch
from imr_llm.guidelines import covers, treatment_topics
from imr_llm.schemas import Severity

NECK_AND_BACK = (
    "The injured worker fell and reports neck pain and low back pain. Cervical and lumbar "
    "range of motion is reduced."
)
MRI_RATIONALE = "Imaging is indicated when there are red flags or nerve compromise."


# guideline-topic-mismatch: a modality's own section does not cover general therapy


def test_topic_physical_therapy_cited_to_aquatic_therapy_section():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "Physical therapy 2 times a week for 3 weeks",
            "Physical therapy is recommended with fading of treatment frequency.",
            rv="Decision based on MTUS Chronic Pain Medical Treatment Guidelines Aquatic therapy Page(s): 22.",
        ),
    )
    (f,) = run(check_guideline_topic, ctx)
    assert (f.code, f.decision_index) == ("guideline-topic-mismatch", 0)
    assert "aquatic" in f.message.lower()


def test_topic_modality_cited_to_physical_medicine_section_is_silent():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "Massage therapy 6 sessions",
            "Massage is recommended as an adjunct to other treatment.",
            rv="Decision based on MTUS Chronic Pain Medical Treatment 2009, Section(s): Physical Medicine.",
        ),
    )
    assert run(check_guideline_topic, ctx) == []


def test_covers_is_directional_for_umbrella_groups():
    assert covers("physical-therapy", "massage")
    assert not covers("massage", "physical-therapy")
    assert not covers("biofeedback", "tens")
    assert covers("tens", "nmes")  # the stimulators share one section
    assert not covers("botox", "prp")  # injections: no general section
    assert covers("opioids", "tramadol")


def test_catalog_names_supplies_workstations_and_grip_testing():
    assert treatment_topics("Large gloves") == {"medical-supplies"}
    assert treatment_topics("Sit-stand workstation") == {"ergonomic-equipment"}
    assert treatment_topics("Jamar grip test") == {"grip-strength-testing"}


# guideline-region-mismatch: a study of one body part cited to another part's chapter


def test_region_lumbar_mri_cited_to_neck_chapter_even_with_a_neck_injury():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "MRI of the lumbar spine without contrast",
            MRI_RATIONALE,
            ca="Decision based on MTUS Neck and Upper Back Complaints 2004, Section(s): Special Studies.",
            rv="Decision based on MTUS Low Back Complaints 2004, Section(s): Special Studies.",
        ),
    )
    (f,) = run(check_guideline_region, ctx)
    assert (f.code, f.decision_index) == ("guideline-region-mismatch", 0)
    assert "claims administrator" in f.message and "item concerns low back" in f.message


def test_region_lumbar_mri_cited_to_odg_neck_chapter():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "MRI of the lumbar spine",
            MRI_RATIONALE,
            ca="Decision based on Non-MTUS Citation Official Disability Guidelines, Neck and upper back.",
        ),
    )
    (f,) = run(check_guideline_region, ctx)
    assert "Neck and Upper Back" in f.message


@pytest.mark.parametrize(
    ("item", "ca"),
    [
        # one guideline's line lists a chapter for each region of a shared request
        (
            "EMG/NCS of the bilateral upper extremities",
            "Decision based on MTUS Neck and Upper Back Complaints 2004, Section(s): Special "
            "Studies, and Low Back Complaints 2004, Section(s): Special Studies.",
        ),
        # not a study: ODG files treatments under one region's chapter
        (
            "Preoperative labs for the right shoulder",
            "Decision based on Non-MTUS Citation Official Disability Guidelines, Low Back - "
            "Lumbar & Thoracic (Acute & Chronic), Preoperative testing, general.",
        ),
        # the guideline has no chapter for the item's region: judged against the injury
        (
            "MRI of the right hip",
            "Decision based on MTUS Low Back Complaints 2004, Section(s): Special Studies.",
        ),
    ],
)
def test_region_study_near_misses_are_silent(item, ca):
    ctx = build(NECK_AND_BACK, Item(item, MRI_RATIONALE, ca=ca))
    assert run(check_guideline_region, ctx) == []


# date-inconsistency


@pytest.mark.parametrize(
    "sentence",
    [
        "The previous denial for the request below was on 02/18/2016.",
        "On 03/06/2016 the patient complained of right shoulder pain.",
        "Medical records dated 8-8-2016 noted pain in the low back which was unchanged.",
        "A Request for Authorization was signed on 05/08/2016, and a prior denial was made on 11/30/2016.",
    ],
)
def test_summary_care_before_injury(sentence):
    ctx = dated("A 52-year-old female injured on 10/23/2016. " + sentence)
    (f,) = run(date_order, ctx)
    assert f.code == "date-inconsistency" and "before the 2016-10-23" in f.message


@pytest.mark.parametrize(
    "sentence",
    [
        "She has a history of a prior shoulder surgery on 03/06/2016.",
        "Her diagnostic studies to date have included an MRI on 08-31-2015.",
        "The patient was status post carpal tunnel release on 05/14/2016.",
        "It was noted that the injured worker had not worked since 08-22-2016.",
    ],
)
def test_summary_history_before_injury_is_silent(sentence):
    assert run(date_order, dated("A 52-year-old female injured on 10/23/2016. " + sentence)) == []


def test_review_dated_before_the_request_it_decided():
    ctx = dated(
        "The Request for Authorization form was dated 11/18/2016. A prior review dated "
        "11/13/2016 indicated that the request for the MRI of the lumbar spine was non-certified."
    )
    found = run(date_order, ctx)
    assert any("before the request for authorization it decided" in f.message for f in found)


def test_review_of_the_header_date_before_a_later_request_is_silent():
    ctx = dated(
        "Prior review dated 11/30/2016 denied the request for MRI of the lumbar spine. A "
        "request for authorization form dated 12/16/2016 was submitted for MRI of the lumbar spine."
    )
    assert run(date_order, ctx) == []


def test_review_of_a_disputed_item_far_from_the_header_ur_date():
    ctx = dated(
        "The prior determination on 12/17/2016 denied the request for the MRI of the lumbar spine."
    )
    (f,) = run(date_order, ctx)
    assert "17 days from the header's UR denial date" in f.message


@pytest.mark.parametrize(
    "summary",
    [
        # within a few days: the corpus' ordinary slips
        "The UR dated 11/25/2016 non-certified the request for MRI of the lumbar spine.",
        # a document's date, not the review's
        "The physical therapy report reviewed by Utilization Review (UR) was dated 11-01-2016.",
        # an earlier review of another treatment
        "A prior review dated 10/28/2016 denied the request for acupuncture.",
    ],
)
def test_review_date_near_misses_are_silent(summary):
    assert run(date_order, dated(summary)) == []


def test_rationale_care_before_injury():
    item = Item(
        "Twelve sessions of physical therapy for the right shoulder",
        "Submitted medical records document the patient was approved for 8 therapy sessions on "
        "10-19-16. Therapy outcome was not included for review.",
    )
    ctx = dated("Shoulder strain at work.", item, date_of_injury=date(2016, 10, 21))
    (f,) = run(date_order, ctx)
    assert (f.decision_index, "2016-10-19" in f.message) == (0, True)


@pytest.mark.parametrize(
    "rationale",
    [
        "As noted on page 82 of the MTUS Chronic Pain Medical Treatment Guidelines (July 28, "
        "2016), no more than one set of facet blocks is recommended.",
        "Progress notes bear a DOI of 6/13/16, which appears to be from a different injury.",
    ],
)
def test_rationale_guideline_dates_and_injury_dates_are_silent(rationale):
    item = Item("Lumbar facet injections", rationale)
    ctx = dated("Low back strain at work.", item, date_of_injury=date(2016, 10, 21))
    assert run(date_order, ctx) == []


# demographic-inconsistency


def _sexed(summary: str, rationale: str):
    return with_case(
        build(summary, Item("Physical therapy for the right elbow", rationale)),
        patient_sex="female",
    )


def test_opposite_pronoun_right_after_the_sex_is_stated():
    ctx = _sexed(
        "The injured worker is a 59 year old female.",
        "The claimant is a 59 year old female who sustained an industrial injury on 10-20-16. "
        "His diagnoses include right elbow lateral epicondylitis.",
    )
    (f,) = run(demographics, ctx)
    assert "1 later pronoun refers to the patient as male" in f.message


def test_single_opposite_pronoun_elsewhere_is_silent():
    ctx = _sexed(
        "The injured worker is a 59 year old female.",
        "The claimant is a 59 year old female who sustained an industrial injury on 10-20-16. "
        "She was seen by the orthopedist. His note documents lateral epicondylitis.",
    )
    assert run(demographics, ctx) == []


def test_pronoun_after_the_patients_own_provider_counts():
    ctx = with_case(
        build(
            "The applicant is a 40-year-old male. The applicant reportedly asked her primary "
            "treating provider to place her off of work.",
            Item("Physical therapy", "Not necessary."),
        ),
        patient_sex="male",
    )
    (f,) = run(demographics, ctx)
    assert "2 later pronouns" in f.message


# treatment-mismatch: a rationale about the other disputed item


def test_rationale_names_only_the_other_items_treatment():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "Acupuncture therapy sessions lumbar spine #6",
            "An MRI of the lumbar spine is indicated when there are red flags. No red flags "
            "are documented, so the MRI is not medically necessary.",
        ),
        Item(
            "MRI of the lumbar spine",
            "Acupuncture is used when pain medication is reduced or not tolerated. The request "
            "for acupuncture is not medically necessary.",
        ),
    )
    found = sorted((f.decision_index, f.code) for f in run(check_treatment_mismatch, ctx))
    assert found == [(0, "treatment-mismatch"), (1, "treatment-mismatch")]


def test_conclusion_naming_another_item_is_flagged_once():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "Acupuncture therapy sessions lumbar spine #6",
            "Treatment to date has included chiropractic care, acupuncture and medications. "
            "Imaging is indicated for red flags; none are documented. The request for MRI of "
            "the lumbar spine is not medically necessary.",
        ),
        Item("MRI of the lumbar spine", MRI_RATIONALE + " The MRI is not medically necessary."),
    )
    (f,) = run(check_treatment_mismatch, ctx)
    assert f.decision_index == 0 and "'MRI of the lumbar spine'" in f.message
    assert f.evidence[1].quote == (
        "The request for MRI of the lumbar spine is not medically necessary"
    )


def test_conclusion_quoting_another_items_request_word_for_word():
    ctx = build(
        NECK_AND_BACK,
        Item("Assistant PA", "A surgical assistant is appropriate for complex surgery."),
        Item(
            "Pre-operative CBC",
            "A surgical assistant is available for a complex surgery. As such, the requested "
            '"Assistant PA" is medically necessary.',
        ),
    )
    (f,) = run(check_treatment_mismatch, ctx)
    assert f.decision_index == 1 and "Assistant PA" in f.evidence[1].quote


@pytest.mark.parametrize(
    ("item", "rationale", "says", "severity"),
    [
        # the conclusion names the item itself: a slip of the pen, low
        (
            "NCS/EMG RUE",
            "No, the request for electrodiagnostic testing of the right upper extremity was not "
            "medically necessary. The provider stated that the ultrasound testing in question "
            "was ordered to rule out a brachial plexopathy.",
            "ultrasound testing",
            Severity.low,
        ),
        (
            "NCS/EMG RUE",
            "The provider stated that the ultrasound testing in question was ordered to rule "
            "out a brachial plexopathy. It is not medically necessary.",
            "ultrasound testing",
            Severity.medium,
        ),
        (
            "One (1) x-ray of the thoracic spine",
            "X-rays and MRI may be necessary if there is nerve impairment. There are no red "
            "flags that would warrant a cervical MRI at this time.",
            "cervical MRI",
            Severity.medium,
        ),
    ],
)
def test_phrase_pointing_at_another_treatment_or_region(item, rationale, says, severity):
    (f,) = run(check_treatment_mismatch, build(NECK_AND_BACK, Item(item, rationale)))
    assert says in f.evidence[1].quote and f.severity == severity


@pytest.mark.parametrize(
    "rationale",
    [
        "The knee MRI was ordered on the November 1, 2016 office visit at issue. MRI imaging "
        "of the knee is indicated only if surgery is considered.",
        "The MRI in question would not change the plan. The request for MRI of the left knee "
        "without contrast is not medically necessary.",
        "There is nothing that would warrant a repeat knee MRI at this time.",
    ],
)
def test_phrases_about_the_item_itself_are_silent(rationale):
    ctx = build(NECK_AND_BACK, Item("MRI of the left knee without contrast", rationale))
    assert run(check_treatment_mismatch, ctx) == []


def test_conclusion_that_cascades_from_the_surgery_is_silent():
    ctx = build(
        NECK_AND_BACK,
        Item("Right shoulder arthroscopy", "Surgery is indicated after failed therapy."),
        Item(
            "Assistant PA",
            "As the requested shoulder arthroscopy is not medically necessary, the requested "
            "Assistant PA is also not medically necessary.",
        ),
        Item(
            "Post-op physical therapy 12 visits",
            "As the requested surgery is not medically necessary, the associated request is "
            "not medically necessary.",
        ),
    )
    assert run(check_treatment_mismatch, ctx) == []


def test_words_two_items_share_do_not_name_either():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "Fanatrex 25mg/ml oral suspension 420ml",
            "Muscle relaxants are for a short course. The patient was given oral suspension "
            "Tabradol; there is no reason he cannot take tablets.",
        ),
        Item(
            "Tabradol 1mg/ml oral suspension, 250ml",
            "Muscle relaxants are for a short course; Tabradol is not supported.",
        ),
    )
    found = run(check_treatment_mismatch, ctx)
    assert [(f.decision_index, f.evidence[1].quote) for f in found] == [(0, "Muscle relaxants")]


@pytest.mark.parametrize(
    ("item", "rationale", "other"),
    [
        (
            "Physical exam 2 times 8",
            "Up to 10 visits of physical therapy are recommended; the patient is in physical "
            "therapy now, so additional physical therapy is not needed.",
            "physical therapy",
        ),
        (
            "Tramadol 50mg every 4-6 hours as needed for moderate to severe pain #30",
            "Benzodiazepines are not recommended for acute or chronic pain.",
            "Benzodiazepines",
        ),
    ],
)
def test_shared_generic_words_do_not_name_the_item(item, rationale, other):
    (f,) = run(check_treatment_mismatch, build(NECK_AND_BACK, Item(item, rationale)))
    assert f.evidence[1].quote == other


def test_rationale_naming_its_own_item_or_a_surgery_is_silent():
    ctx = build(
        NECK_AND_BACK,
        Item(
            "Acupuncture therapy sessions lumbar spine #6",
            "Acupuncture may be considered after an MRI; acupuncture is not medically necessary.",
        ),
        Item("Right carpal tunnel release", "Surgery is indicated after failed splinting."),
        Item(
            "Post-operative hand therapy, 8 visits",
            "After a carpal tunnel release, up to 8 visits are recommended.",
        ),
    )
    assert run(check_treatment_mismatch, ctx) == []


# treatment-mismatch: a sentence deciding the request names the other side or another site

KNEE_HISTORY = (
    "The patient twisted her left knee at work. She had a right knee arthroscopy in 2012. "
)


@pytest.mark.parametrize(
    ("item", "rationale"),
    [
        (
            "MRI of the left knee",
            KNEE_HISTORY + "The request for MRI of the right knee is not medically necessary.",
        ),
        (
            "MRI of the left knee without contrast",
            KNEE_HISTORY + "As there is no documented tear of the right knee, the request is "
            "not medically necessary.",
        ),
        (
            "X-rays knee, left",
            "Plain films are the first study. X-rays of the knee (right) are not indicated at "
            "this time.",
        ),
        (
            "Physical therapy 2x6 for the right shoulder",
            "Therapy was tried before. Therefore, therapy for the L shoulder is not "
            "medically necessary.",
        ),
        (
            "MRI of the left shoulder",
            "MRI of the right shoulder is not indicated without red flags.",
        ),
    ],
)
def test_deciding_sentence_on_the_other_side(item, rationale):
    (f,) = run(check_treatment_mismatch, build(NECK_AND_BACK, Item(item, rationale)))
    assert "deciding sentence names only the" in f.message
    assert f.evidence[0].quote == item
    assert f.evidence[1].quote.endswith(("necessary.", "time.", "flags."))


@pytest.mark.parametrize(
    ("summary", "items", "rationale"),
    [
        # history and exam sentences mention the other side freely
        (NECK_AND_BACK, ["MRI of the left knee"], KNEE_HISTORY + "The request is not necessary."),
        (
            NECK_AND_BACK,
            ["MRI of the left knee"],
            "Examination of the right knee was normal. The request for left knee MRI is not "
            "medically necessary.",
        ),
        (
            NECK_AND_BACK,
            ["MRI of the left knee"],
            "A prior MRI of the right knee showed a tear. MRI of the left knee is not indicated.",
        ),
        # both sides in the deciding sentence
        (
            NECK_AND_BACK,
            ["MRI of the left knee"],
            "Neither the right nor the left knee is unstable; the request is not medically "
            "necessary.",
        ),
        # a sideless mention beside the other side: not settled
        (
            NECK_AND_BACK,
            ["MRI of the left knee"],
            "Given the normal right knee, the request for knee MRI is not medically necessary.",
        ),
        # the item is bilateral
        (
            NECK_AND_BACK,
            ["MRI of bilateral knees"],
            "The request for MRI of the right knee is not medically necessary.",
        ),
        # the injury is bilateral
        (
            "She reports bilateral knee pain after a fall.",
            ["MRI of the left knee"],
            "The request for MRI of the right knee is not medically necessary.",
        ),
        # another item is for the other side
        (
            NECK_AND_BACK,
            ["MRI of the left knee", "MRI of the right knee"],
            "The request for MRI of the right knee is not medically necessary.",
        ),
    ],
)
def test_side_silent(summary, items, rationale):
    ctx = build(summary, *(Item(i, rationale) for i in items))
    assert run(check_treatment_mismatch, ctx) == []


@pytest.mark.parametrize(
    ("item", "rationale", "about"),
    [
        (
            "MRI of the right wrist",
            "Wrist pain persists. The claimant does not meet criteria for an elbow MRI.",
            "MRI of the elbow",
        ),
        (
            "Lumbar epidural steroid injection at L4-5",
            "Radiculopathy must be documented. Therefore, the requested cervical epidural "
            "steroid injection is not medically necessary.",
            "of the cervical spine",
        ),
        (
            "Six physical therapy visits for the right shoulder",
            "The remaining portion of the request, 6 physical therapy visits to the right "
            "ankle, is not medically necessary.",
            "of the ankle/foot",
        ),
        (
            "EMG/NCS of the bilateral hands",
            "Yes, the request for electrodiagnostic testing (EMG-NCS) of the bilateral ankles "
            "was medically necessary.",
            "of the ankle/foot",
        ),
        (
            "One (1) x-ray of the thoracic spine",
            "There are no red flags that would warrant a cervical MRI at this time.",
            "MRI of the cervical spine",
        ),
        # a sentence about this patient (not guideline prose) that recommends the item's
        # treatment for another part; "prior to" looks ahead, it is no history
        (
            "Pre-operative chest x-ray",
            "Guidelines support testing when results change management. Based on the "
            "patient's age, a lumbar spine x-ray would be appropriate prior to surgery. "
            "Therefore, the request is medically necessary.",
            "x-ray of the lumbar spine",
        ),
        # a surgery item (its class alone is too generic to compare) restated for another part
        (
            "Right knee arthroscopy with partial meniscectomy",
            "Imaging confirms the tear. Accordingly, the request for right hip arthroscopy with "
            "partial meniscectomy is medically necessary.",
            "of the hip",
        ),
    ],
)
def test_deciding_sentence_on_another_body_part(item, rationale, about):
    (f,) = run(check_treatment_mismatch, build(NECK_AND_BACK, Item(item, rationale)))
    assert "deciding sentence is about" in f.message and about in f.message


def test_deciding_sentence_rests_on_another_parts_condition():
    rationale = (
        "One viscosupplement injection to the left knee is requested. Guidelines reserve it "
        "for severe osteoarthritis. The notes do not show that her shoulder condition is due "
        "to osteoarthritis; therefore this request is not medically necessary."
    )
    ctx = build(NECK_AND_BACK, Item("Viscosupplement injection to the left knee", rationale))
    (f,) = run(check_treatment_mismatch, ctx)
    assert "rests on the patient's shoulder condition" in f.message
    # the same sentence naming the item's own part as well decides nothing else
    both = rationale.replace("her shoulder condition", "her shoulder condition or knee pain")
    ctx = build(NECK_AND_BACK, Item("Viscosupplement injection to the left knee", both))
    assert run(check_treatment_mismatch, ctx) == []


@pytest.mark.parametrize(
    "rationale",
    [
        # guideline prose about another region, not about the request
        "ODG recommends MRI of the elbow for chronic elbow pain. Wrist MRI is not indicated "
        "without red flags.",
        # the other region is not what the treatment is for
        "Given that the elbow symptoms resolved, the request for MRI is not medically necessary.",
        # a history sentence
        "An MRI of the elbow was performed previously and the request is not necessary.",
        # the item's own region is in the deciding sentence too
        "Without elbow findings, the request for MRI of the wrist is not medically necessary.",
        # guideline prose speaking of a patient in general
        "MRI of the elbow is recommended when the patient has mechanical symptoms. Wrist "
        "imaging has no such indication documented.",
    ],
)
def test_body_part_silent(rationale):
    ctx = build(NECK_AND_BACK, Item("MRI of the right wrist", rationale))
    assert run(check_treatment_mismatch, ctx) == []


# treatment-mismatch: a lone generic word never names a treatment; a head noun names its item


@pytest.mark.parametrize(
    ("items", "rationale"),
    [
        (
            ["MRI of the lumbar spine", "Lumbar support brace"],
            "The records do not support the request at this time; there are no red flags.",
        ),
        (
            ["Acupuncture 6 sessions", "Functional restoration program evaluation"],
            "The records do not show a program of exercise, so the request is not necessary.",
        ),
        (
            ["Urine drug screen", "Pain management consultation"],
            "Ongoing management is documented; the request is not medically necessary.",
        ),
    ],
)
def test_lone_generic_words_do_not_point_at_another_item(items, rationale):
    ctx = build(NECK_AND_BACK, *(Item(i, rationale) for i in items[:1]), Item(items[1], "n/a"))
    assert [f for f in run(check_treatment_mismatch, ctx) if f.decision_index == 0] == []


@pytest.mark.parametrize(
    ("first", "second", "rationale"),
    [
        (
            "Cervical pillow",
            "Orthopedic pillows x2",
            "Orthopedic pillows are convenience items; the requested pillows are not medically "
            "necessary.",
        ),
        (
            "Bath-chair",
            "Shower stool",
            "A bath chair and a shower stool are convenience items; neither is medically "
            "necessary.",
        ),
    ],
)
def test_head_noun_names_the_item(first, second, rationale):
    ctx = build(NECK_AND_BACK, Item(first, rationale), Item(second, rationale))
    assert run(check_treatment_mismatch, ctx) == []


# fact-contradiction (rules): more time on a treatment than the injury is old

RECENT = "Date of Injury: 11/10/2016. The injured worker reports low back pain after lifting."
OPIOID = (
    "The guidelines recommend ongoing review of patients on opioids. The patient has been on "
    "chronic opioid treatment, at least 6 months. There is no evidence of 30% pain relief."
)


def _duration(summary: str, rationale: str, **case):
    from imr_llm.checks.durations import check_treatment_duration

    dates = {"date_of_injury": date(2016, 11, 10), "decision_date": date(2017, 2, 28)} | case
    ctx = with_case(build(summary, Item("Ultram 50mg #60", rationale)), **dates)
    return run(check_treatment_duration, ctx)


def test_treatment_longer_than_the_injury_is_old():
    (f,) = _duration(RECENT, OPIOID)
    assert (f.code, f.severity, f.decision_index) == ("fact-contradiction", Severity.high, 0)
    assert f.evidence[0].quote.startswith("The patient has been on chronic opioid")
    assert f.evidence[1].quote == "Date of Injury: 11/10/2016"
    assert "6 months or more" in f.message and "3.6 months" in f.message


@pytest.mark.parametrize(
    ("summary", "rationale", "case"),
    [
        (RECENT, OPIOID, {"date_of_injury": date(2015, 1, 5)}),
        (RECENT, OPIOID.replace("6 months", "2 months"), {}),
        (
            RECENT,
            "Guidelines state that if the patient has been on opioids for more than 6 months, "
            "a taper should be considered.",
            {},
        ),
        (RECENT, "The patient has had low back pain for at least 2 years.", {}),
        (RECENT.replace("after lifting", "from cumulative trauma"), OPIOID, {}),
        (RECENT + " He was treated with Norco on 03/02/2016 for an earlier strain.", OPIOID, {}),
    ],
    ids=["old-injury", "short-claim", "guideline", "pain-not-treatment", "ct-claim", "history"],
)
def test_treatment_duration_silent(summary, rationale, case):
    assert _duration(summary, rationale, **case) == []
