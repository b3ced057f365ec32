"""One letter through the rules path: ingest -> segment -> check -> summarize -> AuditRecord.

``analyze`` is pure and picklable in and out, so the batch runner can fan it out over processes.
The LLM stages (``LLMSession``: ``imr_llm.questions`` over ``imr_llm.llm``) run afterwards on its
result.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imr_llm.checks import CheckContext, run_checks
from imr_llm.checks.instructions import find_instructions, mask
from imr_llm.codes import UNMERGED, Severity
from imr_llm.ingest import DEFAULT_MAX_BYTES, IngestError, file_sha256, read_letter
from imr_llm.schemas import AuditRecord, ErrorKind, Letter, RecordError
from imr_llm.segment import segment
from imr_llm.summarize import extractive_summary, summary_text
from imr_llm.text.spans import Sections

if TYPE_CHECKING:
    from imr_llm.llm.backends import Backend
    from imr_llm.llm.client import LLMClient
    from imr_llm.llm.config import LLMConfig

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
    record.summary_parts = extractive_summary(masked, record, seg.sections)
    record.summary = summary_text(record.summary_parts, record)
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


class LLMSession:
    """One backend (``imr_llm.llm.backends``: started and stopped here) and one LLM client for
    a whole batch.

    ``enrich`` runs the LLM stages the config's ``ask`` names on a rules result: ``extract``
    (pass 1 grounded facts, reconciled with the rules), ``checks`` (the pass-2 consistency
    questions, each asked only where an answer could settle something, decided in code) and
    ``summary`` (the grounded summary). Only this session writes
    the record. The model sees the letter with planted instructions blanked. An LLM failure
    turns the record into an ``llm_error`` record (retried on resume); the rules result is not
    silently kept.
    """

    def __init__(self, config, use_cache: bool = True):
        self.config: LLMConfig = config if use_cache else config.model_copy(update={"cache": False})
        self.backend: Backend | None = None
        self.client: LLMClient | None = None

    async def __aenter__(self) -> LLMSession:
        from imr_llm.llm.backends import get_backend
        from imr_llm.llm.client import LLMClient

        backend = self.backend = get_backend(self.config.backend)
        self.config = await backend.start(self.config)
        client = self.client = LLMClient(self.config)
        await client.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            if self.client is not None:
                await self.client.aclose()
        finally:
            if self.backend is not None:
                await self.backend.stop()

    async def enrich(self, analysis: Analysis) -> AuditRecord:
        from imr_llm.extract.reconcile import case_lists, reconcile
        from imr_llm.llm.client import UNANSWERABLE, LLMError
        from imr_llm.questions.base import LetterView
        from imr_llm.questions.scheduler import check_letter, read_letter

        record = analysis.record
        if record.status != "ok" or analysis.letter is None:
            return record
        letter = analysis.letter.model_copy(update={"text": analysis.masked_text})
        client = self.client
        sections = analysis.sections
        assert client is not None, "enrich runs inside `async with LLMSession(...)`"
        assert sections is not None  # the rules path sets sections with the letter
        failed: list[str] = []

        async def tolerant(coro, fallback=None):
            """A question the model cannot answer with grounded quotes is skipped and recorded;
            transport failures and exhausted budgets still fail the letter."""
            try:
                return await coro
            except LLMError as exc:
                if exc.kind not in UNANSWERABLE:
                    raise
                failed.append(exc.template or exc.kind)
                return fallback

        asks = self.config.ask
        try:
            view = LetterView(letter, record, sections)
            if "extract" in asks:
                extraction = view.extraction = await read_letter(client, view)
                failed.extend(extraction.failed_questions)
                record.findings.extend(reconcile(record, extraction, letter.text))
                for name, values in case_lists(record, extraction).items():
                    setattr(record.case, name, values)
            if "checks" in asks:
                cap = None if self.config.findings == "verified" else Severity.low
                record.findings.extend(await check_letter(client, view, at_most=cap))
            record.findings = sort_findings(merge_findings(record.findings))
            if "summary" in asks:
                await self._summarize(letter, record, sections, tolerant)
        except LLMError as exc:
            record.status = "error"
            record.error = exc.record_error()
        finally:
            record.llm = client.finish_letter(letter)
            record.llm.failed_questions = failed
        return record

    async def _summarize(self, letter: Letter, record: AuditRecord, sections, tolerant) -> None:
        """The grounded LLM summary; the extractive one stays, saying why, when it fails."""
        from imr_llm.summarize import llm_summary

        assert self.client is not None
        extractive = record.summary
        grounded = await tolerant(llm_summary(letter, record, self.client, sections))
        if grounded is None or not grounded.sentences:
            record.summary = extractive
            if record.summary_parts is not None:
                record.summary_parts.fallback_reason = (
                    "the LLM summary had no sentence grounded in the letter"
                    if grounded is not None
                    else "the LLM could not answer the summary question with grounded quotes"
                )


def merge_findings(findings):
    """One finding per (code, item): rules and LLM evidence for the same defect are merged."""
    merged: dict[tuple, object] = {}
    out = []
    for f in findings:
        key = (f.code, f.decision_index)
        first = merged.get(key)
        if first is None or f.code in UNMERGED:
            merged.setdefault(key, f)
            out.append(f)
            continue
        if first.detector != f.detector:
            seen = {(e.start, e.end) for e in first.evidence}
            first.evidence.extend(e for e in f.evidence if (e.start, e.end) not in seen)
            first.message = f"{first.message} (also found by {f.detector}: {f.message})"
        else:
            out.append(f)
    return out


def enrich_sync(analysis: Analysis, config, use_cache: bool = True) -> AuditRecord:
    """Run the LLM stages on one analysis (for the one-letter commands)."""
    import asyncio

    async def run() -> AuditRecord:
        async with LLMSession(config, use_cache=use_cache) as session:
            return await session.enrich(analysis)

    return asyncio.run(run())


def process_file(path: Path | str, config=None, use_cache: bool = True) -> AuditRecord:
    """One file to its full record; ``config`` None means rules only."""
    analysis = analyze(path)
    if config is not None and analysis.letter is not None:
        enrich_sync(analysis, config, use_cache)
    return analysis.record
