"""A scripted OpenAI-compatible server for tests: real HTTP on 127.0.0.1, stdlib only.

``POST /v1/chat/completions`` answers from a per-test script of actions (``Reply``, ``Status``,
``Stall``, ``Drop``, ``Truncated``, ``Length``, ``Invalid``, ``Ungrounded``); once the script is
used up it answers valid responses for any prompt, built from the request's JSON schema with
quotes picked from the letter text in the prompt. ``set_faults(rate, seed)`` makes those default
answers fail at random with mixed fault kinds (the fault-injection harness for batch audits).
Every request is recorded (``requests``), every answer's kind (``served``), and the most requests
open at once (``max_in_flight``).

``latency_s`` gives every answer a fixed latency: each response is sent that long after its
request arrived (however long building it took), and ``service_spans`` records, per chat request,
``(arrived, answered)`` in ``time.monotonic()`` seconds. ``nodelay`` sets TCP_NODELAY on each
connection, as production servers do: without it a response written in two parts (headers, then
body) can wait for a delayed ACK, tens of milliseconds. Run as a script (``python tests/fake_openai.py
--latency 0.2``) the server prints its base URL, serves until its standard input closes, then
prints one JSON line of statistics: a real server in its own process, for benchmarks.

The answer is shaped for the instructor mode the request implies: ``response_format`` json_schema
(JSON_SCHEMA), ``tools`` (TOOLS), json_object (JSON), else a fenced block (MD_JSON).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "FAULT_KINDS",
    "INVENTED_QUOTE",
    "Drop",
    "FakeOpenAI",
    "Invalid",
    "Length",
    "Reply",
    "Stall",
    "Status",
    "Truncated",
    "Ungrounded",
    "fake_openai",
    "fill_schema",
]

INVENTED_QUOTE = "The patient was examined on the far side of the moon by a robot surgeon"
FAULT_KINDS = ("rate_limit", "server_error", "stall", "drop", "truncated", "invalid", "ungrounded")


@dataclass
class Reply:
    """A valid answer: ``obj`` as given, else one built from the request's schema."""

    obj: dict[str, Any] | None = None
    usage: tuple[int, int] | None = None
    finish_reason: str = "stop"


