"""The ``local`` backend: model assembly, the llama.cpp server's life cycle, and ``doctor``.

Tests marked ``local_model`` start the real server on the bundled model; the rest run without it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imr_llm.doctor import diagnose, render
from imr_llm.llm import local_model
from imr_llm.llm.local_model import ModelError, assemble, ensure_model, find_parts
from imr_llm.llm.local_server import LocalServer, LocalServerError

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and PR_SET_PDEATHSIG")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _pids_with_arg(arg: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and _alive(int(d.name)):
            try:
                if arg in (d / "cmdline").read_bytes().decode(errors="replace").split("\0"):
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def model() -> Path:
    pytest.importorskip("llama_cpp")
    try:
        return ensure_model()
    except ModelError as e:
        pytest.skip(str(e))


def _parts(tmp_path: Path, sizes: list[int]) -> tuple[list[Path], str]:
    parts, digest = [], hashlib.sha256()
    for i, n in enumerate(sizes, 1):
        data = os.urandom(n)
        digest.update(data)
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        parts.append(p)
    return parts, digest.hexdigest()


def test_assemble_concatenates_in_order_and_verifies(tmp_path):
    parts, sha = _parts(tmp_path, [1000, 70_000, 3])
    dest = tmp_path / "cache" / "models" / "m.gguf"
    assert assemble(parts, dest, sha) == dest
    assert dest.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert stat.S_IMODE(dest.parent.stat().st_mode) == 0o700
    assert local_model.is_verified(dest, sha, dest.stat().st_size)
    before = dest.read_bytes()
    parts[0].write_bytes(os.urandom(1000))
    assemble(parts, dest, sha)
    assert dest.read_bytes() == before, "a verified file is not re-assembled"


def test_assemble_wrong_hash_leaves_nothing(tmp_path):
    parts, _ = _parts(tmp_path, [500, 500])
    out = tmp_path / "out"
    with pytest.raises(ModelError, match="expected 0+"):
        assemble(parts, out / "m.gguf", "0" * 64)
    assert list(out.iterdir()) == []


def test_missing_parts_name_the_install_command(monkeypatch):
    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(local_model.md, "distribution", missing)
    with pytest.raises(ModelError, match=r"pip install 'imr-llm\[local\]'"):
        find_parts()


def test_user_model_path_must_exist(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        ensure_model(tmp_path / "nope.gguf")
    given = tmp_path / "mine.gguf"
    given.write_bytes(b"x")
    assert ensure_model(given) == given.resolve()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_non_loopback_host_is_refused(host):
    with pytest.raises(LocalServerError, match="loopback"):
        LocalServer(host=host)


def test_child_env_drops_server_settings(monkeypatch):
    pytest.importorskip("llama_cpp.server.settings")
    from imr_llm.llm.local_server import _child_env

    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("API_KEY", "x")
    monkeypatch.setenv("IMR_KEEP", "1")
    env = _child_env()
    assert "HOST" not in env and "API_KEY" not in env and env["IMR_KEEP"] == "1"


@linux_only
def test_bogus_model_fails_with_log_lines_and_leaves_no_process(tmp_path):
    pytest.importorskip("llama_cpp")
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(os.urandom(64 * 1024))
    server = LocalServer(bogus, log_dir=tmp_path / "logs", startup_timeout=60)
    with pytest.raises(LocalServerError) as err:
        server.start()
    msg = str(err.value)
    assert "exited with code" in msg and "last lines of" in msg
    assert "Failed to load model" in msg
    assert server.pid is None
    assert _pids_with_arg(str(bogus)) == []
    log = server.log_path
    assert log is not None and log.exists() and stat.S_IMODE(log.stat().st_mode) == 0o600


@pytest.mark.local_model
def test_real_server_answers_and_stops(model, tmp_path):
    import instructor
    import openai
    from pydantic import BaseModel

    class Sum(BaseModel):
        result: int

    with LocalServer(model, log_dir=tmp_path) as server:
        pid = server.pid
        assert pid is not None and _alive(pid)
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        raw = openai.OpenAI(base_url=server.base_url, api_key="local")
        messages = [{"role": "user", "content": "What is 2 + 3? Answer with the number only."}]
        reply = raw.chat.completions.create(
            model=server.model_name, messages=messages, temperature=0, max_tokens=8
        )
        assert "5" in reply.choices[0].message.content
        assert reply.usage.prompt_tokens > 0
        client = instructor.from_openai(raw, mode=server.recommended_mode)
        answer = client.chat.completions.create(
            model=server.model_name,
            messages=messages,
            response_model=Sum,
            temperature=0,
            max_tokens=32,
            extra_body=server.extra_body or None,
        )
        assert answer.result == 5
    assert _gone_within(pid, 5)
    assert list(tmp_path.glob("*.log")) == [], "the log of a clean run is removed"


_HOLDER = """
import sys, time
from imr_llm.llm.local_server import LocalServer
with LocalServer(sys.argv[1], log_dir=sys.argv[2]) as s:
    print(s.pid, flush=True)
    time.sleep(600)
"""


@linux_only
@pytest.mark.local_model
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_no_orphan_when_parent_is_interrupted(model, tmp_path, sig):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(model), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = holder.stdout.readline()
        if not line:
            pytest.fail(f"the holder did not start the server:\n{holder.stderr.read()}")
        pid = int(line)
        assert _alive(pid)
        holder.send_signal(sig)
        holder.wait(120)  # generous: a loaded 2-core machine stops a server slowly
        said = f"holder exit {holder.returncode}, stderr:\n{holder.stderr.read()[-2000:]}"
        assert _gone_within(pid, 30), said
        logs = list(tmp_path.glob("*.log"))
        if sig == signal.SIGINT:
            assert logs == [], f"Ctrl-C ends in LocalServer.stop(), which removes the log; {said}"
        else:
            assert len(logs) == 1, "after kill -9 only the kernel (PDEATHSIG) stopped the server"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_doctor_without_network(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    by_name = {s.name: s for s in diagnose()}
    assert list(by_name) == ["none", "openai", "local"]
    assert by_name["none"].usable and not by_name["openai"].usable
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    statuses = diagnose(base_url="https://example.invalid/v1")
    assert statuses[1].usable and "not contacted" in statuses[1].detail
    assert "sk-test" not in render(statuses)
