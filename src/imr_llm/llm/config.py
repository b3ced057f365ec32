"""``LLMConfig``: the settings of an OpenAI-compatible backend, from arguments and environment.

Each backend (``imr_llm.llm.backends``) builds its config through ``LLMConfig.from_cli``; the
``openai`` one reads the environment with ``from_env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from imr_llm.llm.errors import LLMConfigError
from imr_llm.llm.local_model import is_loopback as host_is_loopback

SUPPORTED_MODES = ("JSON_SCHEMA", "JSON", "MD_JSON", "TOOLS", "TOOLS_STRICT")
ASKS = ("checks", "extract", "summary")
"""What the LLM may be asked about a letter (``--ask``): ``checks``, the pass-2 questions, each
only where the rules leave something its answer can settle (a claim to check, a candidate);
``extract``, pass 1 (the case and items read again and compared with the rules); ``summary``,
the grounded summary."""
LOCAL_DUMMY_KEY = "sk-local-no-key"


class LLMConfig(BaseModel):
    """Settings of the backends that talk to an OpenAI-compatible server (``openai``, ``local``)."""

    model_config = ConfigDict(frozen=True)

    backend: str = "openai"
    """A registered backend name (``imr_llm.llm.backends``) other than ``none``."""
    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key: SecretStr = SecretStr("")
    mode: str = "JSON_SCHEMA"
    timeout_s: float = Field(120.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=20)
    max_reasks: int = Field(2, ge=0, le=10)
    max_tokens_per_call: int = Field(1024, ge=16)
    max_tokens_per_letter: int = Field(400_000, ge=1)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_prompt_chars: int = Field(60_000, ge=1000)
    temperature: float = Field(0.0, ge=0.0, le=0.0)
    extra_body: dict[str, Any] | None = None
    schema_in_extra_body: bool = False
    concurrency: int = Field(4, ge=1, le=256)
    cache: bool = True
    cache_dir: Path | None = None
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    retry_after_cap_s: float = Field(60.0, ge=0)
    model_path: Path | None = None
    ask: frozenset[str] = frozenset({"checks"})
    """Which of ``ASKS`` run (see there); a letter with nothing to settle costs no call."""
    findings: Literal["low", "verified"] = "low"
    """The severity of what the pass-2 questions decide (``--llm-findings``). ``low``: at most
    low, a lead for the auditor, because the bundled model's verified findings measured 3 of 9
    true on a blind authored set and 0 of 8 true by reading on the real letters of the corpus
    tune split, where its decision code had not been tuned (see README). ``verified``: the
    severity the decision code gives (high for a verified contradiction), for a model measured
    on a blind set."""
    letter_role: Literal["user", "system"] = "user"
    """Where the letter goes. ``user``: one user message, letter first and question last.
    ``system``: the letter (the rendered ``_letter.j2`` block) as the system message and the
    question as the user message. Chat templates that render tools or an instructor schema into
    the system turn (Qwen's, in TOOLS and JSON modes) put them after the system message's own
    text, so with ``system`` every question about a letter shares the letter as a prompt prefix
    that the server's cache reuses; with ``user`` the schema comes first and only questions with
    the same schema share it."""

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from imr_llm.llm.backends import BACKENDS

        if value not in BACKENDS or value == "none":
            names = ", ".join(n for n in BACKENDS if n != "none")
            raise ValueError(f"unknown LLM backend {value!r}; use one of {names}")
        return value

    @field_validator("ask", mode="before")
    @classmethod
    def _known_asks(cls, value: Any) -> frozenset[str]:
        return parse_ask(value)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in SUPPORTED_MODES:
            raise ValueError(
                f"unknown instructor mode {value!r}; use one of {', '.join(SUPPORTED_MODES)}"
            )
        return value

    @classmethod
    def from_env(
        cls,
        *,
        model: str | None = None,
        base_url: str | None = None,
        mode: str | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> LLMConfig:
        """Config for ``--llm openai``: arguments win over ``IMR_LLM_MODEL``, ``OPENAI_BASE_URL``,
        ``OPENAI_API_KEY``, ``IMR_LLM_MODE``, ``IMR_LLM_TIMEOUT``, ``IMR_LLM_MAX_TOKENS``,
        ``IMR_LLM_MAX_REASKS``, ``IMR_LLM_MAX_ATTEMPTS``, ``IMR_LLM_BACKOFF_S``. Raises ``LLMError('config')``."""
        env = os.environ if env is None else env
        model = model or env.get("IMR_LLM_MODEL")
        if not model:
            raise LLMConfigError("no model given: pass --model or set IMR_LLM_MODEL")
        base_url = base_url or env.get("OPENAI_BASE_URL") or None
        key = overrides.pop("api_key", None) or env.get("OPENAI_API_KEY")
        if not key:
            if base_url and is_loopback(base_url):
                key = LOCAL_DUMMY_KEY
            else:
                raise LLMConfigError(
                    "OPENAI_API_KEY is not set: export it (any non-empty value works for a "
                    "server that ignores keys)",
                )
        numeric = {
            "timeout_s": ("IMR_LLM_TIMEOUT", float),
            "max_tokens_per_call": ("IMR_LLM_MAX_TOKENS", int),
            "max_reasks": ("IMR_LLM_MAX_REASKS", int),
            "max_attempts": ("IMR_LLM_MAX_ATTEMPTS", int),
            "backoff_base_s": ("IMR_LLM_BACKOFF_S", float),
        }
        for name, (var, kind) in numeric.items():
            if name not in overrides and env.get(var):
                try:
                    overrides[name] = kind(env[var])
                except ValueError:
                    raise LLMConfigError(f"{var} must be a number") from None
        return cls.build(
            model=model,
            base_url=base_url,
            api_key=SecretStr(key),
            mode=mode or env.get("IMR_LLM_MODE") or "JSON_SCHEMA",
            **overrides,
        )

    @classmethod
    def from_cli(
        cls,
        *,
        backend: str,
        model: str | None = None,
        base_url: str | None = None,
        model_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> LLMConfig:
        """Config for ``--llm <backend>`` (see ``imr_llm.llm.backends``). A backend that runs its
        own server does not start it here: ``Backend.start`` does. Raises ``LLMConfigError``
        (a ValueError)."""
        from imr_llm.llm.backends import get_backend

        config = get_backend(backend).configure(
            model=model, base_url=base_url, model_path=model_path, env=env, **overrides
        )
        if config is None:
            raise LLMConfigError(f"--llm {backend} asks no model; it needs no LLM settings")
        return config

    @classmethod
    def build(cls, **settings: Any) -> LLMConfig:
        """``LLMConfig(**settings)`` with validation problems as one ``LLMConfigError``."""
        try:
            return cls(**settings)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise LLMConfigError(f"invalid LLM settings: {problems}") from None


def parse_ask(value: Any) -> frozenset[str]:
    """``"checks,summary"``, ``"all"`` or an iterable of ``ASKS`` names; raises ValueError."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip().lower() for n in names if n.strip()]
    if names == ["all"]:
        return frozenset(ASKS)
    unknown = [n for n in names if n not in ASKS]
    if unknown or not names:
        raise ValueError(
            f"unknown --ask {', '.join(unknown) or '(empty)'}; use a comma-separated list of "
            f"{', '.join(ASKS)}, or all"
        )
    return frozenset(names)


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``local_model.is_loopback`` takes a host)."""
    return host_is_loopback(urlparse(url).hostname or "")
