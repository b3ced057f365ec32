"""One ``--out`` folder holds one run: its manifest (``run.json``), the resume key of each
letter, how an audit uses the folder (new, resume, append, force), letter ids unique within the
run, and the hand-edited CSV files set aside before they are rewritten."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imr_llm.ingest import InputFile, resolve_path
from imr_llm.report import writers
from imr_llm.schemas import ErrorKind, Severity

# Errors worth retrying on resume: the same bytes may succeed next time.
RETRYABLE = {ErrorKind.llm_error.value, ErrorKind.internal.value}
MANIFEST_VERSION = 1
SEVERITY_BY_RANK = {s.rank: s for s in Severity}

Key = tuple[str, str | None]  # resolved absolute path, sha256: a letter's resume key


class RunFolderError(Exception):
    """The ``--out`` folder cannot take this audit; the message says what to do instead."""


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imr-llm")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


@dataclass(slots=True)
class LetterEntry:
    """The per-letter index: everything the batch keeps about a letter once its line is written."""

    letter_id: str
    status: str
    top: int  # highest finding severity rank, -1 without findings
    offset: int  # byte offset of its line in results.jsonl
    length: int  # byte length of that line, newline included

    @property
    def max_severity(self) -> Severity | None:
        return SEVERITY_BY_RANK.get(self.top)


@dataclass
class RunEntry:
    """One letter of the run, as the manifest lists it."""

    path: str  # resolved absolute path
    source: str  # as given
    sha256: str | None
    letter_id: str
    input: InputFile | None = None  # None: a letter of an earlier audit of this run

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "source": self.source,
            "sha256": self.sha256,
            "letter_id": self.letter_id,
        }


def key(path: str, sha256: str | None) -> Key:
    return (path, sha256)


def top_rank(findings) -> int:
    return max((Severity(f["severity"]).rank for f in findings or []), default=-1)


def read_manifest(out: Path) -> dict:
    """The folder's manifest (empty without one). Raises ``RunFolderError`` when ``out`` is a
    file or its manifest is damaged."""
    if out.exists() and not out.is_dir():
        raise RunFolderError(
            f"--out {out} is a file, not a folder; give a folder path (a new one, or the folder "
            "of an earlier audit to resume it)"
        )
    try:
        manifest = writers.read_manifest(out) if out.is_dir() else None
    except ValueError as exc:
        raise RunFolderError(
            f"{exc}: this folder's run manifest is damaged; re-run with --force to start over, "
            "or give a new --out folder"
        ) from None
    return manifest or {}


def run_mode(
    out: Path,
    before: list[RunEntry],
    now: list[RunEntry],
    *,
    force: bool,
    append: bool,
    holds_run: Callable[[], bool],
) -> str:
    """How this audit uses ``out``: "new", "resume", "append" or "force". Raises
    ``RunFolderError`` when the folder holds another run and neither flag is set."""
    if force:
        return "force" if holds_run() else "new"
    if not before:
        return "new"
    if {e.path for e in before} == {e.path for e in now}:
        return "resume"
    if append:
        return "append"
    raise RunFolderError(_mismatch_message(out, before, now))


def run_letters(mode: str, before: list[RunEntry], now: list[RunEntry]) -> list[RunEntry]:
    """The run's letters, in order, with their ids: an earlier audit's keep theirs."""
    if mode == "append":
        by_path = {e.path: e for e in now}
        run: list[RunEntry] = []
        for e in before:
            cur = by_path.pop(e.path, None)
            if cur is not None:
                cur.letter_id = e.letter_id
                run.append(cur)
            else:
                run.append(e)
        run.extend(by_path.values())
        return run
    ids = {e.path: e.letter_id for e in before}
    for e in now:
        e.letter_id = ids.get(e.path, "")
    return now


def unique_ids(entries: list[RunEntry], taken: set[str]) -> dict[str, list[str]]:
    """Give each entry without a letter id its file stem, or ``stem~N`` (N = 2, 3, ... in input
    order) when the stem is taken; returns stem -> every id given to it, for stems used twice."""
    dupes: dict[str, list[str]] = {}
    stems: dict[str, list[str]] = {}
    for e in entries:
        stem = Path(e.source).stem if not e.letter_id else None
        if stem is None:
            stems.setdefault(e.letter_id.split("~")[0], []).append(e.letter_id)
            continue
        lid, n = stem, 1
        while lid in taken:
            n += 1
            lid = f"{stem}~{n}"
        e.letter_id = lid
        taken.add(lid)
        stems.setdefault(stem, []).append(lid)
    for stem, ids in stems.items():
        if len(ids) > 1:
            dupes[stem] = ids
    return dupes


def _record_path(rec: dict) -> str:
    """The resolved path a record was audited from: its ``path`` field, or (records written
    before the field existed) its source resolved here."""
    return rec.get("path") or resolve_path(rec.get("source", "")) or rec.get("source", "")


def previous_run(
    manifest: dict | None, results_path: Path
) -> tuple[list[RunEntry], dict[Key, LetterEntry], dict[Key, LetterEntry]]:
    """What the folder holds: the run's letters in order (the manifest's, then any record the
    manifest does not list), and per resume key the last record line and the last one that
    counts as done."""
    entries: dict[str, RunEntry] = {}
    for m in (manifest or {}).get("inputs") or []:
        if isinstance(m, dict) and m.get("path"):
            entries[m["path"]] = RunEntry(
                m["path"],
                m["source"] if "source" in m else m["path"],
                m.get("sha256"),
                m.get("letter_id", ""),
            )
    previous: dict[Key, LetterEntry] = {}
    done: dict[Key, LetterEntry] = {}
    for offset, length, rec in writers.scan_results(results_path):
        path = _record_path(rec)
        k = key(path, rec.get("sha256"))
        entry = LetterEntry(
            letter_id=rec.get("letter_id", ""),
            status=rec.get("status", "error"),
            top=top_rank(rec.get("findings")),
            offset=offset,
            length=length,
        )
        previous[k] = entry
        if rec.get("status") == "ok" or (rec.get("error") or {}).get("kind") not in RETRYABLE:
            done[k] = entry
        if path not in entries:
            entries[path] = RunEntry(path, rec.get("source", path), k[1], entry.letter_id)
    return list(entries.values()), previous, done


def _mismatch_message(out: Path, before: list[RunEntry], now: list[RunEntry]) -> str:
    old = {e.path for e in before}
    new = {e.path for e in now}
    added, gone = len(new - old), len(old - new)
    parts = []
    if added:
        parts.append(f"{added} of these inputs are not in it")
    if gone:
        parts.append(f"{gone} of its letters are not among these inputs")
    return (
        f"{out} already holds the results of an audit of {len(old)} other letter(s) "
        f"({'; '.join(parts)}). One folder holds one run, so nothing was written. Re-run with "
        f"--append to add these letters to that run (results.jsonl, findings.csv and "
        f"report.html then cover all of them), --force to discard it and start over, or "
        f"give a new --out folder."
    )


def keep_edited(
    out: Path, name: str, recorded: str | None, warning: Callable[[str], None]
) -> Path | None:
    """Set aside ``out/name`` when its sha256 is not the one the last run wrote (edited by
    hand): renamed to ``name.edited-<timestamp>``; returns the new path."""
    path = out / name
    now = writers.file_digest(path)
    if now is None or recorded is None or now == recorded:
        return None
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    kept = path.with_name(f"{name}.edited-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{name}.edited-{stamp}-{n}")
    os.replace(path, kept)
    warning(
        f"{path} was changed since the last audit wrote it; your copy is kept as {kept.name} "
        f"and {name} is written afresh"
    )
    return kept
