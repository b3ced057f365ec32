"""``imr-llm doctor``: which ``--llm`` backends can run here, and why not.

Makes no network call except a short probe of an OpenAI-compatible server on loopback.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import urllib.parse
import urllib.request

from pydantic import BaseModel, ConfigDict

from imr_llm.llm.local_model import (
    INSTALL_HINT,
    MODEL_SHA256,
    MODEL_SIZE,
    ModelError,
    default_model_path,
    find_parts,
    is_loopback,
    is_verified,
)

_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


class BackendStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    usable: bool
    detail: str


def _openai(base_url: str | None) -> BackendStatus:
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    key = os.environ.get("OPENAI_API_KEY")
    if not base_url and not key:
        return BackendStatus(
            name="openai", usable=False, detail="set OPENAI_API_KEY or OPENAI_BASE_URL (--base-url)"
        )
    endpoint = base_url or "https://api.openai.com/v1"
    keyinfo = "API key set" if key else "no API key"
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if not is_loopback(host):
        return BackendStatus(
            name="openai", usable=True, detail=f"{endpoint} ({keyinfo}; not contacted)"
        )
    req = urllib.request.Request(endpoint.rstrip("/") + "/models")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=3) as r:
            models = [m.get("id") for m in json.load(r).get("data", [])]
    except (OSError, ValueError, AttributeError) as e:
        return BackendStatus(
            name="openai", usable=False, detail=f"{endpoint} not reachable ({keyinfo}): {e}"
        )
    return BackendStatus(
        name="openai",
        usable=True,
        detail=f"{endpoint} answers ({keyinfo}); models: {', '.join(map(str, models)) or 'none'}",
    )


def _local() -> BackendStatus:
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return BackendStatus(
            name="local",
            usable=False,
            detail=f"{', '.join(missing)} not installed; run: {INSTALL_HINT}",
        )
    server = f"llama-cpp-python {md.version('llama_cpp_python')}"
    dest = default_model_path()
    if is_verified(dest, MODEL_SHA256, MODEL_SIZE):
        return BackendStatus(
            name="local", usable=True, detail=f"{server}; model verified at {dest}"
        )
    try:
        find_parts()
    except ModelError as e:
        return BackendStatus(name="local", usable=False, detail=f"{server}; {e}")
    return BackendStatus(
        name="local",
        usable=True,
        detail=f"{server}; model parts installed, assembled to {dest} on first use",
    )


def diagnose(base_url: str | None = None) -> list[BackendStatus]:
    """Status of each backend; ``base_url`` overrides ``$OPENAI_BASE_URL`` for ``openai``."""
    return [
        BackendStatus(name="none", usable=True, detail="rules only; works offline"),
        _openai(base_url),
        _local(),
    ]


def render(statuses: list[BackendStatus]) -> str:
    width = max(len(s.name) for s in statuses)
    return "\n".join(
        f"{s.name:<{width}}  {'ok ' if s.usable else 'no '}  {s.detail}" for s in statuses
    )
