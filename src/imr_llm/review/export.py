"""Export a review: its current state as CSV or JSONL, the raw event log, or the reviewed letters
as a labeled set in the ``evals/`` format so ``imr-llm eval DIR`` scores any backend against
what auditors decided (confirmed and added findings expected; dismissed and unsure ones not).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from imr_llm.report.writers import item_number, safe_cell
from imr_llm.review.workbench import Workbench, _live_added

COLUMNS = [
    "letter_id",
    "finding_id",
    "origin",  # tool | added | orphaned (the finding is no longer in results.jsonl)
    "code",
    "severity",
    "item_number",
    "verdict",
    "reason",
    "note",
    "reviewer",
    "at",
    "verdict_events",
    "letter_reviewed",
    "evidence",
]


def current_rows(wb: Workbench) -> list[dict]:
    """One row per finding with a verdict, per added finding, and per orphaned verdict."""
    st = wb.store.state()
    rows: list[dict] = []
    for e in wb.folder.letters:
        reviewed = wb.reviewed(e.findings, e.letter_id, st)
        rec = None
        for f in e.findings:
            v = st.verdicts.get(f["id"])
            if v is None:
                continue
            rec = rec or wb.folder.record(e.letter_id)
            full = (
                next((x for x in rec.findings if x.id == f["id"]), None)
                if rec is not None
                else None
            )
            rows.append(
                _row(
                    e.letter_id,
                    f["id"],
                    "tool",
                    f["code"],
                    f["severity"],
                    f["decision_index"],
                    v,
                    st.history.get(f["id"], 1),
                    reviewed,
                    [ev.quote for ev in full.evidence] if full else [],
                )
            )
        for ev in sorted(st.added.values(), key=lambda x: x.seq):
            if ev.letter_id != e.letter_id:
                continue
            v = st.verdicts.get(ev.finding_id or "")
            d = ev.data
            rows.append(
                _row(
                    e.letter_id,
                    ev.finding_id,
                    "added",
                    d.get("code"),
                    d.get("severity"),
                    d.get("decision_index"),
                    v or ev,
                    st.history.get(ev.finding_id or "", 0) + 1,
                    reviewed,
                    [x.get("quote", "") for x in d.get("evidence") or []],
                )
            )
    for o in wb.orphans(st):
        rows.append(
            {
                "letter_id": o["letter_id"],
                "finding_id": o["finding_id"],
                "origin": "orphaned",
                "code": o["code"] or "",
                "severity": o["severity"] or "",
                "item_number": item_number(o["decision_index"]),
                "verdict": o["verdict"],
                "reason": o["reason"],
                "note": o["note"],
                "reviewer": o["reviewer"],
                "at": o["at"],
                "verdict_events": st.history.get(o["finding_id"], 1),
                "letter_reviewed": "",
                "evidence": " | ".join(
                    " ".join(str(x.get("quote", "")).split()) for x in o["evidence"]
                ),
            }
        )
    return rows


def _row(letter_id, fid, origin, code, severity, di, ev, events, reviewed, quotes) -> dict:
    return {
        "letter_id": letter_id,
        "finding_id": fid,
        "origin": origin,
        "code": code or "",
        "severity": severity or "",
        "item_number": item_number(di),
        "verdict": ev.verdict,
        "reason": ev.reason,
        "note": ev.note,
        "reviewer": ev.reviewer,
        "at": ev.at,
        "verdict_events": events,
        "letter_reviewed": "yes" if reviewed else "no",
        "evidence": " | ".join(" ".join(q.split()) for q in quotes),
    }


def render(wb: Workbench, fmt: str, events: bool = False) -> str:
    """The export as text: ``csv`` or ``jsonl``; ``events`` gives the raw event log instead."""
    if events:
        items = [ev.as_dict() for ev in wb.store.events()]
        cols = ["seq", "at", "reviewer", "kind", "letter_id", "finding_id", "verdict", "reason"]
        cols += ["note", "data"]
    else:
        items = current_rows(wb)
        cols = COLUMNS
    if fmt == "jsonl":
        return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for i in items:
        w.writerow(
            [
                safe_cell(json.dumps(i[c], ensure_ascii=False) if isinstance(i[c], dict) else i[c])
                for c in cols
            ]
        )
    return buf.getvalue()


def export_labels(wb: Workbench, dest: Path) -> dict:
    """Write the reviewed letters as a labeled set under ``dest`` (set.json, labels/,
    letters/); returns counts. Refuses a ``dest`` that already holds labels or letters."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} is a file; give a folder for the labeled set")
    for sub in ("labels", "letters"):
        if (dest / sub).is_dir() and any((dest / sub).iterdir()):
            raise ValueError(
                f"{dest / sub} already holds files; give a new folder for the labeled set"
            )
    st = wb.store.state()
    _private_dir(dest)
    _private_dir(dest / "labels")
    _private_dir(dest / "letters")
    counts = {"letters": 0, "expected": 0, "confirmed": 0, "added": 0, "dismissed": 0}
    counts.update({"unsure": 0, "unjudged": 0, "from_text": 0})
    for e in wb.folder.letters:
        if e.status != "ok" or not wb.reviewed(e.findings, e.letter_id, st):
            continue
        rec = wb.folder.record(e.letter_id)
        if rec is None:
            continue
        file = _copy_letter(wb, e, dest / "letters")
        if file is None:
            continue
        if file.endswith(".txt") and not str(e.path or e.source).lower().endswith(".txt"):
            counts["from_text"] += 1
        expected: list[dict] = []
        keys: set[tuple] = set()
        notes: list[str] = []

        def expect(code, di, note, extra, keys=keys, expected=expected):
            if (code, di) in keys:
                return
            keys.add((code, di))
            expected.append({"code": code, "decision_index": di, "note": note, **extra})

        for f in rec.findings:
            v = st.verdicts.get(f.id or "")
            verdict = v.verdict if v else None
            if verdict == "confirmed":
                counts["confirmed"] += 1
                expect(
                    f.code,
                    f.decision_index,
                    _note(v),
                    {"severity": f.severity.value, "finding_id": f.id, "verdict": "confirmed"},
                )
            else:
                counts["dismissed" if verdict == "dismissed" else verdict or "unjudged"] += 1
                notes.append(
                    f"{verdict or 'not judged'}: {f.code} item {item_number(f.decision_index)}"
                    + (f" ({v.reason})" if v and v.reason else "")
                )
        for ev in sorted(st.added.values(), key=lambda x: x.seq):
            if ev.letter_id != e.letter_id or not _live_added(ev, st):
                continue
            d = ev.data
            counts["added"] += 1
            expect(
                d.get("code"),
                d.get("decision_index"),
                ev.note,
                {
                    "severity": d.get("severity"),
                    "finding_id": ev.finding_id,
                    "verdict": "added",
                    "evidence": d.get("evidence") or [],
                },
            )
        counts["expected"] += len(expected)
        label = {
            "letter_id": e.letter_id,
            "file": file,
            "layout": rec.layout,
            "case": {
                k: v
                for k, v in rec.case.model_dump(mode="json").items()
                if k
                in (
                    "case_number",
                    "date_assigned",
                    "date_of_injury",
                    "decision_date",
                    "ur_denial_date",
                    "patient_age",
                    "patient_sex",
                    "reviewer_specialty",
                )
            },
            "decisions": [
                {"item": d.item, "outcome": d.outcome, "conclusion": d.conclusion}
                for d in rec.decisions
            ],
            "findings": expected,
            "notes": "From review of "
            + str(wb.out)
            + (("; not expected: " + "; ".join(notes)) if notes else ""),
            "review": {"letter_sha256": rec.sha256, "source": rec.source},
        }
        _write_private(
            dest / "labels" / f"{e.letter_id}.json",
            json.dumps(label, indent=2, ensure_ascii=False) + "\n",
        )
        counts["letters"] += 1
    meta = {
        "name": f"review-{wb.out.resolve().name}",
        "description": f"Letters reviewed in {wb.out}: confirmed and auditor-added findings "
        "expected, dismissed and unsure ones not.",
        "letters_dir": "letters",
    }
    _write_private(dest / "set.json", json.dumps(meta, indent=2) + "\n")
    return counts


