"""Durable output files: results.jsonl (append + fsync per letter, or per chunk of letters that
arrive together), findings.csv, evidence.csv, the run manifest (run.json), letter texts.

Every file is created readable by the owner only: records and texts carry health information.
Nothing here holds a whole batch in memory: results.jsonl is scanned, copied and read back one
line at a time, by byte offset.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from imr_llm.schemas import AuditRecord

RESULTS = "results.jsonl"
FINDINGS = "findings.csv"
EVIDENCE = "evidence.csv"
REPORT = "report.html"
MANIFEST = "run.json"
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
    "item_number",  # 1-based, "item N" as the terminal and report.html say it; "" = the letter
    "finding_id",  # the finding's stable id (schemas.finding_id): review verdicts attach to it
]

EVIDENCE_COLUMNS = [
    "letter_id",
    "source",
    "code",
    "severity",
    "detector",
    "item_number",
    "item",
    "message",
    "evidence_number",  # 1-based, within the finding
    "quote",
    "start",
    "end",
    "finding_id",
]

# OWASP "CSV injection": a cell a spreadsheet would read as a formula starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def ensure_private_dir(path: Path) -> None:
    """Create the output directory readable by the owner only (an existing one is left as is)."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)


def _private_fd(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def record_line(obj: dict) -> bytes:
    """One record as its results.jsonl line (compact JSON, UTF-8, newline-terminated)."""
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def scan_results(path: Path) -> Iterator[tuple[int, int, dict]]:
    """``(offset, length, record)`` for each complete line of a results file, one at a time.

    Same rules as ``read_results``: blank lines are skipped, and at the first torn or unparsable
    line the file is cut back to the end of the last good line (once the scan has reached it).
    """
    if not path.exists():
        return
    good_end = 0
    with open(path, "rb") as fh:
        pos = 0
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                obj = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                break
            if obj is not None:
                yield pos, len(line), obj
            pos += len(line)
            good_end = pos
        size = os.fstat(fh.fileno()).st_size
    if good_end != size:
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())


def read_results(path: Path) -> list[dict]:
    """Complete records from a results file; a torn last line (killed mid-write) is cut off.

    Loads every record: for one letter or a small file. Batches use ``scan_results``."""
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

    def write(self, record: AuditRecord | dict) -> int:
        """Append one record; returns the byte offset of its line."""
        obj = record if isinstance(record, dict) else record.to_json_dict()
        return self.write_lines([record_line(obj)])[0]

    def write_lines(self, lines: Sequence[bytes]) -> list[int]:
        """Append complete lines with one write and one fsync (a group commit); returns the
        byte offset of each line. When this returns, every line is on disk."""
        data = b"".join(lines)
        start = None
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            if start is None:  # O_APPEND: the first write lands at the end of the file
                start = os.lseek(self.fd, 0, os.SEEK_CUR) - n
            view = view[n:]
        os.fsync(self.fd)
        offsets = []
        pos = start or 0
        for line in lines:
            offsets.append(pos)
            pos += len(line)
        return offsets

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
            fh.write(record_line(obj))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def rewrite_lines_in_order(path: Path, spans: Iterable[tuple[int, int]]) -> list[int]:
    """Atomically replace the results file with its own lines at ``(offset, length)``, in that
    order, copied byte for byte one at a time; returns the new offset of each copied line."""
    tmp = path.with_name(path.name + ".tmp")
    fd = _private_fd(tmp, os.O_WRONLY | os.O_TRUNC)
    offsets: list[int] = []
    pos = 0
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(os.fdopen(fd, "wb"))
        src = stack.enter_context(open(path, "rb")) if path.exists() else None
        for offset, length in spans:
            line = os.pread(src.fileno(), length, offset) if src is not None else b""
            if len(line) != length or not line.endswith(b"\n"):
                raise RuntimeError(f"{path} changed while it was being rewritten")
            fh.write(line)
            offsets.append(pos)
            pos += length
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return offsets


