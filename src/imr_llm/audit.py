"""Batch runner: rules across processes, LLM calls async and bounded, durable resume.

Each finished letter is appended to ``results.jsonl`` as one complete, fsynced line. A re-run
with the same ``--out`` skips letters already done (same source and sha256) and finishes the
rest; at the end the file is rewritten, atomically, in input order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from imr_llm.ingest import DEFAULT_MAX_BYTES, InputFile, file_sha256
from imr_llm.pipeline import Analysis, analyze
from imr_llm.report import writers
from imr_llm.schemas import AuditRecord, ErrorKind, Severity

log = logging.getLogger(__name__)

# Errors worth retrying on resume: the same bytes may succeed next time.
RETRYABLE = {ErrorKind.llm_error.value, ErrorKind.internal.value}
PARALLEL_THRESHOLD = 16


@dataclass
class AuditOptions:
    out: Path
    llm: object | None = None
    concurrency: int = 4
    workers: int | None = None
    use_cache: bool = True
    force: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    html: bool = True
    progress: bool = True


@dataclass
class AuditResult:
    records: list[dict]
    processed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    counts: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "error"]

    def max_severity(self) -> Severity | None:
        sev = [Severity(f["severity"]) for r in self.records for f in r.get("findings") or []]
        return max(sev, key=lambda s: s.rank) if sev else None


def _key(source: str, sha256: str | None) -> tuple[str, str | None]:
    return (source, sha256)


def _analyze_job(job: tuple[str, str, int]) -> Analysis:
    path, source, max_bytes = job
    return analyze(Path(path), source=source, max_bytes=max_bytes)


def _rules_results(todo: list[InputFile], options: AuditOptions) -> Iterator[Analysis]:
    jobs = [(str(i.path), i.source, options.max_bytes) for i in todo]
    workers = options.workers or os.cpu_count() or 1
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        for job in jobs:
            yield _analyze_job(job)
        return
    chunk = max(1, min(32, len(jobs) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        try:
            yield from pool.map(_analyze_job, jobs, chunksize=chunk)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run_audit(
    inputs: list[InputFile],
    options: AuditOptions,
    on_progress: Callable[[AuditRecord], None] | None = None,
) -> AuditResult:
    import time

    started = time.perf_counter()
    out = options.out
    writers.ensure_private_dir(out)
    results_path = out / writers.RESULTS
    previous = [] if options.force else writers.read_results(results_path)
    done: dict[tuple[str, str | None], dict] = {}
    for rec in previous:
        if rec.get("status") == "ok" or (rec.get("error") or {}).get("kind") not in RETRYABLE:
            done[_key(rec["source"], rec.get("sha256"))] = rec

    keys = [_key(i.source, file_sha256(i.path)) for i in inputs]
    todo = [i for i, k in zip(inputs, keys, strict=True) if k not in done or k[1] is None]
    result = AuditResult(records=[], skipped=len(inputs) - len(todo))
    store = writers.TextStore(out / writers.TEXTS)
    fresh: dict[tuple[str, str | None], dict] = {}
    try:
        with writers.ResultsWriter(results_path, truncate=options.force) as sink:

            def finish(analysis: Analysis) -> None:
                rec = analysis.record
                obj = rec.to_json_dict()
                sink.write(obj)
                if analysis.letter is not None:
                    store.put(analysis.letter.sha256, analysis.letter.text)
                fresh[_key(rec.source, rec.sha256)] = obj
                result.processed += 1
                if on_progress:
                    on_progress(rec)

            analyses = _rules_results(todo, options)
            if options.llm is None:
                for analysis in analyses:
                    finish(analysis)
            else:
                asyncio.run(_llm_stage(analyses, options, finish))
    finally:
        ordered: list[dict] = []
        seen: set[tuple[str, str | None]] = set()
        for k in keys:
            rec = fresh.get(k) or done.get(k)
            if rec is not None and k not in seen:
                seen.add(k)
                ordered.append(rec)
        others = _dedupe([r for r in previous if _key(r["source"], r.get("sha256")) not in seen])
        writers.rewrite_in_order(results_path, ordered + others)
        result.records = ordered
    writers.write_findings_csv(out / writers.FINDINGS, result.records)
    if options.html:
        _write_html(out, result.records, store)
    store.close()
    for rec in result.records:
        for f in rec.get("findings") or []:
            result.counts[(f["code"], f["severity"])] += 1
    result.seconds = time.perf_counter() - started
    return result


def _dedupe(records: list[dict]) -> list[dict]:
    last: dict[tuple, dict] = {}
    for r in records:
        last[_key(r["source"], r.get("sha256"))] = r
    return list(last.values())


def _write_html(out: Path, records: list[dict], store: writers.TextStore) -> None:
    from imr_llm.report.html import write_html_report

    write_html_report(writers.iter_with_text(records, store), out / writers.REPORT)


async def _llm_stage(analyses: Iterator[Analysis], options: AuditOptions, finish) -> None:
    """Consume rules results as the process pool yields them; at most ``concurrency`` in flight."""
    from imr_llm.pipeline import LLMSession

    loop = asyncio.get_running_loop()
    lock = threading.Lock()
    sem = asyncio.Semaphore(max(1, options.concurrency))
    end = object()
    tasks: set[asyncio.Task] = set()
    async with LLMSession(options.llm, use_cache=options.use_cache) as session:

        async def one(analysis: Analysis) -> None:
            try:
                await session.enrich(analysis)
            finally:
                with lock:
                    finish(analysis)
                sem.release()

        while True:
            await sem.acquire()
            analysis = await loop.run_in_executor(None, next, analyses, end)
            if analysis is end:
                sem.release()
                break
            task = asyncio.create_task(one(analysis))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