@dataclass
class Status:
    """An HTTP error status with an OpenAI-style error body."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted failure"


@dataclass
class Stall:
    """Hold the request ``seconds`` (past the client's timeout), then try to answer validly."""

    seconds: float


@dataclass
class Drop:
    """Close the connection without answering."""


@dataclass
class Truncated:
    """Valid JSON cut in half, with finish_reason "stop" (a broken proxy or stream)."""

    obj: dict[str, Any] | None = None


@dataclass
class Length:
    """finish_reason "length": the answer hit max_tokens."""

    obj: dict[str, Any] | None = None


@dataclass
class Invalid:
    """Well-formed JSON that does not fit the schema."""

    obj: dict[str, Any] = field(default_factory=lambda: {"unexpected": True})


@dataclass
class Ungrounded:
    """A schema-valid answer whose every quote is ``quote``, which is not in the letter."""

    quote: str = INVENTED_QUOTE


Action = Reply | Status | Stall | Drop | Truncated | Length | Invalid | Ungrounded
Responder = Callable[[dict[str, Any], dict[str, Any], "QuotePicker"], Any]


class QuotePicker:
    """Verbatim snippets of the letter text in a prompt (inside <letter>/<item> tags)."""

    def __init__(self, prompt: str) -> None:
        regions = re.findall(r"<letter>\n(.*?)</letter>|<item>\n(.*?)</item>", prompt, re.S)
        text = "\n".join(a or b for a, b in regions) or prompt
        self.lines = [
            ln.strip()[:150].strip()
            for ln in text.split("\n")
            if len(ln.strip()) >= 12 and sum(c.isalpha() for c in ln) >= 6
        ] or ["the letter"]
        self._i = 0

    def next(self) -> str:
        line = self.lines[self._i % len(self.lines)]
        self._i += 1
        return line


def fill_schema(schema: dict[str, Any], quotes: QuotePicker) -> Any:
    """A small instance of a pydantic JSON schema: nullable fields null, lists of one element,
    strings named like quotes (and ``sentence``/``text``/``item``) filled with letter snippets."""
    defs = schema.get("$defs", {})

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = defs[s["$ref"].split("/")[-1]]
        return s

    def fill(s: dict[str, Any], name: str) -> Any:
        s = resolve(s)
        options = s.get("anyOf") or s.get("oneOf")
        if options:
            if any(resolve(o).get("type") == "null" for o in options):
                return None
            return fill(options[0], name)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return s["enum"][0]
        kind = s.get("type")
        if kind == "object" or "properties" in s:
            return {k: fill(v, k) for k, v in s.get("properties", {}).items()}
        if kind == "array":
            n = max(s.get("minItems", 0), min(1, s.get("maxItems", 1)))
            return [fill(s.get("items", {}), name) for _ in range(n)]
        if kind == "string":
            value = (
                quotes.next() if "quote" in name or name in ("sentence", "text", "item") else "x"
            )
            value = value[: s.get("maxLength", len(value))]
            return value.ljust(s.get("minLength", 0), "x")
        if kind == "integer":
            return int(s.get("minimum", 1))
        if kind == "number":
            return float(s.get("minimum", 1))
        if kind == "boolean":
            return False
        return None

    return fill(schema, "")


def _replace_quotes(obj: Any, quote: str) -> Any:
    if isinstance(obj, dict):
        return {
            k: quote if ("quote" in k and isinstance(v, str)) else _replace_quotes(v, quote)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_replace_quotes(v, quote) for v in obj]
    return obj


def _schema_from_text(text: str) -> dict[str, Any]:
    at = text.find("json_schema:")
    start = text.find("{", at if at >= 0 else 0)
    if start < 0:
        return {}
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except json.JSONDecodeError:
        return {}


def request_shape(body: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """(mode, schema, tool name) implied by a chat-completions request."""
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return "json_schema", rf["json_schema"]["schema"], None
    if body.get("tools"):
        fn = body["tools"][0]["function"]
        return "tools", fn.get("parameters", {}), fn["name"]
    system = " ".join(
        m["content"]
        for m in body.get("messages", [])
        if m.get("role") == "system" and isinstance(m.get("content"), str)
    )
    if "schema" in rf:
        return "json", rf["schema"], None
    return (
        ("json" if rf.get("type") == "json_object" else "md_json"),
        _schema_from_text(system),
        None,
    )


def prompt_text(body: dict[str, Any]) -> str:
    """The system and user messages in order (the letter is in the first of them)."""
    return "\n".join(
        m["content"]
        for m in body.get("messages", [])
        if m.get("role") in ("system", "user") and isinstance(m.get("content"), str)
    )


class FakeOpenAI:
    """The server; use as a context manager or through the ``fake_openai`` fixture."""

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        model: str = "fake-model",
        latency_s: float = 0.0,
        nodelay: bool = False,
    ) -> None:
        self.responder = responder
        self.model = model
        self.latency_s = latency_s
        self.nodelay = nodelay
        self.service_spans: list[tuple[float, float]] = []
        self.requests: list[dict[str, Any]] = []
        self.served: list[str] = []
        self._script: deque[Action] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rng = random.Random(0)
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = FAULT_KINDS
        self._stall_s = 1.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        handler = type(
            "Handler", (_Handler,), {"fake": self, "disable_nagle_algorithm": self.nodelay}
        )
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *actions: Action) -> None:
        """Queue actions; each request takes the next one."""
        with self._lock:
            self._script.extend(actions)

    def set_faults(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: tuple[str, ...] = FAULT_KINDS,
        stall_s: float = 1.0,
    ) -> None:
        """Unscripted requests fail with probability ``rate``, kind drawn from ``kinds``."""
        unknown = set(kinds) - set(FAULT_KINDS)
        assert not unknown, f"unknown fault kinds {unknown}"
        with self._lock:
            self._fault_rate, self._fault_kinds, self._stall_s = rate, tuple(kinds), stall_s
            self._rng = random.Random(seed)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.served.clear()
            self._script.clear()

    def _next_action(self) -> Action:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._fault_rate and self._rng.random() < self._fault_rate:
                kind = self._rng.choice(self._fault_kinds)
                return {
                    "rate_limit": lambda: Status(429, {"Retry-After": "0"}, "rate limited"),
                    "server_error": lambda: Status(self._rng.choice([500, 502, 503])),
                    "stall": lambda: Stall(self._stall_s),
                    "drop": Drop,
                    "truncated": Truncated,
                    "invalid": Invalid,
                    "ungrounded": Ungrounded,
                }[kind]()
            return Reply()

    def _record(self, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.requests.append(
                {"path": path, "headers": headers, "body": body, "time": time.time()}
            )

    def _served(self, kind: str) -> None:
        with self._lock:
            self.served.append(kind)

    def build(self, body: dict[str, Any], obj: Any | None) -> tuple[str, Any]:
        """(mode, answer object) for ``body``; ``obj`` None means build a valid one."""
        mode, schema, _ = request_shape(body)
        if obj is None:
            quotes = QuotePicker(prompt_text(body))
            obj = (
                self.responder(body, schema, quotes)
                if self.responder
                else fill_schema(schema, quotes)
            )
        return mode, obj

    def completion(
        self, body: dict[str, Any], content: str, finish_reason: str, usage: tuple[int, int] | None
    ) -> dict:
        mode, _, tool = request_shape(body)
        prompt_chars = sum(
            len(m.get("content") or "") for m in body.get("messages", []) if isinstance(m, dict)
        )
        p, c = usage or (prompt_chars // 4 + 1, len(content) // 4 + 1)
        if mode == "tools":
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": tool, "arguments": content},
                    }
                ],
            }
        else:
            message = {
                "role": "assistant",
                "content": f"```json\n{content}\n```" if mode == "md_json" else content,
            }
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, code: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        arrived = getattr(self, "_arrived", None)
        if self.fake.latency_s and arrived is not None:
            self.fake._stop.wait(max(0.0, arrived + self.fake.latency_s - time.monotonic()))
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self.fake._record(self.path, dict(self.headers), None)
        if self.path.rstrip("/").endswith("/models"):
            self._send(
                200, {"object": "list", "data": [{"id": self.fake.model, "object": "model"}]}
            )
        else:
            self._send(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self) -> None:
        self._arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = None
        fake = self.fake
        fake._record(self.path, dict(self.headers), body)
        if not self.path.rstrip("/").endswith("/chat/completions") or not isinstance(body, dict):
            self._send(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        with fake._lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._act(fake._next_action(), body)
        finally:
            with fake._lock:
                fake.in_flight -= 1
                fake.service_spans.append((self._arrived, time.monotonic()))

    def _act(self, action: Action, body: dict[str, Any]) -> None:
        fake = self.fake
        if isinstance(action, Status):
            fake._served(f"status_{action.code}")
            error = {
                "message": action.message,
                "type": "server_error" if action.code >= 500 else "invalid_request_error",
            }
            self._send(action.code, {"error": error}, action.headers)
        elif isinstance(action, Drop):
            fake._served("drop")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        elif isinstance(action, Stall):
            fake._served("stall")
            fake._stop.wait(action.seconds)
            _, obj = fake.build(body, None)
            self._send(200, fake.completion(body, json.dumps(obj), "stop", None))
        elif isinstance(action, Truncated):
            fake._served("truncated")
            _, obj = fake.build(body, action.obj)
            content = json.dumps(obj)
            self._send(
                200, fake.completion(body, content[: max(1, len(content) // 2)], "stop", None)
            )
        elif isinstance(action, Length):
            fake._served("length")
            _, obj = fake.build(body, action.obj)
            content = json.dumps(obj)
            self._send(
                200, fake.completion(body, content[: max(1, len(content) // 2)], "length", None)
            )
        elif isinstance(action, Invalid):
            fake._served("invalid")
            self._send(200, fake.completion(body, json.dumps(action.obj), "stop", None))
        elif isinstance(action, Ungrounded):
            fake._served("ungrounded")
            _, obj = fake.build(body, None)
            obj = _replace_quotes(obj, action.quote)
            self._send(200, fake.completion(body, json.dumps(obj), "stop", None))
        else:
            fake._served("ok")
            _, obj = fake.build(body, action.obj)
            self._send(
                200, fake.completion(body, json.dumps(obj), action.finish_reason, action.usage)
            )


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started ``FakeOpenAI``; ``.base_url`` ends in ``/v1``."""
    with FakeOpenAI() as server:
        yield server


def main(argv: list[str] | None = None) -> None:
    """Serve in this process until standard input closes (see the module docstring)."""
    import argparse
    import resource
    import statistics
    import sys

    ap = argparse.ArgumentParser(description="Scripted OpenAI-compatible server on 127.0.0.1.")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds from request to answer")
    ap.add_argument(
        "--nagle",
        action="store_true",
        help="leave Nagle's algorithm on (by default TCP_NODELAY is set, as real servers do)",
    )
    args = ap.parse_args(argv)
    with FakeOpenAI(latency_s=args.latency, nodelay=not args.nagle) as fake:
        print(fake.base_url, flush=True)
        sys.stdin.read()
        spans = list(fake.service_spans) or [(0.0, 0.0)]
        times = sorted(end - start for start, end in spans)
        window = max(end for _, end in spans) - min(start for start, _ in spans)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats = {
            "chat_requests": len(fake.chat_requests),
            "max_in_flight": fake.max_in_flight,
            # requests in flight on average between the first arrival and the last answer
            "mean_in_flight": round(sum(times) / window, 2) if window > 0 else 0.0,
            "window_s": round(window, 3),
            "service_s_mean": round(statistics.fmean(times), 4),
            "service_s_p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 4),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        }
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
