"""Batch runner: rules across processes, LLM calls async and bounded, durable resume.

Each finished letter is appended to ``results.jsonl`` as one complete line and fsynced before it
counts as done (the letters of a chunk that arrive together share one fsync). A re-run with the
same ``--out`` skips letters already done (same resolved absolute path and sha256, however the
path was typed and from whichever directory) and finishes the rest; at the end the file is
rewritten, atomically, in input order.

One ``--out`` folder holds one run. ``run.json`` (the manifest) lists the run's inputs (resolved
path, sha256, letter id) and options, and the sha256 of the CSV files it last wrote. An audit
whose inputs are not the run's refuses (``RunFolderError``) unless ``force`` (start over) or
``append`` (merge: the run becomes both sets of letters); results.jsonl, findings.csv,
evidence.csv and report.html always hold the same letters. A findings.csv or evidence.csv whose
sha256 is not the one recorded (edited by hand) is kept as ``NAME.edited-<timestamp>`` before it
is rewritten. Letter ids are unique within a run: a repeated file stem gets ``~2``, ``~3``... in
input order. That bookkeeping is ``run_folder``'s.

Memory does not grow with the batch: the process pool runs only a few chunks ahead of the
writer, and a finished letter leaves behind only its ``LetterEntry`` (where its line is, its
status and top severity). The in-order rewrite, ``findings.csv``, ``report.html`` and the
``records`` of the result stream the records back from ``results.jsonl`` one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from imr_llm.ingest import DEFAULT_MAX_BYTES, InputFile, file_sha256
from imr_llm.pipeline import Analysis, analyze
from imr_llm.report import writers
from imr_llm.run_folder import (
    MANIFEST_VERSION,
    SEVERITY_BY_RANK,
    Key,
    LetterEntry,
    RunEntry,
    RunFolderError,
    keep_edited,
    key,
    package_version,
    previous_run,
    read_manifest,
    run_letters,
    run_mode,
    top_rank,
    unique_ids,
)
from imr_llm.schemas import Severity

__all__ = [
    "AuditOptions",
    "AuditResult",
    "LetterEntry",
    "RunFolderError",
    "package_version",
    "run_audit",
]

log = logging.getLogger(__name__)

PARALLEL_THRESHOLD = 16


@dataclass(slots=True)
class _Done:
    """One finished letter, serialized and ready to write (built in a worker when possible)."""

    path: str  # resolved absolute path: with sha256, the resume key
    sha256: str | None
    letter_id: str
    status: str
    top: int
    line: bytes
    text: bytes | None  # writers.pack_text of the letter text


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
    append: bool = False  # merge these inputs into the run already in ``out``
    excel: bool = False  # CSV files start with a UTF-8 byte-order mark
    warn: Callable[[str], None] | None = None  # warnings for the user (default: logged)

    def warning(self, message: str) -> None:
        (self.warn or log.warning)(message)


@dataclass
class AuditResult:
    """``records``: the batch's records in input order, read lazily from ``results.jsonl``
    (a sequence of dicts; iterating it holds one record at a time). ``letters``: the index."""

    records: Sequence[dict]
    processed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    counts: Counter = field(default_factory=Counter)
    letters: list[LetterEntry] = field(default_factory=list)
    path: Path | None = None
    mode: str = "new"  # "new" | "resume" | "append" | "force": how this audit used ``out``
    previous: int = 0  # letters the folder's run held before this audit (append)
    kept_edits: list[Path] = field(default_factory=list)  # hand-edited CSVs set aside
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # stem -> the ids given

    @property
    def errors(self) -> Sequence[dict]:
        bad = [e for e in self.letters if e.status == "error"]
        if self.path is None:
            return [r for r in self.records if r["status"] == "error"]
        return writers.ResultsView(self.path, [e.offset for e in bad], [e.length for e in bad])

    def max_severity(self) -> Severity | None:
        top = max((e.top for e in self.letters), default=-1)
        return SEVERITY_BY_RANK.get(top)


def _done(analysis: Analysis, path: str) -> _Done:
    rec = analysis.record
    rec.path = path
    obj = rec.to_json_dict()
    return _Done(
        path=path,
        sha256=rec.sha256,
        letter_id=rec.letter_id,
        status=rec.status,
        top=top_rank(obj.get("findings")),
        line=writers.record_line(obj),
        text=writers.pack_text(analysis.letter.text) if analysis.letter is not None else None,
    )


Job = tuple[str, str, int, str, str]  # path, source, max_bytes, letter id, resolved path


def _analyze_job(job: Job) -> Analysis:
    path, source, max_bytes, letter_id, _resolved = job
    analysis = analyze(Path(path), source=source, max_bytes=max_bytes)
    analysis.record.letter_id = letter_id
    return analysis


def _analyze_chunk(jobs: list[Job]) -> list[tuple[Analysis, str]]:
    return [(_analyze_job(job), job[4]) for job in jobs]


def _done_chunk(jobs: list[Job]) -> list[_Done]:
    """Rules-only work for a worker: analyze and serialize, so the parent only writes."""
    return [_done(_analyze_job(job), job[4]) for job in jobs]


def _chunks(jobs: list, size: int, workers: int) -> Iterator[list]:
    """``jobs`` in chunks of ``size``, but the last ``workers`` chunks' worth in quarter
    chunks: the workers then finish at about the same time, not one of them a chunk late."""
    tail = max(0, len(jobs) - size * workers)
    i = 0
    while i < len(jobs):
        n = size if i < tail else max(1, size // 4)
        yield jobs[i : i + n]
        i += n


class _OrderedPool:
    """``fn`` over chunks of ``jobs`` in a process pool, results in input order, with at most
    ``ahead`` chunks submitted and not yet consumed (so results never pile up in memory).

    The workers start, and the first chunks are submitted, when this is built: build it in the
    main thread, before anything else runs there (the workers are forked from it)."""

    def __init__(self, fn, jobs: list, workers: int, chunk: int, ahead: int):
        self._fn = fn
        self._chunks = _chunks(jobs, chunk, workers)
        self._pool = ProcessPoolExecutor(max_workers=workers)
        self._pending = deque(
            self._pool.submit(fn, c) for c in itertools.islice(self._chunks, ahead)
        )

    def __iter__(self) -> Iterator[list]:
        try:
            while self._pending:
                result = self._pending.popleft().result()
                nxt = next(self._chunks, None)
                if nxt is not None:
                    self._pending.append(self._pool.submit(self._fn, nxt))
                yield result
        except BaseException:
            self.close()
            raise
        self._pool.shutdown()

    def close(self) -> None:
        """Stop: queued chunks are dropped, running ones finish in their worker."""
        self._pending.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(slots=True)
class _Todo:
    input: InputFile
    letter_id: str
    resolved: str


def _jobs(todo: list[_Todo], options: AuditOptions) -> list[Job]:
    return [
        (str(t.input.path), t.input.source, options.max_bytes, t.letter_id, t.resolved)
        for t in todo
    ]


def _workers(options: AuditOptions) -> int:
    return options.workers or os.cpu_count() or 1


def _rules_results(todo: list[_Todo], options: AuditOptions) -> Iterator[list[_Done]]:
    """Rules-only results in input order: one letter at a time in this process, or a chunk at
    a time from the process pool."""
    jobs = _jobs(todo, options)
    workers = _workers(options)
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        for job in jobs:
            yield [_done(_analyze_job(job), job[4])]
        return
    chunk = max(1, min(32, len(jobs) // (workers * 8)))
    _warm()
    yield from _OrderedPool(_done_chunk, jobs, workers, chunk, ahead=workers * 2)


def _warm() -> None:
    """Load what every letter needs (the checks, the guideline catalog, PDFium) once, here,
    before the workers are forked, instead of once in each worker."""
    import pypdfium2  # noqa: F401

    from imr_llm.checks import load_checks
    from imr_llm.guidelines import catalog

    load_checks()
    catalog()


def _write_rules(todo: list[_Todo], options: AuditOptions, finish) -> None:
    """Write rules-only results as they come: the letters of a chunk arrive together and are
    committed together (one write, one fsync: a group commit)."""
    for results in _rules_results(todo, options):
        finish(results)


def _analyses(
    todo: list[_Todo], options: AuditOptions
) -> tuple[Iterator[tuple[Analysis, str]], _OrderedPool | None]:
    """Rules results for the LLM stage, in input order, and the pool to close when done. Even
    with one worker a batch runs the rules in a separate process, so they do not compete with
    the event loop for the GIL; the pool starts at once, so the first letters are analyzed while
    the LLM client starts."""
    jobs = _jobs(todo, options)
    if len(jobs) < PARALLEL_THRESHOLD:
        return ((_analyze_job(job), job[4]) for job in jobs), None
    workers = _workers(options)
    chunk = 4 if len(jobs) >= workers * 32 else 1
    pool = _OrderedPool(_analyze_chunk, jobs, workers, chunk, ahead=workers * 2)
    return itertools.chain.from_iterable(pool), pool


def _options_json(options: AuditOptions) -> dict:
    llm = options.llm
    return {
        "llm": getattr(llm, "backend", None) or ("none" if llm is None else str(llm)),
        "model": getattr(llm, "model", None),
        "max_bytes": options.max_bytes,
        "html": options.html,
        "excel": options.excel,
    }


def run_audit(
    inputs: list[InputFile],
    options: AuditOptions,
    on_progress: Callable[[LetterEntry], None] | None = None,
) -> AuditResult:
    """Audit ``inputs`` into ``options.out``; ``on_progress`` gets each letter's entry once its
    line is on disk. Raises ``RunFolderError`` when ``out`` is not a folder, or holds another
    run and neither ``force`` nor ``append`` is set (nothing is written then)."""
    started = time.perf_counter()
    out = options.out
    manifest = read_manifest(out)
    results_path = out / writers.RESULTS
    before: list[RunEntry] = []
    done: dict[Key, LetterEntry] = {}
    if not options.force:
        before, _, done = previous_run(manifest, results_path)

    now = [RunEntry(i.key_path, i.source, file_sha256(i.path), "", i) for i in inputs]
    mode = run_mode(
        out,
        before,
        now,
        force=options.force,
        append=options.append,
        holds_run=lambda: results_path.exists() or bool(manifest),
    )
    run = run_letters(mode, before, now)
    result = AuditResult(records=[], path=results_path, mode=mode)
    result.previous = len(before) if mode == "append" else 0
    result.duplicates = unique_ids(run, {e.letter_id for e in run if e.letter_id})
    for stem, lids in result.duplicates.items():
        options.warning(
            f"{len(lids)} inputs have the letter id {stem}; they are told apart as "
            f"{', '.join(lids)} (in input order): check they are not the same letter twice"
        )

    keys = [key(e.path, e.sha256) for e in run]
    todo = [
        _Todo(e.input or InputFile(Path(e.path), e.source, e.path), e.letter_id, e.path)
        for e, k in zip(run, keys, strict=True)
        if k not in done or k[1] is None
    ]
    result.skipped = len(run) - len(todo)

    writers.ensure_private_dir(out)
    # Kept under --force too: a hand-edited CSV is set aside whatever the audit.
    outputs = dict(manifest.get("outputs") or {})
    record = _manifest_record(manifest, mode, run, outputs, options)
    writers.write_manifest(out, record)

    store = writers.TextStore(out / writers.TEXTS)
    fresh: dict[Key, LetterEntry] = {}
    try:
        with writers.ResultsWriter(results_path, truncate=mode == "force") as sink:
            _audit_letters(todo, options, _Commit(sink, store, fresh, result, on_progress))
    finally:
        _keep_run_order(result, results_path, keys, fresh, done)
    try:
        _write_outputs(out, result, outputs, store, options)
    finally:
        store.close()
    record.update(
        state="complete" if len(result.letters) == len(run) else "incomplete",
        updated=datetime.now(UTC).isoformat(timespec="seconds"),
        outputs=outputs,
    )
    writers.write_manifest(out, record)
    result.seconds = time.perf_counter() - started
    return result


def _manifest_record(
    manifest: dict, mode: str, run: list[RunEntry], outputs: dict, options: AuditOptions
) -> dict:
    """The manifest of this audit while it runs (``state`` "running")."""
    created = manifest.get("created") if mode in ("resume", "append") else None
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": f"imr-llm {package_version()}",
        "created": created or stamp,
        "updated": stamp,
        "state": "running",
        "last_audit": mode,
        "options": _options_json(options),
        "letters": len(run),
        "inputs": [e.to_json() for e in run],
        "outputs": outputs,
    }


class _Commit:
    """Commits a batch of finished letters: texts, then their lines (one write, one fsync),
    then their entries in ``fresh`` and ``on_progress``."""

    def __init__(
        self,
        sink: writers.ResultsWriter,
        store: writers.TextStore,
        fresh: dict[Key, LetterEntry],
        result: AuditResult,
        on_progress: Callable[[LetterEntry], None] | None,
    ):
        self.sink = sink
        self.store = store
        self.fresh = fresh
        self.result = result
        self.on_progress = on_progress

    def __call__(self, batch: list[_Done]) -> None:
        # Texts first: a letter whose line is on disk always has its text stored.
        texts = [(d.sha256, d.text) for d in batch if d.text is not None and d.sha256]
        if texts:
            self.store.put_packed(texts)
        offsets = self.sink.write_lines([d.line for d in batch])
        entries = []
        for d, offset in zip(batch, offsets, strict=True):
            entry = LetterEntry(d.letter_id, d.status, d.top, offset, len(d.line))
            self.fresh[key(d.path, d.sha256)] = entry
            entries.append(entry)
        self.result.processed += len(entries)
        if self.on_progress:
            for entry in entries:
                self.on_progress(entry)


def _audit_letters(todo: list[_Todo], options: AuditOptions, finish: _Commit) -> None:
    if options.llm is None:
        _write_rules(todo, options, finish)
        return
    analyses, pool = _analyses(todo, options)
    try:
        asyncio.run(_llm_stage(analyses, options, finish))
    finally:
        if pool is not None:
            pool.close()


def _keep_run_order(
    result: AuditResult,
    results_path: Path,
    keys: list[Key],
    fresh: dict[Key, LetterEntry],
    done: dict[Key, LetterEntry],
) -> None:
    """Rewrite results.jsonl with the run's letters only, in order, and point ``result`` at
    them; a record of a letter not (or no longer, e.g. its file changed) in the run is dropped,
    so every output describes the same letters."""
    ordered: list[LetterEntry] = []
    seen: set[Key] = set()
    for k in keys:
        entry = fresh.get(k) or done.get(k)
        if entry is not None and k not in seen:
            seen.add(k)
            ordered.append(entry)
    offsets = writers.rewrite_lines_in_order(results_path, ((e.offset, e.length) for e in ordered))
    for entry, offset in zip(ordered, offsets, strict=True):
        entry.offset = offset
    result.letters = ordered
    result.records = writers.ResultsView(
        results_path, (e.offset for e in ordered), (e.length for e in ordered)
    )


def _write_outputs(
    out: Path,
    result: AuditResult,
    outputs: dict,
    store: writers.TextStore,
    options: AuditOptions,
) -> None:
    """findings.csv and evidence.csv (a hand-edited one set aside first; their digests into
    ``outputs``), and report.html, or no report."""
    for name in (writers.FINDINGS, writers.EVIDENCE):
        kept = keep_edited(out, name, outputs.get(name), options.warning)
        if kept is not None:
            result.kept_edits.append(kept)
    writers.write_findings_csv(
        out / writers.FINDINGS,
        _counting(result.records, result.counts),
        evidence_path=out / writers.EVIDENCE,
        bom=options.excel,
    )
    for name in (writers.FINDINGS, writers.EVIDENCE):
        outputs[name] = writers.file_digest(out / name)
    if options.html:
        _write_html(out, result.records, store)
    elif (out / writers.REPORT).exists():
        # A report of an earlier audit would describe other letters: it goes.
        os.unlink(out / writers.REPORT)


def _counting(records, counts: Counter) -> Iterator[dict]:
    for rec in records:
        for f in rec.get("findings") or []:
            counts[(f["code"], f["severity"])] += 1
        yield rec


def _write_html(out: Path, records, store: writers.TextStore) -> None:
    from imr_llm.report.html import write_html_report

    write_html_report(writers.iter_with_text(records, store), out / writers.REPORT)


async def _llm_stage(
    analyses: Iterator[tuple[Analysis, str]], options: AuditOptions, finish
) -> None:
    """Consume rules results as the process pool yields them; at most ``concurrency`` in flight."""
    from imr_llm.pipeline import LLMSession

    loop = asyncio.get_running_loop()
    lock = threading.Lock()
    sem = asyncio.Semaphore(max(1, options.concurrency))
    end = None  # what ``next`` gives once the analyses run out (they are tuples, never None)
    tasks: set[asyncio.Task] = set()
    # One rules result is always prepared ahead (in a thread; from the pool when there is
    # one), from before the client starts: the LLM stage never waits for the rules.
    upcoming = loop.run_in_executor(None, next, analyses, end)
    try:
        async with LLMSession(options.llm, use_cache=options.use_cache) as session:

            async def one(analysis: Analysis, path: str) -> None:
                try:
                    await session.enrich(analysis)
                finally:
                    with lock:
                        finish([_done(analysis, path)])
                    sem.release()

            while True:
                await sem.acquire()
                item = await upcoming
                if item is None:
                    sem.release()
                    break
                upcoming = loop.run_in_executor(None, next, analyses, end)
                task = asyncio.create_task(one(*item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
    finally:
        if not upcoming.done():
            with contextlib.suppress(BaseException):
                await upcoming
