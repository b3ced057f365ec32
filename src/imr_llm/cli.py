"""The ``imr-llm`` command: a thin layer over ``audit``, ``pipeline`` and ``evals``.

Every failure ends with a one-line ``error: ...`` on stderr that says what to do, and a
documented exit status, never a traceback: 0 ok; 1 findings at or above ``--fail-on``; 2 usage
error, no readable input or an unusable ``--out``; 3 some letters failed to process; 4 an
internal error (a bug: the message asks for a report; ``-vv`` adds the traceback); 130
interrupted. Results go to stdout, everything else (errors, warnings, progress) to stderr.

Size: one function per command with its typed options (the options are the CLI's
documentation); the work lives in the modules each command calls.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from imr_llm.ingest import DEFAULT_MAX_BYTES, InputFile, expand_paths, path_problem
from imr_llm.llm.backends import BackendError, get_backend
from imr_llm.llm.backends.options import AskOpt, LlmFindingsOpt, LlmOpt
from imr_llm.llm.config import parse_ask
from imr_llm.schemas import Severity

if TYPE_CHECKING:
    from imr_llm.audit import AuditOptions, AuditResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Audit California workers' comp IMR determination letters: extract, summarize, flag.",
)
# Messages are never wrapped: a path or a message stays on one line at any terminal width.
console = Console(stderr=True, soft_wrap=True, highlight=False)
out_console = Console(highlight=False)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
STDIN = "-"
TOP_FLAGGED = 10
PROGRESS_EVERY_S = 5.0

_state = {"verbose": 0, "quiet": False}


class CliError(Exception):
    """A failure the user can act on: printed as ``error: message``, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def _error(message: str) -> None:
    console.print(f"[red]error:[/red] {escape(message)}")


def _warn(message: str) -> None:
    console.print(f"[yellow]warning:[/yellow] {escape(message)}")


def _info(message: str) -> None:
    """A progress or status line on stderr (silenced by -q)."""
    if not _state["quiet"]:
        console.print(escape(message))


# Exits and usage errors of typer (which vendors click) and of click: they already say what
# to do and carry their exit status.
_PASS_THROUGH = (
    typer.Exit,
    typer.Abort,
    typer.TyperException,
    click.exceptions.Exit,
    click.ClickException,
    click.Abort,
    SystemExit,
)