def _note(v) -> str:
    parts = [p for p in (v.reason, v.note) if p]
    return "; ".join(parts) + f" ({v.reviewer}, {v.at})"


def _copy_letter(wb: Workbench, e, letters: Path) -> str | None:
    """Copy the audited letter into the set (the same bytes, checked by sha256); when the
    source is gone or changed, the audit folder's extracted text stands in as .txt."""
    import hashlib

    src = Path(e.path or e.source)
    if src.is_file():
        data = src.read_bytes()
        if hashlib.sha256(data).hexdigest() == e.sha256:
            name = e.letter_id + (src.suffix.lower() or ".txt")
            _write_private(letters / name, data)
            return name
    text = wb.folder.text(e.letter_id)
    if text is None:
        return None
    name = e.letter_id + ".txt"
    _write_private(letters / name, text)
    return name


def _private_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)


def _write_private(path: Path, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    os.replace(tmp, path)


__all__ = ["COLUMNS", "current_rows", "export_labels", "render", "rewrite_report"]


def rewrite_report(out: Path) -> None:
    """Rewrite ``out/report.html`` from results.jsonl and the letter texts, now with the review
    column (report.html reads the store beside it)."""
    from imr_llm.report import writers
    from imr_llm.report.html import write_html_report

    out = Path(out)
    if not (out / writers.TEXTS).exists():
        return
    store = writers.TextStore(out / writers.TEXTS)
    try:
        records = (obj for _, _, obj in _read_only_scan(out / writers.RESULTS))
        write_html_report(writers.iter_with_text(records, store), out / writers.REPORT)
    finally:
        store.close()


def _read_only_scan(path: Path):
    with open(path, "rb") as fh:
        pos = 0
        for line in fh:
            if not line.endswith(b"\n"):
                break
            if line.strip():
                yield pos, len(line), json.loads(line)
            pos += len(line)
