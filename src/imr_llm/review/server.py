"""Run the review app with uvicorn; after the server stops, refresh report.html's review
column when verdicts were recorded."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from imr_llm.review.app import LOOPBACK, create_app
from imr_llm.review.workbench import Workbench

log = logging.getLogger(__name__)
TOKEN_ENV = "IMR_REVIEW_TOKEN"


class ReviewServer:
    """The app on a bound socket; ``run`` blocks (Ctrl-C/SIGTERM stop it), or ``start`` runs
    it in a thread (tests) and ``stop`` ends it."""

    def __init__(
        self, out: Path, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None
    ):
        import uvicorn

        self.out = Path(out)
        self.host = host
        self.token = token
        self.wb = Workbench(self.out)
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host.strip("[]"), port))
        self.port = self.sock.getsockname()[1]
        app, self.written = create_app(self.wb, host=host, port_ref=[self.port], token=token)
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=3,
        )
        self.server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}/"

    @property
    def login_url(self) -> str:
        return self.url + (f"?token={self.token}" if self.token else "")

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        if on_ready is not None:
            threading.Thread(target=self._when_started, args=(on_ready,), daemon=True).start()
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()
            self.after()

    def _when_started(self, fn: Callable[[], None]) -> None:
        import time

        for _ in range(200):
            if self.server.started:
                fn()
                return
            time.sleep(0.05)

    def start(self) -> ReviewServer:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        import time

        for _ in range(200):
            if self.server.started:
                break
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def after(self) -> None:
        """Refresh report.html with the review column when this session recorded verdicts."""
        if not self.written["events"]:
            return
        try:
            from imr_llm.review.export import rewrite_report

            rewrite_report(self.out)
        except Exception as exc:  # the verdicts are stored; the report is a convenience
            log.warning("report.html was not refreshed with the review column: %s", exc)


def _server_class():
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        """Ctrl-C and SIGTERM stop the server gracefully and return from ``run`` (uvicorn
        re-raises the signal afterwards, which would skip the report refresh)."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            old = {s: signal.signal(s, self.handle_exit) for s in sigs}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)

    return Server


def _Server(config):
    return _server_class()(config)


def resolve_token(host: str, want_token: bool) -> str | None:
    """The token for this server: required off loopback; from IMR_REVIEW_TOKEN or random."""
    if host not in LOOPBACK and not want_token:
        raise ValueError(
            f"--host {host} makes the review app reachable from other machines: add --token "
            "(a token is then printed once and required on every request), or keep the "
            "default --host 127.0.0.1"
        )
    if not want_token:
        return None
    return os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)


def open_browser(url: str) -> None:
    try:
        webbrowser.open(url, new=2)
    except Exception as exc:
        log.warning("could not open a browser (%s); open %s yourself", exc, url)
