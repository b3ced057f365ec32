"""The review store: an audit folder's verdicts, in SQLite beside results.jsonl (DESIGN §7b).

* One file, ``review.sqlite3``, created readable by the owner only (0600; SQLite gives its
  ``-wal``/``-shm`` files the same mode), in WAL mode with ``synchronous=FULL``: a verdict is on
  disk when the call that recorded it returns.
* ``events`` is append-only: triggers refuse every UPDATE and DELETE, and nothing here ever
  truncates, vacuums, recreates or deletes the file. The current state (a finding's verdict, a
  letter's reviewed flag) is the latest event for it; earlier ones stay, so no verdict is lost
  or silently overwritten, and two sessions writing at once both land (``BEGIN IMMEDIATE``,
  a busy timeout, one connection per operation).
* ``seen`` remembers when each finding id was first seen, and how many events existed then,
  so a re-audit can mark the findings that appeared after reviewing began.

Errors a person can act on (a corrupt file, a locked one, a store from a newer imr-llm) raise
``ReviewStoreError`` with a message that says what to do; the file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STORE_NAME = "review.sqlite3"
STORE_VERSION = 1
VERDICTS = ("confirmed", "dismissed", "unsure")
LETTER_STATES = ("reviewed", "unreviewed")
KINDS = ("verdict", "added", "letter")
MAX_REVIEWER = 80
MAX_REASON = 200
MAX_NOTE = 4000
MAX_QUOTE = 4000
_SQLITE_MAGIC = b"SQLite format 3\x00"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  reviewer TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('verdict', 'added', 'letter')),
  letter_id TEXT NOT NULL,
  finding_id TEXT,
  verdict TEXT,
  reason TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_letter ON events (letter_id);
CREATE INDEX IF NOT EXISTS events_finding ON events (finding_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'review events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'review events are append-only'); END;
CREATE TABLE IF NOT EXISTS seen (
  finding_id TEXT PRIMARY KEY,
  letter_id TEXT NOT NULL,
  first_at TEXT NOT NULL,
  after_seq INTEGER NOT NULL
);
"""


class ReviewStoreError(Exception):
    """The store cannot be used; ``message`` says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ReviewInputError(ValueError):
    """A verdict or added finding that is not well-formed (bad verdict, empty reviewer...)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def added_finding_id(letter_id: str, code: str, decision_index: int | None, quote: str, at: str):
    """An auditor-added finding's id: ``a`` + 15 hex digits, unique per (letter, code, item,
    quote, time), so it never collides with a tool finding's 16-digit id."""
    raw = "\x1f".join(
        [letter_id, code, "" if decision_index is None else str(decision_index), quote, at]
    )
    return "a" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:15]


@dataclass
class Event:
    seq: int
    at: str
    reviewer: str
    kind: str
    letter_id: str
    finding_id: str | None
    verdict: str | None
    reason: str
    note: str
    data: dict

    def as_dict(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at,
            "reviewer": self.reviewer,
            "kind": self.kind,
            "letter_id": self.letter_id,
            "finding_id": self.finding_id,
            "verdict": self.verdict,
            "reason": self.reason,
            "note": self.note,
            "data": self.data,
        }


@dataclass
class ReviewState:
    """The latest of every event, folded: what the app shows and export writes."""

    verdicts: dict[str, Event] = field(default_factory=dict)  # finding id -> latest verdict
    history: dict[str, int] = field(default_factory=dict)  # finding id -> verdict events
    added: dict[str, Event] = field(default_factory=dict)  # added finding id -> its event
    letters: dict[str, Event] = field(default_factory=dict)  # letter id -> latest letter event
    last_seq: int = 0
    events: int = 0

    def letter_reviewed(self, letter_id: str) -> bool:
        ev = self.letters.get(letter_id)
        return ev is not None and ev.verdict == "reviewed"


def _row_event(row: tuple) -> Event:
    seq, at, reviewer, kind, letter_id, finding_id, verdict, reason, note, data = row
    try:
        payload = json.loads(data or "{}")
    except json.JSONDecodeError:
        payload = {}
    return Event(seq, at, reviewer, kind, letter_id, finding_id, verdict, reason, note, payload)


