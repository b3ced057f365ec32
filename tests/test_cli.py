"""The one-letter commands as a user runs them."""

from __future__ import annotations

import json
import os

from typer.testing import CliRunner

from builders import EXAMPLES
from imr_llm.cli import app

runner = CliRunner()
SEED_000 = EXAMPLES / "000_9c64455a8480a098.txt"
SEED_004 = EXAMPLES / "004_152794f102d88e85.txt"


def test_check_prints_findings_with_quotes_and_items():
    res = runner.invoke(app, ["check", str(SEED_004)])
    assert res.exit_code == 0, res.output
    assert "guideline-region-mismatch" in res.output
    assert "item 1: Trigger Point Injections" in res.output
    assert '"Chapter 14 Ankle and Foot Complaints' in " ".join(res.output.split())


def test_check_json_is_the_record():
    res = runner.invoke(app, ["check", str(SEED_000), "--json"])
    rec = json.loads(res.stdout)
    assert rec["schema_version"] == 1 and rec["status"] == "ok"
    assert rec["layout"] == "dwc-2014"
    codes = {(f["code"], f["decision_index"]) for f in rec["findings"]}
    assert {
        ("quantity-over-limit", 0),
        ("quantity-over-limit", 1),
        ("citation-disagreement", 1),
    } <= codes
    assert not [f for f in rec["findings"] if f["severity"] == "high"]
    # offsets index the extracted letter text (what `extract --with-text` prints)
    text = json.loads(runner.invoke(app, ["extract", str(SEED_000), "--with-text"]).stdout)["text"]
    for f in rec["findings"]:
        for e in f["evidence"]:
            assert " ".join(text[e["start"] : e["end"]].split()) == " ".join(e["quote"].split())


def test_extract_with_text_has_offsets_into_that_text():
    res = runner.invoke(app, ["extract", str(EXAMPLES / "CM16-0213037.pdf"), "--with-text"])
    assert res.exit_code == 0
    rec = json.loads(res.stdout)
    assert rec["findings"] == []
    d = rec["decisions"][0]
    assert rec["text"][d["span"][0] :].startswith("MRI of the right shoulder without contrast")
    assert rec["case"]["date_of_injury"] == "2016-10-13"


def test_summarize_names_patient_items_and_decisions():
    res = runner.invoke(app, ["summarize", str(SEED_000)])
    assert res.exit_code == 0
    out = " ".join(res.output.split())
    assert "36" in out and "female" in out.lower()
    assert "Upheld" in out or "upheld" in out


def test_bad_file_is_a_usage_error(tmp_path):
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    res = runner.invoke(app, ["check", str(empty)])
    assert res.exit_code == 2
    assert "empty" in res.output


def test_fail_on_threshold(tmp_path):
    res = runner.invoke(
        app,
        ["audit", str(SEED_004), "--out", str(tmp_path / "a"), "--no-html", "--fail-on", "medium"],
    )
    assert res.exit_code == 1
    res = runner.invoke(app, ["audit", str(SEED_004), "--out", str(tmp_path / "b"), "--no-html"])
    assert res.exit_code == 0


def test_examples_exit_1_on_their_high_finding(tmp_path):
    res = runner.invoke(app, ["audit", str(EXAMPLES), "--out", str(tmp_path), "--no-html"])
    assert res.exit_code == 1, res.output
    assert "fact-contradiction" in res.output


def test_outputs_are_owner_only(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["audit", str(EXAMPLES), "--out", str(out), "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    for name in os.listdir(out):
        assert os.stat(out / name).st_mode & 0o077 == 0, name
