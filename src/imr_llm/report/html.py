"""Self-contained, offline HTML batch report (DESIGN §1: QA and batch auditors).

The file is written in one streaming pass, so a batch of any size costs memory for one chunk
of letters only:

* letters are grouped into chunks (by count and raw size); each chunk is a JSON array of
  per-letter details (record without the letter text, plus the letter text pre-split into
  highlighted evidence spans), gzip-compressed and base64-encoded into an inert
  ``<script type="application/x-imr-chunk">`` block. The browser decompresses a chunk with
  ``DecompressionStream`` only when one of its letters is opened;
* the table index (one small row per letter) is fed into a streaming gzip compressor as the
  letters go by and written once at the end, followed by the batch totals and the inlined
  JavaScript, which renders the overview, the filterable paginated table and, on click, one
  letter at a time.

Nothing in the page can reach the network: CSS and JavaScript are inlined from the package data
files next to this module, and a Content-Security-Policy with ``default-src 'none'`` allows only
that exact script and stylesheet (by hash). Letter text and every record field are inserted as
text nodes by the script, never as markup. The file is created readable by the owner only.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import html
import json
import os
import re
import secrets
import zlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from imr_llm.schemas import AuditRecord, Evidence, Severity

__all__ = ["write_html_report"]

_HERE = Path(__file__).resolve().parent
_DATA_MARKER = "<!--@DATA@-->"
_TOKEN = re.compile(r"@(TITLE|CSP|CSS|JS)@")

CHUNK_MAX_LETTERS = 32
CHUNK_MAX_BYTES = 512 * 1024

_SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: -s.rank)]

EV_OK = "ok"
EV_MOVED = "moved"
EV_MISSING = "missing"


def write_html_report(
    items: Iterable[tuple[AuditRecord, str | None]],
    path: Path,
    title: str = "IMR audit",
    reviews=None,
) -> None:
    """Write the batch report for ``items`` (record, letter text or None) to ``path``.

    ``items`` is consumed once, in order. The file is written to a temporary sibling created with
    mode 0600 and renamed over ``path`` when complete, so a crash never leaves a half report.
    ``reviews`` (``imr_llm.review.marks.ReviewMarks``) adds a "Reviewed" column and verdict
    badges; by default they come from the review store beside ``path`` when there is one.
    """
    path = Path(path)
    if reviews is None:
        from imr_llm.review.marks import load_marks

        reviews = load_marks(path.parent)
    head, tail = _page_parts(title)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(head)
            summary, index_gz = _write_letters(items, out, reviews)
            out.write('<script type="application/x-imr-index" id="imr-index">')
            out.write(base64.b64encode(index_gz).decode("ascii"))
            out.write("</script>\n")
            summary["generated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            out.write('<script type="application/json" id="imr-summary">')
            out.write(_script_json(summary))
            out.write("</script>\n")
            out.write(tail)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _page_parts(title: str) -> tuple[str, str]:
    template = (_HERE / "report.html").read_text(encoding="utf-8")
    css = (_HERE / "report.css").read_text(encoding="utf-8")
    js = (_HERE / "report.js").read_text(encoding="utf-8")
    if "</style" in css.lower() or "</script" in js.lower():
        raise RuntimeError("report assets must not contain closing style/script tags")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src '{_sha256(js)}'",
            f"style-src '{_sha256(css)}'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    values = {"TITLE": html.escape(title), "CSP": csp, "CSS": css, "JS": js}
    head, sep, tail = template.partition(_DATA_MARKER)
    if not sep:
        raise RuntimeError(f"report.html lacks the {_DATA_MARKER} marker")

    def fill(part: str) -> str:
        return _TOKEN.sub(lambda m: values[m.group(1)], part)

    return fill(head), fill(tail)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _script_json(obj: object) -> str:
    """JSON safe to place inside a <script> element (no '<', '>', '&' characters)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _compact_json(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class _Totals:
    def __init__(self) -> None:
        self.letters = 0
        self.status: Counter[str] = Counter()
        self.error_kinds: Counter[str] = Counter()
        self.max_severity: Counter[str] = Counter()
        self.code_severity: dict[str, Counter[str]] = {}
        self.code_letters: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.letters_with_outcome: Counter[str] = Counter()
        self.findings = 0
        self.with_findings = 0
        self.no_text = 0
        self.evidence_missing = 0

    def as_dict(self, chunks: int) -> dict:
        codes = sorted(
            self.code_severity.items(),
            key=lambda kv: (
                -max((Severity(s).rank for s in kv[1]), default=-1),
                -sum(kv[1].values()),
                kv[0],
            ),
        )
        return {
            "letters": self.letters,
            "status": {"ok": self.status["ok"], "error": self.status["error"]},
            "errorKinds": dict(self.error_kinds.most_common()),
            "maxSeverity": {s: self.max_severity[s] for s in [*_SEVERITIES, "none"]},
            "severities": _SEVERITIES,
            "codes": [
                {"code": code, "bySeverity": dict(sev), "letters": self.code_letters[code]}
                for code, sev in codes
            ],
            "outcomes": dict(self.outcomes),
            "lettersWithOutcome": dict(self.letters_with_outcome),
            "findings": self.findings,
            "lettersWithFindings": self.with_findings,
            "noText": self.no_text,
            "evidenceMissing": self.evidence_missing,
            "chunks": chunks,
        }


def _write_letters(
    items: Iterable[tuple[AuditRecord, str | None]], out: TextIO, reviews=None
) -> tuple[dict, bytes]:
    totals = _Totals()
    reviewed_letters = 0
    index = zlib.compressobj(6, zlib.DEFLATED, 31)
    index_parts: list[bytes] = [index.compress(b"[")]
    chunk: list[bytes] = []
    chunk_bytes = 0
    chunk_no = 0

    def flush() -> None:
        nonlocal chunk, chunk_bytes, chunk_no
        if not chunk:
            return
        raw = b"[" + b",".join(chunk) + b"]"
        out.write(f'<script type="application/x-imr-chunk" id="imr-c{chunk_no}">')
        out.write(base64.b64encode(gzip.compress(raw, 6, mtime=0)).decode("ascii"))
        out.write("</script>\n")
        chunk, chunk_bytes = [], 0
        chunk_no += 1

    for n, (record, text) in enumerate(items):
        if text is None:
            text = record.text
        detail, evidence_status = _detail(record, text)
        row = _index_row(n, record, chunk_no, len(chunk), text is not None, evidence_status)
        if reviews is not None:
            record.assign_finding_ids()
            reviewed, verdicts, added = reviews.for_record(record)
            detail["rv"] = verdicts
            row["rv"] = int(reviewed)
            row["vc"] = [verdicts.count(v) for v in ("confirmed", "dismissed", "unsure")]
            if added:
                row["va"] = added
            reviewed_letters += reviewed
        data = _compact_json(detail)
        index_parts.append(index.compress((b"," if n else b"") + _compact_json(row)))
        _count(totals, record, text, evidence_status)
        chunk.append(data)
        chunk_bytes += len(data)
        if len(chunk) >= CHUNK_MAX_LETTERS or chunk_bytes >= CHUNK_MAX_BYTES:
            flush()
    flush()
    index_parts.append(index.compress(b"]"))
    index_parts.append(index.flush())
    summary = totals.as_dict(chunk_no)
    if reviews is not None:
        summary["reviews"] = {"reviewed": reviewed_letters}
    return summary, b"".join(index_parts)


def _count(
    totals: _Totals, record: AuditRecord, text: str | None, evidence_status: list[list[str]]
) -> None:
    totals.letters += 1
    totals.status[record.status] += 1
    if record.error is not None:
        totals.error_kinds[str(record.error.kind)] += 1
    top = record.max_severity()
    totals.max_severity[top.value if top else "none"] += 1
    for f in record.findings:
        totals.code_severity.setdefault(f.code, Counter())[f.severity.value] += 1
    for code in {f.code for f in record.findings}:
        totals.code_letters[code] += 1
    for d in record.decisions:
        totals.outcomes[d.outcome] += 1
    for outcome in {d.outcome for d in record.decisions}:
        totals.letters_with_outcome[outcome] += 1
    totals.findings += len(record.findings)
    totals.with_findings += bool(record.findings)
    if text is None and record.status == "ok":
        totals.no_text += 1
    totals.evidence_missing += sum(s == EV_MISSING for row in evidence_status for s in row)


def _index_row(
    n: int,
    record: AuditRecord,
    chunk: int,
    pos: int,
    has_text: bool,
    evidence_status: list[list[str]],
) -> dict:
    top = record.max_severity()
    pairs = sorted(
        {(f.code, f.severity.rank) for f in record.findings}, key=lambda p: (-p[1], p[0])
    )
    outcomes = Counter(d.outcome for d in record.decisions)
    row: dict = {
        "i": n,
        "id": record.letter_id,
        "s": record.status,
        "m": top.rank if top else -1,
        "f": [list(p) for p in pairs],
        "n": len(record.findings),
        "d": len(record.decisions),
        "u": outcomes["upheld"],
        "o": outcomes["overturned"],
        "x": outcomes["unknown"],
        "c": chunk,
        "p": pos,
    }
    if record.error is not None:
        row["e"] = str(record.error.kind)
    if not has_text:
        row["t"] = 0
    if any(s == EV_MISSING for r in evidence_status for s in r):
        row["q"] = 1
    return row


def _detail(record: AuditRecord, text: str | None) -> tuple[dict, list[list[str]]]:
    rec = record.model_dump(mode="json", exclude={"text"})
    if text is not None:
        for d in rec["decisions"]:
            d.pop("rationale", None)
    spans: list[tuple[int, int, str]] = []
    status: list[list[str]] = []
    for fi, finding in enumerate(record.findings):
        row = []
        for ei, ev in enumerate(finding.evidence):
            found = _locate(text, ev) if text is not None else None
            if found is None:
                row.append(EV_MISSING)
                continue
            start, end, how = found
            row.append(how)
            spans.append((start, end, f"{fi}.{ei}"))
        status.append(row)
    detail: dict = {"r": rec, "v": status}
    if text is not None:
        anchors = []
        for d in record.decisions:
            start = d.heading_span[0] if d.heading_span else d.span[0]
            if 0 <= start <= len(text):
                anchors.append((start, d.index))
        detail["t"] = _segments(text, spans, anchors)
    return detail, status


def _locate(text: str, ev: Evidence) -> tuple[int, int, str] | None:
    """Where ``ev`` lies in ``text``: its own offsets when they hold the quote, else the nearest
    place the quote occurs (whitespace-normalised), else None."""
    quote = ev.quote
    if 0 <= ev.start < ev.end <= len(text):
        here = text[ev.start : ev.end]
        if here == quote or here.split() == quote.split():
            return ev.start, ev.end, EV_OK
    words = quote.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    best: tuple[int, int] | None = None
    for m in pattern.finditer(text):
        if best is None or abs(m.start() - ev.start) < abs(best[0] - ev.start):
            best = (m.start(), m.end())
        if m.start() > ev.start:
            break
    return (best[0], best[1], EV_MOVED) if best else None


def _segments(text: str, spans: list[tuple[int, int, str]], anchors: list[tuple[int, int]]):
    """The letter text as a tree of text runs, evidence marks and decision anchors.

    A node is a string (text), an int (anchor of the decision with that index) or a list
    ``[key, *children]`` (a <mark> for evidence ``key`` = "finding.evidence"). Nested or
    identical spans become nested marks; only spans that cross are split, so the first mark of
    each evidence (the one the page gives an id) holds as much of the quote as nesting allows.
    """
    if not spans and not anchors:
        return [text]
    spans = [s for s in spans if s[0] < s[1]]
    order = sorted(spans, key=lambda s: (s[0], -s[1], s[2]))
    rank = {key: i for i, (_, _, key) in enumerate(order)}
    anchors_at: dict[int, list[int]] = {}
    for pos, idx in anchors:
        anchors_at.setdefault(pos, []).append(idx)
    bounds = sorted(
        {0, len(text), *anchors_at, *(s for s, _, _ in spans), *(e for _, e, _ in spans)}
    )

    root: list = []
    stack: list[list] = []

    for a, b in zip(bounds, bounds[1:], strict=False):
        cover = sorted((k for s, e, k in spans if s <= a and e >= b), key=rank.__getitem__)
        keep = 0
        while keep < min(len(stack), len(cover)) and stack[keep][0] == cover[keep]:
            keep += 1
        del stack[keep:]
        for idx in anchors_at.pop(a, []):
            (stack[-1] if stack else root).append(idx)
        for key in cover[keep:]:
            node: list = [key]
            (stack[-1] if stack else root).append(node)
            stack.append(node)
        target = stack[-1] if stack else root
        has_child = len(target) > (0 if target is root else 1)
        if has_child and isinstance(target[-1], str):
            target[-1] += text[a:b]
        else:
            target.append(text[a:b])
    for rest in anchors_at.values():
        root.extend(rest)
    return root
