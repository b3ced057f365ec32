"""``--llm openai``: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, ...)."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imr_llm.llm.backends.base import Backend, BackendStatus
from imr_llm.llm.config import LLMConfig
from imr_llm.llm.local_model import is_loopback


class OpenAIBackend(Backend):
    name = "openai"
    help = "an OpenAI-compatible endpoint (--base-url, --model, OPENAI_API_KEY)"

    def configure(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        model_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> LLMConfig:
        return LLMConfig.from_env(model=model, base_url=base_url, env=env, **overrides)

    def status(self, base_url: str | None = None) -> BackendStatus:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        key = os.environ.get("OPENAI_API_KEY")
        if not base_url and not key:
            return self._status(False, "set OPENAI_API_KEY or OPENAI_BASE_URL (--base-url)")
        endpoint = base_url or "https://api.openai.com/v1"
        keyinfo = "API key set" if key else "no API key"
        host = urllib.parse.urlsplit(endpoint).hostname or ""
        if not is_loopback(host):
            return self._status(True, f"{endpoint} ({keyinfo}; not contacted)")
        req = urllib.request.Request(endpoint.rstrip("/") + "/models")
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=3) as r:
                models = [m.get("id") for m in json.load(r).get("data", [])]
        except (OSError, ValueError, AttributeError) as e:
            return self._status(False, f"{endpoint} not reachable ({keyinfo}): {e}")
        listed = ", ".join(map(str, models)) or "none"
        return self._status(True, f"{endpoint} answers ({keyinfo}); models: {listed}")

    def _status(self, usable: bool, detail: str) -> BackendStatus:
        return BackendStatus(name=self.name, usable=usable, detail=detail)
