"""``--llm none``: rules only, no model."""

from __future__ import annotations

from imr_llm.llm.backends.base import Backend


class NoBackend(Backend):
    name = "none"
    help = "rules only; works offline"
