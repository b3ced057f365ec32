"""``LLMError``: every way an LLM question can fail, typed by ``kind``, with what to do next.

``describe_failure`` turns an openai / instructor exception into one. Messages never hold letter
text, prompts or answers. Importing this module does not load openai or instructor (the CLI
reads the backends registry, which needs ``LLMConfigError``, at start-up).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from imr_llm.schemas import ErrorKind, RecordError

if TYPE_CHECKING:
    from imr_llm.llm.config import LLMConfig

UNANSWERABLE = frozenset({"validation", "truncated"})
"""LLMError kinds that mean "the model could not answer this question" (skip it, keep the
letter), not "the service failed" (the letter becomes an llm_error record)."""


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


def root_error(exc: BaseException) -> BaseException:
    """The openai error behind instructor's wrapper, if any."""
    from instructor.core.exceptions import InstructorRetryException

    if isinstance(exc, InstructorRetryException) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def parse_failure_reason(error: Exception) -> str:
    """What was wrong with an answer that failed validation, in words without its content."""
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


_SAFE_CODE = re.compile(r"^[\w.:-]{1,64}$")


def _safe_code(value: Any) -> str | None:
    return value if isinstance(value, str) and _SAFE_CODE.match(value) else None


def describe_failure(
    exc: BaseException,
    config: LLMConfig,
    template: str,
    *,
    attempts: int,
    requests: int,
    reasons: list[str],
) -> LLMError:
    """The ``LLMError`` for a question that failed with ``exc`` after ``attempts`` transport
    attempts and ``requests`` HTTP requests; ``reasons`` are the answers' validation failures."""
    import openai
    from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException

    cfg = config
    root = root_error(exc)
    where = cfg.base_url or "the OpenAI API"
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, IncompleteOutputException) or isinstance(root, IncompleteOutputException):
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
            f"{where} did not answer '{template}' within {cfg.timeout_s:g}s ({tries}); check "
            "that the server is up and not overloaded, lower --concurrency, or raise IMR_LLM_TIMEOUT",
            template=template,
        )
    if isinstance(root, openai.APIConnectionError):
        return LLMError(
            "connection",
            f"could not reach {where} ({tries}); check --base-url and that the server is running",
            template=template,
        )
    if isinstance(root, openai.APIStatusError):
        status = root.status_code
        code = _safe_code(getattr(root, "code", None)) or _safe_code(getattr(root, "type", None))
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
            f"{where} answered {detail} to '{template}' ({tries}); {hint}",
            template=template,
            status=status,
        )
    if isinstance(exc, InstructorRetryException) and reasons:
        return LLMError(
            "validation",
            f"the answer to '{template}' failed validation on all {requests} tries "
            f"({'; '.join(reasons)}); try a larger model, another mode (IMR_LLM_MODE), or more "
            "re-asks (IMR_LLM_MAX_REASKS)",
            template=template,
        )
    return LLMError(
        "unexpected",
        f"{type(root).__name__} while asking '{template}'; rerun this letter alone to reproduce",
        template=template,
    )
