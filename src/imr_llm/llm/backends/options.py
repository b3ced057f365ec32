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

__all__ = ["LlmOpt"]
