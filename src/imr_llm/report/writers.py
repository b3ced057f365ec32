"""Durable output files: results.jsonl (append + fsync per letter), findings.csv, letter texts.

Every file is created readable by the owner only: records and texts carry health information.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from imr_llm.schemas import AuditRecord

RESULTS = "results.jsonl"
FINDINGS = "findings.csv"
REPORT = "report.html"
TEXTS = ".letter-texts.sqlite3"

FINDING_COLUMNS = [
    "letter_id",
    "source",
    "sha256",
    "code",
    "severity",
    "detector",
    "decision_index",
    "item",
    "outcome",
    "message",
    "evidence",
    "evidence_offsets",
]


def ensure_private_dir(path: Path) -> None:
    """Create the output directory readable by the owner only (an existing one is left as is)."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)


def _private_fd(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def read_results(path: Path) -> list[dict]:
    """Complete records from a results file; a torn last line (killed mid-write) is cut off."""
    if not path.exists():
        return []
    data = path.read_bytes()
    records = []
    good_end = 0
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl == -1:
            break
        line = data[pos:nl]
        try:
            if line.strip():
                records.append(json.loads(line))
        except json.JSONDecodeError:
            break
        good_end = nl + 1
        pos = nl + 1
    if good_end != len(data):
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return records


class ResultsWriter:
    """Appends one complete JSON line per letter and fsyncs it before returning."""

    def __init__(self, path: Path, truncate: bool = False):
        self.path = path
        flags = os.O_WRONLY | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self.fd = _private_fd(path, flags)

    def write(self, record: AuditRecord | dict) -> None:
        obj = record if isinstance(record, dict) else record.to_json_dict()
        line = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        os.write(self.fd, line)
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rewrite_in_order(path: Path, records: list[dict]) -> None:
    """Atomically replace the results file with ``records`` (input order)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = _private_fd(tmp, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as fh:
        for obj in records:
            fh.write((json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_findings_csv(path: Path, records: Iterable[dict]) -> int:
    fd = _private_fd(path, os.O_WRONLY | os.O_TRUNC)
    rows = 0
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FINDING_COLUMNS)
        for rec in records:
            decisions = {d["index"]: d for d in rec.get("decisions") or []}
            for f in rec.get("findings") or []:
                d = decisions.get(f.get("decision_index"), {})
                ev = f.get("evidence") or []
                w.writerow(
                    [
                        rec["letter_id"],
                        rec["source"],
                        rec.get("sha256") or "",
                        f["code"],
                        f["severity"],
                        f.get("detector", "rules"),
                        "" if f.get("decision_index") is None else f["decision_index"],
                        d.get("item", ""),
                        d.get("outcome", ""),
                        f["message"],
                        " | ".join(" ".join(e["quote"].split()) for e in ev),
                        " ".join(f"{e['start']}-{e['end']}" for e in ev),
                    ]
                )
                rows += 1
    return rows


class TextStore:
    """Letter texts for the HTML report, kept beside the results so a resumed batch has them."""

    def __init__(self, path: Path):
        if not path.exists():
            os.close(_private_fd(path, os.O_WRONLY))
        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        # The texts only feed report.html and can be re-read from the letters: no fsync per
        # commit (WAL + NORMAL still survives a killed process).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS texts (sha256 TEXT PRIMARY KEY, body BLOB)")
        self.db.commit()

    def put(self, sha256: str, text: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO texts VALUES (?, ?)", (sha256, zlib.compress(text.encode(), 6))
        )
        self.db.commit()

    def get(self, sha256: str | None) -> str | None:
        if not sha256:
            return None
        row = self.db.execute("SELECT body FROM texts WHERE sha256 = ?", (sha256,)).fetchone()
        return zlib.decompress(row[0]).decode() if row else None

    def close(self) -> None:
        self.db.close()


def iter_with_text(
    records: list[dict], store: TextStore
) -> Iterator[tuple[AuditRecord, str | None]]:
    for obj in records:
        yield AuditRecord.model_validate(obj), store.get(obj.get("sha256"))
