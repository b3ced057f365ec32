"""The OpenAI-compatible LLM client: openai + instructor, with retries, a disk cache and usage.

Layers, outermost first:
- tenacity retries transport faults (connection errors, timeouts, 408/409/429, 5xx) with jittered
  exponential backoff, honouring ``Retry-After`` / ``retry-after-ms`` up to a cap, for at most
  ``max_attempts`` attempts; openai's own retries are off;
- instructor re-asks up to ``max_reasks`` times when the answer fails validation (bad JSON, schema,
  or a quote not found in the letter: ``context={"text": letter.text}``);
- openai sends the request at temperature 0.

Nothing here logs letter text, prompts or answers: our own log lines carry ids, counts and error
kinds only, and ``install_log_redaction`` strips message arguments from the openai, instructor and
httpx loggers (openai logs whole request bodies at DEBUG). Every failure ends as ``LLMError``.

One ``LLMClient`` serves a whole batch; create it inside the running event loop and close it with
``await client.aclose()`` (or ``async with LLMClient(config) as client``).
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import hashlib
import ipaddress
import json
import logging
import os
import random
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

import instructor
import openai
from instructor.core.exceptions import (
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
)
from instructor.core.hooks import Hooks
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from imr_llm.llm import prompts
from imr_llm.llm.cache import NullCache, ResponseCache, cache_key, open_cache
from imr_llm.schemas import ErrorKind, Letter, LLMUsage, RecordError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

SUPPORTED_MODES = ("JSON_SCHEMA", "JSON", "MD_JSON", "TOOLS", "TOOLS_STRICT")
LOCAL_DUMMY_KEY = "sk-local-no-key"


# LLMError kinds that mean "the model could not answer this question" (skip it, keep the
# letter), not "the service failed" (the letter becomes an llm_error record).
UNANSWERABLE = frozenset({"validation", "truncated"})


class LLMError(Exception):
    """A failed LLM question, typed by ``kind``; ``message`` says what to do next.

    Kinds: config, connection, timeout, rate_limited, server_error, auth, not_found, bad_request,
    validation, truncated, token_budget, prompt_too_long, unexpected. Messages never hold letter
    text.
    """

    def __init__(
        self, kind: str, message: str, *, template: str | None = None, status: int | None = None
    ):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.template = template
        self.status = status

    def record_error(self) -> RecordError:
        """The per-letter error for the record (``error.kind`` is ``llm_error``)."""
        return RecordError(kind=ErrorKind.llm_error, message=f"LLM {self.kind}: {self.message}")


class LLMConfigError(LLMError, ValueError):
    """Unusable LLM settings (a usage error: exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__("config", message)


class LLMConfig(BaseModel):
    """Settings of the ``openai`` (and ``local``) backends."""

    model_config = ConfigDict(frozen=True)

    backend: Literal["openai", "local"] = "openai"
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
    letter_role: Literal["user", "system"] = "user"
    """Where the letter goes. ``user``: one user message, letter first and question last.
    ``system``: the letter (the rendered ``_letter.j2`` block) as the system message and the
    question as the user message. Chat templates that render tools or an instructor schema into
    the system turn (Qwen's, in TOOLS and JSON modes) put them after the system message's own
    text, so with ``system`` every question about a letter shares the letter as a prompt prefix
    that the server's cache reuses; with ``user`` the schema comes first and only questions with
    the same schema share it."""

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
        try:
            return cls(
                model=model,
                base_url=base_url,
                api_key=SecretStr(key),
                mode=mode or env.get("IMR_LLM_MODE") or "JSON_SCHEMA",
                **overrides,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise LLMConfigError(f"invalid LLM settings: {problems}") from None

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
        """Config for ``--llm openai|local``. For ``local`` the server is not started here: the
        caller starts it and sets ``base_url``/``model`` with ``model_copy(update=...)``.
        Raises ``LLMConfigError`` (a ValueError)."""
        if backend == "openai":
            return cls.from_env(model=model, base_url=base_url, env=env, **overrides)
        if backend != "local":
            raise LLMConfigError(f"unknown LLM backend {backend!r}; use none, openai or local")
        if base_url and not is_loopback(base_url):
            raise LLMConfigError(
                "--llm local talks only to a server on 127.0.0.1; use --llm openai for others"
            )
        env = os.environ if env is None else env
        from imr_llm.llm.local_model import MODEL_NAME

        settings: dict[str, Any] = {
            "backend": "local",
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
        try:
            return cls(**settings)
        except ValidationError as exc:
            raise LLMConfigError(f"invalid LLM settings: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class CallStats:
    """One question: whether it came from the cache, HTTP requests made, re-asks, tokens."""

    template: str
    cached: bool = False
    requests: int = 0
    transport_retries: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@dataclass
class _Tally:
    """Filled by instructor hooks during one question; holds counts and error labels only."""

    requests: int = 0
    attempts: int = 0
    parse_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasons: list[str] = field(default_factory=list)

    def on_request(self, *args: Any, **kwargs: Any) -> None:
        self.requests += 1

    def on_response(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    def on_parse_error(self, error: Exception, **kwargs: Any) -> None:
        self.parse_errors += 1
        reason = _parse_failure_reason(error)
        if reason not in self.reasons:
            self.reasons.append(reason)

    def hooks(self) -> Hooks:
        hooks = Hooks()
        hooks.on("completion:kwargs", self.on_request)
        hooks.on("completion:response", self.on_response)
        hooks.on("parse:error", self.on_parse_error)
        return hooks


def _parse_failure_reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        kinds = set()
        for e in error.errors():
            if e["type"] == "json_invalid":
                kinds.add("invalid or truncated JSON")
            elif e["type"] == "value_error" and any(
                words in str(e.get("msg", "")) for words in ("quote not found", "quote occurs")
            ):
                kinds.add("a quote not found in the letter")
            elif e["type"] == "missing":
                kinds.add("missing fields")
            else:
                kinds.add("values outside the schema")
        return ", ".join(sorted(kinds)) or "schema"
    if isinstance(error, json.JSONDecodeError):
        return "invalid or truncated JSON"
    return "unparseable answer"


_TRANSIENT_STATUS = {408, 409, 429}


def _root(exc: BaseException) -> BaseException:
    """The openai error behind instructor's wrapper, if any."""
    if isinstance(exc, InstructorRetryException) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def _is_transient(exc: BaseException) -> bool:
    root = _root(exc)
    if isinstance(root, openai.APIConnectionError):
        return True
    if isinstance(root, openai.APIStatusError):
        return root.status_code in _TRANSIENT_STATUS or root.status_code >= 500
    return False


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date), else None."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


_SAFE_CODE = re.compile(r"^[\w.:-]{1,64}$")


def _safe_code(value: Any) -> str | None:
    return value if isinstance(value, str) and _SAFE_CODE.match(value) else None


class LLMClient:
    """Asks one typed question at a time about a letter; see the module docstring."""

    def __init__(
        self, config: LLMConfig, *, cache: ResponseCache | NullCache | None = None
    ) -> None:
        install_log_redaction()
        self.config = config
        self._owns_cache = cache is None
        if cache is None:
            try:
                cache = open_cache(config.cache, config.cache_dir)
            except (OSError, sqlite3.Error) as exc:
                raise LLMConfigError(
                    f"cannot open the LLM cache ({type(exc).__name__}); set IMR_LLM_CACHE_DIR to a "
                    "writable directory or pass --no-cache"
                ) from None
        self.cache = cache
        self._openai = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key.get_secret_value() or LOCAL_DUMMY_KEY,
            timeout=config.timeout_s,
            max_retries=0,
        )
        self._instructor = instructor.from_openai(self._openai, mode=instructor.Mode[config.mode])
        self._usage: dict[tuple[str, str], LLMUsage] = {}
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections and, when this client opened it, the cache."""
        await self._openai.close()
        if self._owns_cache:
            self.cache.close()

    def usage_for(self, letter: Letter) -> LLMUsage:
        """A snapshot of the letter's usage so far (the record's ``llm`` block)."""
        return self._entry(letter).model_copy(deep=True)

    def finish_letter(self, letter: Letter) -> LLMUsage:
        """The letter's final usage; forgets the letter (call once per letter in a batch)."""
        entry = self._usage.pop((letter.letter_id, letter.sha256), None)
        return entry if entry is not None else self._new_usage()

    def _new_usage(self) -> LLMUsage:
        return LLMUsage(backend=self.config.backend, model=self.config.model)

    def _entry(self, letter: Letter) -> LLMUsage:
        key = (letter.letter_id, letter.sha256)
        entry = self._usage.get(key)
        if entry is None:
            entry = self._usage[key] = self._new_usage()
        return entry

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem = asyncio.Semaphore(self.config.concurrency)
            self._sem_loop = loop
        return self._sem

    async def ask(
        self,
        response_model: type[M],
        template_name: str,
        *,
        letter: Letter,
        variables: dict[str, Any],
    ) -> tuple[M, CallStats]:
        """Render ``prompts/<template_name>.j2`` with ``variables``, answer it as
        ``response_model`` (from the cache when possible), and add the usage to the letter's
        account. Raises ``LLMError``."""
        prompt = prompts.load(template_name)
        usage = self._entry(letter)
        usage.prompt_versions[template_name] = prompt.tag
        content = prompt.render(**variables)
        if len(content) > self.config.max_prompt_chars:
            raise LLMError(
                "prompt_too_long",
                f"the '{template_name}' prompt has {len(content)} characters, over "
                f"max_prompt_chars={self.config.max_prompt_chars}; use a model with a larger "
                "context and raise the limit",
                template=template_name,
            )
        messages = self._messages(content, variables)
        key = cache_key(
            model=self.config.model,
            template_sha256=prompt.sha256,
            schema_sha256=_schema_sha256(response_model),
            input_sha256=self._input_sha256(messages),
            mode=self.config.mode,
        )
        context = {"text": letter.text}
        stats = CallStats(template=template_name)
        cached = self.cache.get(key)
        if cached is not None:
            try:
                value = response_model.model_validate_json(cached, context=context)
            except ValidationError:
                log.debug(
                    "llm cache entry unusable letter=%s template=%s",
                    letter.letter_id,
                    template_name,
                )
            else:
                usage.cache_hits += 1
                stats.cached = True
                log.debug("llm cache hit letter=%s template=%s", letter.letter_id, template_name)
                return value, stats
        spent = usage.prompt_tokens + usage.completion_tokens
        if spent >= self.config.max_tokens_per_letter:
            raise LLMError(
                "token_budget",
                f"this letter has used {spent} tokens, max_tokens_per_letter="
                f"{self.config.max_tokens_per_letter}; raise the limit or check for a model "
                "that loops",
                template=template_name,
            )
        tally = _Tally()
        t0 = time.monotonic()
        try:
            value = await self._call(
                response_model, messages, context, tally, letter.letter_id, template_name
            )
        except (openai.OpenAIError, InstructorError) as exc:
            error = self._error(exc, tally, template_name)
            log.warning(
                "llm question failed letter=%s template=%s kind=%s requests=%d",
                letter.letter_id,
                template_name,
                error.kind,
                tally.requests,
            )
            raise error from None
        finally:
            stats.requests = tally.requests
            stats.transport_retries = max(tally.attempts - 1, 0)
            stats.reasks = max(tally.requests - tally.attempts, 0)
            stats.prompt_tokens = tally.prompt_tokens
            stats.completion_tokens = tally.completion_tokens
            stats.seconds = time.monotonic() - t0
            if tally.requests:
                usage.calls += 1
                usage.retries += tally.requests - 1
                usage.prompt_tokens += tally.prompt_tokens
                usage.completion_tokens += tally.completion_tokens
        self.cache.put(key, value.model_dump_json(), template=template_name)
        log.debug(
            "llm answered letter=%s template=%s requests=%d tokens=%d/%d",
            letter.letter_id,
            template_name,
            stats.requests,
            stats.prompt_tokens,
            stats.completion_tokens,
        )
        return value, stats

    async def _call(
        self,
        response_model: type[M],
        messages: list[ChatCompletionMessageParam],
        context: dict[str, Any],
        tally: _Tally,
        letter_id: str,
        template_name: str,
    ) -> M:
        cfg = self.config
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "temperature": cfg.temperature,
            cfg.max_tokens_param: cfg.max_tokens_per_call,
        }
        extra = dict(cfg.extra_body or {})
        if cfg.schema_in_extra_body:
            schema = _json_schema(response_model)
            extra["response_format"] = {"type": "json_object", "schema": schema}
        if extra:
            kwargs["extra_body"] = extra

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "llm transient error letter=%s template=%s error=%s attempt=%d/%d wait=%.2fs",
                letter_id,
                template_name,
                type(_root(exc)).__name__ if exc else "?",
                state.attempt_number,
                cfg.max_attempts,
                state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(cfg.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                tally.attempts = attempt.retry_state.attempt_number
                async with self._semaphore():
                    return await self._instructor.create(
                        response_model=_instructor_model(response_model),
                        messages=list(messages),
                        max_retries=cfg.max_reasks,
                        context=context,
                        strict=False,
                        hooks=tally.hooks(),
                        **kwargs,
                    )
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _wait(self, state: RetryCallState) -> float:
        cfg = self.config
        exc = state.outcome.exception() if state.outcome else None
        root = _root(exc) if exc else None
        response = getattr(root, "response", None)
        after = retry_after_seconds(getattr(response, "headers", None))
        if after is not None:
            return min(after, cfg.retry_after_cap_s) * random.uniform(1.0, 1.1)
        delay = min(cfg.backoff_base_s * 2 ** (state.attempt_number - 1), cfg.backoff_max_s)
        return delay / 2 + random.uniform(0, delay / 2)

    def _messages(
        self, content: str, variables: dict[str, Any]
    ) -> list[ChatCompletionMessageParam]:
        """The chat messages for one rendered prompt (see ``LLMConfig.letter_role``). A prompt
        that goes on with more letter text after the shared head (``items_list``) stays one
        user message, so the letter is never split around the schema."""
        if self.config.letter_role == "system" and "letter_head" in variables:
            head = prompts.load("_letter").render(**variables)
            rest = content[len(head) :]
            close = "</letter>"
            if content.startswith(head) and rest.lstrip().startswith(close):
                end = len(content) - len(rest.lstrip()) + len(close)
                return [
                    {"role": "system", "content": content[:end]},
                    {"role": "user", "content": content[end:].lstrip("\n")},
                ]
        return [{"role": "user", "content": content}]

    def _input_sha256(self, messages: list[ChatCompletionMessageParam]) -> str:
        cfg = self.config
        payload = {
            "messages": messages,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens_per_call,
            "extra_body": cfg.extra_body,
            "schema_in_extra_body": cfg.schema_in_extra_body,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def _error(self, exc: BaseException, tally: _Tally, template: str) -> LLMError:
        cfg = self.config
        root = _root(exc)
        where = cfg.base_url or "the OpenAI API"
        attempts = f"{tally.attempts} attempt{'s' if tally.attempts != 1 else ''}"
        if isinstance(exc, IncompleteOutputException) or isinstance(
            root, IncompleteOutputException
        ):
            return LLMError(
                "truncated",
                f"the answer to '{template}' was cut off at max_tokens_per_call="
                f"{cfg.max_tokens_per_call} (finish_reason=length); raise IMR_LLM_MAX_TOKENS or "
                "use a model that does not loop",
                template=template,
            )
        if isinstance(root, openai.APITimeoutError):
            return LLMError(
                "timeout",
                f"{where} did not answer '{template}' within {cfg.timeout_s:g}s ({attempts}); check "
                "that the server is up and not overloaded, lower --concurrency, or raise IMR_LLM_TIMEOUT",
                template=template,
            )
        if isinstance(root, openai.APIConnectionError):
            return LLMError(
                "connection",
                f"could not reach {where} ({attempts}); check --base-url and that the server is running",
                template=template,
            )
        if isinstance(root, openai.APIStatusError):
            status = root.status_code
            code = _safe_code(getattr(root, "code", None)) or _safe_code(
                getattr(root, "type", None)
            )
            detail = f"HTTP {status}" + (f" ({code})" if code else "")
            if status == 429:
                kind, hint = (
                    "rate_limited",
                    "lower --concurrency or retry later; answers so far are cached",
                )
            elif status >= 500:
                kind, hint = (
                    "server_error",
                    "check the server's log; if it rejects the structured-output request, pick another "
                    f"mode (IMR_LLM_MODE=TOOLS or JSON; now {cfg.mode})",
                )
            elif status in (401, 403):
                kind, hint = "auth", "check OPENAI_API_KEY"
            elif status == 404:
                kind, hint = "not_found", "check --base-url (it usually ends in /v1) and --model"
            else:
                kind, hint = (
                    "bad_request",
                    f"the server refused the request: check --model and the mode (IMR_LLM_MODE, now "
                    f"{cfg.mode}); if the letter is too long for the model's context, use a larger model",
                )
            return LLMError(
                kind,
                f"{where} answered {detail} to '{template}' ({attempts}); {hint}",
                template=template,
                status=status,
            )
        if isinstance(exc, InstructorRetryException) and tally.parse_errors:
            reasons = "; ".join(tally.reasons) or "schema"
            return LLMError(
                "validation",
                f"the answer to '{template}' failed validation on all {tally.requests} tries ({reasons}); "
                "try a larger model, another mode (IMR_LLM_MODE), or more re-asks (IMR_LLM_MAX_REASKS)",
                template=template,
            )
        return LLMError(
            "unexpected",
            f"{type(root).__name__} while asking '{template}'; rerun this letter alone to reproduce",
            template=template,
        )


@cache
def _schema_sha256(model: type[BaseModel]) -> str:
    schema = json.dumps(_json_schema(model), sort_keys=True)
    return hashlib.sha256(schema.encode()).hexdigest()


@cache
def _json_schema_cached(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model.model_json_schema()``, generated once per model (a fresh copy each call)."""
    return copy.deepcopy(_json_schema_cached(model))


@cache
def _instructor_model(model: type[M]) -> type[M]:
    """The response model as instructor sends it, built once per model instead of per call.

    For a plain pydantic model instructor's ``create`` builds a ``ResponseSchema`` subclass of it
    (``instructor.openai_schema``) and regenerates its JSON schema on every call; that is a large
    part of a call's CPU. Passing the subclass built here makes instructor use it as is (it only
    wraps models that are not ``ResponseSchema`` yet), and its ``model_json_schema`` is computed
    once per set of arguments and handed out as a deep copy, so the request, the parsing and
    the returned instance are what instructor would have made itself.
    """
    from instructor.v2.core.function_calls import ResponseSchema

    if not isinstance(model, type) or issubclass(model, ResponseSchema):
        return model
    wrapped = instructor.openai_schema(model)
    bound: Any = wrapped.model_json_schema  # a bound classmethod; typed as a plain method
    generate = bound.__func__
    schemas: dict[tuple, dict[str, Any]] = {}

    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items())))
        try:
            schema = schemas.get(key)
        except TypeError:  # unhashable arguments: no caching
            return generate(cls, *args, **kwargs)
        if schema is None:
            schema = schemas[key] = generate(cls, *args, **kwargs)
        return copy.deepcopy(schema)

    # Deliberately replaces the classmethod on this generated subclass (see the docstring).
    wrapped.model_json_schema = classmethod(model_json_schema)  # type: ignore[method-assign, assignment]
    return wrapped


_REDACTED_LOGGERS = frozenset({"openai", "instructor", "httpx", "httpx2", "httpcore", "httpcore2"})
_INSTRUCTOR_RETRY_LOGGER = "instructor.v2.retry"
_redaction_installed = False


def install_log_redaction() -> None:
    """Strip message arguments, exception text and long free text from log records of the
    openai, instructor and httpx loggers, which would otherwise carry prompts and answers, and
    demote instructor's retry-loop errors (this client retries and reports them) to DEBUG.
    Idempotent; wraps the current ``logging`` record factory."""
    global _redaction_installed
    if _redaction_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.split(".", 1)[0] in _REDACTED_LOGGERS:
            _redact(record)
        return record

    logging.setLogRecordFactory(factory)
    retry_logger = logging.getLogger(_INSTRUCTOR_RETRY_LOGGER)

    def demote(record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return retry_logger.isEnabledFor(logging.DEBUG)

    retry_logger.addFilter(demote)
    _redaction_installed = True


def _safe_arg(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    return "[redacted]"


def _redact(record: logging.LogRecord) -> None:
    msg = record.msg if isinstance(record.msg, str) else f"<{type(record.msg).__name__}>"
    if record.args:
        if isinstance(record.args, Mapping):
            record.args = {k: _safe_arg(v) for k, v in record.args.items()}
        else:
            record.args = tuple(_safe_arg(a) for a in record.args)
    else:
        head, sep, rest = msg.partition(":")
        if sep and rest.strip():
            msg = f"{head}: [redacted]" if len(head) <= 80 else "[redacted]"
        elif len(msg) > 120:
            msg = "[redacted]"
    record.msg = msg
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None
