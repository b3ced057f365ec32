"""A sentence is backed by a quote only when the quote holds most of its content words and
states the same negation (invented sentences)."""

from imr_llm.text.support import support, supports

NO_RELIEF = "There is no documentation of functional improvement after the prior injections"


def test_a_restated_quote_is_backed():
    assert supports(NO_RELIEF, "Upheld because there is no documented functional improvement.")
    assert supports(
        "The injured worker is a 52 year old male injured on 03-04-2015",
        "A 52-year-old male worker, injured 03-04-2015.",
    )


def test_dropping_or_adding_the_negation_says_the_opposite():
    assert not supports(
        NO_RELIEF, "Upheld because the prior injections gave functional improvement."
    )
    assert not supports(
        "Functional improvement was documented after the prior injections",
        "Upheld: no functional improvement after the prior injections.",
    )


def test_a_bound_on_a_quantity_is_not_a_negation():
    assert supports(
        "Guidelines allow no more than 10 visits for this condition",
        "Upheld: guidelines allow at most 10 visits for this condition.",
    )


def test_words_the_quote_does_not_hold_are_not_backed():
    rule = "Grip strength testing is not recommended as a primary service"
    assert not supports(
        "The documentation did not provide a rationale for this request",
        "Upheld because " + rule.lower() + ".",
    )
    assert support("Upheld because of a fall at work.", "She slipped and fell at work") == 0.5


def test_every_reader_of_negation_knows_every_shared_trigger():
    # one lexicon (text.negation.NEGATION_WORDS) for the conclusions, the absence claims and
    # the summary's support rule: a trigger added there is read by all three
    from imr_llm.extract.claims import _negated
    from imr_llm.text.negation import NEGATION_WORDS, negated_before
    from imr_llm.text.support import negated

    for word in NEGATION_WORDS:
        sentence = f"The records show {word} radiculopathy"
        assert negated(sentence), word
        assert _negated(sentence, sentence.index("radic"), len(sentence)), word
        verdict = f"The request is {word} necessary"
        assert negated_before(verdict, verdict.index("necessary")), word
