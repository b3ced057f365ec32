"""Fixtures only (shared constants and builders live in builders.py); the scripted
OpenAI-compatible server's fixture comes from fake_openai.py as a plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import CORPUS, EXAMPLES, SEEDS, need_corpus

pytest_plugins = ["fake_openai"]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's cache directory from tests."""
    monkeypatch.setenv("IMR_LLM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def corpus_dir() -> Path:
    need_corpus()
    return CORPUS


@pytest.fixture
def seeds_dir() -> Path:
    if SEEDS.is_dir():
        return SEEDS
    return EXAMPLES
