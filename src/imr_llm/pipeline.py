"""One letter through the rules path: ingest -> segment -> check -> summarize -> AuditRecord.

``analyze`` is pure and picklable in and out, so the batch runner can fan it out over processes.
The LLM stages (``imr_llm.extract.llm``, ``imr_llm.llm``) run afterwards on its result.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from imr_llm.checks import CheckContext, run_checks
from imr_llm.checks.base import Sections
from imr_llm.checks.instructions import find_instructions, mask
from imr_llm.ingest import DEFAULT_MAX_BYTES, IngestError, file_sha256, read_letter
from imr_llm.schemas import AuditRecord, ErrorKind, Letter, RecordError
from imr_llm.segment import segment

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    """The rules-path result for one letter; ``letter`` and ``sections`` feed the LLM stages."""

    record: AuditRecord
    letter: Letter | None = None
    sections: Sections | None = None
    injections: list[tuple[int, int]] | None = None

    @property
    def masked_text(self) -> str | None:
        if self.letter is None:
            return None
        return mask(self.letter.text, self.injections or [])


def error_record(
    letter_id: str, source: str, kind: ErrorKind, message: str, sha256: str | None = None
) -> AuditRecord:
    return AuditRecord(
        letter_id=letter_id,
        source=source,
        sha256=sha256,
        status="error",
        error=RecordError(kind=kind, message=message),
        summary="",
    )


def analyze_letter(letter: Letter) -> Analysis:
    """Segment, check and summarize an already-read letter (rules only)."""
    injections = find_instructions(letter.text)
    masked = mask(letter.text, injections)
    seg = segment(letter.model_copy(update={"text": masked}) if injections else letter)
    if not seg.decisions and not seg.is_imr:
        return Analysis(
            error_record(
                letter.letter_id,
                letter.source,
                ErrorKind.not_imr_letter,
                f"{letter.source}: does not read as an IMR determination letter (no IMR markers, "
                "no decisions); check that the right file was given",
                letter.sha256,
            )
        )
    record = AuditRecord(
        letter_id=letter.letter_id,
        source=letter.source,
        sha256=letter.sha256,
        layout=seg.layout,
        case=seg.case,
        decisions=seg.decisions,
    )
    ctx = CheckContext(
        letter=letter,
        record=record,
        sections=seg.sections,
        masked_text=masked,
        injections=injections,
    )
    record.findings = sort_findings(run_checks(ctx))
    record.summary = _summary(record)
    return Analysis(record, letter, seg.sections, injections)


def analyze(
    path: Path | str, source: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Analysis:
    """Read and analyze one file; every failure becomes an error record, never an exception."""
    path = Path(path)
    source = source if source is not None else str(path)
    started = time.perf_counter()
    try:
        letter = read_letter(path, max_bytes=max_bytes, source=source)
    except IngestError as exc:
        result = Analysis(error_record(path.stem, source, exc.kind, exc.message, file_sha256(path)))
    else:
        try:
            result = analyze_letter(letter)
        except Exception as exc:  # one bad letter never stops a batch
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "internal error on %s: %s at %s:%s",
                path.stem,
                type(exc).__name__,
                frame.filename,
                frame.lineno,
            )
            result = Analysis(
                error_record(
                    letter.letter_id,
                    source,
                    ErrorKind.internal,
                    f"internal error ({type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}); "
                    "please report it with the file's sha256",
                    letter.sha256,
                ),
                letter,
            )
    result.record.seconds = round(time.perf_counter() - started, 4)
    return result


def sort_findings(findings):
    return sorted(
        findings,
        key=lambda f: (
            -f.severity.rank,
            f.decision_index if f.decision_index is not None else -1,
            f.code,
        ),
    )


def _summary(record: AuditRecord) -> str:
    try:
        from imr_llm import summarize
    except ImportError:
        return ""
    return summarize.template_summary(record)
