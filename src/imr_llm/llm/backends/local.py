"""``--llm local``: the bundled 1.5B model behind a llama.cpp server on 127.0.0.1."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from imr_llm.llm.backends.base import Backend, BackendError, BackendStatus
from imr_llm.llm.config import LOCAL_DUMMY_KEY, LLMConfig, is_loopback
from imr_llm.llm.errors import LLMConfigError
from imr_llm.llm.local_model import (
    INSTALL_HINT,
    MODEL_NAME,
    MODEL_SHA256,
    MODEL_SIZE,
    ModelError,
    default_model_path,
    find_parts,
    is_verified,
)

if TYPE_CHECKING:
    from imr_llm.llm.local_server import LocalServer

_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


class LocalBackend(Backend):
    name = "local"
    help = "the bundled model on a llama.cpp server started here (--model-path)"
    takes_concurrency = False  # the server answers one request at a time

    def __init__(self) -> None:
        self.server: LocalServer | None = None

    def configure(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        model_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> LLMConfig:
        if base_url and not is_loopback(base_url):
            raise LLMConfigError(
                "--llm local talks only to a server on 127.0.0.1; use --llm openai for others"
            )
        env = os.environ if env is None else env
        return LLMConfig.build(
            **{
                "backend": self.name,
                "model": model or MODEL_NAME,
                "base_url": base_url,
                "api_key": SecretStr(LOCAL_DUMMY_KEY),
                "mode": env.get("IMR_LLM_MODE") or "TOOLS",
                "model_path": model_path,
                "timeout_s": 600.0,
                "concurrency": 1,
                "max_prompt_chars": 24_000,
                "letter_role": env.get("IMR_LLM_LETTER_ROLE") or "system",
                # One re-ask: on the 1.5B model every rescued answer came on the first re-ask (7
                # corpus/seed letters, 2026-12-06); a second one only added a long failed answer.
                "max_reasks": env.get("IMR_LLM_MAX_REASKS") or 1,
                **overrides,
            }
        )

    async def start(self, config: LLMConfig) -> LLMConfig:
        """Start the server unless ``config`` names one already running (``--base-url``)."""
        if config.base_url:
            return config
        from imr_llm.llm.local_server import LocalServer

        server = self.server = LocalServer(config.model_path)
        # Started on this thread, not in an executor: the server's PR_SET_PDEATHSIG follows the
        # thread that started it, and an executor thread may end before the batch does.
        try:
            server.start()
        except RuntimeError as exc:
            raise BackendError(str(exc)) from None
        return config.model_copy(update={"base_url": server.base_url, "model": server.model_name})

    async def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def status(self, base_url: str | None = None) -> BackendStatus:
        missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            return self._status(False, f"{', '.join(missing)} not installed; run: {INSTALL_HINT}")
        server = f"llama-cpp-python {md.version('llama_cpp_python')}"
        dest = default_model_path()
        if is_verified(dest, MODEL_SHA256, MODEL_SIZE):
            return self._status(True, f"{server}; model verified at {dest}")
        try:
            find_parts()
        except ModelError as e:
            return self._status(False, f"{server}; {e}")
        return self._status(
            True, f"{server}; model parts installed, assembled to {dest} on first use"
        )

    def _status(self, usable: bool, detail: str) -> BackendStatus:
        return BackendStatus(name=self.name, usable=usable, detail=detail)
