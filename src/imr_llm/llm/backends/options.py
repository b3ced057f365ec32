"""The ``--llm`` option of ``imr-llm`` and ``imr-llm eval``, derived from the registry."""

from __future__ import annotations

from typing import Annotated

import typer

from imr_llm.llm.backends import BACKENDS


def _known(value: str) -> str:
    if value not in BACKENDS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(repr(n) for n in BACKENDS)}")
    return value


def _help() -> str:
    return "; ".join(f"{name}: {backend.help}" for name, backend in BACKENDS.items()) + "."


LlmOpt = Annotated[
    str,
    typer.Option("--llm", metavar="[" + "|".join(BACKENDS) + "]", callback=_known, help=_help()),
]
"""``--llm NAME`` (default: pass ``"none"``)."""

AskOpt = Annotated[
    str | None,
    typer.Option(
        "--ask",
        metavar="checks,extract,summary|all",
        help="With a backend on, what the model is asked: checks (only where the rules leave a "
        "claim or a candidate an answer can settle; a letter with none costs no call), extract "
        "(read the case and items again and compare with the rules), summary (a grounded "
        "summary); comma-separated, or all.",
    ),
]
"""``--ask`` (None: the command's default)."""


def _findings(value: str) -> str:
    if value not in ("low", "verified"):
        raise typer.BadParameter(f"{value!r} is not 'low' or 'verified'")
    return value


LlmFindingsOpt = Annotated[
    str,
    typer.Option(
        "--llm-findings",
        metavar="low|verified",
        callback=_findings,
        help="With a backend on, the severity of what the model's answers decide: low (the "
        "default: at most low, a lead to read, as the bundled model has not earned more on "
        "letters it was not tuned on) or verified (the severity the decision code gives, for a "
        "model you have measured on a blind set).",
    ),
]
"""``--llm-findings`` (default ``low``)."""

__all__ = ["AskOpt", "LlmFindingsOpt", "LlmOpt"]
