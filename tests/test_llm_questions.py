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
    # the summary questions are asked by summarize, not here
    assert set(prompts.names()) - set(names) == {"summary", "summary_item"}
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


# ---------------------------------------------------------------- asked only where it pays

LETTERS = sorted(AUTHORED.glob("*.txt"))


def _clause_quotes(view: LetterView, d) -> list[str]:
    """Every clause of the item's rationale (cut to a quote's length): the answers an
    adversarial model could give."""
    from imr_llm.text.spans import clauses

    a, b = d.rationale_span
    return [" ".join(view.text[x:y].split())[:280] for x, y in clauses(view.text, a, b)]


def _adversarial(view: LetterView, d, name: str) -> list:
    """Answers to question ``name`` about item ``d`` that try every clause as the quote."""
    from imr_llm.llm.responses import CriteriaVerdict, LooseFact, LooseSide, RationaleSubject

    quotes = [q for q in _clause_quotes(view, d) if len(q) >= 2]
    if name == "item_criteria":
        return [
            CriteriaAnswer(criteria=[CriterionCheck(criterion="c", status=s, quote=q)])
            for q in quotes
            for s in ("met", "unmet")
        ]
    if name == "item_verdict":
        return [
            CriteriaVerdict(verdict=v, quote=q) for q in quotes for v in ("meets", "does_not_meet")
        ]
    if name == "item_subject":
        out = []
        for q in quotes:
            fact = LooseFact(text="x", quote=q)
            for side in ("left", "right"):
                out.append(
                    RationaleSubject(
                        treatment=fact,
                        body_part=fact,
                        side=LooseSide(side=side, quote=q),
                        spinal_level=fact,
                    )
                )
        return out
    return []


@pytest.mark.parametrize("path", LETTERS, ids=lambda p: p.stem)
def test_a_question_is_skipped_only_where_no_answer_could_flag_the_item(path: Path):
    """The gates of item_criteria, item_verdict and item_subject are the conditions their
    ``decide`` needs before it reads an answer: on every authored letter, an item the gate
    skips gets no finding from any clause of its rationale given as the answer."""
    view = view_of(path.stem)
    criteria, verdict, subject = (
        by_name(n) for n in ("item_criteria", "item_verdict", "item_subject")
    )
    for d in view.record.decisions:
        if d.rationale_span is None or d.rationale_span[1] <= d.rationale_span[0]:
            continue
        if not subject.asks(view, d):
            for answer in _adversarial(view, d, "item_subject"):
                answers = Answers()
                answers.add(subject.name, d.index, Asked(None, answer))  # type: ignore[arg-type]
                assert subject.decide(view, d, answers) == [], (path.stem, d.index)
        if not criteria.asks(view, d):
            assert not verdict.asks(view, d)
            verdicts = _adversarial(view, d, "item_verdict")
            for answer in _adversarial(view, d, "item_criteria"):
                for said in verdicts[:6]:
                    answers = Answers()
                    answers.add(criteria.name, d.index, Asked(None, answer))  # type: ignore[arg-type]
                    answers.add(verdict.name, d.index, Asked(None, said))  # type: ignore[arg-type]
                    assert criteria.decide(view, d, answers) == [], (path.stem, d.index)


def test_items_are_asked_about_only_what_an_answer_could_settle():
    view = view_of("A16-01")
    chiro, uds = view.record.decisions
    # Overturned, and no rationale sentence reports a shortfall of this patient
    assert not by_name("item_criteria").asks(view, chiro)
    assert not by_name("item_verdict").asks(view, chiro)
    # Upheld on an absence claim: no answer could show its criteria all met
    assert not by_name("item_criteria").asks(view, uds)
    # both rationales name their item's treatment and region: no subject question
    assert not by_name("item_subject").asks(view, chiro)
    assert not by_name("item_subject").asks(view, uds)
    # a cervical MRI whose rationale never names the neck: its subject is worth asking
    view = view_of("A15-04")
    assert by_name("item_subject").asks(view, view.record.decisions[0])
    # Overturned opioids whose rationale reports this patient's unchanged pain: criteria asked
    view = view_of("A15-07")
    opioid = view.record.decisions[0]
    assert by_name("item_criteria").asks(view, opioid) and by_name("item_verdict").asks(
        view, opioid
    )
