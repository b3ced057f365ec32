"""Transport retries: which failures are worth another attempt, and how long to wait.

Connection errors, timeouts, HTTP 408/409/429 and 5xx are retried with tenacity, at most
``max_attempts`` attempts in all. The wait honours the server's ``Retry-After`` /
``retry-after-ms`` (capped at ``retry_after_cap_s``, plus up to 10% jitter); otherwise it is
exponential backoff with equal jitter: half of ``min(backoff_base_s * 2**(n-1), backoff_max_s)``
fixed plus a random share of the other half.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from imr_llm.llm.config import LLMConfig
from imr_llm.llm.errors import root_error

_TRANSIENT_STATUS = {408, 409, 429}


def is_transient(exc: BaseException) -> bool:
    root = root_error(exc)
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


class wait_retry_after(wait_base):  # noqa: N801 (tenacity's naming for wait strategies)
    """The server's ``Retry-After`` (capped, with up to 10% jitter), else ``fallback``."""

    def __init__(self, cap_s: float, fallback: wait_base) -> None:
        self.cap_s = cap_s
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        response = getattr(root_error(exc), "response", None) if exc else None
        after = retry_after_seconds(getattr(response, "headers", None))
        if after is not None:
            return min(after, self.cap_s) * random.uniform(1.0, 1.1)
        return self.fallback(retry_state)


def backoff(config: LLMConfig) -> wait_base:
    """The wait between attempts (see the module docstring)."""
    half_base, half_max = config.backoff_base_s / 2, config.backoff_max_s / 2
    equal_jitter = wait_exponential(multiplier=half_base, max=half_max) + wait_random_exponential(
        multiplier=half_base, max=half_max
    )
    return wait_retry_after(config.retry_after_cap_s, equal_jitter)


def retrying(
    config: LLMConfig, before_sleep: Callable[[RetryCallState], None] | None = None
) -> AsyncRetrying:
    """A tenacity loop for one question's transport attempts; re-raises the last error."""
    return AsyncRetrying(
        stop=stop_after_attempt(config.max_attempts),
        wait=backoff(config),
        retry=retry_if_exception(is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
