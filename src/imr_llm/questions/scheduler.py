"""One scheduler for every LLM question: build the askings of a stage, ask them concurrently
(bounded by the client's ``concurrency``), keep the answers, let code decide.

Askings are created question by question (all ``item_absence``, then all ``item_criteria``,
...) so that consecutive requests share the longest prompt prefix. A question the model cannot
answer with grounded quotes (``UNANSWERABLE``) is skipped, costing no other answer; transport
and budget errors cancel the stage and reach the caller. Nothing here writes the record: the
session (``imr_llm.pipeline.LLMSession``) does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

from imr_llm.codes import Severity
from imr_llm.extract.llm import LLMExtraction, extraction_from
from imr_llm.llm.client import UNANSWERABLE, LLMClient, LLMError
from imr_llm.questions import stage
from imr_llm.questions.base import Answers, Ask, Asked, LetterView, Question
from imr_llm.questions.case_basics import CaseBasicsQuestion
from imr_llm.questions.item_rationale import ItemRationaleQuestion
from imr_llm.questions.items_list import ItemsListQuestion
from imr_llm.schemas import Decision, Finding

log = logging.getLogger(__name__)


async def run_all(coros: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run ``coros`` in one ``asyncio.TaskGroup``; results in order. When one fails the others
    are cancelled and its exception (not the group) is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


def _items(view: LetterView) -> list[Decision]:
    return [d for d in view.record.decisions if d.span[1] > d.span[0]]


async def _ask(
    client: LLMClient, view: LetterView, question: Question, ask: Ask
) -> tuple[Any, bool]:
    """(answer or None, whether it counts as unanswered)."""
    try:
        answer, _ = await client.ask(
            question.response_model, question.name, letter=view.letter, variables=ask.variables
        )
    except LLMError as exc:
        if exc.kind in UNANSWERABLE:
            if not question.listed_when_unanswered:
                log.warning(
                    "llm question skipped letter=%s template=%s kind=%s",
                    view.letter.letter_id,
                    question.name,
                    exc.kind,
                )
            return None, True
        if exc.kind in question.quiet:
            return None, False
        raise
    return answer, False


async def ask_stage(
    client: LLMClient, view: LetterView, questions: list[Question], answers: Answers
) -> list[str]:
    """Ask every asking of ``questions`` about ``view``; answers go into ``answers``. Returns the
    names of the questions left unanswered that the record lists. Raises ``LLMError``."""
    jobs: list[tuple[Question, Decision | None, Ask]] = []
    for q in questions:
        targets: list[Decision | None] = [None] if q.scope == "letter" else list(_items(view))
        jobs += [(q, item, ask) for item in targets for ask in q.asks(view, item)]
    results = await run_all(_ask(client, view, q, ask) for q, _, ask in jobs)
    failed = []
    for (q, item, ask), (answer, unanswered) in zip(jobs, results, strict=True):
        answers.add(q.name, item.index if item is not None else None, Asked(ask, answer))
        if unanswered and q.listed_when_unanswered:
            failed.append(q.name)
    return failed


def decide(view: LetterView, questions: list[Question], answers: Answers) -> list[Finding]:
    """Findings of ``questions`` from ``answers``: letter questions first, then item by item."""
    findings = [f for q in questions if q.scope == "letter" for f in q.decide(view, None, answers)]
    for item in _items(view):
        for q in questions:
            if q.scope == "item":
                findings += q.decide(view, item, answers)
    return findings


async def read_letter(client: LLMClient, view: LetterView) -> LLMExtraction:
    """Pass 1: the first question alone (it warms the server's prompt cache with the letter),
    then the rest concurrently; their answers as one extraction."""
    answers = Answers()
    failed = await ask_stage(client, view, stage(0), answers)
    failed += await ask_stage(client, view, stage(1), answers)
    rationales = [(d, answers.one(ItemRationaleQuestion.name, d.index)) for d in _items(view)]
    return extraction_from(
        view.text,
        view.sections,
        answers.one(CaseBasicsQuestion.name),
        answers.one(ItemsListQuestion.name),
        rationales,
        failed,
    )


async def check_letter(
    client: LLMClient, view: LetterView, at_most: Severity | None = None
) -> list[Finding]:
    """Pass 2: the consistency questions (they read ``view.extraction``), decided in code;
    ``at_most``: the highest severity a decided finding keeps (``LLMConfig.findings``)."""
    answers = Answers()
    questions = stage(2)
    await ask_stage(client, view, questions, answers)
    found = decide(view, questions, answers)
    if at_most is None:
        return found
    return [
        f.model_copy(update={"severity": at_most}) if f.severity.rank > at_most.rank else f
        for f in found
    ]
