"""Negation and hypothetical scope of a rationale's conclusion, whatever form it takes."""

from __future__ import annotations

import pytest

from imr_llm.text.negation import conclusions, last_conclusion, negated_before

NEGATED = [
    "Therefore, the request is not indicated as medically necessary.",
    "The request does not appear medically necessary.",
    "The requested treatment is not medically appropriate.",
    "The request for MRI is not medically necessary.",
    "The request cannot be deemed medically necessary at this time.",
    "Medical necessity for the requested MRI has not been established.",
    "The documentation does not establish medical necessity.",
    "There is no medical necessity for this request.",
    "Therefore, the requested Norco is not medically necessary and appropriate.",
    "The request is not supported.",
    "The request for 12 sessions is unnecessary.",
    "The request is non-certified.",
    "The request doesn't appear to be medically necessary.",
    "It is not felt to be medically necessary.",
    "The request is no longer medically necessary.",
    "There is no evidence that the request is medically necessary.",
    "The request is neither indicated nor medically necessary.",
    "The request for physical therapy is therefore not, at this time, medically necessary.",
    "Without documentation of improvement the request is not necessary.",
    "The request for the cervical pillow was not shown to be medically necessary.",
    "Consequently the request is not considered to be medically reasonable.",
    "The request is not recommended as medically necessary.",
    "This reviewer cannot recommend the request as medically necessary.",
    "The Lidoderm patch has not been established as medically necessary.",
    "In my opinion, the request is not, in this case, medically necessary.",
    "The request would not be medically necessary.",
    "The request isn't medically necessary.",
    "It remains not medically necessary.",
    "The request fails to be medically necessary.",
    "Therefore, the requested Diclofenac ER 100mg #60 is  not seen as medically necessary.",
    "The request for the prescription is not-medically necessary.",
    "The request is not viewed as medically necessary.",
    "Additional therapy, as written above, is not a medical necessity at this time.",
    "The request could not be regarded as medically necessary.",
]
AFFIRMED = [
    "As such, the request is medically necessary.",
    "Medical necessity has been established.",
    "The patient has not improved, and the request is medically necessary.",
    "The request is considered medically reasonable and necessary.",
    "This request is recommended as medically necessary.",
    "The request is appropriate and medically necessary.",
    "Although the patient did not respond to NSAIDs, the request is medically necessary.",
    "The patient has no history of abuse; the request is medically necessary.",
    "There was no improvement with therapy. The request is medically necessary.",
    "The request is found to be medically necessary at this time.",
    "The request for 6 sessions is certified.",
    "Medical necessity for the requested MRI has been established.",
]


@pytest.mark.parametrize("sentence", NEGATED)
def test_negated_conclusions(sentence):
    c = last_conclusion(sentence)
    assert c is not None and c.polarity == "negated"


@pytest.mark.parametrize("sentence", AFFIRMED)
def test_affirmed_conclusions(sentence):
    c = last_conclusion(sentence)
    assert c is not None and c.polarity == "affirmed"


@pytest.mark.parametrize(
    "sentence",
    [
        "Surgery would be medically necessary if the patient failed conservative care.",
        "If the patient had radiculopathy, an MRI is medically necessary.",
        "When conservative care fails, surgery may be medically necessary.",
    ],
)
def test_hypotheticals_are_not_the_verdict(sentence):
    assert conclusions(sentence) and all(c.hypothetical for c in conclusions(sentence))
    assert last_conclusion(sentence) is None


@pytest.mark.parametrize(
    "sentence",
    [
        "The necessary documentation was not provided.",
        "To establish medical necessity, the guidelines require a trial of therapy.",
        "Surgery is indicated for patients with red flags.",
        "The guidelines state MRI is supported when red flags are present.",
    ],
)
def test_non_verdicts_are_not_conclusions(sentence):
    assert last_conclusion(sentence) is None


def test_last_verdict_wins_over_criteria_earlier():
    text = (
        "MRI may be medically necessary when red flags are present. None are documented. "
        "Therefore, the request is not indicated as medically necessary."
    )
    c = last_conclusion(text)
    assert c is not None and c.polarity == "negated" and c.start > text.index("Therefore")


def test_scope_stops_at_a_noun_or_clause():
    text = "The patient does not smoke and the request is necessary"
    assert not negated_before(text, text.index("necessary"))
    text = "is not medically necessary"
    assert negated_before(text, text.index("necessary"))
