"""The LLM questions, registered in one place.

Each question is one module: a ``Question`` subclass (``base.py``) with its prompt file
(``prompts/<name>.j2``), response model, scope (letter or item), stage, the variables it renders
and the code that decides findings from its answers. ``scheduler.py`` asks them and decides.
To add one: write the module (and its prompt) and add an instance to ``QUESTIONS``.

Pass 1 (stages 0 and 1) reads the letter: ``case_basics``, ``items_list``, ``item_rationale``;
``imr_llm.extract.reconcile`` compares what it read with the rules. Pass 2 (stage 2) asks
narrow consistency questions per item: ``item_absence``, ``item_criteria``, ``item_verdict``,
``item_subject``. The grounded summary (``imr_llm.summarize.llm_summary``) is asked on its own.
"""

from __future__ import annotations

from imr_llm.questions.absence import AbsenceQuestion
from imr_llm.questions.base import Question
from imr_llm.questions.case_basics import CaseBasicsQuestion
from imr_llm.questions.criteria import CriteriaQuestion
from imr_llm.questions.item_rationale import ItemRationaleQuestion
from imr_llm.questions.items_list import ItemsListQuestion
from imr_llm.questions.subject import SubjectQuestion
from imr_llm.questions.verdict import VerdictQuestion

QUESTIONS: tuple[Question, ...] = (
    CaseBasicsQuestion(),
    ItemsListQuestion(),
    ItemRationaleQuestion(),
    AbsenceQuestion(),
    CriteriaQuestion(),
    VerdictQuestion(),
    SubjectQuestion(),
)
"""In asking order within each stage."""


def stage(n: int) -> list[Question]:
    return [q for q in QUESTIONS if q.stage == n]


def by_name(name: str) -> Question:
    return next(q for q in QUESTIONS if q.name == name)
