"""A batch killed with SIGKILL resumes without redoing, losing or duplicating a letter."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from builders import EXAMPLES


def _batch(tmp_path: Path, copies: int) -> Path:
    src = sorted(EXAMPLES.glob("*.pdf")) + sorted(EXAMPLES.glob("*.txt"))
    batch = tmp_path / "in"
    batch.mkdir()
    for i in range(copies):
        for p in src:
            shutil.copy(p, batch / f"{i:04d}-{p.name}")
    return batch


def _audit(batch: Path | str, out: Path | str, *extra: str, cwd=None) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "imr_llm.cli",
        "audit",
        str(batch),
        "--out",
        str(out),
        "--no-html",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode().splitlines() if path.exists() else []


def test_sigkill_mid_batch_then_resume(tmp_path):
    batch = _batch(tmp_path, 60)
    total = len(list(batch.iterdir()))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    proc = _audit(batch, out, "--workers", "1")
    deadline = time.time() + 60
    while len(_lines(results)) < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = [json.loads(x) for x in _lines(results)]
    assert 20 <= len(done_before) < total, "the kill must land mid-batch"
    with open(results, "ab") as fh:  # a torn write, as if killed inside os.write
        fh.write(b'{"schema_version":1,"letter_id":"torn')

    proc = _audit(batch, out, "--workers", "2")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), stderr
    assert f"{len(done_before)} already done" in stdout.replace("\n", " ")

    final = [json.loads(x) for x in _lines(results)]
    sources = [r["source"] for r in final]
    assert len(final) == total
    assert len(set(sources)) == total
    assert sources == sorted(str(p) for p in batch.iterdir())
    by_source = {r["source"]: r for r in final}
    for rec in done_before:
        assert by_source[rec["source"]] == rec


def test_force_redoes_everything(tmp_path):
    batch = _batch(tmp_path, 1)
    out = tmp_path / "out"
    assert _audit(batch, out).wait(timeout=120) in (0, 1)
    proc = _audit(batch, out, "--force")
    stdout, _ = proc.communicate(timeout=120)
    assert "0 already done" in stdout.replace("\n", " ")
    assert len(_lines(out / "results.jsonl")) == len(list(batch.iterdir()))


def test_sigkill_then_resume_from_another_directory(tmp_path):
    """Issue 15, item 4: resume is keyed on the resolved path and sha256, not on how the path
    was typed: killed as `audit big --out x` in one directory, resumed as `audit ../here/big
    --out /abs/x` from another, every letter is in results.jsonl exactly once."""
    here = tmp_path / "here"
    here.mkdir()
    batch = _batch(here, 40)
    batch = batch.rename(here / "big")
    total = len(list(batch.iterdir()))
    (tmp_path / "elsewhere").mkdir()
    results = here / "x" / "results.jsonl"
    proc = _audit("big", "x", "--workers", "1", cwd=here)
    deadline = time.time() + 60
    while len(_lines(results)) < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_lines(results))
    assert 10 <= done_before < total, "the kill must land mid-batch"

    proc = _audit("../here/big", here / "x", "--workers", "2", cwd=tmp_path / "elsewhere")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), stderr
    assert f"{done_before} already done" in stdout.replace("\n", " ")
    final = [json.loads(x) for x in _lines(results)]
    assert len(final) == total
    assert sorted(r["path"] for r in final) == sorted(str(p.resolve()) for p in batch.iterdir())
    assert len({r["letter_id"] for r in final}) == total
