"""The batch runner keeps a small per-letter index and streams its outputs from results.jsonl:
the records it returns, the in-order rewrite, findings.csv and report.html must be exactly what
the records say, across resumes, other inputs' leftovers, retryable errors and interrupts."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from builders import EXAMPLES
from imr_llm.audit import AuditOptions, RunFolderError, run_audit
from imr_llm.ingest import expand_paths
from imr_llm.report import writers


def _batch(tmp_path: Path, copies: int) -> Path:
    src = sorted(EXAMPLES.glob("*.pdf")) + sorted(EXAMPLES.glob("*.txt"))
    batch = tmp_path / "in"
    batch.mkdir()
    for i in range(copies):
        for p in src:
            shutil.copy(p, batch / f"{i:03d}-{p.name}")
    (batch / "zz-not-a-letter.txt").write_text("Grocery list: apples, pears, milk.\n")
    return batch


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_bytes().decode().splitlines()]


def _audit(batch: Path, out: Path, **kw) -> object:
    inputs, _ = expand_paths([str(batch)])
    return run_audit(inputs, AuditOptions(out=out, progress=False, **kw))


def test_outputs_stream_from_the_results_file(tmp_path):
    batch = _batch(tmp_path, 4)
    out = tmp_path / "out"
    r = _audit(batch, out, workers=2)
    final = _lines(out / writers.RESULTS)
    sources = sorted(str(p) for p in batch.iterdir())
    assert [x["source"] for x in final] == sources
    # the result's records are the file's records, in input order, read lazily
    assert isinstance(r.records, writers.ResultsView)
    assert list(r.records) == final
    assert r.records[3] == final[3] and r.records[-1] == final[-1]
    assert [x["source"] for x in r.records[2:5]] == sources[2:5]
    # the index agrees with the records
    assert [e.letter_id for e in r.letters] == [x["letter_id"] for x in final]
    errors = [x for x in final if x["status"] == "error"]
    assert errors and list(r.errors) == errors
    tops = [max(f["severity"] for f in x["findings"]) for x in final if x["findings"]]
    assert (r.max_severity() is None) == (not tops)
    # findings.csv: one row per finding, in record order, and the counts match
    with open(out / writers.FINDINGS, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = [(x["source"], f["code"]) for x in final for f in x["findings"]]
    assert [(row["source"], row["code"]) for row in rows] == expected
    assert sum(r.counts.values()) == len(expected)
    html = (out / writers.REPORT).read_text(encoding="utf-8")
    assert html.count('type="application/x-imr-chunk"') >= 1


def _rewrite(path: Path, records: list[dict], torn: bool = True) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        if torn:
            fh.write('{"schema_version":1,"letter_id":"torn')  # killed mid-write


def test_resume_redoes_retryable_errors_and_missing_letters(tmp_path):
    batch = _batch(tmp_path, 2)
    out = tmp_path / "out"
    _audit(batch, out, workers=1, html=False)
    first = _lines(out / writers.RESULTS)
    # a letter never finished, and a retryable failure of another
    retry = dict(first[1], status="error", error={"kind": "llm_error", "message": "LLM timeout"})
    path = out / writers.RESULTS
    _rewrite(path, [retry, *first[2:]])
    r = _audit(batch, out, workers=2, html=False)
    assert r.mode == "resume"
    assert r.processed == 2 and r.skipped == len(first) - 2  # first[0] and the retryable one
    final = _lines(path)
    assert final == list(r.records)
    assert [x["source"] for x in final] == [x["source"] for x in first]
    assert final[1]["status"] == "ok"  # redone
    for a, b in zip(final[2:], first[2:], strict=True):
        assert a == b  # byte-for-byte the same records, not redone


def test_other_inputs_in_the_folder_refuse_or_append(tmp_path):
    """Issue 15, item 3: a folder that holds another run's letters is never silently mixed."""
    batch = _batch(tmp_path, 2)
    out = tmp_path / "out"
    _audit(batch, out, workers=1, html=False)
    first = _lines(out / writers.RESULTS)
    stranger = dict(first[0], source="/elsewhere/old.pdf", path="/elsewhere/old.pdf")
    stranger["letter_id"] = "old"
    path = out / writers.RESULTS
    _rewrite(path, [stranger, *first], torn=False)
    before = path.read_bytes()
    with pytest.raises(RunFolderError, match="--append.*--force"):
        _audit(batch, out, workers=2, html=False)
    assert path.read_bytes() == before  # refused: nothing written

    r = _audit(batch, out, workers=2, html=False, append=True)
    assert r.mode == "append" and r.processed == 0
    final = _lines(path)
    assert final == list(r.records)
    # the manifest's letters in order, then the record it did not list
    assert final[:-1] == first and final[-1] == stranger
    with open(out / writers.FINDINGS, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {row["letter_id"] for row in rows} == {x["letter_id"] for x in final if x["findings"]}
    manifest = json.loads((out / writers.MANIFEST).read_text())
    assert [m["path"] for m in manifest["inputs"]] == [x["path"] for x in final]


def test_interrupt_keeps_every_finished_letter(tmp_path):
    batch = _batch(tmp_path, 3)
    out = tmp_path / "out"
    inputs, _ = expand_paths([str(batch)])
    seen = []

    def stop_after_five(entry):
        seen.append(entry.letter_id)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_audit(inputs, AuditOptions(out=out, workers=1, html=False), on_progress=stop_after_five)
    written = _lines(out / writers.RESULTS)
    assert len(written) == 5  # each letter is on disk before it is reported
    assert [x["source"] for x in written] == sorted(x["source"] for x in written)
    r = run_audit(inputs, AuditOptions(out=out, workers=1, html=False))
    assert r.skipped == len(written) and r.processed == len(inputs) - len(written)
    assert [x["source"] for x in r.records] == [i.source for i in inputs]
