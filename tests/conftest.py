"""Shared fixtures: where the letters are, and a helper to run the CLI in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = Path(os.environ.get("IMR_LLM_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus" / "dwc-2016"
SEEDS = SHARED / "corpus" / "seeds"
EVALS = ROOT / "evals"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's cache directory from tests."""
    monkeypatch.setenv("IMR_LLM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def need_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set IMR_LLM_SHARED)")


@pytest.fixture
def corpus_dir() -> Path:
    need_corpus()
    return CORPUS


@pytest.fixture
def seeds_dir() -> Path:
    if SEEDS.is_dir():
        return SEEDS
    return EXAMPLES


# The scripted OpenAI-compatible server for the LLM tests (tests/fake_openai.py).
from fake_openai import fake_openai  # noqa: E402, F401
