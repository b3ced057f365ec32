"""An audit folder and its review store together: the queue, one letter's review view, the
verdicts whose finding is gone, and the current state of every reviewed finding (for export).

A letter counts as reviewed when its latest letter event says so, or, with no letter event,
when every finding on it above ``info`` has a verdict. A finding is *new* when it was first
seen after reviewing had begun (events existed) and has no verdict yet.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from imr_llm.report.html import EV_MISSING, _locate, _segments
from imr_llm.review.folder import AuditFolder, quote_pages
from imr_llm.review.reasons import reasons_for
from imr_llm.review.store import Event, ReviewState, ReviewStore, open_store
from imr_llm.schemas import Evidence, Severity

INFO = Severity.info.rank


class Workbench:
    def __init__(self, out: Path | str, *, store_timeout: float = 10.0):
        self.out = Path(out)
        self.folder = AuditFolder.load(self.out)
        self.store: ReviewStore = open_store(self.out, timeout=store_timeout)
        self._lock = threading.Lock()
        self.store.note_seen(self.folder.finding_pairs())

    def refresh(self) -> bool:
        """Re-read results.jsonl when a re-audit changed it; returns whether it did."""
        with self._lock:
            if not self.folder.changed():
                return False
            self.folder = AuditFolder.load(self.out)
            self.store.note_seen(self.folder.finding_pairs())
            return True

    # ---------- derived state ----------

    @staticmethod
    def reviewed(entry_findings: list[dict], letter_id: str, st: ReviewState) -> bool:
        ev = st.letters.get(letter_id)
        if ev is not None:
            return ev.verdict == "reviewed"
        judged = [f for f in entry_findings if Severity(f["severity"]).rank > INFO]
        return bool(judged) and all(f["id"] in st.verdicts for f in judged)

    def index(self) -> dict:
        self.refresh()
        st = self.store.state()
        seen = self.store.seen_after()
        added_by_letter: dict[str, int] = {}
        for ev in st.added.values():
            if _live_added(ev, st):
                added_by_letter[ev.letter_id] = added_by_letter.get(ev.letter_id, 0) + 1
        rows: list[dict[str, Any]] = []
        flagged = reviewed_flagged = reviewed_all = 0
        for e in self.folder.letters:
            verdicts: dict[str | None, int] = {"confirmed": 0, "dismissed": 0, "unsure": 0}
            new = 0
            for f in e.findings:
                v = st.verdicts.get(f["id"])
                if v is not None:
                    verdicts[v.verdict] += 1
                elif seen.get(f["id"], 0) > 0:
                    new += 1
            is_flagged = any(Severity(f["severity"]).rank > INFO for f in e.findings)
            done = self.reviewed(e.findings, e.letter_id, st)
            flagged += is_flagged
            reviewed_flagged += is_flagged and done
            reviewed_all += done
            codes: list[str] = []
            for f in e.findings:
                if f["code"] not in codes:
                    codes.append(f["code"])
            rows.append(
                {
                    "n": e.n,
                    "id": e.letter_id,
                    "s": e.status,
                    "m": e.top,
                    "nf": len(e.findings),
                    "codes": codes,
                    "flagged": is_flagged,
                    "reviewed": done,
                    "v": verdicts,
                    "new": new,
                    "added": added_by_letter.get(e.letter_id, 0),
                }
            )
        # The queue: flagged letters by severity (then by how many findings), then the rest.
        queue = sorted(rows, key=lambda r: (-r["m"], -r["nf"], r["n"]))
        orphans = self.orphans(st)
        return {
            "folder": str(self.out),
            "letters": queue,
            "progress": {
                "flagged": flagged,
                "reviewed_flagged": reviewed_flagged,
                "letters": len(rows),
                "reviewed": reviewed_all,
            },
            "orphans": len(orphans),
            "events": st.events,
            "last_seq": st.last_seq,
            "ids_computed": self.folder.ids_added,
            "codes": _codes(),
        }

    def letter(self, letter_id: str) -> dict | None:
        self.refresh()
        rec = self.folder.record(letter_id)
        if rec is None:
            return None
        text = self.folder.text(letter_id)
        st = self.store.state()
        seen = self.store.seen_after()
        added = [ev for ev in st.added.values() if ev.letter_id == letter_id]
        added.sort(key=lambda ev: ev.seq)

        findings: list[dict[str, Any]] = []
        for tf in rec.findings:
            v = st.verdicts.get(tf.id or "")
            findings.append(
                {
                    "id": tf.id,
                    "origin": "tool",
                    "code": tf.code,
                    "severity": tf.severity.value,
                    "decision_index": tf.decision_index,
                    "message": tf.message,
                    "detector": tf.detector,
                    "evidence": [e.model_dump() for e in tf.evidence],
                    "verdict": _verdict(v, st),
                    "new": v is None and seen.get(tf.id or "", 0) > 0,
                }
            )
        for ev in added:
            d = ev.data
            v = st.verdicts.get(ev.finding_id or "")
            findings.append(
                {
                    "id": ev.finding_id,
                    "origin": "added",
                    "code": d.get("code"),
                    "severity": d.get("severity", "medium"),
                    "decision_index": d.get("decision_index"),
                    "message": ev.note or "added by " + ev.reviewer,
                    "detector": "auditor",
                    "evidence": d.get("evidence") or [],
                    "added_by": ev.reviewer,
                    "added_at": ev.at,
                    "verdict": _verdict(v, st) if v is not None else None,
                    "new": False,
                }
            )

        spans: list[tuple[int, int, str]] = []
        status: list[list[str]] = []
        for fi, f in enumerate(findings):
            row = []
            for ei, ev in enumerate(f["evidence"]):
                found = None
                if text is not None:
                    found = _locate(
                        text, Evidence(quote=ev["quote"], start=ev["start"], end=ev["end"])
                    )
                if found is None:
                    row.append(EV_MISSING)
                    continue
                row.append(found[2])
                spans.append((found[0], found[1], f"{fi}.{ei}"))
            status.append(row)
        segments = None
        if text is not None:
            anchors = []
            for dec in rec.decisions:
                start = dec.heading_span[0] if dec.heading_span else dec.span[0]
                if 0 <= start <= len(text):
                    anchors.append((start, dec.index))
            segments = _segments(text, spans, anchors)

        pdf = self.folder.source_pdf(letter_id)
        if pdf is not None:
            quotes = [ev["quote"] for f in findings for ev in f["evidence"]]
            pages = iter(quote_pages(pdf, quotes))
            for f in findings:
                for ev in f["evidence"]:
                    ev["page"] = next(pages, None)

        entry = self.folder.by_id[letter_id]
        letter_ev = st.letters.get(letter_id)
        return {
            "record": {
                "letter_id": rec.letter_id,
                "source": rec.source,
                "sha256": rec.sha256,
                "layout": rec.layout,
                "status": rec.status,
                "error": rec.error.model_dump(mode="json") if rec.error else None,
                "case": rec.case.model_dump(mode="json"),
                "decisions": [
                    {
                        "index": d.index,
                        "item": d.item,
                        "outcome": d.outcome,
                        "conclusion": d.conclusion,
                    }
                    for d in rec.decisions
                ],
                "summary": rec.summary,
            },
            "findings": findings,
            "v": status,
            "t": segments,
            "pdf": pdf is not None,
            "reviewed": self.reviewed(entry.findings, letter_id, st),
            "letter_event": letter_ev.as_dict() if letter_ev else None,
            "reasons": {f["code"]: reasons_for(f["code"]) for f in findings if f["code"]},
            "last_seq": st.last_seq,
        }

    def orphans(self, st: ReviewState | None = None) -> list[dict]:
        """Verdicts whose finding is no longer in results.jsonl (a re-audit dropped or changed
        it): listed with the snapshot taken when the verdict was recorded, never dropped."""
        st = st or self.store.state()
        live = self.folder.finding_ids()
        out = []
        for fid, ev in st.verdicts.items():
            if fid in live or fid in st.added:
                continue
            snap = ev.data.get("finding") or {}
            out.append(
                {
                    "finding_id": fid,
                    "letter_id": ev.letter_id,
                    "letter_present": ev.letter_id in self.folder.by_id,
                    "verdict": ev.verdict,
                    "reason": ev.reason,
                    "note": ev.note,
                    "reviewer": ev.reviewer,
                    "at": ev.at,
                    "code": snap.get("code"),
                    "severity": snap.get("severity"),
                    "decision_index": snap.get("decision_index"),
                    "message": snap.get("message"),
                    "evidence": snap.get("evidence") or [],
                }
            )
        out.sort(key=lambda o: (o["letter_id"], o["at"]))
        return out

    def snapshot(self, letter_id: str, finding_id: str) -> dict | None:
        """The finding as it is now (for the verdict's snapshot), or None when unknown."""
        rec = self.folder.record(letter_id)
        if rec is None:
            return None
        for f in rec.findings:
            if f.id == finding_id:
                return {
                    "code": f.code,
                    "severity": f.severity.value,
                    "decision_index": f.decision_index,
                    "message": f.message,
                    "evidence": [e.model_dump() for e in f.evidence],
                    "letter_sha256": rec.sha256,
                }
        st = self.store.state()
        ev = st.added.get(finding_id)
        if ev is not None and ev.letter_id == letter_id:
            return {"added": True, **ev.data}
        return None


def _verdict(ev: Event | None, st: ReviewState) -> dict | None:
    if ev is None:
        return None
    return {
        "verdict": ev.verdict,
        "reason": ev.reason,
        "note": ev.note,
        "reviewer": ev.reviewer,
        "at": ev.at,
        "seq": ev.seq,
        "events": st.history.get(ev.finding_id or "", 1),
    }


def _live_added(ev: Event, st: ReviewState) -> bool:
    """An added finding counts unless a later verdict dismissed it (the way to retract one)."""
    v = st.verdicts.get(ev.finding_id or "")
    return v is None or v.verdict != "dismissed"


def _codes() -> list[dict]:
    from imr_llm.codes import SPECS

    return [
        {"code": c.value, "severity": s.default.value, "meaning": s.meaning}
        for c, s in SPECS.items()
    ]