def _guarded(fn):
    """Run a command so that every failure is a message and a documented exit status."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except CliError as exc:
            _error(exc.message)
            raise typer.Exit(exc.code) from None
        except KeyboardInterrupt:
            _error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            _error(
                f"internal error ({type(exc).__name__}{where}: {exc}). This is a bug in "
                f"imr-llm, not in your input: please report it with the command line and the "
                f"output of the same command with -vv (exit status {EXIT_INTERNAL})"
            )
            if _state["verbose"] >= 2:
                console.print("".join(traceback.format_exception(exc)), markup=False)
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _command(*args, **kwargs):
    """``app.command`` with every failure turned into a message and exit status."""

    def deco(fn):
        return app.command(*args, **kwargs)(_guarded(fn))

    return deco


class FailOn(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"
    never = "never"


def _set_logging() -> None:
    verbose, quiet = _state["verbose"], _state["quiet"]
    level = (
        logging.ERROR
        if quiet
        else logging.WARNING
        if verbose == 0
        else logging.INFO
        if verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    for noisy in ("httpx", "httpcore", "openai", "instructor"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _verbose_cb(value: int) -> int:
    if value:
        _state["verbose"] = max(_state["verbose"], value)
        _set_logging()
    return value


def _quiet_cb(value: bool) -> bool:
    if value:
        _state["quiet"] = True
        _set_logging()
    return value


def _version_cb(value: bool) -> None:
    if value:
        from imr_llm.audit import package_version

        out_console.print(f"imr-llm {package_version()}")
        raise typer.Exit(EXIT_OK)


VerboseOpt = Annotated[
    int,
    typer.Option(
        "-v", "--verbose", count=True, callback=_verbose_cb, help="-v info, -vv debug logs."
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option("-q", "--quiet", callback=_quiet_cb, help="Errors and warnings only on stderr."),
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name (or IMR_LLM_MODEL).")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint (or OPENAI_BASE_URL).")
]
ModelPathOpt = Annotated[
    Path | None, typer.Option("--model-path", help="GGUF file for --llm local (default: bundled).")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the LLM cache.")]
MaxMbOpt = Annotated[float, typer.Option("--max-mb", help="Refuse input files larger than this.")]
FileArg = Annotated[Path, typer.Argument(help="A .pdf or .txt letter; - reads it from stdin.")]


@app.callback()
def main(
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_cb, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    os.umask(0o077)
    _state["verbose"], _state["quiet"] = verbose, quiet
    # Piped or captured output is never hard-wrapped at some width: lines stay greppable and
    # read the same whatever COLUMNS says. (A terminal still gets Rich's wrapping.)
    out_console.soft_wrap = not out_console.is_terminal
    _set_logging()


def _llm_config(
    llm: str,
    model: str | None,
    base_url: str | None,
    model_path: Path | None,
    ask: str | None = None,
    default_ask: str = "checks",
    findings: str = "low",
):
    try:
        parse_ask(ask or default_ask)
        return get_backend(llm).configure(
            model=model,
            base_url=base_url,
            model_path=model_path,
            ask=ask or default_ask,
            findings=findings,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None


@_command()
def audit(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (recursive) or globs.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("imr-audit"),
    llm: LlmOpt = "none",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    ask: AskOpt = None,
    llm_findings: LlmFindingsOpt = "low",
    concurrency: Annotated[int, typer.Option(help="LLM calls in flight.")] = 4,
    workers: Annotated[
        int | None, typer.Option(help="Processes for the rules path (default: all cores).")
    ] = None,
    no_cache: NoCacheOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Start over: discard the run already in --out.")
    ] = False,
    append: Annotated[
        bool,
        typer.Option(
            "--append",
            help="Add these letters to the run already in --out (all outputs then cover both).",
        ),
    ] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on findings at or above.")
    ] = FailOn.high,
    max_mb: MaxMbOpt = DEFAULT_MAX_BYTES / 1024 / 1024,
    no_html: Annotated[bool, typer.Option("--no-html", help="Skip report.html.")] = False,
    excel: Annotated[
        bool, typer.Option("--excel", help="Start the CSV files with a UTF-8 BOM (for Excel).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")
    ] = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Audit letters; write results.jsonl, findings.csv, evidence.csv and report.html to --out."""
    from imr_llm.audit import AuditOptions

    if force and append:
        raise CliError("--force (start over) and --append (merge) exclude each other; pick one")
    inputs = _audit_inputs(paths)
    config = _llm_config(llm, model, base_url, model_path, ask, findings=llm_findings)
    if config is not None and get_backend(llm).takes_concurrency:
        config = config.model_copy(update={"concurrency": concurrency})
    options = AuditOptions(
        out=out,
        llm=config,
        concurrency=concurrency,
        workers=workers,
        use_cache=not no_cache,
        force=force,
        append=append,
        excel=excel,
        max_bytes=int(max_mb * 1024 * 1024),
        html=not no_html,
        warn=_warn,
    )
    result = _run_audit_with_progress(inputs, options, llm)
    if result.mode == "append":
        _info(
            f"appended to the run in {out}: it held {result.previous} letters and now holds "
            f"{len(result.letters)}; every output covers all of them"
        )
    elif result.mode == "force":
        _info(f"--force: the earlier run in {out} was discarded")
    code, why = _exit_code(result, fail_on)
    if as_json:
        sys.stdout.write(json.dumps(_summary_json(result, out, code, why), indent=2) + "\n")
    elif not _state["quiet"]:
        _print_table(result)
        _print_closing(result, out, code, why)
    raise typer.Exit(code)


