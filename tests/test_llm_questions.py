"""The question registry, and question decisions from scripted answers built here (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imr_llm.llm import prompts
from imr_llm.llm.responses import AbsenceCheck, CriteriaAnswer, CriterionCheck
from imr_llm.pipeline import Analysis, analyze
from imr_llm.questions import QUESTIONS, by_name
from imr_llm.questions.base import Answers, Asked, LetterView, Question

AUTHORED = Path(__file__).resolve().parents[1] / "evals" / "authored" / "letters"
EMG_QUOTE = "Electrodiagnostic testing on 5/3/2012 showed an acute left S1 radiculopathy"


def view_of(letter_id: str) -> LetterView:
    a: Analysis = analyze(AUTHORED / f"{letter_id}.txt")
    assert a.letter is not None and a.sections is not None
    letter = a.letter.model_copy(update={"text": a.masked_text})
    return LetterView(letter, a.record, a.sections)


def scripted(view: LetterView, question: Question, answer_for) -> Answers:
    """Every asking of ``question`` answered by ``answer_for(ask)``, as the scheduler stores it."""
    answers = Answers()
    for d in view.record.decisions:
        for ask in question.asks(view, d):
            answers.add(question.name, d.index, Asked(ask, answer_for(ask)))
    return answers


def test_every_question_has_a_versioned_prompt_and_a_unique_name():
    names = [q.name for q in QUESTIONS]
    assert len(set(names)) == len(names)
    assert set(names) <= set(prompts.names())
    assert set(prompts.names()) - set(names) == {"summary"}  # asked by summarize, not here
    for q in QUESTIONS:
        assert prompts.load(q.name).version.startswith("v")
        assert q.scope in ("letter", "item") and q.stage in (0, 1, 2)
    assert [q.name for q in QUESTIONS if q.stage == 2] == [
        "item_absence",
        "item_criteria",
        "item_verdict",
        "item_subject",
    ]


def test_absence_decides_fact_contradiction_from_a_scripted_quote():
    view = view_of("A13-04")
    q = by_name("item_absence")
    answers = scripted(view, q, lambda ask: AbsenceCheck(summary_quote=EMG_QUOTE, reports_it="no"))
    [f] = q.decide(view, view.record.decisions[0], answers)
    assert f.code == "fact-contradiction" and f.severity == "high"
    assert f.evidence[1].quote == EMG_QUOTE
    assert "no documentation of radiculopathy" in f.evidence[0].quote


@pytest.mark.parametrize("quote", [None, "a sentence the letter does not contain at all"])
def test_absence_needs_a_placed_summary_quote(quote):
    view = view_of("A13-04")
    q = by_name("item_absence")
    answers = scripted(view, q, lambda ask: AbsenceCheck(summary_quote=quote, reports_it="yes"))
    assert q.decide(view, view.record.decisions[0], answers) == []


def test_criteria_decides_from_its_answer_and_the_verdicts():
    view = view_of("A15-07")
    d = view.record.decisions[0]
    assert d.outcome == "overturned"
    unmet = [
        "His pain is unchanged at 8/10 with or without hydrocodone",
        "his most recent drug screen did not detect the prescribed opioid",
    ]
    q = by_name("item_criteria")
    checks = [CriterionCheck(criterion="c", status="unmet", quote=s) for s in unmet]
    answers = scripted(view, q, lambda ask: CriteriaAnswer(criteria=checks))
    [f] = q.decide(view, d, answers)
    assert f.code == "criteria-decision-mismatch" and "Overturned" in f.message
    assert [" ".join(e.quote.split()) for e in f.evidence[:2]] == unmet
    none = scripted(view, q, lambda ask: CriteriaAnswer(criteria=[]))
    assert q.decide(view, d, none) == []
