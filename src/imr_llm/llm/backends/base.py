"""What a backend is: its name, how it builds its config, how it starts and stops, how
``doctor`` reports it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from imr_llm.llm.config import LLMConfig


class BackendStatus(BaseModel):
    """One line of ``imr-llm doctor``: can this backend run here, and why (not)."""

    model_config = ConfigDict(frozen=True)

    name: str
    usable: bool
    detail: str


class BackendError(RuntimeError):
    """A backend could not start (a server that would not come up); the message says what to
    do next."""


class Backend:
    """One ``--llm`` choice. A fresh instance serves one session: ``configure`` (no side
    effects), then ``await start(config)`` before the first question and ``await stop()`` after
    the last. Subclasses set ``name`` and ``help`` and override what they need."""

    name: ClassVar[str]
    help: ClassVar[str]
    """A few words for ``--llm``'s help and ``doctor``."""
    takes_concurrency: ClassVar[bool] = True
    """Whether ``audit --concurrency`` sets how many questions are in flight."""

    def configure(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        model_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> LLMConfig | None:
        """The settings from the command line and environment; None when no model is asked.
        Raises ``LLMConfigError`` (a ValueError) with what to fix."""
        return None

    async def start(self, config: LLMConfig) -> LLMConfig:
        """Bring up what ``config`` needs; returns the config to use (a started server fills
        ``base_url`` and ``model``). Raises ``BackendError``."""
        return config

    async def stop(self) -> None:
        """Release what ``start`` brought up; safe to call when ``start`` failed or never ran."""

    def status(self, base_url: str | None = None) -> BackendStatus:
        """Whether this backend can run on this machine (no network call except to loopback)."""
        return BackendStatus(name=self.name, usable=True, detail=self.help)