def _audit_inputs(paths: list[str]) -> list[InputFile]:
    """The letters ``paths`` name; each path that names none is warned about."""
    problems: list[str] = []
    inputs, unmatched = expand_paths(paths, problems)
    for msg in problems:
        _warn(msg)
    for arg in unmatched:
        if not any(msg.startswith(f"{arg}:") for msg in problems):
            _warn(f"{arg}: no such file, or no .pdf/.txt letters in it")
    if not inputs:
        raise CliError("no input letters; give .pdf or .txt files, directories or globs")
    return inputs


def _run_audit_with_progress(
    inputs: list[InputFile], options: AuditOptions, llm: str
) -> AuditResult:
    """``run_audit`` under a progress bar (a terminal) or a progress line every few seconds;
    its failures become a ``CliError`` that says what to do."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from imr_llm.audit import RunFolderError, run_audit

    out = options.out
    show_bar = console.is_terminal and not _state["quiet"]
    progress = Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} letters/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not show_bar,
    )
    t0 = time.perf_counter()
    state = {"done": 0, "said": 0.0}

    def tick(_rec) -> None:
        state["done"] += 1
        elapsed = max(time.perf_counter() - t0, 1e-6)
        rate = state["done"] / elapsed
        if show_bar:
            progress.update(task, advance=1, rate=f"{rate:.1f}")
        elif state["done"] == 1 or elapsed - state["said"] >= PROGRESS_EVERY_S:
            state["said"] = elapsed
            _info(f"progress: {state['done']} letter(s) audited ({rate:.1f}/s)")

    with progress:
        task = progress.add_task("audit", total=len(inputs), rate="-")
        try:
            return run_audit(inputs, options, on_progress=tick)
        except RunFolderError as exc:
            raise CliError(str(exc)) from None
        except KeyboardInterrupt:
            raise CliError(
                f"interrupted: finished letters are saved in {out}; re-run the same command to "
                "resume",
                EXIT_INTERRUPTED,
            ) from None
        except OSError as exc:
            raise CliError(
                f"cannot write the outputs in {out} ({exc.strerror or exc}: "
                f"{exc.filename or out}); give an --out folder you can write to, with free space"
            ) from None
        except Exception as exc:
            if isinstance(exc, BackendError):
                raise CliError(f"the {llm} backend could not start: {exc}", EXIT_FAILED) from None
            raise


def _exit_code(result, fail_on: FailOn) -> tuple[int, str]:
    """The exit status and the reason for it, in words."""
    letters = result.letters
    failed = sum(e.status == "error" for e in letters)
    if letters and failed == len(letters):
        not_input = {"llm_error", "internal"}  # failures of ours, not of the input
        bad_input = all((r.get("error") or {}).get("kind") not in not_input for r in result.errors)
        if bad_input:
            return EXIT_USAGE, "no input could be read as an IMR letter (see the errors above)"
        return EXIT_FAILED, f"all {failed} letters failed to process (see the errors above)"
    if failed:
        return EXIT_FAILED, (
            f"{failed} of {len(letters)} letters failed to process (status error in results.jsonl)"
        )
    if fail_on == FailOn.never:
        return EXIT_OK, "--fail-on never: findings do not change the exit status"
    limit = Severity(fail_on.value).rank
    hits = sum(e.top >= limit for e in letters)
    if hits:
        return EXIT_FINDINGS, (
            f"{hits} letter(s) have findings at or above --fail-on {fail_on.value}"
        )
    return EXIT_OK, f"no finding at or above --fail-on {fail_on.value}"


def _flagged(result, n: int = TOP_FLAGGED) -> tuple[list[dict], int]:
    """The ``n`` letters with the highest findings (severity, then count), and how many letters
    have findings at all."""
    with_findings = [i for i, e in enumerate(result.letters) if e.top >= 0]
    top = heapq.nsmallest(n, with_findings, key=lambda i: (-result.letters[i].top, i))
    rows = []
    for i in top:
        rec = result.records[i]
        codes: dict[str, int] = {}
        for f in rec.get("findings") or []:
            codes[f["code"]] = max(codes.get(f["code"], -1), Severity(f["severity"]).rank)
        rows.append(
            {
                "letter_id": rec["letter_id"],
                "max_severity": result.letters[i].max_severity.value,
                "findings": len(rec.get("findings") or []),
                "codes": sorted(codes, key=lambda c: (-codes[c], c)),
            }
        )
    rows.sort(key=lambda r: (-Severity(r["max_severity"]).rank, -r["findings"]))
    return rows, len(with_findings)


def _outputs(out: Path) -> dict[str, str]:
    from imr_llm.report import writers

    names = [writers.RESULTS, writers.FINDINGS, writers.EVIDENCE, writers.REPORT, writers.MANIFEST]
    return {name: str(out / name) for name in names if (out / name).exists()}


def _summary_json(result, out: Path, code: int, why: str) -> dict:
    letters = result.letters
    flagged, n_flagged = _flagged(result)
    counts: dict[str, dict[str, int]] = {}
    for (c, sev), n in result.counts.items():
        counts.setdefault(c, {})[sev] = n
    return {
        "out": str(out),
        "mode": result.mode,
        "letters": len(letters),
        "ok": sum(e.status == "ok" for e in letters),
        "failed": sum(e.status == "error" for e in letters),
        "processed": result.processed,
        "skipped": result.skipped,
        "seconds": round(result.seconds, 3),
        "letters_with_findings": n_flagged,
        "findings": counts,
        "flagged": flagged,
        "errors": [
            {"letter_id": r["letter_id"], "source": r["source"], **r["error"]}
            for r in result.errors[:100]
        ],
        "duplicate_ids": result.duplicates,
        "kept_edits": [str(p) for p in result.kept_edits],
        "outputs": _outputs(out),
        "exit_code": code,
        "exit_reason": why,
    }


def _print_table(result) -> None:
    letters = result.letters
    ok = sum(e.status == "ok" for e in letters)
    flagged = sum(e.top >= Severity.medium.rank for e in letters)
    out_console.print(
        f"{len(letters)} letters: {ok} ok, {len(letters) - ok} failed, {flagged} with "
        f"medium/high findings ({result.processed} processed, {result.skipped} already done) "
        f"in {result.seconds:.1f}s",
        soft_wrap=True,
    )
    recs = result.records
    llm = [r.get("llm") or {} for r in recs]
    if any(u.get("backend", "none") != "none" for u in llm):
        out_console.print(
            f"LLM: {sum(u.get('calls', 0) for u in llm)} calls, {sum(u.get('retries', 0) for u in llm)} retries, "
            f"{sum(u.get('cache_hits', 0) for u in llm)} cache hits, "
            f"{sum(u.get('prompt_tokens', 0) + u.get('completion_tokens', 0) for u in llm)} tokens",
            soft_wrap=True,
        )
    if result.counts:
        t = Table("code", "severity", "findings", title="Findings")
        for (code, sev), n in sorted(
            result.counts.items(), key=lambda kv: (-Severity(kv[0][1]).rank, kv[0][0])
        ):
            t.add_row(code, sev, str(n))
        out_console.print(t)
    errors = result.errors
    if errors:
        t = Table("letter", "error", "message", title="Letters that failed")
        for r in errors[:20]:
            t.add_row(escape(r["letter_id"]), r["error"]["kind"], escape(r["error"]["message"]))
        out_console.print(t)
        if len(errors) > 20:
            out_console.print(f"... and {len(errors) - 20} more (see results.jsonl)")


def _print_closing(result, out: Path, code: int, why: str) -> None:
    """Where the outputs are, which letters were flagged, why the exit status is what it is."""
    say = functools.partial(out_console.print, soft_wrap=True, markup=False)
    flagged, n_flagged = _flagged(result)
    if flagged:
        more = f" (top {len(flagged)} of {n_flagged})" if n_flagged > len(flagged) else ""
        say(f"Letters with findings{more}:")
        for r in flagged:
            say(f"  {r['letter_id']}  {r['max_severity']}: {', '.join(r['codes'])}")
    say(f"Outputs in {out}: " + ", ".join(_outputs(out)))
    say(f"Exit status {code}: {why}.")


def _read_stdin(tmpdir: str) -> Path:
    data = sys.stdin.buffer.read()
    if not data:
        raise CliError("stdin is empty; pipe a letter in (imr-llm check - < letter.pdf)")
    path = Path(tmpdir) / "stdin"
    path.write_bytes(data)
    return path


def _one(
    file: Path,
    llm: str,
    model,
    base_url,
    model_path,
    no_cache: bool,
    ask: str | None,
    default: str,
    findings: str = "low",
):
    from imr_llm.pipeline import analyze

    config = _llm_config(llm, model, base_url, model_path, ask, default, findings)
    if str(file) == STDIN:
        with tempfile.TemporaryDirectory(prefix="imr-llm-") as tmp:
            analysis = analyze(_read_stdin(tmp), source=STDIN)
    else:
        problem = path_problem(file)
        if problem is not None:
            raise CliError(problem)
        if not file.exists():
            raise CliError(f"{file}: file not found")
        analysis = analyze(file)
    if config is not None and analysis.letter is not None:
        from imr_llm.pipeline import enrich_sync

        try:
            enrich_sync(analysis, config, use_cache=not no_cache)
        except BackendError as exc:
            raise CliError(f"the {llm} backend could not start: {exc}", EXIT_FAILED) from None
    return analysis


def _error_exit(rec) -> int:
    """For a record that failed: print its error on stderr; the exit status it earns."""
    _error(rec.error.message)
    kind = rec.error.kind
    return (
        EXIT_FAILED if kind == "llm_error" else EXIT_INTERNAL if kind == "internal" else EXIT_USAGE
    )


@_command()
def check(
    file: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    llm: LlmOpt = "none",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    ask: AskOpt = None,
    llm_findings: LlmFindingsOpt = "low",
    no_cache: NoCacheOpt = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Findings for one letter, readable in a terminal (or the record with --json)."""
    from imr_llm.report.terminal import render_findings

    analysis = _one(file, llm, model, base_url, model_path, no_cache, ask, "checks", llm_findings)
    rec = analysis.record
    if as_json:
        sys.stdout.write(json.dumps(rec.to_json_dict(), indent=2, ensure_ascii=False) + "\n")
    if rec.status == "error":
        raise typer.Exit(_error_exit(rec))
    if not as_json:
        render_findings(out_console, rec)
    top = rec.max_severity()
    raise typer.Exit(
        EXIT_FINDINGS if top is not None and top.rank >= Severity.high.rank else EXIT_OK
    )


