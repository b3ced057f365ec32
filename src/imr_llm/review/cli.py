"""``imr-llm review OUT_DIR`` (the web app) and ``imr-llm review export OUT_DIR``."""

from __future__ import annotations

import errno
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2

serve_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
export_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

DEFAULT_PORT = 8642


class Fmt(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


class ReviewCliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def _problems():
    from imr_llm.review.folder import AuditFolderError
    from imr_llm.review.store import ReviewStoreError

    return (AuditFolderError, ReviewStoreError)


@serve_app.command(
    help="Review an audit in the browser: confirm / dismiss / unsure each finding, add missed "
    "ones; verdicts are kept in OUT_DIR/review.sqlite3."
)
def serve(
    out: Annotated[Path, typer.Argument(help="The --out folder of an imr-llm audit.")],
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (other than 127.0.0.1 needs --token)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help=f"Port (default {DEFAULT_PORT}; 0 picks a free one).")
    ] = DEFAULT_PORT,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser; print the URL only.")
    ] = False,
    token: Annotated[
        bool,
        typer.Option(
            "--token",
            help="Require a token on every request (printed once; IMR_REVIEW_TOKEN sets it).",
        ),
    ] = False,
) -> int:
    from imr_llm.review.server import ReviewServer, open_browser, resolve_token

    try:
        secret = resolve_token(host, token)
    except ValueError as exc:
        raise ReviewCliError(str(exc)) from None
    try:
        try:
            server = ReviewServer(out, host=host, port=port, token=secret)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port != DEFAULT_PORT:
                raise ReviewCliError(
                    f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port "
                    "(0 picks a free one)"
                ) from None
            server = ReviewServer(out, host=host, port=0, token=secret)
    except _problems() as exc:
        raise ReviewCliError(exc.message) from None
    idx = server.wb.index()
    p = idx["progress"]
    err = sys.stderr
    print(
        f"Reviewing {out}: {p['letters']} letters, {p['flagged']} flagged, "
        f"{p['reviewed_flagged']} of them reviewed, {idx['events']} review events so far",
        file=err,
    )
    if idx["orphans"]:
        print(
            f"{idx['orphans']} verdicts are on findings no longer in results.jsonl; "
            "they are listed in the app",
            file=err,
        )
    if idx["ids_computed"]:
        print(
            f"results.jsonl predates finding ids: {idx['ids_computed']} ids computed here "
            "the way the audit writes them",
            file=err,
        )
    if secret:
        print("Token required on every request; open this URL (shown once):", file=err)
    print(f"Open {server.login_url}  (Ctrl-C stops; verdicts are saved as you make them)")
    sys.stdout.flush()
    server.run(on_ready=None if no_browser else lambda: open_browser(server.login_url))
    return 0


@export_app.command(
    help="Write the review: --format csv|jsonl to stdout (or --output FILE), or the reviewed "
    "letters as an evals/ labeled set with --as-labels DIR (then: imr-llm eval DIR)."
)
def export(
    out: Annotated[Path, typer.Argument(help="The --out folder of an imr-llm audit.")],
    fmt: Annotated[Fmt, typer.Option("--format", help="csv or jsonl.")] = Fmt.csv,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    events: Annotated[
        bool, typer.Option("--events", help="Every event (the append-only log), not the state.")
    ] = False,
    as_labels: Annotated[
        Path | None,
        typer.Option("--as-labels", help="Write the reviewed letters as a labeled set here."),
    ] = None,
) -> int:
    from imr_llm.review.export import export_labels, render
    from imr_llm.review.store import STORE_NAME
    from imr_llm.review.workbench import Workbench

    if out.is_dir() and not (out / STORE_NAME).exists() and (out / "results.jsonl").exists():
        raise ReviewCliError(
            f"{out} has no review store ({STORE_NAME}) yet: review it first with "
            f"imr-llm review {out}"
        )
    try:
        wb = Workbench(out)
    except _problems() as exc:
        raise ReviewCliError(exc.message) from None
    if as_labels is not None:
        try:
            counts = export_labels(wb, as_labels)
        except ValueError as exc:
            raise ReviewCliError(str(exc)) from None
        print(
            f"Wrote {counts['letters']} reviewed letters to {as_labels} (set.json, labels/, "
            f"letters/): {counts['expected']} expected findings ({counts['confirmed']} "
            f"confirmed, {counts['added']} added); not expected: {counts['dismissed']} "
            f"dismissed, {counts['unsure']} unsure, {counts['unjudged']} not judged. "
            f"Score a backend against it: imr-llm eval {as_labels}",
            file=sys.stderr,
        )
        if counts["from_text"]:
            print(
                f"{counts['from_text']} letters' source files were gone or changed: their "
                "extracted text from the audit folder stands in (.txt)",
                file=sys.stderr,
            )
        return 0
    text = render(wb, fmt.value, events=events)
    if output is None:
        sys.stdout.write(text)
    else:
        import os

        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"Wrote {output}", file=sys.stderr)
    return 0
