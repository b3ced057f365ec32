"""Issue 15: outputs that always describe one run, exports that are safe to open, and the CLI
conventions users expect. Each test names the issue item it covers."""

from __future__ import annotations

import base64
import csv
import gzip
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders import EXAMPLES
from imr_llm.cli import app
from imr_llm.report import writers

SEED_000 = EXAMPLES / "000_9c64455a8480a098.txt"
SEED_004 = EXAMPLES / "004_152794f102d88e85.txt"
PDF = EXAMPLES / "CM16-0213037.pdf"


def invoke(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def one_line(text: str) -> str:
    return " ".join(text.split())


def results(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / writers.RESULTS).read_text().splitlines()]


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def report_ids(out: Path) -> list[str]:
    page = (out / writers.REPORT).read_text(encoding="utf-8")
    blob = re.search(r'id="imr-index">([^<]*)</script>', page).group(1)
    return [row["id"] for row in json.loads(gzip.decompress(base64.b64decode(blob)))]


def report_summary(out: Path) -> dict:
    page = (out / writers.REPORT).read_text(encoding="utf-8")
    return json.loads(re.search(r'id="imr-summary">([^<]*)</script>', page).group(1))


# ---------------------------------------------------------------- 1, 2: typed errors


def test_item1_symlink_loop_is_a_usage_error_not_a_traceback(tmp_path):
    link = tmp_path / "LINK"
    link.symlink_to(link)
    res = invoke("audit", link, "--out", tmp_path / "o")
    assert res.exit_code == 2, res.output
    assert "symlink loop" in res.stderr and "Traceback" not in res.output
    assert "no input letters" in res.stderr
    res = invoke("check", link)
    assert res.exit_code == 2 and "symlink loop" in res.stderr


def test_item1_unexpected_error_has_its_own_exit_status(tmp_path, monkeypatch):
    import imr_llm.audit

    def broken(*a, **k):
        raise ValueError("boom")

    monkeypatch.setattr(imr_llm.audit, "run_audit", broken)
    res = invoke("audit", SEED_004, "--out", tmp_path / "o")
    assert res.exit_code == 4, res.output
    assert "internal error (ValueError" in res.stderr and "please report it" in res.stderr
    assert "Traceback" not in res.output


def test_item2_out_is_an_existing_file(tmp_path):
    target = tmp_path / "FILE"
    target.write_text("not a folder")
    res = invoke("audit", SEED_004, "--out", target)
    assert res.exit_code == 2, res.output
    assert "is a file, not a folder" in one_line(res.stderr)
    assert "Traceback" not in res.output
    assert target.read_text() == "not a folder"


# ---------------------------------------------------------------- 3: one folder, one run


def test_item3_second_audit_of_other_inputs_refuses_then_appends(tmp_path):
    out = tmp_path / "o"
    assert invoke("audit", PDF, "--out", out).exit_code == 0
    res = invoke("audit", SEED_004, SEED_000, "--out", out)
    assert res.exit_code == 2
    msg = one_line(res.stderr)
    assert "--append" in msg and "--force" in msg and "new --out folder" in msg
    assert [r["letter_id"] for r in results(out)] == [PDF.stem]

    res = invoke("audit", SEED_004, SEED_000, "--out", out, "--append")
    assert res.exit_code == 0, res.output
    assert "appended" in res.stderr
    ids = [r["letter_id"] for r in results(out)]
    assert ids == [PDF.stem, SEED_004.stem, SEED_000.stem]
    assert report_ids(out) == ids
    flagged = {r["letter_id"] for r in results(out) if r["findings"]}
    assert {row["letter_id"] for row in csv_rows(out / writers.FINDINGS)} == flagged
    assert SEED_004.stem in flagged  # the appended letters' findings are in the CSV too

    res = invoke("audit", PDF, "--out", out, "--force")
    assert res.exit_code == 0, res.output
    assert [r["letter_id"] for r in results(out)] == [PDF.stem] == report_ids(out)
    manifest = json.loads((out / writers.MANIFEST).read_text())
    assert [m["letter_id"] for m in manifest["inputs"]] == [PDF.stem]
    assert manifest["inputs"][0]["path"] == str(PDF.resolve())


# ---------------------------------------------------------------- 4: resume keyed on the real path


def test_item4_resume_from_another_directory_with_another_spelling(tmp_path, monkeypatch):
    batch = tmp_path / "here" / "big"
    batch.mkdir(parents=True)
    for p in (SEED_000, SEED_004, PDF):
        shutil.copy(p, batch / p.name)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert invoke("audit", "big", "--out", "x", "--no-html").exit_code == 0
    monkeypatch.chdir(tmp_path / "elsewhere")
    res = invoke("audit", "../here/big", "--out", tmp_path / "here" / "x", "--no-html")
    assert res.exit_code == 0, res.output
    assert "0 processed, 3 already done" in one_line(res.stdout)
    recs = results(tmp_path / "here" / "x")
    assert sorted(r["letter_id"] for r in recs) == sorted(p.stem for p in batch.iterdir())
    assert {r["path"] for r in recs} == {str(p.resolve()) for p in batch.iterdir()}


