"""Bad input gets a clear, typed error record; the good letters beside it still succeed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builders import EXAMPLES
from imr_llm.ingest import IngestError, expand_paths, read_letter
from imr_llm.pipeline import analyze

GOOD_PDF = EXAMPLES / "CM16-0213037.pdf"
GOOD_TXT = EXAMPLES / "000_9c64455a8480a098.txt"


def _encrypted_pdf(path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(GOOD_PDF)
    reader.decrypt("")
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)


def _scanned_pdf(path: Path) -> None:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    doc.new_page(612, 792)
    doc.new_page(612, 792)
    doc.save(str(path))


BAD = {
    "empty": ("empty.txt", lambda p: p.write_bytes(b"")),
    "binary": ("image.txt", lambda p: p.write_bytes(bytes(range(256)) * 64)),
    "encoding": (
        "latin.txt",
        lambda p: p.write_bytes(b"Decision rationale: \x81\x8d\x8f\x90\x9d bad bytes " * 20),
    ),
    "pdf_no_text": ("scanned.pdf", _scanned_pdf),
    "pdf_encrypted": ("locked.pdf", _encrypted_pdf),
    "pdf_corrupt": ("truncated.pdf", lambda p: p.write_bytes(GOOD_PDF.read_bytes()[:3000])),
    "too_large": ("huge.txt", lambda p: p.write_bytes(b"A" * (2 * 1024 * 1024 + 10))),
    "not_imr_letter": (
        "recipe.txt",
        lambda p: p.write_text(
            "Banana bread. Mash three bananas, add flour and sugar, bake one hour.\n" * 5
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_bad_input_kind_is_a_clear_error(tmp_path, kind):
    name, make = BAD[kind]
    path = tmp_path / name
    make(path)
    rec = analyze(path, max_bytes=2 * 1024 * 1024).record
    assert rec.status == "error"
    assert rec.error.kind == kind
    assert name in rec.error.message
    assert rec.decisions == []


def test_corpus_letters_encrypted_with_empty_password_read_without_warnings(recwarn, caplog):
    letter = read_letter(GOOD_PDF)
    assert letter.reader == "pdfium"
    assert "Case Number: CM16-0213037" in letter.text
    assert not recwarn.list
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_cp1252_text_is_decoded_not_refused(tmp_path):
    path = tmp_path / "cp1252.txt"
    path.write_bytes(
        GOOD_TXT.read_text().replace("trigger point", "trigger\u2019s point").encode("cp1252")
    )
    letter = read_letter(path)
    assert "trigger\u2019s point" in letter.text


def test_batch_with_every_bad_kind_keeps_going(tmp_path):
    """A real `imr-llm audit` run: bad files beside good ones, exit code 3, nothing lost."""
    batch = tmp_path / "in"
    batch.mkdir()
    for name, make in BAD.values():
        make(batch / name)
    shutil.copy(GOOD_PDF, batch / GOOD_PDF.name)
    shutil.copy(GOOD_TXT, batch / GOOD_TXT.name)
    (batch / "notes.docx").write_bytes(b"ignored: not a letter type")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "imr_llm.cli",
            "audit",
            str(batch),
            "--out",
            str(out),
            "--max-mb",
            "2",
            "--no-html",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_id = {r["letter_id"]: r for r in records}
    assert len(records) == len(BAD) + 2
    assert by_id["CM16-0213037"]["status"] == "ok"
    assert by_id["000_9c64455a8480a098"]["status"] == "ok"
    assert {r["error"]["kind"] for r in records if r["status"] == "error"} == set(BAD)
    for name in ("results.jsonl", "findings.csv"):
        assert os.stat(out / name).st_mode & 0o777 == 0o600


def test_no_readable_input_is_a_usage_error(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "imr_llm.cli",
            "audit",
            str(tmp_path / "nothing-here"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no input letters" in proc.stderr


def test_paths_expand_directories_and_globs_in_order(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.pdf").write_bytes(b"%PDF-")
    (tmp_path / "a" / "y.txt").write_text("t")
    (tmp_path / "a" / "z.docx").write_text("t")
    inputs, unmatched = expand_paths(
        [str(tmp_path / "a"), str(tmp_path / "*.nothing"), str(tmp_path / "a" / "*.txt")]
    )
    assert [i.path.name for i in inputs] == ["x.pdf", "y.txt"]
    assert unmatched == [str(tmp_path / "*.nothing")]


def test_missing_file_error(tmp_path):
    with pytest.raises(IngestError) as exc:
        read_letter(tmp_path / "gone.pdf")
    assert exc.value.kind == "not_found"
