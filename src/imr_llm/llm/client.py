"""The OpenAI-compatible LLM client: openai + instructor, with retries, a disk cache and usage.

Layers, outermost first:
- tenacity retries transport faults (``imr_llm.llm.retry``); openai's own retries are off;
- instructor re-asks up to ``max_reasks`` times when the answer fails validation (bad JSON, schema,
  or a quote not found in the letter: ``context={"text": letter.text}``);
- openai sends the request at temperature 0.

Nothing here logs letter text, prompts or answers: our own log lines carry ids, counts and error
kinds only, and ``install_log_redaction`` (``imr_llm.llm.logs``) strips message arguments from
the openai, instructor and httpx loggers. Every failure ends as ``LLMError``
(``imr_llm.llm.errors``); settings are ``LLMConfig`` (``imr_llm.llm.config``).

One ``LLMClient`` serves a whole batch; create it inside the running event loop and close it with
``await client.aclose()`` (or ``async with LLMClient(config) as client``).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import instructor
import openai
from instructor.core.exceptions import InstructorError
from instructor.core.hooks import Hooks
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState

from imr_llm.llm import prompts
from imr_llm.llm.cache import NullCache, ResponseCache, cache_key, open_cache
from imr_llm.llm.config import LOCAL_DUMMY_KEY, LLMConfig
from imr_llm.llm.errors import (
    UNANSWERABLE,
    LLMConfigError,
    LLMError,
    describe_failure,
    parse_failure_reason,
    root_error,
)
from imr_llm.llm.logs import install_log_redaction
from imr_llm.llm.retry import retrying
from imr_llm.schemas import Letter, LLMUsage

__all__ = ["UNANSWERABLE", "CallStats", "LLMClient", "LLMConfig", "LLMError"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


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
        reason = parse_failure_reason(error)
        if reason not in self.reasons:
            self.reasons.append(reason)

    def hooks(self) -> Hooks:
        hooks = Hooks()
        hooks.on("completion:kwargs", self.on_request)
        hooks.on("completion:response", self.on_response)
        hooks.on("parse:error", self.on_parse_error)
        return hooks


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
        usage.questions[template_name] = usage.questions.get(template_name, 0) + 1
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
                type(root_error(exc)).__name__ if exc else "?",
                state.attempt_number,
                cfg.max_attempts,
                state.upcoming_sleep,
            )

        async for attempt in retrying(cfg, before_sleep):
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
        return describe_failure(
            exc,
            self.config,
            template,
            attempts=tally.attempts,
            requests=tally.requests,
            reasons=tally.reasons,
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