@_command()
def extract(
    file: FileArg,
    with_text: Annotated[
        bool, typer.Option("--with-text", help="Include the extracted letter text.")
    ] = False,
    llm: LlmOpt = "none",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    ask: AskOpt = None,
    no_cache: NoCacheOpt = False,
    json_flag: Annotated[
        bool, typer.Option("--json", help="Accepted for symmetry; output is always JSON.")
    ] = True,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """The record without checks, as JSON."""
    analysis = _one(file, llm, model, base_url, model_path, no_cache, ask, "extract")
    rec = analysis.record.model_copy(update={"findings": []})
    if with_text and analysis.letter is not None:
        rec.text = analysis.letter.text
    sys.stdout.write(json.dumps(rec.to_json_dict(), indent=2, ensure_ascii=False) + "\n")
    raise typer.Exit(EXIT_OK if rec.status == "ok" else _error_exit(rec))


@_command()
def summarize(
    file: FileArg,
    llm: LlmOpt = "none",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    ask: AskOpt = None,
    no_cache: NoCacheOpt = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {letter_id, source, summary} as JSON.")
    ] = False,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """A short summary of one letter (grounded LLM summary when a backend is on)."""
    analysis = _one(file, llm, model, base_url, model_path, no_cache, ask, "summary")
    rec = analysis.record
    if rec.status == "error":
        raise typer.Exit(_error_exit(rec))
    if as_json:
        obj = {
            "letter_id": rec.letter_id,
            "source": rec.source,
            "summary": rec.summary,
            "summary_parts": (
                rec.summary_parts.model_dump(mode="json") if rec.summary_parts else None
            ),
        }
        sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    else:
        out_console.print(escape(rec.summary))


@_command()
def doctor(verbose: VerboseOpt = 0, quiet: QuietOpt = False) -> None:
    """Say which backends are usable on this machine, and why not."""
    from imr_llm.doctor import diagnose, render

    out_console.print(render(diagnose()))


_VERBOSITY = {"-v": 1, "--verbose": 1, "-vv": 2, "-vvv": 3}


@_command(
    "eval",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    help="Scorecard on a labeled set: imr-llm eval SET_DIR [--llm ...] [--out DIR] [--compare OLD]; "
    "or make labeled variants: imr-llm eval mutate SRC... --out DIR [--seed N]. "
    "-v/-q work here too.",
)
def eval_cmd(ctx: typer.Context) -> None:
    from imr_llm.evals import cli as evals_cli
    from imr_llm.evals.cli import eval_app, mutate_app

    args = []
    for a in ctx.args:
        if a in _VERBOSITY:
            _verbose_cb(_VERBOSITY[a])
        elif a in ("-q", "--quiet"):
            _quiet_cb(True)
        else:
            args.append(a)
    if _state["quiet"]:
        evals_cli.out_console.quiet = True
    target = mutate_app if args and args[0] == "mutate" else eval_app
    if args and args[0] == "mutate":
        args = args[1:]
    try:
        rc = target(
            args=args,
            prog_name="imr-llm eval" + (" mutate" if target is mutate_app else ""),
            standalone_mode=False,
        )
    except typer.Exit as exc:
        raise typer.Exit(exc.exit_code) from None
    except SystemExit as exc:
        raise typer.Exit(int(exc.code or 0)) from None
    except (typer.TyperException, click.ClickException) as exc:
        if not hasattr(exc, "show"):
            raise
        exc.show()
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        evals_cli.out_console.quiet = False
    raise typer.Exit(rc if isinstance(rc, int) else 0)


@_command(
    "review",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    help="The auditor's workbench: imr-llm review OUT_DIR [--host 127.0.0.1] [--port N] "
    "[--no-browser] [--token] opens a local web app to record verdicts on an audit's findings; "
    "imr-llm review export OUT_DIR [--format csv|jsonl] [--as-labels DIR] writes them out.",
)
def review_cmd(ctx: typer.Context) -> None:
    from imr_llm.review import cli as review_cli

    args = []
    for a in ctx.args:
        if a in _VERBOSITY:
            _verbose_cb(_VERBOSITY[a])
        elif a in ("-q", "--quiet"):
            _quiet_cb(True)
        else:
            args.append(a)
    target = review_cli.export_app if args and args[0] == "export" else review_cli.serve_app
    if args and args[0] == "export":
        args = args[1:]
    try:
        rc = target(
            args=args,
            prog_name="imr-llm review" + (" export" if target is review_cli.export_app else ""),
            standalone_mode=False,
        )
    except review_cli.ReviewCliError as exc:
        raise CliError(exc.message, exc.code) from None
    except typer.Exit as exc:
        raise typer.Exit(exc.exit_code) from None
    except SystemExit as exc:
        raise typer.Exit(int(exc.code or 0)) from None
    except (typer.TyperException, click.ClickException) as exc:
        if not hasattr(exc, "show"):
            raise
        exc.show()
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    app()
