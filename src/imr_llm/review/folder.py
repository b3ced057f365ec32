"""An audit output folder, read-only: the letters, their findings and their texts.

Nothing here writes into the folder: results.jsonl is scanned without the resume logic's
repair (a torn last line is skipped, not cut off) and the letter-text store is opened read-only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from imr_llm.report import writers
from imr_llm.schemas import SCHEMA_VERSION, AuditRecord, Severity


class AuditFolderError(Exception):
    """The folder cannot be reviewed; ``message`` says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class LetterEntry:
    n: int
    letter_id: str
    sha256: str | None
    status: str
    source: str
    path: str | None
    top: int  # max severity rank, -1 none
    findings: list[dict]  # {id, code, severity, decision_index}
    offset: int
    length: int
    summary: str = ""
    decisions: int = 0


@dataclass
class AuditFolder:
    out: Path
    letters: list[LetterEntry] = field(default_factory=list)
    by_id: dict[str, LetterEntry] = field(default_factory=dict)
    ids_added: int = 0  # findings whose id was computed here (records written before ids)
    signature: tuple = ()

    @classmethod
    def load(cls, out: Path | str) -> AuditFolder:
        folder = cls(Path(out))
        folder._scan()
        return folder

    def changed(self) -> bool:
        """Whether results.jsonl changed since it was read (a re-audit wrote it)."""
        return _signature(self.out / writers.RESULTS) != self.signature

    def finding_pairs(self) -> list[tuple[str, str]]:
        return [(f["id"], e.letter_id) for e in self.letters for f in e.findings]

    def finding_ids(self) -> set[str]:
        return {f["id"] for e in self.letters for f in e.findings}

    # ---------- reading ----------

    def _scan(self) -> None:
        out = self.out
        results = out / writers.RESULTS
        if not out.exists():
            raise AuditFolderError(f"{out} does not exist: give the --out folder of an audit")
        if not out.is_dir():
            raise AuditFolderError(
                f"{out} is a file, not an audit output folder: give the folder an "
                "`imr-llm audit --out DIR` run wrote"
            )
        if not results.is_file():
            raise AuditFolderError(
                f"{out} is not an audit output folder (no {writers.RESULTS}): give the folder "
                f"an `imr-llm audit PATH --out DIR` run wrote, or audit first: "
                f"imr-llm audit LETTERS --out {out}"
            )
        self.signature = _signature(results)
        letters: list[LetterEntry] = []
        with open(results, "rb") as fh:
            pos = 0
            for lineno, line in enumerate(fh, 1):
                start, pos = pos, pos + len(line)
                if not line.endswith(b"\n"):
                    break  # a torn last line: an audit still writing, or killed mid-write
                if not line.strip():
                    continue
                letters.append(self._entry(results, lineno, line, start, len(letters)))
        seen: set[str] = set()
        for e in letters:
            if e.letter_id in seen:
                raise AuditFolderError(
                    f"{results}: letter id {e.letter_id} appears twice; this file was not "
                    "written by one imr-llm audit run (re-run the audit with --force)"
                )
            seen.add(e.letter_id)
        self.letters = letters
        self.by_id = {e.letter_id: e for e in letters}

    def _entry(self, results: Path, lineno: int, line: bytes, offset: int, n: int) -> LetterEntry:
        where = f"{results} line {lineno}"
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AuditFolderError(
                f"{where} is not JSON ({exc}); results.jsonl is damaged: re-run the audit "
                "(imr-llm audit ... --out this folder) to rewrite it"
            ) from None
        if not isinstance(obj, dict):
            raise AuditFolderError(f"{where} is not a record (a JSON object expected)")
        version = obj.get("schema_version")
        if version != SCHEMA_VERSION:
            raise AuditFolderError(
                f"{where} is a record of schema_version {version!r}; this imr-llm reads "
                f"schema_version {SCHEMA_VERSION}. Re-audit the letters with this version "
                "(imr-llm audit LETTERS --out NEW_DIR) and review that folder"
            )
        try:
            rec = AuditRecord.model_validate(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            raise AuditFolderError(
                f"{where} does not match the record format this imr-llm reads ({loc}: "
                f"{first.get('msg')}); it was written by another version: re-audit the letters "
                "(imr-llm audit LETTERS --out NEW_DIR) and review that folder"
            ) from None
        missing = [f for f in rec.findings if not f.id]
        if missing:
            rec.assign_finding_ids()
            self.ids_added += len(missing)
        top = rec.max_severity()
        return LetterEntry(
            n=n,
            letter_id=rec.letter_id,
            sha256=rec.sha256,
            status=rec.status,
            source=rec.source,
            path=rec.path,
            top=top.rank if top else -1,
            findings=[
                {
                    "id": f.id,
                    "code": f.code,
                    "severity": f.severity.value,
                    "decision_index": f.decision_index,
                }
                for f in rec.findings
            ],
            offset=offset,
            length=len(line),
            summary=rec.summary,
            decisions=len(rec.decisions),
        )

    def record(self, letter_id: str) -> AuditRecord | None:
        e = self.by_id.get(letter_id)
        if e is None:
            return None
        with open(self.out / writers.RESULTS, "rb") as fh:
            line = os.pread(fh.fileno(), e.length, e.offset)
        rec = AuditRecord.model_validate(json.loads(line))
        return rec.assign_finding_ids()

    def _texts(self) -> sqlite3.Connection | None:
        path = self.out / writers.TEXTS
        if not path.is_file():
            return None
        try:
            return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error:
            return None

    def text(self, letter_id: str) -> str | None:
        """The letter's extracted text, from the audit folder's own text store only."""
        e = self.by_id.get(letter_id)
        if e is None or not e.sha256:
            return None
        db = self._texts()
        if db is None:
            return None
        try:
            row = db.execute("SELECT body FROM texts WHERE sha256 = ?", (e.sha256,)).fetchone()
        except sqlite3.Error:
            return None
        finally:
            db.close()
        return zlib.decompress(row[0]).decode() if row else None

    def search(self, query: str, limit: int = 200) -> list[dict]:
        """Letters whose text holds every word of ``query`` (case-insensitive), with a snippet
        around the first word, in input order."""
        words = [w for w in query.casefold().split() if w]
        if not words:
            return []
        db = self._texts()
        if db is None:
            return []
        wanted = {e.sha256: e for e in self.letters if e.sha256}
        hits: list[tuple[int, dict]] = []
        try:
            for sha, body in db.execute("SELECT sha256, body FROM texts"):
                entry = wanted.get(sha)
                if entry is None:
                    continue
                text = zlib.decompress(body).decode()
                low = text.casefold()
                if not all(w in low for w in words):
                    continue
                at = low.find(words[0])
                a, b = max(0, at - 60), min(len(text), at + len(words[0]) + 60)
                snippet = re.sub(r"\s+", " ", text[a:b]).strip()
                hits.append((entry.n, {"id": entry.letter_id, "at": at, "snippet": snippet}))
        except sqlite3.Error:
            return []
        finally:
            db.close()
        hits.sort(key=lambda h: h[0])
        return [h for _, h in hits[:limit]]

    def source_pdf(self, letter_id: str) -> Path | None:
        """The letter's source file when it is a PDF that still has the audited bytes."""
        e = self.by_id.get(letter_id)
        if e is None or not e.sha256:
            return None
        p = Path(e.path or e.source)
        if p.suffix.lower() != ".pdf" or not p.is_file():
            return None
        try:
            with open(p, "rb") as fh:
                if hashlib.file_digest(fh, "sha256").hexdigest() != e.sha256:
                    return None
        except OSError:
            return None
        return p


def quote_pages(pdf: Path, quotes: list[str]) -> list[int | None]:
    """The 1-based PDF page (PDFium's page boundaries) on which each quote begins, or None."""
    try:
        import pypdfium2 as pdfium

        from imr_llm.ingest import normalize_text
    except ImportError:
        return [None] * len(quotes)
    pages: list[str] = []
    with contextlib.suppress(Exception):
        doc = pdfium.PdfDocument(str(pdf))
        try:
            for i in range(len(doc)):
                page = doc[i]
                tp = page.get_textpage()
                pages.append(" ".join(normalize_text(tp.get_text_range()).split()))
                tp.close()
                page.close()
        finally:
            doc.close()
    out: list[int | None] = []
    for q in quotes:
        words = " ".join(q.split())
        found = None
        for probe in (words, words[:60]):
            if not probe:
                continue
            for i, text in enumerate(pages):
                if probe in text:
                    found = i + 1
                    break
            if found:
                break
        out.append(found)
    return out


def _signature(path: Path) -> tuple:
    try:
        st = path.stat()
    except FileNotFoundError:
        return ()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


SEVERITY_NAMES = [s.value for s in sorted(Severity, key=lambda s: s.rank)]