class ResultsView(Sequence):
    """Records of a results file read lazily by byte span: a list-like view that holds only
    offsets, so a batch of any size can be iterated (one record in memory at a time)."""

    def __init__(self, path: Path, offsets: Iterable[int], lengths: Iterable[int]):
        self.path = path
        self._offsets = array("q", offsets)
        self._lengths = array("q", lengths)

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, i):
        if isinstance(i, slice):
            idx = range(len(self))[i]
            return ResultsView(
                self.path, (self._offsets[j] for j in idx), (self._lengths[j] for j in idx)
            )
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        with open(self.path, "rb") as fh:
            return json.loads(os.pread(fh.fileno(), self._lengths[i], self._offsets[i]))

    def __iter__(self) -> Iterator[dict]:
        if not len(self):
            return
        with open(self.path, "rb") as fh:
            pos = -1
            for offset, length in zip(self._offsets, self._lengths, strict=True):
                if offset != pos:  # contiguous lines are read sequentially
                    fh.seek(offset)
                pos = offset + length
                yield json.loads(fh.read(length))

    def __repr__(self) -> str:
        return f"<ResultsView {self.path} ({len(self)} records)>"


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string that starts with ``= + - @``, tab or
    carriage return gets a leading single quote (OWASP's rule), so a letter's text never runs
    as a formula. Letters are untrusted input. Numbers are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _CsvOut:
    """A private CSV file written to a temporary sibling and renamed into place when complete,
    every cell through ``safe_cell``; ``bom`` writes a UTF-8 byte-order mark (for Excel)."""

    def __init__(self, path: Path, columns: list[str], bom: bool = False):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        fd = _private_fd(self.tmp, os.O_WRONLY | os.O_TRUNC)
        self.fh = os.fdopen(fd, "w", newline="", encoding="utf-8-sig" if bom else "utf-8")
        self.w = csv.writer(self.fh)
        self.w.writerow(columns)
        self.rows = 0

    def row(self, cells: list[Any]) -> None:
        self.w.writerow([safe_cell(c) for c in cells])
        self.rows += 1

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


def item_number(decision_index: int | None) -> int | str:
    """The 1-based item number every human-facing output uses ("item 1" = decision_index 0)."""
    return "" if decision_index is None else decision_index + 1


def _finding_ids(rec: dict) -> list[str]:
    """The findings' stable ids: as written, or (a record written before ids existed) computed
    the way ``AuditRecord.assign_finding_ids`` does."""
    findings = rec.get("findings") or []
    if all(f.get("id") for f in findings):
        return [f["id"] for f in findings]
    record = AuditRecord.model_validate(rec).assign_finding_ids()
    return [f.id or "" for f in record.findings]


def write_findings_csv(
    path: Path,
    records: Iterable[dict],
    *,
    evidence_path: Path | None = None,
    bom: bool = False,
) -> int:
    """One row per finding of ``records`` (consumed once, streaming) in ``path``, and one row
    per evidence quote in ``evidence_path`` when given; returns the finding row count. Both
    files appear complete or not at all (written aside, then renamed)."""
    outs = [_CsvOut(path, FINDING_COLUMNS, bom)]
    if evidence_path is not None:
        outs.append(_CsvOut(evidence_path, EVIDENCE_COLUMNS, bom))
    try:
        for rec in records:
            decisions = {d["index"]: d for d in rec.get("decisions") or []}
            ids = _finding_ids(rec)
            for fi, f in enumerate(rec.get("findings") or []):
                di = f.get("decision_index")
                d = decisions.get(di, {})
                ev = f.get("evidence") or []
                outs[0].row(
                    [
                        rec["letter_id"],
                        rec["source"],
                        rec.get("sha256") or "",
                        f["code"],
                        f["severity"],
                        f.get("detector", "rules"),
                        "" if di is None else di,
                        d.get("item", ""),
                        d.get("outcome", ""),
                        f["message"],
                        " | ".join(" ".join(e["quote"].split()) for e in ev),
                        " ".join(f"{e['start']}-{e['end']}" for e in ev),
                        item_number(di),
                        ids[fi],
                    ]
                )
                if evidence_path is None:
                    continue
                for n, e in enumerate(ev, 1):
                    outs[1].row(
                        [
                            rec["letter_id"],
                            rec["source"],
                            f["code"],
                            f["severity"],
                            f.get("detector", "rules"),
                            item_number(di),
                            d.get("item", ""),
                            f["message"],
                            n,
                            " ".join(e["quote"].split()),
                            e["start"],
                            e["end"],
                            ids[fi],
                        ]
                    )
    except BaseException:
        for o in outs:
            o.abort()
        raise
    for o in outs:
        o.commit()
    return outs[0].rows


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes, or None when it does not exist."""
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def read_manifest(out: Path) -> dict | None:
    """The run manifest of an output folder, or None when there is none. Raises ValueError
    when it exists but is not a JSON object."""
    path = out / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return data


def write_manifest(out: Path, data: dict) -> None:
    """Write the run manifest atomically (owner-only)."""
    path = out / MANIFEST
    tmp = path.with_name(f".{path.name}.tmp")
    fd = _private_fd(tmp, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def pack_text(text: str) -> bytes:
    """A letter text as the text store keeps it (zlib, fastest level: a few percent larger
    than level 6 at less than half the time); cheap to build in a worker process."""
    return zlib.compress(text.encode(), 1)


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
        self.put_packed([(sha256, pack_text(text))])

    def put_packed(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Store ``(sha256, pack_text(text))`` pairs in one transaction."""
        self.db.executemany("INSERT OR REPLACE INTO texts VALUES (?, ?)", items)
        self.db.commit()

    def get(self, sha256: str | None) -> str | None:
        if not sha256:
            return None
        row = self.db.execute("SELECT body FROM texts WHERE sha256 = ?", (sha256,)).fetchone()
        return zlib.decompress(row[0]).decode() if row else None

    def close(self) -> None:
        self.db.close()


def iter_with_text(
    records: Iterable[dict[str, Any]], store: TextStore
) -> Iterator[tuple[AuditRecord, str | None]]:
    for obj in records:
        yield AuditRecord.model_validate(obj), store.get(obj.get("sha256"))
