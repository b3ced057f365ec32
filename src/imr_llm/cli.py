"""The ``imr-llm`` command: a thin layer over ``audit``, ``pipeline`` and ``evals``."""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from imr_llm.ingest import DEFAULT_MAX_BYTES, expand_paths
from imr_llm.schemas import Severity

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Audit California workers' comp IMR determination letters: extract, summarize, flag.",
)
console = Console(stderr=True)
out_console = Console()

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class Backend(StrEnum):
    none = "none"
    openai = "openai"
    local = "local"


class FailOn(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"
    never = "never"


LlmOpt = Annotated[
    Backend, typer.Option("--llm", help="none (rules only, offline), openai, or local.")
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


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="-v info, -vv debug.")
    ] = 0,
) -> None:
    os.umask(0o077)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("httpx", "httpcore", "openai", "instructor"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _llm_config(llm: Backend, model: str | None, base_url: str | None, model_path: Path | None):
    if llm == Backend.none:
        return None
    from imr_llm.llm.client import LLMConfig

    try:
        return LLMConfig.from_cli(
            backend=llm.value, model=model, base_url=base_url, model_path=model_path
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def audit(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (recursive) or globs.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("imr-audit"),
    llm: LlmOpt = Backend.none,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    concurrency: Annotated[int, typer.Option(help="LLM calls in flight.")] = 4,
    workers: Annotated[
        int | None, typer.Option(help="Processes for the rules path (default: all cores).")
    ] = None,
    no_cache: NoCacheOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Redo letters already in --out.")] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on findings at or above.")
    ] = FailOn.high,
    max_mb: MaxMbOpt = DEFAULT_MAX_BYTES / 1024 / 1024,
    no_html: Annotated[bool, typer.Option("--no-html", help="Skip report.html.")] = False,
) -> None:
    """Audit letters; write results.jsonl, findings.csv and report.html to --out."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from imr_llm.audit import AuditOptions, run_audit

    inputs, unmatched = expand_paths(paths)
    for arg in unmatched:
        console.print(
            f"[yellow]warning:[/yellow] {arg}: no such file, or no .pdf/.txt letters in it"
        )
    if not inputs:
        console.print(
            "[red]error:[/red] no input letters; give .pdf or .txt files, directories or globs"
        )
        raise typer.Exit(EXIT_USAGE)
    config = _llm_config(llm, model, base_url, model_path)
    if config is not None and llm != Backend.local:
        config = config.model_copy(update={"concurrency": concurrency})
    options = AuditOptions(
        out=out,
        llm=config,
        concurrency=concurrency,
        workers=workers,
        use_cache=not no_cache,
        force=force,
        max_bytes=int(max_mb * 1024 * 1024),
        html=not no_html,
    )
    progress = Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} letters/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    import time

    t0 = time.perf_counter()
    with progress:
        task = progress.add_task("audit", total=len(inputs), rate="-")

        def tick(_rec) -> None:
            done = progress.tasks[0].completed + 1
            rate = done / max(time.perf_counter() - t0, 1e-6)
            progress.update(task, advance=1, rate=f"{rate:.1f}")

        try:
            result = run_audit(inputs, options, on_progress=tick)
        except KeyboardInterrupt:
            console.print(
                f"[yellow]interrupted[/yellow]: finished letters are saved in {out}; re-run to resume"
            )
            raise typer.Exit(130) from None
    _print_table(result)
    code = _exit_code(result, fail_on)
    raise typer.Exit(code)


def _exit_code(result, fail_on: FailOn) -> int:
    records = result.records
    if records and all(r["status"] == "error" for r in records):
        bad_input = all((r.get("error") or {}).get("kind") != "llm_error" for r in records)
        return EXIT_USAGE if bad_input else EXIT_FAILED
    if result.errors:
        return EXIT_FAILED
    if fail_on != FailOn.never:
        top = result.max_severity()
        if top is not None and top.rank >= Severity(fail_on.value).rank:
            return EXIT_FINDINGS
    return EXIT_OK


def _print_table(result) -> None:
    recs = result.records
    ok = sum(r["status"] == "ok" for r in recs)
    flagged = sum(
        1 for r in recs if any(f["severity"] in ("high", "medium") for f in r.get("findings") or [])
    )
    out_console.print(
        f"{len(recs)} letters: {ok} ok, {len(recs) - ok} failed, {flagged} with medium/high findings "
        f"({result.processed} processed, {result.skipped} already done) in {result.seconds:.1f}s",
        soft_wrap=True,
    )
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
            t.add_row(r["letter_id"], r["error"]["kind"], r["error"]["message"])
        out_console.print(t)
        if len(errors) > 20:
            out_console.print(f"... and {len(errors) - 20} more (see results.jsonl)")


def _one(file: Path, llm: Backend, model, base_url, model_path, no_cache: bool):
    from imr_llm.pipeline import analyze

    if not file.exists():
        console.print(f"[red]error:[/red] {file}: file not found")
        raise typer.Exit(EXIT_USAGE)
    analysis = analyze(file)
    config = _llm_config(llm, model, base_url, model_path)
    if config is not None and analysis.letter is not None:
        from imr_llm.pipeline import enrich_sync

        enrich_sync(analysis, config, use_cache=not no_cache)
    return analysis


@app.command()
def check(
    file: Path,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    llm: LlmOpt = Backend.none,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Findings for one letter, readable in a terminal (or the record with --json)."""
    from imr_llm.report.terminal import render_findings

    analysis = _one(file, llm, model, base_url, model_path, no_cache)
    rec = analysis.record
    if as_json:
        sys.stdout.write(json.dumps(rec.to_json_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        render_findings(out_console, rec)
    if rec.status == "error":
        raise typer.Exit(EXIT_USAGE if rec.error.kind != "llm_error" else EXIT_FAILED)
    top = rec.max_severity()
    raise typer.Exit(
        EXIT_FINDINGS if top is not None and top.rank >= Severity.high.rank else EXIT_OK
    )


@app.command()
def extract(
    file: Path,
    with_text: Annotated[
        bool, typer.Option("--with-text", help="Include the extracted letter text.")
    ] = False,
    llm: LlmOpt = Backend.none,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    no_cache: NoCacheOpt = False,
    json_flag: Annotated[
        bool, typer.Option("--json", help="Accepted for symmetry; output is always JSON.")
    ] = True,
) -> None:
    """The record without checks, as JSON."""
    analysis = _one(file, llm, model, base_url, model_path, no_cache)
    rec = analysis.record.model_copy(update={"findings": []})
    if with_text and analysis.letter is not None:
        rec.text = analysis.letter.text
    sys.stdout.write(json.dumps(rec.to_json_dict(), indent=2, ensure_ascii=False) + "\n")
    raise typer.Exit(EXIT_OK if rec.status == "ok" else EXIT_USAGE)


@app.command()
def summarize(
    file: Path,
    llm: LlmOpt = Backend.none,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    model_path: ModelPathOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """A short summary of one letter (grounded LLM summary when a backend is on)."""
    analysis = _one(file, llm, model, base_url, model_path, no_cache)
    rec = analysis.record
    if rec.status == "error":
        console.print(f"[red]error:[/red] {rec.error.message}")
        raise typer.Exit(EXIT_USAGE)
    out_console.print(rec.summary)


@app.command()
def doctor() -> None:
    """Say which backends are usable on this machine, and why not."""
    from imr_llm.doctor import diagnose, render

    out_console.print(render(diagnose()))


@app.command(
    "eval",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    help="Scorecard on a labeled set: imr-llm eval SET_DIR [--llm ...] [--out DIR] [--compare OLD]; "
    "or make labeled variants: imr-llm eval mutate SRC... --out DIR [--seed N].",
)
def eval_cmd(ctx: typer.Context) -> None:
    from imr_llm.evals.cli import eval_app, mutate_app

    args = list(ctx.args)
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
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise typer.Exit(EXIT_USAGE) from None
        raise
    raise typer.Exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    app()
