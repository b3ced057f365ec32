"""Run llama-cpp-python's OpenAI-compatible server on loopback for the ``local`` backend.

One server serves a whole batch: hold the context manager around it. The server's output goes to a
private log file (never to our logs); its verbose mode, which can print prompts, is off except
for a benchmark that asks for llama.cpp's token counters (``verbose=True``).

Structured output against llama_cpp.server 0.3.36 (measured with instructor 1.17): ``JSON_SCHEMA``
is rejected (HTTP 500, ``response_format.type`` must be ``text`` or ``json_object``). ``TOOLS``
works and needs nothing extra: a forced tool choice makes the server build a grammar from the
tool's parameters, so the output is held to the schema. ``JSON`` also works when the schema is sent
as ``extra_body=json_mode_extra_body(Model)``; without it the output is only held to "some JSON".

Build note: pip compiles llama.cpp with ``-march=native``. On a CPU that advertises AMX (this VM's
Xeon) that build died with a general protection fault in ``ggml_backend_amx_mul_mat`` on the first
multi-token prompt, seen by the client as "Server disconnected". Building without AMX fixed it:
``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
-DGGML_BMI2=ON -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON
-DGGML_AVX512_BF16=ON" pip install --force-reinstall --no-deps llama-cpp-python==0.3.36``.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import instructor
from pydantic import BaseModel

from imr_llm.llm.local_model import (
    INSTALL_HINT,
    MODEL_NAME,
    cache_subdir,
    ensure_model,
    is_loopback,
    private_dir,
)

RECOMMENDED_MODE = instructor.Mode.TOOLS
"""instructor mode for llama_cpp.server: schema enforced by a grammar, no extra request fields."""

RECOMMENDED_EXTRA_BODY: dict[str, Any] = {}
"""Extra request fields to send with ``RECOMMENDED_MODE`` (none needed for TOOLS)."""

_PR_SET_PDEATHSIG = 1
_LOG_TAIL = 20


def json_mode_extra_body(model: type[BaseModel]) -> dict[str, Any]:
    """``extra_body`` for ``Mode.JSON`` on llama_cpp.server: the schema becomes a grammar."""
    return {"response_format": {"type": "json_object", "schema": model.model_json_schema()}}


class LocalServerError(RuntimeError):
    """The local server could not be started or was asked to listen beyond loopback."""


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _child_env() -> dict[str, str]:
    """Our environment minus what llama_cpp.server would read as settings (e.g. HOST, API_KEY)."""
    from llama_cpp.server.settings import Settings

    drop = {name.upper() for name in Settings.model_fields} | {"CONFIG_FILE"}
    return {k: v for k, v in os.environ.items() if k.upper() not in drop}


def _die_with_parent(parent: int) -> None:
    """Runs in the child before exec: get SIGKILL when the parent dies (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _tail(path: Path, n: int = _LOG_TAIL) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:]) or "(empty log)"


class LocalServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 and a free port, as a context manager.

    On Linux the server is killed by the kernel if this process dies (PR_SET_PDEATHSIG); that
    signal follows the *thread* that started it, so start it from a thread that outlives the batch
    (normally the main thread).
    """

    recommended_mode = RECOMMENDED_MODE
    extra_body = RECOMMENDED_EXTRA_BODY

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        startup_timeout: float = 120.0,
        stop_timeout: float = 10.0,
        log_dir: str | os.PathLike[str] | None = None,
        verbose: bool = False,
    ) -> None:
        if not is_loopback(host):
            raise LocalServerError(
                f"refusing to start the local server on {host!r}: it listens on loopback only"
            )
        self.model_path = model_path
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads or _default_threads()
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_dir = Path(log_dir) if log_dir else None
        self.verbose = verbose
        """llama.cpp's per-request counters (prompt tokens reused and evaluated) in the log."""
        self.log_path: Path | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._model_name: str | None = None
        self._failed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise LocalServerError("the local server has not been started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def model_name(self) -> str:
        if self._model_name is None:
            raise LocalServerError("the local server has not been started")
        return self._model_name

    def start(self) -> LocalServer:
        if self._proc is not None:
            return self
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalServerError(f"llama-cpp-python is not installed; run: {INSTALL_HINT}")
        model = ensure_model(self.model_path)
        alias = MODEL_NAME if self.model_path is None else model.stem
        self.port = self.port or _free_port(self.host)
        log_dir = private_dir(self.log_dir) if self.log_dir else cache_subdir("logs")
        fd, log = tempfile.mkstemp(prefix=f"local-server-{self.port}-", suffix=".log", dir=log_dir)
        self.log_path = Path(log)
        n = str(self.n_threads)
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model), "--model_alias", alias,
            "--host", self.host, "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", n, "--n_threads_batch", n,
            "--verbose", str(self.verbose),
        ]  # fmt: skip
        parent = os.getpid()
        t0 = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=_child_env(),
                process_group=0,
                preexec_fn=(lambda: _die_with_parent(parent)) if sys.platform == "linux" else None,
            )
        finally:
            os.close(fd)
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self._failed = True
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self.log_path is not None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise LocalServerError(
                    f"the local server exited with code {code} while starting; "
                    f"last lines of {self.log_path}:\n{_tail(self.log_path)}"
                )
            try:
                with opener.open(f"{self.base_url}/models", timeout=2) as r:
                    self._model_name = json.load(r)["data"][0]["id"]
                return
            except (OSError, ValueError, KeyError, IndexError):
                pass
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"the local server was not ready after {self.startup_timeout:.0f} s; "
                    f"last lines of {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after ``stop_timeout``; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        try:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not self._failed and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
