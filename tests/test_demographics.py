"""Pronoun check: the patient called by the other sex's pronoun in the summary or a rationale,
counted only where the pronoun refers to the patient."""

from __future__ import annotations

import pytest

from builders import Item, build, run
from imr_llm.checks.demographics import SEVERITY_POLICY, demographics
from imr_llm.schemas import CaseFacts, Severity

SUMMARY = "The injured worker is a 52 year old female who hurt her right shoulder at work."


def _letter(rationale: str, summary: str = SUMMARY, sex: str = "female"):
    ctx = build(summary, Item("Physical therapy for the right shoulder", rationale))
    ctx.record.case = CaseFacts(patient_sex=sex)
    return ctx


@pytest.mark.parametrize(
    "rationale",
    [
        # "he" and then "she": the patient named in the sentence
        "The patient reports that he has shoulder pain. She completed 6 sessions.",
        # the sentence before names only the patient
        "The claimant has completed 12 sessions of therapy. He reports no improvement. She "
        "remains off work.",
        "The injured worker has ongoing pain. His range of motion is limited.",
        # the document a physician wrote names no referent
        "A physician progress note dated 11-08-2016 documents the injured worker complains of "
        "shoulder pain. He has completed 5 of 6 sessions.",
        # her treating provider's is the patient's, already with the wrong pronoun
        "The applicant asked his primary treating provider to place him off work.",
        # a family (plural) cannot be "he"
        "The injured worker's family did not think that he could manage at home alone.",
    ],
)
def test_rationale_pronoun_for_the_patient_is_found(rationale):
    (f,) = run(demographics, _letter(rationale))
    assert (f.code, f.severity, f.decision_index) == (
        "demographic-inconsistency",
        Severity.medium,
        None,
    )
    assert f.severity.rank <= SEVERITY_POLICY[f.code].severity.rank
    assert "as male" in f.message


@pytest.mark.parametrize(
    "rationale",
    [
        # pronouns of someone else
        "The treating physician recommended therapy. He noted that she has pain.",
        "The patient was seen by the orthopedist. His note documents tendinitis.",
        "The treating provider requested 12 sessions, and he stated that she improved.",
        "Per the reviewer, he could not find the progress notes. She has pain.",
        "The patient's husband reports that he drives her to appointments.",
        "Dr. Smith examined the patient and he recommended an MRI.",
        "The patient lives with her son. He helps her at home.",
        # he/she forms
        "The expert reviewer stated that he/she reviewed the records. She has pain.",
        "She has pain. His or her function should improve with therapy.",
    ],
)
def test_pronouns_of_someone_else_are_silent(rationale):
    assert run(demographics, _letter(rationale)) == []


def test_no_stated_sex_no_pronoun_finding():
    ctx = _letter("The patient reports that he has pain.")
    ctx.record.case = CaseFacts()
    assert run(demographics, ctx) == []


def test_male_patient_called_she_in_a_rationale():
    summary = "The injured worker is a 40 year old male with low back pain."
    (f,) = run(
        demographics,
        _letter("The patient has tried medications. She reports 8/10 pain.", summary, "male"),
    )
    assert "as female" in f.message
    assert [e.quote for e in f.evidence][0] == "male"
