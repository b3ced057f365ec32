"""What report.html shows of a review: per letter, whether it is reviewed, and each finding's
verdict. Read from the review store beside the report; any problem leaves the column out."""

from __future__ import annotations

import logging
from pathlib import Path

from imr_llm.review.store import STORE_NAME, ReviewState, ReviewStore, ReviewStoreError
from imr_llm.schemas import AuditRecord, Severity

log = logging.getLogger(__name__)


class ReviewMarks:
    def __init__(self, state: ReviewState):
        self.state = state

    def for_record(self, record: AuditRecord) -> tuple[bool, list[str | None], int]:
        """(letter reviewed, verdict per finding, auditor-added findings)."""
        st = self.state
        verdicts = []
        for f in record.findings:
            v = st.verdicts.get(f.id or "")
            verdicts.append(v.verdict if v else None)
        ev = st.letters.get(record.letter_id)
        if ev is not None:
            reviewed = ev.verdict == "reviewed"
        else:
            judged = [
                v for f, v in zip(record.findings, verdicts, strict=True) if f.severity.rank > 0
            ]
            reviewed = bool(judged) and all(v is not None for v in judged)
        added = 0
        for a in st.added.values():
            if a.letter_id != record.letter_id:
                continue
            mark = st.verdicts.get(a.finding_id or "")
            if mark is None or mark.verdict != "dismissed":
                added += 1
        return reviewed, verdicts, added


def load_marks(folder: Path) -> ReviewMarks | None:
    path = Path(folder) / STORE_NAME
    if not path.is_file():
        return None
    try:
        return ReviewMarks(ReviewStore(path, create=False).state())
    except ReviewStoreError as exc:
        log.warning("report.html without the review column: %s", exc.message)
        return None


_ = Severity