def test_item4_changed_file_is_redone_not_duplicated(tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    shutil.copy(SEED_000, batch / "a.txt")
    shutil.copy(SEED_004, batch / "b.txt")
    out = tmp_path / "o"
    assert invoke("audit", batch, "--out", out, "--no-html").exit_code == 0
    (batch / "b.txt").write_bytes(SEED_000.read_bytes())
    res = invoke("audit", batch, "--out", out, "--no-html")
    assert "1 processed, 1 already done" in one_line(res.stdout)
    recs = results(out)
    assert [r["letter_id"] for r in recs] == ["a", "b"]
    assert recs[1]["sha256"] == recs[0]["sha256"]


# ---------------------------------------------------------------- 5: safe exports


def test_item5_formula_in_a_letter_is_neutralised_in_the_csv(tmp_path):
    text = SEED_004.read_text()
    evil = '=HYPERLINK("http://example.invalid","12 sessions")'
    letter = tmp_path / "in" / "evil.txt"
    letter.parent.mkdir()
    letter.write_text(text.replace("Trigger Point Injections:  Upheld", f"{evil}: Upheld"))
    out = tmp_path / "o"
    res = invoke("audit", letter, "--out", out, "--no-html")
    assert res.exit_code == 0, res.output
    assert results(out)[0]["decisions"][0]["item"] == evil  # the record keeps the text as is
    for name in (writers.FINDINGS, writers.EVIDENCE):
        rows = csv_rows(out / name)
        assert rows and rows[0]["item"] == "'" + evil
        for row in rows:
            for cell in row.values():
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)


def test_item5_every_formula_start_is_neutralised():
    for lead in ("=", "+", "-", "@", "\t", "\r"):
        assert writers.safe_cell(lead + "1+1") == "'" + lead + "1+1"
    assert writers.safe_cell("Upheld") == "Upheld" and writers.safe_cell(3) == 3


def test_evidence_csv_and_excel_bom(tmp_path):
    out = tmp_path / "o"
    res = invoke("audit", SEED_000, "--out", out, "--no-html", "--excel")
    assert res.exit_code == 0, res.output
    assert (out / writers.FINDINGS).read_bytes().startswith(b"\xef\xbb\xbf")
    findings = csv_rows(out / writers.FINDINGS)
    evidence = csv_rows(out / writers.EVIDENCE)
    rec = results(out)[0]
    assert len(evidence) == sum(len(f["evidence"]) for f in rec["findings"])
    # item numbers are 1-based everywhere humans read them; decision_index stays 0-based
    for row in findings:
        if row["decision_index"]:
            assert int(row["item_number"]) == int(row["decision_index"]) + 1
    first = rec["findings"][0]
    assert evidence[0]["quote"] == " ".join(first["evidence"][0]["quote"].split())
    assert int(evidence[0]["start"]) == first["evidence"][0]["start"]
    res = invoke("check", SEED_000)
    assert f"item {first['decision_index'] + 1}:" in res.stdout
    plain = invoke("audit", SEED_000, "--out", tmp_path / "p", "--no-html")
    assert plain.exit_code == 0
    assert not (tmp_path / "p" / writers.FINDINGS).read_bytes().startswith(b"\xef\xbb\xbf")
    for name in os.listdir(out):
        assert os.stat(out / name).st_mode & 0o077 == 0, name


# ---------------------------------------------------------------- 6: unique letter ids


