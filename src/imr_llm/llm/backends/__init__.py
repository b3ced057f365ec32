"""The ``--llm`` backends, registered in one place.

Each backend is one module with a ``Backend`` subclass (``base.py``): its name, its config
(``configure``), async ``start``/``stop`` and its ``doctor`` line. The CLI's ``--llm`` choices,
``LLMConfig.from_cli``, ``doctor`` and ``LLMSession`` all read this registry. To add one: write
the module and add its class to ``_REGISTERED``.
"""

from __future__ import annotations

from imr_llm.llm.backends.base import Backend, BackendError, BackendStatus
from imr_llm.llm.backends.local import LocalBackend
from imr_llm.llm.backends.none import NoBackend
from imr_llm.llm.backends.openai_compat import OpenAIBackend

__all__ = ["BACKENDS", "Backend", "BackendError", "BackendStatus", "get_backend", "names"]

_REGISTERED: tuple[type[Backend], ...] = (NoBackend, OpenAIBackend, LocalBackend)

BACKENDS: dict[str, type[Backend]] = {b.name: b for b in _REGISTERED}
"""Backend classes by ``--llm`` name, in the order the CLI and ``doctor`` list them."""


def names() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str) -> Backend:
    """A fresh instance of the backend ``name``; raises ``LLMConfigError`` for an unknown one."""
    try:
        return BACKENDS[name]()
    except KeyError:
        from imr_llm.llm.errors import LLMConfigError

        raise LLMConfigError(f"unknown LLM backend {name!r}; use {', '.join(BACKENDS)}") from None
