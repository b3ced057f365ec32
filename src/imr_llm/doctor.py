"""``imr-llm doctor``: which ``--llm`` backends can run here, and why not.

Each registered backend (``imr_llm.llm.backends``) reports its own line. Makes no network call
except a short probe of an OpenAI-compatible server on loopback.
"""

from __future__ import annotations

from imr_llm.llm.backends import BACKENDS, BackendStatus

__all__ = ["BackendStatus", "diagnose", "render"]


def diagnose(base_url: str | None = None) -> list[BackendStatus]:
    """Status of each backend; ``base_url`` overrides ``$OPENAI_BASE_URL`` for ``openai``."""
    return [backend().status(base_url) for backend in BACKENDS.values()]


def render(statuses: list[BackendStatus]) -> str:
    width = max(len(s.name) for s in statuses)
    return "\n".join(
        f"{s.name:<{width}}  {'ok ' if s.usable else 'no '}  {s.detail}" for s in statuses
    )