def test_item6_duplicate_stems_get_a_suffix_and_a_warning(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(PDF, tmp_path / sub / PDF.name)
    shutil.copy(SEED_000, tmp_path / "b" / f"{PDF.stem}.txt")  # a different case, same stem
    out = tmp_path / "o"
    res = invoke("audit", tmp_path / "a", tmp_path / "b", "--out", out)
    assert res.exit_code == 0, res.output
    stem = PDF.stem
    assert f"3 inputs have the letter id {stem}" in one_line(res.stderr)
    recs = results(out)
    assert [r["letter_id"] for r in recs] == [stem, f"{stem}~2", f"{stem}~3"]
    assert report_ids(out) == [r["letter_id"] for r in recs]
    # the header's case number stays in the record
    assert [r["case"]["case_number"] for r in recs] == [stem, stem, None]
    # resume keeps the same ids
    res = invoke("audit", tmp_path / "a", tmp_path / "b", "--out", out)
    assert [r["letter_id"] for r in results(out)] == [stem, f"{stem}~2", f"{stem}~3"]


# ---------------------------------------------------------------- 7: the report's overview


def test_item7_letters_with_findings_counts_failed_letters_once(tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    shutil.copy(SEED_004, batch / "a-medium.txt")  # one medium finding
    for i in range(6):
        (batch / f"bad{i}.txt").write_text("")
    out = tmp_path / "o"
    shutil.copy(SEED_000, batch / "b.txt")
    invoke("audit", batch, "--out", out, "--fail-on", "never")
    recs = results(out)
    assert sum(r["status"] == "error" for r in recs) == 6
    summary = report_summary(out)
    assert summary["lettersWithFindings"] == sum(bool(r["findings"]) for r in recs) == 2
    js = (Path(writers.__file__).parent / "report.js").read_text()
    assert "s.maxSeverity.none - s.status.error" not in js
    assert "s.lettersWithFindings" in js


# ---------------------------------------------------------------- 8: errors on stderr


@pytest.mark.parametrize("command", ["check", "summarize", "extract"])
def test_item8_errors_go_to_stderr(tmp_path, command):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    res = invoke(command, empty)
    assert res.exit_code == 2
    assert "error:" in res.stderr and "empty" in res.stderr
    if command != "extract":  # extract's stdout is the (error) record, as JSON
        assert res.stdout == ""
    res = invoke(command, tmp_path / "gone.txt")
    assert res.exit_code == 2 and "file not found" in res.stderr and res.stdout == ""


# ---------------------------------------------------------------- 9: edited CSV kept


def test_item9_user_edited_findings_csv_is_kept(tmp_path):
    out = tmp_path / "o"
    assert invoke("audit", SEED_004, "--out", out, "--no-html").exit_code == 0
    original = (out / writers.FINDINGS).read_text()
    res = invoke("audit", SEED_004, "--out", out, "--no-html")
    assert not list(out.glob("findings.csv.edited-*"))  # untouched: nothing kept
    with open(out / writers.FINDINGS, "a", encoding="utf-8") as fh:
        fh.write("my,own,notes\n")
    res = invoke("audit", SEED_004, "--out", out, "--no-html")
    assert res.exit_code == 0, res.output
    kept = list(out.glob("findings.csv.edited-*"))
    assert len(kept) == 1 and kept[0].read_text().endswith("my,own,notes\n")
    assert kept[0].name in one_line(res.stderr)
    assert (out / writers.FINDINGS).read_text() == original
    assert os.stat(kept[0]).st_mode & 0o077 == 0
    # --force starts over, and still keeps an edited copy
    with open(out / writers.FINDINGS, "a", encoding="utf-8") as fh:
        fh.write("more notes\n")
    res = invoke("audit", PDF, "--out", out, "--no-html", "--force")
    assert res.exit_code == 0, res.output
    assert len(list(out.glob("findings.csv.edited-*"))) == 2


# ---------------------------------------------------------------- CLI conventions


def test_version_and_short_help():
    res = invoke("--version")
    assert res.exit_code == 0 and res.stdout.startswith("imr-llm ")
    res = invoke("audit", "-h")
    assert res.exit_code == 0 and "--append" in res.stdout


def test_stdin_dash(tmp_path):
    data = SEED_004.read_bytes()
    res = invoke("check", "-", "--json", input=data)
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert rec["source"] == "-" and rec["findings"]
    res = invoke("summarize", "-", "--json", input=data)
    assert json.loads(res.stdout)["summary"]
    res = invoke("extract", "-", input=PDF.read_bytes())
    assert json.loads(res.stdout)["case"]["case_number"] == PDF.stem
    res = invoke("check", "-", input=b"")
    assert res.exit_code == 2 and "stdin is empty" in res.stderr


def test_audit_json_summary_progress_and_closing_lines(tmp_path):
    out = tmp_path / "o"
    res = invoke("audit", EXAMPLES, "--out", out, "--json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["letters"] == len(list(EXAMPLES.iterdir())) and data["exit_code"] == 1
    assert data["flagged"][0]["max_severity"] == "high"
    assert "fact-contradiction" in data["flagged"][0]["codes"]
    assert set(data["outputs"]) >= {"results.jsonl", "findings.csv", "report.html"}
    assert "progress:" in res.stderr  # not a terminal: plain progress lines
    res = invoke("audit", EXAMPLES, "--out", out)
    text = one_line(res.stdout)
    assert "Letters with findings" in text and f"Outputs in {out}:" in text
    assert "Exit status 1:" in text and "--fail-on high" in text
    res = invoke("audit", EXAMPLES, "--out", out, "-q")
    assert res.stdout == "" and "progress:" not in res.stderr and res.exit_code == 1
