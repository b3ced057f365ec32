"""SQLite disk cache of completed, validated LLM responses.

Keyed by sha256 of (model, prompt template hash, response schema hash, input hash, mode), so a
re-run of the same letters with the same model and prompts makes no calls. The stored values are
model answers (they hold quotes from letters), so the directory is created 0700 and the database
0600. WAL journaling lets several processes share one file; within one process a lock makes the
connection safe to use from the event loop and from threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
DB_NAME = "llm-cache.sqlite3"


def default_cache_dir() -> Path:
    """``$IMR_LLM_CACHE_DIR``, else ``$XDG_CACHE_HOME/imr-llm``, else ``~/.cache/imr-llm``."""
    env = os.environ.get("IMR_LLM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "imr-llm"


def cache_key(
    *, model: str, template_sha256: str, schema_sha256: str, input_sha256: str, mode: str
) -> str:
    parts = [CACHE_FORMAT, model, template_sha256, schema_sha256, input_sha256, mode]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class NullCache:
    """The ``--no-cache`` stand-in: never hits, stores nothing."""

    enabled = False
    path: Path | None = None

    def get(self, key: str) -> str | None:
        return None

    def put(self, key: str, value: str, *, template: str = "") -> None:
        return None

    def close(self) -> None:
        return None


class ResponseCache:
    """Key -> JSON text of a validated response model."""

    enabled = True

    def __init__(self, directory: Path | str | None = None) -> None:
        directory = Path(directory) if directory is not None else default_cache_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
        self.path = directory / DB_NAME
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self.path.chmod(0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=30, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            " key TEXT PRIMARY KEY, template TEXT NOT NULL, created REAL NOT NULL, body TEXT NOT NULL)"
        )
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.chmod(0o600)

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str, *, template: str = "") -> None:
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO responses (key, template, created, body) VALUES (?, ?, ?, ?)",
                    (key, template, time.time(), value),
                )
        except sqlite3.Error as exc:
            log.warning(
                "llm cache write failed (%s); continuing without caching this answer",
                type(exc).__name__,
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_cache(
    enabled: bool = True, directory: Path | str | None = None
) -> ResponseCache | NullCache:
    """The disk cache, or the pass-through ``NullCache`` for ``--no-cache``."""
    return ResponseCache(directory) if enabled else NullCache()