class ReviewStore:
    """An audit folder's review store. Every method opens its own connection, so one store
    object serves many threads (the web app's request threads) and many processes at once."""

    def __init__(self, path: Path | str, *, create: bool = True, timeout: float = 10.0):
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._open(create)

    # ---------- opening ----------

    def _corrupt(self, why: str) -> ReviewStoreError:
        return ReviewStoreError(
            f"{self.path} is not a usable review store ({why}); it was left exactly as it is. "
            f"Move it aside (mv {self.path.name} {self.path.name}.damaged) and run again to "
            "start a new store, or restore it from a backup"
        )

    def _locked(self) -> ReviewStoreError:
        return ReviewStoreError(
            f"{self.path} is locked by another program (another imr-llm review, or a tool "
            f"holding it open) and stayed locked for {self.timeout:g} s; close that program "
            "and try again (nothing was lost)"
        )

    def _open(self, create: bool) -> None:
        exists = self.path.exists()
        if exists and not self.path.is_file():
            raise ReviewStoreError(f"{self.path} is not a file; move it aside and run again")
        if not exists and not create:
            raise ReviewStoreError(
                f"{self.path.parent} has no review store ({self.path.name}): review the audit "
                f"first with imr-llm review {self.path.parent}"
            )
        if exists:
            with open(self.path, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
            if head and head != _SQLITE_MAGIC:
                raise self._corrupt("not an SQLite database")
            if stat_mode(self.path) & 0o077:
                with contextlib.suppress(OSError):
                    os.chmod(self.path, 0o600)
        else:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise ReviewStoreError(
                    f"cannot create the review store {self.path} ({exc.strerror}); the audit "
                    "folder must be writable by you"
                ) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._initialise()
                return
            except sqlite3.OperationalError as exc:
                # Two sessions opening a new store at once: switching to WAL and creating the
                # tables take locks SQLite may refuse at once instead of waiting on; retry.
                if not _is_locked(exc) or time.monotonic() > deadline:
                    if _is_locked(exc):
                        raise self._locked() from None
                    raise self._corrupt(str(exc)) from None
                time.sleep(0.05)

    def _initialise(self) -> None:
        """Switch to WAL, check integrity and create the tables; sqlite3.OperationalError for a
        lock is left to the caller to retry."""
        try:
            with self._connect() as db:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise self._corrupt(f"journal mode {mode!r}, WAL expected")
                check = db.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise self._corrupt(f"integrity check: {check}")
                db.executescript(_DDL)
                row = db.execute("SELECT value FROM meta WHERE key = 'store_version'").fetchone()
                if row is None:
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('store_version', ?), ('created', ?)",
                        (str(STORE_VERSION), now_iso()),
                    )
                elif int(row[0]) > STORE_VERSION:
                    raise ReviewStoreError(
                        f"{self.path} was written by a newer imr-llm (store version {row[0]}, "
                        f"this one reads {STORE_VERSION}); upgrade imr-llm to review this folder"
                    )
        except ReviewStoreError:
            raise
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise
            raise self._corrupt(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            db.execute("PRAGMA synchronous = FULL")
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: takes the write lock up front, waiting up to
        the busy timeout for another writer); errors become ReviewStoreError."""
        try:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise self._locked() from None
            raise ReviewStoreError(f"{self.path}: cannot write ({exc}); nothing was lost") from None
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            with self._connect() as db:
                return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise self._locked() from None
            raise self._corrupt(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None

    # ---------- writing ----------

    def _append(self, db: sqlite3.Connection, **ev) -> Event:
        at = ev.get("at") or now_iso()
        data = json.dumps(ev.get("data") or {}, ensure_ascii=False, separators=(",", ":"))
        cur = db.execute(
            "INSERT INTO events (at, reviewer, kind, letter_id, finding_id, verdict, reason, "
            "note, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                at,
                ev["reviewer"],
                ev["kind"],
                ev["letter_id"],
                ev.get("finding_id"),
                ev.get("verdict"),
                ev.get("reason") or "",
                ev.get("note") or "",
                data,
            ),
        )
        seq = cur.lastrowid
        assert seq is not None  # always set after a successful INSERT
        return Event(
            seq,
            at,
            ev["reviewer"],
            ev["kind"],
            ev["letter_id"],
            ev.get("finding_id"),
            ev.get("verdict"),
            ev.get("reason") or "",
            ev.get("note") or "",
            ev.get("data") or {},
        )

    def record_verdict(
        self,
        *,
        letter_id: str,
        finding_id: str,
        verdict: str,
        reviewer: str,
        reason: str = "",
        note: str = "",
        finding: dict | None = None,
        base_seq: int | None = None,
    ) -> tuple[Event, Event | None]:
        """Append a verdict on one finding. ``finding`` is a snapshot of it (code, item,
        evidence), kept so a verdict whose finding later disappears can still be shown.
        ``base_seq`` is the seq of the verdict the reviewer saw (0: none): when another verdict
        was recorded in between, it is returned as the second value (both are kept)."""
        reviewer = _clean_reviewer(reviewer)
        if verdict not in VERDICTS:
            raise ReviewInputError(f"verdict must be one of {', '.join(VERDICTS)}")
        _check_text("reason", reason, MAX_REASON)
        _check_text("note", note, MAX_NOTE)
        if not finding_id or len(finding_id) > 64:
            raise ReviewInputError("finding_id is required")
        with self._write() as db:
            row = db.execute(
                "SELECT seq, at, reviewer, kind, letter_id, finding_id, verdict, reason, note, "
                "data FROM events WHERE kind = 'verdict' AND finding_id = ? "
                "ORDER BY seq DESC LIMIT 1",
                (finding_id,),
            ).fetchone()
            before = _row_event(row) if row else None
            ev = self._append(
                db,
                reviewer=reviewer,
                kind="verdict",
                letter_id=letter_id,
                finding_id=finding_id,
                verdict=verdict,
                reason=reason.strip(),
                note=note.strip(),
                data={"finding": finding} if finding else {},
            )
        conflict = None
        if base_seq is not None and before is not None and before.seq != base_seq:
            conflict = before
        return ev, conflict

    def add_finding(
        self,
        *,
        letter_id: str,
        code: str,
        decision_index: int | None,
        evidence: list[dict],
        reviewer: str,
        note: str = "",
        letter_sha256: str | None = None,
        severity: str | None = None,
    ) -> Event:
        """Append a finding the tool missed, quoted from the letter."""
        from imr_llm.codes import SPECS, Code

        reviewer = _clean_reviewer(reviewer)
        try:
            spec = SPECS[Code(code)]
        except ValueError:
            raise ReviewInputError(f"unknown finding code {code!r}") from None
        if decision_index is not None and (
            not isinstance(decision_index, int) or decision_index < 0
        ):
            raise ReviewInputError("decision_index must be a 0-based item index or null")
        clean: list[dict[str, Any]] = []
        for e in evidence or []:
            quote = str(e.get("quote") or "")
            if not quote.strip():
                continue
            _check_text("quote", quote, MAX_QUOTE)
            start, end = int(e.get("start", -1)), int(e.get("end", -1))
            clean.append({"quote": quote, "start": start, "end": end})
        if not clean:
            raise ReviewInputError("an added finding needs a quote: select text in the letter")
        _check_text("note", note, MAX_NOTE)
        at = now_iso()
        fid = added_finding_id(letter_id, spec.code.value, decision_index, clean[0]["quote"], at)
        with self._write() as db:
            return self._append(
                db,
                at=at,
                reviewer=reviewer,
                kind="added",
                letter_id=letter_id,
                finding_id=fid,
                verdict="confirmed",
                note=note.strip(),
                data={
                    "code": spec.code.value,
                    "severity": severity or spec.default.value,
                    "decision_index": decision_index,
                    "evidence": clean,
                    "letter_sha256": letter_sha256,
                },
            )

    def mark_letter(
        self, *, letter_id: str, reviewed: bool, reviewer: str, note: str = ""
    ) -> Event:
        reviewer = _clean_reviewer(reviewer)
        _check_text("note", note, MAX_NOTE)
        with self._write() as db:
            return self._append(
                db,
                reviewer=reviewer,
                kind="letter",
                letter_id=letter_id,
                verdict="reviewed" if reviewed else "unreviewed",
                note=note.strip(),
            )

    def note_seen(self, findings: Iterable[tuple[str, str]]) -> int:
        """Remember (finding id, letter id) pairs not seen before; returns how many were new.
        ``after_seq`` is the number of the last event when first seen: above 0 means the
        finding appeared after reviewing had begun."""
        items = list(findings)
        if not items:
            return 0
        with self._write() as db:
            last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            before = db.total_changes
            at = now_iso()
            db.executemany(
                "INSERT OR IGNORE INTO seen (finding_id, letter_id, first_at, after_seq) "
                "VALUES (?, ?, ?, ?)",
                [(fid, lid, at, last) for fid, lid in items],
            )
            return db.total_changes - before

    # ---------- reading ----------

    def events(self, since: int = 0) -> list[Event]:
        rows = self._read(
            "SELECT seq, at, reviewer, kind, letter_id, finding_id, verdict, reason, note, data "
            "FROM events WHERE seq > ? ORDER BY seq",
            (since,),
        )
        return [_row_event(r) for r in rows]

    def state(self) -> ReviewState:
        st = ReviewState()
        for ev in self.events():
            st.events += 1
            st.last_seq = ev.seq
            if ev.kind == "verdict" and ev.finding_id:
                st.verdicts[ev.finding_id] = ev
                st.history[ev.finding_id] = st.history.get(ev.finding_id, 0) + 1
            elif ev.kind == "added" and ev.finding_id:
                st.added[ev.finding_id] = ev
            elif ev.kind == "letter":
                st.letters[ev.letter_id] = ev
        return st

    def seen_after(self) -> dict[str, int]:
        return dict(self._read("SELECT finding_id, after_seq FROM seen"))


def open_store(out: Path, *, create: bool = True, timeout: float = 10.0) -> ReviewStore:
    return ReviewStore(Path(out) / STORE_NAME, create=create, timeout=timeout)


def stat_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


def _clean_reviewer(reviewer: str) -> str:
    name = " ".join(str(reviewer or "").split())
    if not name:
        raise ReviewInputError("the reviewer's name is required")
    if len(name) > MAX_REVIEWER:
        raise ReviewInputError(f"the reviewer's name is over {MAX_REVIEWER} characters")
    return name


def _check_text(name: str, value: str, limit: int) -> None:
    if not isinstance(value, str):
        raise ReviewInputError(f"{name} must be text")
    if len(value) > limit:
        raise ReviewInputError(f"{name} is over {limit} characters")
