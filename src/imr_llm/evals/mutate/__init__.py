"""Labeled mutations: plant one known inconsistency in a letter's text and record where.

Each operator proposes candidate edits to the extracted letter text (``ingest.read_letter``),
located with the deterministic segmenter. ``mutate`` applies a candidate, re-reads the result
with ingest + segment, and keeps the first candidate whose change parses as claimed; the letter
is written as .txt with its label: the source's gold label when one exists in the labeled sets
searched (``gold_dirs``, default ``evals/`` of the working directory; else the labels read from
the parse), the planted finding(s), and the changed spans.

Operators live in one module per family and register with ``base.register``; ``FAMILIES``
lists the modules in the order their operators run (and appear in ``mutations.json``).
"""

from __future__ import annotations

import importlib

from imr_llm.evals.mutate.base import (
    REGISTRY,
    CannotApply,
    Change,
    Edit,
    Operator,
    Planted,
    Source,
    apply_edits,
    register,
)
from imr_llm.evals.mutate.dates import format_like
from imr_llm.evals.mutate.labels import DEFAULT_GOLD_DIR, GoldDirsMissing, gold_index
from imr_llm.evals.mutate.run import Applied, MutationReport, Skipped, mutate, try_operator

FAMILIES = (
    "decisions",
    "citations",
    "dates",
    "pronouns",
    "treatments",
    "facts",
    "quantity",
    "instructions",
)


def load_operators() -> dict[str, Operator]:
    """Import every family module so each registers its operators, and order the registry
    by ``FAMILIES`` (then by registration within a module)."""
    modules = [f"{__name__}.{name}" for name in FAMILIES]
    for module in modules:
        importlib.import_module(module)
    stray = [op.name for op in REGISTRY.values() if type(op).__module__ not in modules]
    if stray:
        raise ValueError(
            f"operator(s) {', '.join(stray)} registered outside FAMILIES; list the module"
        )
    ordered = sorted(REGISTRY.values(), key=lambda op: modules.index(type(op).__module__))
    REGISTRY.clear()
    REGISTRY.update((op.name, op) for op in ordered)
    return REGISTRY


OPERATORS = load_operators()

__all__ = [
    "DEFAULT_GOLD_DIR",
    "FAMILIES",
    "OPERATORS",
    "REGISTRY",
    "Applied",
    "CannotApply",
    "Change",
    "Edit",
    "GoldDirsMissing",
    "MutationReport",
    "Operator",
    "Planted",
    "Skipped",
    "Source",
    "apply_edits",
    "format_like",
    "gold_index",
    "load_operators",
    "mutate",
    "register",
    "try_operator",
]
