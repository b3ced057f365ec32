"""`imr-llm audit --llm openai` over the real corpus against a faulty OpenAI-compatible server.

The server is real HTTP on 127.0.0.1 (tests/fake_openai.py); the audit is a real subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builders import CORPUS, EXAMPLES, need_corpus
from fake_openai import FakeOpenAI


def _env(fake: FakeOpenAI, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OPENAI_BASE_URL=fake.base_url,
        IMR_LLM_MODEL="fake-model",
        IMR_LLM_TIMEOUT="0.5",
        IMR_LLM_BACKOFF_S="0.01",
        IMR_LLM_CACHE_DIR=str(cache),
    )
    env.pop("OPENAI_API_KEY", None)
    return env


def _audit(paths: list[str], out: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "imr_llm.cli",
        "audit",
        *paths,
        "--out",
        str(out),
        "--llm",
        "openai",
        "--ask",
        "all",  # every question of every letter: these tests are about the transport
    ]
    cmd += ["--concurrency", "8", "--no-html", "--fail-on", "never", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)


def _records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_corpus_audit_survives_30_percent_faults_then_reruns_from_cache(tmp_path):
    need_corpus()
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    with FakeOpenAI() as fake:
        fake.set_faults(0.3, seed=11, stall_s=1.0)
        proc = _audit([str(CORPUS)], out, _env(fake, cache))
        first_requests = len(fake.chat_requests)
        faults = sum(kind != "ok" for kind in fake.served)
        records = _records(out)
        assert proc.returncode in (0, 3), proc.stderr[-2000:]
        assert sorted(r["letter_id"] for r in records) == sorted(
            p.stem for p in CORPUS.glob("*.pdf")
        )
        for r in records:
            assert r["status"] == "ok" or (
                r["error"]["kind"] == "llm_error" and r["error"]["message"]
            )
        ok = [r for r in records if r["status"] == "ok"]
        assert len(ok) >= 90
        retries = sum(r["llm"]["retries"] for r in records)
        assert retries > 0 and faults > 0
        assert f"{retries} retries" in " ".join(proc.stdout.split())
        print(
            f"first run: {first_requests} requests, {faults} faults, {retries} retries, {len(ok)} ok"
        )

        fake.set_faults(0.0)  # questions that failed are not cached: --force asks them again
        assert _audit([str(CORPUS)], out, _env(fake, cache), "--force").returncode == 0
        assert all(r["status"] == "ok" for r in _records(out))

        fake.clear()
        proc = _audit([str(CORPUS)], out, _env(fake, cache), "--force")
        assert proc.returncode == 0
        assert fake.chat_requests == []
        records = _records(out)
        assert sum(r["llm"]["calls"] for r in records) == 0
        assert all(r["llm"]["cache_hits"] > 0 for r in records)


def test_faults_on_every_attempt_end_each_letter_as_a_clear_error(tmp_path):
    batch = tmp_path / "in"
    batch.mkdir()
    for name in ("000_9c64455a8480a098.txt", "CM16-0213037.pdf"):
        shutil.copy(EXAMPLES / name, batch / name)
    with FakeOpenAI() as fake:
        fake.set_faults(1.0, kinds=("server_error",))
        proc = _audit([str(batch)], tmp_path / "out", _env(fake, tmp_path / "cache"))
    assert proc.returncode == 3
    records = _records(tmp_path / "out")
    assert len(records) == 2
    for r in records:
        assert r["status"] == "error"
        assert r["error"]["kind"] == "llm_error"
        assert "LLM" in r["error"]["message"]
    assert "Letters that failed" in proc.stdout


@pytest.mark.parametrize("mode", ["JSON_SCHEMA", "TOOLS"])
def test_response_model_is_built_once_and_requests_are_unchanged(tmp_path, mode):
    """The client hands instructor a response model prepared once per model (instructor would
    rebuild it, and its JSON schema, on every call): every request still carries exactly the
    model's own schema, and a caller mutating a schema cannot change the next request."""
    import asyncio
    import hashlib

    from imr_llm.llm.client import LLMClient, _instructor_model
    from imr_llm.llm.config import LLMConfig
    from imr_llm.llm.responses import CaseBasics
    from imr_llm.schemas import Letter

    text = (EXAMPLES / "000_9c64455a8480a098.txt").read_text()
    letter = Letter(
        letter_id="x",
        source="x.txt",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )
    prepared = _instructor_model(CaseBasics)
    assert _instructor_model(CaseBasics) is prepared and issubclass(prepared, CaseBasics)
    assert prepared.model_json_schema() == CaseBasics.model_json_schema()
    prepared.model_json_schema()["properties"].clear()  # a caller's copy, not the cache
    assert prepared.model_json_schema() == CaseBasics.model_json_schema()

    with FakeOpenAI() as fake:
        cfg = LLMConfig(
            model="fake-model",
            base_url=fake.base_url,
            api_key="k",
            mode=mode,
            cache=False,
            cache_dir=tmp_path / "cache",
        )

        async def go():
            async with LLMClient(cfg) as client:
                for _ in range(3):
                    value, _ = await client.ask(
                        CaseBasics, "case_basics", letter=letter, variables={"letter_head": text}
                    )
                    assert isinstance(value, CaseBasics)

        asyncio.run(go())
        bodies = fake.chat_requests
    assert len(bodies) == 3
    schema = CaseBasics.model_json_schema()
    for body in bodies:
        if mode == "TOOLS":
            [tool] = body["tools"]
            sent = tool["function"]["parameters"]
            assert sent["properties"] == schema["properties"]
            assert tool["function"]["name"] == "CaseBasics"
        else:
            sent = body["response_format"]["json_schema"]
            assert sent["name"] == "CaseBasics" and sent["schema"] == schema
    assert bodies[0] == bodies[1] == bodies[2]
