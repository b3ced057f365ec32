"""Sentences, and letters whose conversion put a blank line between every line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from builders import EVALS
from imr_llm.ingest import normalize_text, read_letter
from imr_llm.segment import segment
from imr_llm.text.spans import sentences, undouble_lines

AUTHORED = sorted((EVALS / "authored" / "letters").glob("*.txt"))


def test_sentences_keep_abbreviations_and_citations_whole():
    text = (
        "She was seen by Dr. Smith on 1/2/2016. Per MTUS p. 47, e.g. therapy helps. "
        "The request is not medically necessary.\n\nDecision rationale: none"
    )
    got = [text[a:b] for a, b in sentences(text)]
    assert got == [
        "She was seen by Dr. Smith on 1/2/2016.",
        "Per MTUS p. 47, e.g. therapy helps.",
        "The request is not medically necessary.",
        "Decision rationale: none",
    ]


@pytest.mark.parametrize("path", AUTHORED, ids=lambda p: p.name)
def test_double_spaced_conversion_reads_the_same_items(path: Path):
    letter = read_letter(path)
    doubled = letter.model_copy(update={"text": normalize_text(re.sub(r"\n", "\n\n", letter.text))})
    want = [(d.item, d.outcome, d.conclusion) for d in segment(letter).decisions]
    got = [(d.item, d.outcome, d.conclusion) for d in segment(doubled).decisions]
    assert got == want


def test_ordinary_paragraph_breaks_are_kept():
    text = "\n".join(f"line {i}" for i in range(30)) + "\n\nNew paragraph.\n"
    assert undouble_lines(text) == text
