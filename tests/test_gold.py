"""The deterministic parse against gold labels written by reading each letter."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from builders import CORPUS, EVALS, SEEDS, need_corpus
from imr_llm.ingest import Letter, normalize_text, read_letter
from imr_llm.segment import segment

FIELDS = [
    "case_number",
    "date_of_injury",
    "patient_age",
    "patient_sex",
    "date_assigned",
    "decision_date",
    "ur_denial_date",
    "reviewer_specialty",
]


def _labels(set_name: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((EVALS / set_name / "labels").glob("*.json"))]


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().rstrip(".:").casefold()


def _letter_dir(set_name: str) -> Path:
    return CORPUS if set_name == "corpus" else SEEDS


GOLD = [("corpus", g) for g in _labels("corpus")] + [("seeds", g) for g in _labels("seeds")]


def test_gold_covers_every_corpus_letter():
    need_corpus()
    labeled = {g["file"] for s, g in GOLD if s == "corpus"}
    assert labeled == {p.name for p in CORPUS.glob("*.pdf")}
    assert len(labeled) == 102


@pytest.mark.parametrize(("set_name", "gold"), GOLD, ids=[g["letter_id"] for _, g in GOLD])
def test_items_outcomes_and_facts_match_gold(set_name, gold):
    need_corpus()
    letter = read_letter(_letter_dir(set_name) / gold["file"])
    seg = segment(letter)
    assert seg.layout == gold["layout"]
    got = [(_norm(d.item), d.outcome) for d in seg.decisions]
    assert got == [(_norm(d["item"]), d["outcome"]) for d in gold["decisions"]]
    for d, g in zip(seg.decisions, gold["decisions"], strict=True):
        assert d.conclusion == g["conclusion"], (d.index, d.item)
        if "original_request" in g:
            assert _norm(d.original_request or "") == _norm(g["original_request"])
        start, end = d.span
        assert (
            letter.text[start:end]
            .strip()
            .startswith(letter.text[d.heading_span[0] : d.heading_span[0] + 10])
        )
        assert d.rationale and letter.text[d.rationale_span[0] : d.rationale_span[1]] == d.rationale
    for field in FIELDS:
        value = getattr(seg.case, field)
        expected = gold["case"].get(field)
        assert (
            str(value) if value is not None and field != "patient_age" else value
        ) == expected, field


def _third_party_text(path: Path, reader: str) -> Letter:
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    if reader == "pypdf":
        pypdf = pytest.importorskip("pypdf")
        r = pypdf.PdfReader(path)
        if r.is_encrypted:
            r.decrypt("")
        text = "\n".join(p.extract_text() for p in r.pages)
    else:
        high_level = pytest.importorskip("pdfminer.high_level")
        text = high_level.extract_text(path)
    return Letter(
        letter_id=path.stem, source=str(path), sha256="-", text=normalize_text(text), reader="pypdf"
    )


def test_same_items_and_outcomes_from_pypdf_text():
    """A second extraction order (pypdf breaks lines and pages differently) parses the same."""
    need_corpus()
    mismatched = []
    for set_name, gold in GOLD:
        if set_name != "corpus":
            continue
        seg = segment(_third_party_text(CORPUS / gold["file"], "pypdf"))
        got = [(_norm(d.item), d.outcome) for d in seg.decisions]
        if got != [(_norm(d["item"]), d["outcome"]) for d in gold["decisions"]]:
            mismatched.append(gold["letter_id"])
    assert mismatched == []


def test_header_fields_in_pdfminer_order():
    """pdfminer puts header labels before their values, or a value before its label."""
    need_corpus()
    wrong = []
    for set_name, gold in GOLD[:40]:
        if set_name != "corpus":
            continue
        seg = segment(_third_party_text(CORPUS / gold["file"], "pdfminer"))
        for field in (
            "case_number",
            "date_of_injury",
            "date_assigned",
            "decision_date",
            "ur_denial_date",
        ):
            value = getattr(seg.case, field)
            if (str(value) if value else None) != gold["case"][field]:
                wrong.append((gold["letter_id"], field))
    assert wrong == []


def test_conclusion_parsed_for_at_least_99_percent_of_items():
    need_corpus()
    total = unclear = 0
    for set_name, gold in GOLD:
        seg = segment(read_letter(_letter_dir(set_name) / gold["file"]))
        total += len(seg.decisions)
        unclear += sum(d.conclusion == "unclear" for d in seg.decisions)
    assert total >= 250
    assert unclear / total <= 0.01
