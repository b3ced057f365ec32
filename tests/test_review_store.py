"""The review store and the audit folder it sits in: stable finding ids, append-only events,
owner-only WAL file, concurrent writers, re-audits (kept / new / orphaned), bad input."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from imr_llm.review.folder import AuditFolder, AuditFolderError
from imr_llm.review.store import (
    STORE_NAME,
    ReviewInputError,
    ReviewStore,
    ReviewStoreError,
    open_store,
)
from imr_llm.review.workbench import Workbench
from imr_llm.schemas import AuditRecord, finding_id

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TXT = "004_152794f102d88e85.txt"


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "imr_llm.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode not in (0, 1):
        raise AssertionError(f"{args}: exit {proc.returncode}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Path:
    """An audit of the two text examples (fast), copied fresh per test by ``out``."""
    base = tmp_path_factory.mktemp("audit")
    letters = base / "letters"
    letters.mkdir()
    for p in EXAMPLES.glob("*.txt"):
        shutil.copy(p, letters / p.name)
    cli("audit", str(letters), "--out", str(base / "out"), "--fail-on", "never", "-q")
    return base


@pytest.fixture
def out(audited: Path, tmp_path: Path) -> Path:
    shutil.copytree(audited / "letters", tmp_path / "letters")
    cli(
        "audit",
        str(tmp_path / "letters"),
        "--out",
        str(tmp_path / "out"),
        "-q",
        "--fail-on",
        "never",
    )
    return tmp_path / "out"


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_finding_ids_are_stable_and_written(out: Path) -> None:
    recs = records(out)
    ids = [f["id"] for r in recs for f in r["findings"]]
    assert ids and all(len(i) == 16 for i in ids) and len(set(ids)) == len(ids)
    r = recs[0]
    f = r["findings"][0]
    assert f["id"] == finding_id(
        r["sha256"], f["code"], f["decision_index"], [e["quote"] for e in f["evidence"]]
    )
    # the same letter audited again gives the same ids; the CSVs carry them in a last column
    again = AuditRecord.model_validate(r).to_json_dict()
    assert [x["id"] for x in again["findings"]] == [x["id"] for x in r["findings"]]
    header = (out / "findings.csv").read_text().splitlines()[0].split(",")
    assert header[-1] == "finding_id"
    assert (out / "evidence.csv").read_text().splitlines()[0].split(",")[-1] == "finding_id"
    with open(out / "findings.csv", newline="") as fh:
        assert [row["finding_id"] for row in csv.DictReader(fh)] == ids


def test_store_is_private_wal_and_append_only(out: Path) -> None:
    store = open_store(out)
    path = out / STORE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ev, conflict = store.record_verdict(
        letter_id="x", finding_id="f1", verdict="confirmed", reviewer=" Ann  Lee ", base_seq=0
    )
    assert conflict is None and ev.reviewer == "Ann Lee"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for wal in path.parent.glob(STORE_NAME + "-*"):
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE events SET verdict = 'dismissed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events")
    db.close()
    # a second verdict never overwrites the first: both are kept, the latest is current
    ev2, conflict = store.record_verdict(
        letter_id="x",
        finding_id="f1",
        verdict="dismissed",
        reviewer="Bob",
        reason="misread",
        base_seq=0,
    )
    assert conflict is not None and conflict.seq == ev.seq  # Bob had not seen Ann's verdict
    st = store.state()
    assert st.verdicts["f1"].verdict == "dismissed" and st.history["f1"] == 2
    assert [e.verdict for e in store.events()] == ["confirmed", "dismissed"]
    for bad in (
        dict(verdict="maybe", reviewer="Ann"),
        dict(verdict="confirmed", reviewer="  "),
        dict(verdict="confirmed", reviewer="Ann", reason="x" * 500),
    ):
        with pytest.raises(ReviewInputError):
            store.record_verdict(letter_id="x", finding_id="f1", **bad)
    assert len(store.events()) == 2


def test_concurrent_writers_lose_nothing(out: Path) -> None:
    """Two sessions (threads with their own store objects, as two app processes would have)
    writing at once: every event is stored, none twice."""
    per_thread = 40
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        store = ReviewStore(out / STORE_NAME)
        try:
            for i in range(per_thread):
                store.record_verdict(
                    letter_id="L",
                    finding_id=f"f{i % 5}",
                    verdict=("confirmed", "dismissed", "unsure")[i % 3],
                    reviewer=name,
                    note=f"{name} {i}",
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("Ann", "Bob", "Cy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = open_store(out).events()
    assert len(events) == 3 * per_thread
    assert sorted(e.note for e in events) == sorted(
        f"{n} {i}" for n in ("Ann", "Bob", "Cy") for i in range(per_thread)
    )


def test_reaudit_keeps_verdicts_marks_new_and_lists_orphans(out: Path) -> None:
    wb = Workbench(out)
    first = {e.letter_id: e for e in wb.folder.letters}
    lid = TXT.removesuffix(".txt")
    kept = first[lid].findings[0]
    wb.store.record_verdict(
        letter_id=lid,
        finding_id=kept["id"],
        verdict="confirmed",
        reviewer="Ann",
        finding=wb.snapshot(lid, kept["id"]),
    )
    other = next(e for e in wb.folder.letters if e.letter_id != lid and e.findings)
    gone = other.findings[0]
    wb.store.record_verdict(
        letter_id=other.letter_id,
        finding_id=gone["id"],
        verdict="dismissed",
        reviewer="Ann",
        reason="misread",
        finding=wb.snapshot(other.letter_id, gone["id"]),
    )
    assert wb.orphans() == []

    # The other letter changes (its file is edited): re-audited, its findings get new ids.
    src = out.parent / "letters" / f"{other.letter_id}.txt"
    src.write_text(src.read_text() + "\nAddendum.\n")
    cli("audit", str(out.parent / "letters"), "--out", str(out), "-q", "--fail-on", "never")
    assert wb.refresh()
    idx = wb.index()
    rows = {r["id"]: r for r in idx["letters"]}
    assert rows[lid]["v"]["confirmed"] == 1  # kept on the unchanged letter
    assert rows[other.letter_id]["new"] == len(wb.folder.by_id[other.letter_id].findings) > 0
    assert rows[lid]["new"] == 0
    orphans = wb.orphans()
    assert [(o["finding_id"], o["verdict"], o["code"], o["reason"]) for o in orphans] == [
        (gone["id"], "dismissed", gone["code"], "misread")
    ]
    assert idx["orphans"] == 1
    letter = wb.letter(other.letter_id)
    assert all(f["new"] for f in letter["findings"] if f["origin"] == "tool")
    assert len(open_store(out).events()) == 2  # nothing dropped


def test_not_an_audit_folder(tmp_path: Path) -> None:
    with pytest.raises(AuditFolderError, match="not an audit output folder"):
        AuditFolder.load(EXAMPLES)
    with pytest.raises(AuditFolderError, match="does not exist"):
        AuditFolder.load(tmp_path / "nope")
    proc = cli("review", str(EXAMPLES), "--no-browser", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "not an audit output folder" in proc.stderr and "Traceback" not in proc.stderr
    assert not (EXAMPLES / STORE_NAME).exists()


def test_older_schema_results(out: Path) -> None:
    recs = records(out)
    # records written before finding ids existed: ids are computed exactly as the audit does
    stripped = [
        dict(r, findings=[{k: v for k, v in f.items() if k != "id"} for f in r["findings"]])
        for r in recs
    ]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stripped))
    folder = AuditFolder.load(out)
    assert folder.ids_added == sum(len(r["findings"]) for r in recs)
    assert [f["id"] for e in folder.letters for f in e.findings] == [
        f["id"] for r in recs for f in r["findings"]
    ]
    # another schema version, or another record shape: a clear error naming the line
    old = [dict(recs[0], schema_version=0)]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    with pytest.raises(AuditFolderError, match=r"line 1 is a record of schema_version 0"):
        AuditFolder.load(out)
    bad = dict(recs[0])
    bad["findings"] = [{"kind": "x"}]
    (out / "results.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(AuditFolderError, match="does not match the record format"):
        AuditFolder.load(out)
    proc = cli("review", "export", str(out), check=False)
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_store_is_refused_and_left_alone(out: Path) -> None:
    path = out / STORE_NAME
    store = open_store(out)
    store.record_verdict(letter_id="x", finding_id="f", verdict="unsure", reviewer="Ann")
    del store
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)  # damage the schema page, keep the SQLite header
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(ReviewStoreError, match="not a usable review store") as exc:
        open_store(out)
    assert "left exactly as it is" in exc.value.message
    assert path.read_bytes() == before

    path.write_bytes(b"not a database at all, some notes somebody saved here\n" * 20)
    before = path.read_bytes()
    with pytest.raises(ReviewStoreError, match="not an SQLite database"):
        open_store(out)
    proc = cli("review", str(out), "--no-browser", "--port", "0", check=False)
    assert proc.returncode == 2 and "not a usable review store" in proc.stderr
    assert path.read_bytes() == before  # never truncated or recreated


def test_locked_store_gives_a_clear_error(out: Path) -> None:
    store = open_store(out, timeout=0.3)
    store.record_verdict(letter_id="x", finding_id="f", verdict="confirmed", reviewer="Ann")
    size = (out / STORE_NAME).stat().st_size
    holder = sqlite3.connect(out / STORE_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ReviewStoreError, match="locked by another program"):
            store.record_verdict(letter_id="x", finding_id="f", verdict="dismissed", reviewer="B")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [e.verdict for e in store.events()] == ["confirmed"]
    assert (out / STORE_NAME).stat().st_size >= size
    store.record_verdict(letter_id="x", finding_id="f", verdict="dismissed", reviewer="B")
    assert len(store.events()) == 2
