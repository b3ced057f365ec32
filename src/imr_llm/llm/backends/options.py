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

__all__ = ["AskOpt", "LlmOpt"]
