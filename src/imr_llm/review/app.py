"""The review web app: Starlette over a Workbench, served by uvicorn on 127.0.0.1.

Security (issue 17): loopback by default, any other host only with a token, which is then
required on every request (a cookie set from the printed URL, or an ``Authorization: Bearer``
header); on loopback the Host header must name the server (no DNS rebinding); writes must be
same-origin JSON; every response carries a strict Content-Security-Policy (``default-src
'none'``, scripts and styles from this server only, nothing from the network); letter text is
read only from the audit folder's own text store, and the source PDF is served only when it
still has the sha256 the audit recorded.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imr_llm.review.store import ReviewInputError, ReviewStoreError
from imr_llm.review.workbench import Workbench

HERE = Path(__file__).resolve().parent
REPORT_DIR = HERE.parent / "report"
COOKIE = "imr_review_token"
MAX_BODY = 64 * 1024
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class Guard:
    """ASGI middleware: Host check, token check, same-origin writes, security headers."""

    def __init__(self, app: ASGIApp, *, host: str, port_ref: list[int], token: str | None):
        self.app = app
        self.host = host
        self.port_ref = port_ref
        self.token = token

    def _hosts(self) -> set[str]:
        port = self.port_ref[0]
        names = {self.host} | (LOOPBACK if self.host in LOOPBACK else set())
        out = set()
        for n in names:
            n = f"[{n}]" if ":" in n and not n.startswith("[") else n
            out |= {f"{n}:{port}".lower(), n.lower()}
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        problem: tuple[int, str] | None = None
        if self.host in LOOPBACK and host not in self._hosts():
            problem = (421, "unknown Host header: open the URL printed when the server started")
        set_cookie = None
        if problem is None and self.token:
            qs = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            offered = [
                headers.get("authorization", "").removeprefix("Bearer ").strip(),
                headers.get("x-review-token", ""),
                _cookie(headers.get("cookie", ""), COOKIE),
            ]
            from_url = (qs.get("token") or [""])[0]
            if from_url and scope["path"] == "/" and secrets.compare_digest(from_url, self.token):
                set_cookie = self.token
            elif not any(o and secrets.compare_digest(o, self.token) for o in offered):
                problem = (401, "a token is required: open the URL printed when the server started")
        if problem is None and scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            site = headers.get("sec-fetch-site")
            ctype = headers.get("content-type", "").split(";")[0].strip()
            if origin is not None and origin.lower() != f"http://{host}":
                problem = (403, "cross-origin write refused")
            elif site is not None and site not in ("same-origin", "none"):
                problem = (403, "cross-site write refused")
            elif ctype != "application/json":
                problem = (415, "writes take application/json")
        if problem is not None:
            resp: Response = PlainTextResponse(problem[1], status_code=problem[0])
            resp.headers.update(SECURITY_HEADERS)
            return await resp(scope, receive, send)
        if set_cookie is not None:
            # Trade the token in the URL for a cookie, and drop it from the address bar.
            resp = Response(status_code=303, headers={"Location": "/"})
            resp.set_cookie(COOKIE, set_cookie, httponly=True, samesite="strict", path="/")
            resp.headers.update(SECURITY_HEADERS)
            return await resp(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if k.lower().encode() not in names
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return ""


def create_app(
    wb: Workbench, *, host: str = "127.0.0.1", port_ref: list[int], token: str | None = None
):
    api = _Api(wb)
    routes = [
        Route("/", api.index_page),
        Route("/static/{name}", api.asset),
        Route("/api/index", api.index),
        Route("/api/letter/{letter_id:path}", api.letter),
        Route("/api/orphans", api.orphans),
        Route("/api/search", api.search),
        Route("/api/verdict", api.verdict, methods=["POST"]),
        Route("/api/add", api.add, methods=["POST"]),
        Route("/api/letter-state", api.letter_state, methods=["POST"]),
        Route("/pdf/{letter_id:path}", api.pdf),
    ]
    app = Starlette(routes=routes)
    app.state.written = api.written
    return Guard(app, host=host, port_ref=port_ref, token=token), api.written


class _Api:
    """The workbench's route handlers; ``written`` counts the events this server stored."""

    def __init__(self, wb: Workbench):
        self.wb = wb
        self.page = (HERE / "review.html").read_text(encoding="utf-8")
        self.assets = {
            "review.js": (HERE / "review.js", "text/javascript; charset=utf-8"),
            "review.css": (HERE / "review.css", "text/css; charset=utf-8"),
            "report.css": (REPORT_DIR / "report.css", "text/css; charset=utf-8"),
        }
        self.written = {"events": 0}

    def index_page(self, request: Request):
        return Response(self.page, media_type="text/html; charset=utf-8")

    def asset(self, request: Request):
        name = request.path_params["name"]
        if name not in self.assets:
            return PlainTextResponse("not found", status_code=404)
        path, mime = self.assets[name]
        return FileResponse(path, media_type=mime)

    def index(self, request: Request):
        return _guarded(self.wb.index)

    def letter(self, request: Request):
        data = _guarded(lambda: self.wb.letter(request.path_params["letter_id"]))
        if data is None:
            return JSONResponse({"error": "no such letter in this audit"}, status_code=404)
        return data

    def orphans(self, request: Request):
        return _guarded(lambda: {"orphans": self.wb.orphans()})

    def search(self, request: Request):
        q = request.query_params.get("q", "")[:200]
        return _guarded(lambda: {"q": q, "hits": self.wb.folder.search(q)})

    async def verdict(self, request: Request):
        return await _posted(request, self._verdict)

    async def add(self, request: Request):
        return await _posted(request, self._add)

    async def letter_state(self, request: Request):
        return await _posted(request, self._letter_state)

    def pdf(self, request: Request):
        path = self.wb.folder.source_pdf(request.path_params["letter_id"])
        if path is None:
            return PlainTextResponse("no source PDF with the audited bytes", status_code=404)
        resp = FileResponse(path, media_type="application/pdf")
        resp.headers["Content-Disposition"] = "inline"
        # The browser's PDF viewer needs its own resources: no page CSP on the PDF itself.
        resp.headers["Content-Security-Policy"] = "sandbox"
        return resp

    def _verdict(self, body: dict) -> dict:
        wb = self.wb
        letter_id = str(body.get("letter_id") or "")
        finding_id = str(body.get("finding_id") or "")
        snap = wb.snapshot(letter_id, finding_id)
        if snap is None:
            raise ReviewInputError("no such finding in this letter (reload the page)")
        base = body.get("base_seq")
        ev, conflict = wb.store.record_verdict(
            letter_id=letter_id,
            finding_id=finding_id,
            verdict=str(body.get("verdict") or ""),
            reviewer=str(body.get("reviewer") or ""),
            reason=str(body.get("reason") or ""),
            note=str(body.get("note") or ""),
            finding=snap,
            base_seq=int(base) if isinstance(base, int) else None,
        )
        self.written["events"] += 1
        return {"event": ev.as_dict(), "conflict": conflict.as_dict() if conflict else None}

    def _add(self, body: dict) -> dict:
        wb = self.wb
        letter_id = str(body.get("letter_id") or "")
        rec = wb.folder.by_id.get(letter_id)
        if rec is None:
            raise ReviewInputError("no such letter in this audit")
        text = wb.folder.text(letter_id) or ""
        start, end = body.get("start"), body.get("end")
        quote = str(body.get("quote") or "")
        if not (isinstance(start, int) and isinstance(end, int)) or text[start:end] != quote:
            # the quote must be the letter's own text at those offsets
            at = text.find(quote) if quote else -1
            if at < 0:
                raise ReviewInputError("the selected text is not in this letter")
            start, end = at, at + len(quote)
        di = body.get("decision_index")
        ev = wb.store.add_finding(
            letter_id=letter_id,
            code=str(body.get("code") or ""),
            decision_index=di if isinstance(di, int) else None,
            evidence=[{"quote": quote, "start": start, "end": end}],
            reviewer=str(body.get("reviewer") or ""),
            note=str(body.get("note") or ""),
            letter_sha256=rec.sha256,
        )
        self.written["events"] += 1
        return {"event": ev.as_dict()}

    def _letter_state(self, body: dict) -> dict:
        letter_id = str(body.get("letter_id") or "")
        if letter_id not in self.wb.folder.by_id:
            raise ReviewInputError("no such letter in this audit")
        ev = self.wb.store.mark_letter(
            letter_id=letter_id,
            reviewed=bool(body.get("reviewed")),
            reviewer=str(body.get("reviewer") or ""),
            note=str(body.get("note") or ""),
        )
        self.written["events"] += 1
        return {"event": ev.as_dict()}


async def _posted(request: Request, handle) -> Response:
    """Read the JSON body and run ``handle(body)`` in a worker thread (the store blocks)."""
    body = await _json(request)
    if isinstance(body, Response):
        return body
    return await _threaded(lambda: handle(body))


def _guarded(fn):
    try:
        data = fn()
    except ReviewStoreError as exc:
        return JSONResponse({"error": exc.message}, status_code=503)
    if isinstance(data, Response) or data is None:
        return data
    return JSONResponse(data)


async def _threaded(fn):
    from starlette.concurrency import run_in_threadpool

    try:
        return JSONResponse(await run_in_threadpool(fn))
    except ReviewInputError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except ReviewStoreError as exc:
        return JSONResponse({"error": exc.message}, status_code=503)


async def _json(request: Request):
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": "request body too large"}, status_code=413)
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSONResponse({"error": "request body is not JSON"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "request body must be a JSON object"}, status_code=400)
    return body
