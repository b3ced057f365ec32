"""Log redaction for the libraries under the LLM client: openai logs whole request bodies at
DEBUG, instructor logs answers; nothing of a letter may reach a log line."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

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
