"""``imr-llm eval`` and ``imr-llm eval mutate``: the command-line face of ``imr_llm.evals``.

``imr_llm.cli`` hands the arguments after ``eval`` (or ``eval mutate``) to ``eval_app`` (or
``mutate_app``) with ``standalone_mode=False``; both apps also run on their own.

The scorecard files are those of ``write_scorecard`` plus a ``run`` block saying which letters
were scored (set, how many of how many, how they were chosen, the seed) and with which backend
and model: in ``scorecard.json`` as a ``run`` object, in ``scorecard.md``/``.html`` as a
paragraph under the title.

Size: the two eval commands' options and their reporting; the scoring is in metrics,
runner and scorecard.
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from imr_llm.evals.metrics import GoldLabel, Scorecard
from imr_llm.evals.split import split_of
from imr_llm.ingest import owner_only_open
from imr_llm.llm.backends import BackendError, get_backend
from imr_llm.llm.backends.options import AskOpt, LlmFindingsOpt, LlmOpt
from imr_llm.llm.config import parse_ask

if TYPE_CHECKING:
    from imr_llm.evals.runner import EvalSet
    from imr_llm.llm.config import LLMConfig

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 3

# soft_wrap: an error naming a long path stays on one line at any terminal width.
console = Console(stderr=True, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


class Split(StrEnum):
    tune = "tune"
    check = "check"


eval_app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Score the pipeline on a labeled set (set.json + labels/).",
)
mutate_app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Plant known inconsistencies in letters and write them as a labeled set.",
)


def _fail(message: str, code: int = EXIT_USAGE) -> SystemExit:
    """Print the error; the caller raises the result.

    SystemExit rather than ``typer.Exit``: under ``standalone_mode=False`` click turns
    ``Exit`` into a return value, which a dispatcher may drop; SystemExit reaches it.
    """
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return SystemExit(code)


# ---------------------------------------------------------------- run metadata


@dataclass
class RunInfo:
    """What a scorecard measured: which letters, chosen how, with which backend and model."""

    set_name: str
    set_dir: str
    labeled: int
    used: int
    selection: str  # "all" | "first" | "sample" | "listed"
    seed: int | None
    backend: str
    model: str | None
    base_url: str | None
    cache: bool
    command: str
    letter_ids: list[str] = field(default_factory=list)
    split: str | None = None
    ask: str | None = None
    llm_findings: str | None = None

    def describe_sample(self) -> str:
        how = {
            "all": "all labeled letters",
            "first": f"the first {self.used} in file-name order (--limit {self.used})",
            "sample": f"a random sample (--sample {self.used} --seed {self.seed})",
            "listed": "the letters named by --letters: " + ", ".join(self.letter_ids),
        }[self.selection]
        part = f" in its `{self.split}` split" if self.split else ""
        return (
            f"Sample: {self.used} of {self.labeled} labeled letters{part} of set "
            f"`{self.set_name}` ({self.set_dir}); {how}."
        )

    def describe_backend(self) -> str:
        if self.backend == "none":
            return "Backend: rules only (`--llm none`)."
        where = f" at {self.base_url}" if self.base_url else ""
        cache = "" if self.cache else ", cache off"
        asked = f", asked: {self.ask}" if self.ask else ""
        kept = f", LLM findings: {self.llm_findings}" if self.llm_findings else ""
        return f"Backend: `--llm {self.backend}`, model `{self.model}`{where}{asked}{kept}{cache}."

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sample"] = self.describe_sample()
        return d


def _safe_url(url: str | None) -> str | None:
    """The endpoint without credentials or query string."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url


def _run_markdown(info: RunInfo) -> str:
    return f"{info.describe_sample()}\n{info.describe_backend()}\nCommand: `{info.command}`"


def write_run_scorecard(card: Scorecard, info: RunInfo, out: Path) -> dict[str, Path]:
    """``write_scorecard`` plus the run block in each of scorecard.json, .md and .html."""
    from imr_llm.evals.scorecard import to_html, to_markdown

    out.mkdir(parents=True, exist_ok=True)
    data = card.model_dump(mode="json")
    data = {
        "set_name": data.pop("set_name"),
        "created": data.pop("created"),
        "run": info.to_dict(),
    } | data
    md_lines = to_markdown(card).split("\n")
    # Title, blank, "N letters, E errors, created ..." -> the run block goes right after.
    md_lines[3:3] = ["", *_run_markdown(info).split("\n")]
    run_html = "".join(
        f"<p>{html.escape(line).replace('`', '')}</p>" for line in _run_markdown(info).split("\n")
    )
    page = to_html(card).replace("</svg>\n", "</svg>\n" + run_html + "\n", 1)
    files = {
        "json": (out / "scorecard.json", json.dumps(data, indent=2) + "\n"),
        "md": (out / "scorecard.md", "\n".join(md_lines)),
        "html": (out / "scorecard.html", page),
    }
    for path, text in files.values():
        with owner_only_open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return {k: v[0] for k, v in files.items()}


def _terminal_markdown(card: Scorecard, info: RunInfo) -> str:
    """The scorecard tables without the long miss/false-alarm list."""
    from imr_llm.evals.scorecard import to_markdown

    text = to_markdown(card, max_issues=0)
    head, _, _ = text.partition("## Misses and false alarms")
    lines = head.rstrip().split("\n")
    lines[3:3] = ["", *_run_markdown(info).split("\n")]
    listed = sum(1 for i in card.issues if i.kind in ("miss", "false_alarm", "error"))
    return (
        "\n".join(lines)
        + f"\n\n{listed} misses, false alarms and errors are listed in scorecard.md.\n"
    )


# ---------------------------------------------------------------- selection


def _select(
    labels: list,
    limit: int | None,
    sample: int | None,
    seed: int | None,
    letters: list[str] | None = None,
):
    """(chosen labels in set order, selection kind). Raises ``ValueError`` for an unknown id."""
    if letters:
        known = {lab.letter_id for lab in labels}
        unknown = [x for x in letters if x not in known]
        if unknown:
            raise ValueError(f"--letters: not in this set: {', '.join(unknown[:5])}")
        want = set(letters)
        return [lab for lab in labels if lab.letter_id in want], "listed"
    if limit is not None:
        return labels[:limit], "first" if limit < len(labels) else "all"
    if sample is not None:
        if sample >= len(labels):
            return labels, "all"
        picked = set(random.Random(seed).sample(range(len(labels)), sample))
        return [lab for k, lab in enumerate(labels) if k in picked], "sample"
    return labels, "all"


def _subset_dir(es, labels, stack: ExitStack) -> Path:
    """A temporary set directory holding only ``labels`` and pointing at the same letters."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="imr-eval-")))
    (tmp / "labels").mkdir()
    meta = {"name": es.name, "description": es.description, "letters_dir": str(es.letters_dir)}
    (tmp / "set.json").write_text(json.dumps(meta), encoding="utf-8")
    for lab in labels:
        (tmp / "labels" / f"{lab.letter_id}.json").write_text(
            lab.model_dump_json(), encoding="utf-8"
        )
    return tmp


# ---------------------------------------------------------------- eval


@eval_app.command()
def run(
    set_dir: Annotated[Path, typer.Argument(help="A labeled set: set.json and labels/.")],
    llm: LlmOpt = "none",
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (or IMR_LLM_MODEL).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible endpoint (or OPENAI_BASE_URL)."),
    ] = None,
    model_path: Annotated[
        Path | None, typer.Option("--model-path", help="GGUF file for --llm local.")
    ] = None,
    ask: AskOpt = None,
    llm_findings: LlmFindingsOpt = "low",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write scorecard.json/.md/.html and records.jsonl here."),
    ] = None,
    compare_to: Annotated[
        Path | None,
        typer.Option(
            "--compare", help="An older scorecard.json (or its directory): print what changed."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Score only the first N labeled letters.")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Score a random sample of N letters (see --seed)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for --sample (default 0).")
    ] = None,
    letters: Annotated[
        str | None,
        typer.Option(
            "--letters",
            help="Score only these letters: comma-separated ids, or @FILE with one id a line.",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the LLM cache.")
    ] = False,
    split: Annotated[
        Split | None,
        typer.Option(
            "--split",
            help="Score only the tune split (develop against it) or the check split (measure "
            "on it before fixing what it shows): a fixed hash of each letter's base id.",
        ),
    ] = None,
) -> None:
    """Run the pipeline on every labeled letter of SET_DIR and print its scorecard."""
    letter_ids = _selection_ids(limit, sample, letters)
    if seed is not None and sample is None:
        raise _fail("--seed goes with --sample")
    if sample is not None and seed is None:
        seed = 0
    es = _load_eval_set(set_dir)
    old = _load_old_scorecard(compare_to)
    try:
        config = get_backend(llm).configure(
            model=model,
            base_url=base_url,
            model_path=model_path,
            ask=parse_ask(ask or "checks"),
            findings=llm_findings,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None

    labels = es.labels
    if split is not None:
        labels = [lab for lab in labels if split_of(lab.letter_id) == split.value]
    try:
        chosen, selection = _select(labels, limit, sample, seed, letter_ids)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    info = RunInfo(
        set_name=es.name,
        set_dir=str(set_dir),
        labeled=len(labels),
        used=len(chosen),
        split=split.value if split else None,
        selection=selection,
        seed=seed if selection == "sample" else None,
        backend=llm,
        model=config.model if config else None,
        base_url=_safe_url(config.base_url) if config and llm == "openai" else None,
        cache=not no_cache,
        ask=",".join(sorted(config.ask)) if config else None,
        llm_findings=config.findings if config else None,
        command=_command(
            set_dir,
            llm,
            model,
            base_url,
            model_path,
            out,
            compare_to,
            limit,
            sample,
            seed,
            no_cache,
            ",".join(lab.letter_id for lab in chosen) if selection == "listed" else None,
            split,
            ask,
            llm_findings if config and llm_findings != "low" else None,
        ),
        letter_ids=[lab.letter_id for lab in chosen],
    )
    card = _score(es, set_dir, chosen, config, not no_cache, out, info)
    _report(card, info, out, old, compare_to)


def _selection_ids(limit: int | None, sample: int | None, letters: str | None) -> list[str] | None:
    """The ids ``--letters`` lists (None without it); one selection option at most."""
    if sum(x is not None for x in (limit, sample, letters)) > 1:
        raise _fail("give one of --limit, --sample and --letters")
    if letters is None:
        return None
    try:
        raw = Path(letters[1:]).read_text() if letters.startswith("@") else letters
    except OSError as exc:
        raise _fail(f"--letters {letters}: cannot read it ({exc})") from None
    letter_ids = [x.strip() for x in raw.replace(",", "\n").splitlines() if x.strip()]
    if not letter_ids:
        raise _fail("--letters: no letter ids given")
    return letter_ids


def _load_eval_set(set_dir: Path) -> EvalSet:
    """The labeled set, with labels and a letters directory, or a usage error."""
    from imr_llm.evals.runner import load_set

    try:
        es = load_set(set_dir)
    except (OSError, ValueError) as exc:
        raise _fail(f"{set_dir}: not a readable eval set ({exc})") from None
    if not es.labels:
        raise _fail(f"{set_dir}: no labels under {set_dir / 'labels'}")
    if not es.letters_dir.is_dir():
        raise _fail(
            f"{set_dir}: its letters directory {es.letters_dir} does not exist "
            "(corpus and seeds read ../shared; set it up or pick another set)"
        )
    return es


def _load_old_scorecard(compare_to: Path | None) -> Scorecard | None:
    from imr_llm.evals.scorecard import load_scorecard

    if compare_to is None:
        return None
    try:
        return load_scorecard(compare_to)
    except (OSError, ValueError) as exc:
        raise _fail(f"--compare {compare_to}: not a readable scorecard ({exc})") from None


def _score(
    es: EvalSet,
    set_dir: Path,
    chosen: list[GoldLabel],
    config: LLMConfig | None,
    use_cache: bool,
    out: Path | None,
    info: RunInfo,
) -> Scorecard:
    """Score ``chosen`` (the whole set, or a temporary subset of it) under a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from imr_llm.evals.runner import run_eval

    bar = Progress(
        TextColumn(f"scoring {es.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[letter]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with ExitStack() as stack:
        target = set_dir if len(chosen) == len(es.labels) else _subset_dir(es, chosen, stack)
        stack.enter_context(bar)
        task = bar.add_task("eval", total=len(chosen), letter="")

        def progress(done: int, total: int, letter_id: str) -> None:
            bar.update(task, completed=done, letter=letter_id)

        if config is not None:
            return _run_with_llm(target, config, use_cache, out, progress, info)
        from imr_llm.pipeline import process_file

        return run_eval(
            target,
            lambda p: process_file(p, None),
            out=out,
            progress=progress,
            summary_gold=Path(set_dir).parent / "summary-gold",
        )


def _report(
    card: Scorecard, info: RunInfo, out: Path | None, old: Scorecard | None, compare_to: Path | None
) -> None:
    """Print the scorecard (and what changed against ``old``); write the run block into the
    scorecard files and the comparison into compare.txt when there is an ``out``."""
    from imr_llm.evals.scorecard import compare, format_deltas

    if out is not None:
        # run_eval wrote scorecard.* and records.jsonl; rewrite scorecard.* with the run block.
        write_run_scorecard(card, info, out)
    out_console.print(_terminal_markdown(card, info))
    if out is not None:
        out_console.print(f"Scorecard written to {out}/scorecard.md (.json, .html, records.jsonl).")
    if old is None:
        return
    deltas = compare(old, card, changed_only=True)
    text = format_deltas(deltas) if deltas else "No metric changed."
    out_console.print(f"\nChanges against {compare_to} (new minus old; + better, - worse):\n")
    out_console.print(text)
    if out is not None:
        with owner_only_open(out / "compare.txt", "w", encoding="utf-8") as fh:
            fh.write(f"old: {compare_to}\n\n{text}\n")


def _command(
    set_dir,
    llm,
    model,
    base_url,
    model_path,
    out,
    compare_to,
    limit,
    sample,
    seed,
    no_cache,
    letters=None,
    split=None,
    ask=None,
    llm_findings=None,
) -> str:
    parts = ["imr-llm", "eval", str(set_dir), "--llm", llm]
    for flag, value in (
        ("--ask", ask),
        ("--llm-findings", llm_findings),
        ("--model", model),
        ("--base-url", _safe_url(base_url)),
        ("--model-path", model_path),
        ("--out", out),
        ("--compare", compare_to),
        ("--limit", limit),
        ("--sample", sample),
        ("--seed", seed if sample is not None else None),
        ("--letters", letters),
        ("--split", split.value if split else None),
    ):
        if value is not None:
            parts += [flag, str(value)]
    if no_cache:
        parts.append("--no-cache")
    return " ".join(parts)


def _run_with_llm(target, config, use_cache: bool, out, progress, info: RunInfo) -> Scorecard:
    """One LLM session (one local server) for the whole eval; letters one after another.

    ``run_eval`` runs in a worker thread; each letter's rules pass runs there too, and its LLM
    stages are handed to the session's event loop.
    """
    from imr_llm.evals.runner import run_eval
    from imr_llm.pipeline import LLMSession, analyze

    async def main() -> Scorecard:
        loop = asyncio.get_running_loop()
        async with LLMSession(config, use_cache=use_cache) as session:
            info.model = session.config.model

            def process(path: Path):
                analysis = analyze(path)
                if analysis.letter is None:
                    return analysis.record
                return asyncio.run_coroutine_threadsafe(session.enrich(analysis), loop).result()

            gold = Path(info.set_dir).parent / "summary-gold"
            return await asyncio.to_thread(run_eval, target, process, out, progress, gold)

    try:
        return asyncio.run(main())
    except BackendError as exc:
        raise _fail(f"the {config.backend} backend could not start: {exc}", EXIT_FAILED) from None


# ---------------------------------------------------------------- mutate

MAX_LISTED_SKIPS = 40


def _operator_names() -> list[str]:
    from imr_llm.evals.mutate import OPERATORS

    return list(OPERATORS)


@mutate_app.command()
def mutate_letters(
    sources: Annotated[
        list[str], typer.Argument(help="Letters (.pdf/.txt), directories or globs.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the new labeled set.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same set).")] = 0,
    operators: Annotated[
        str | None,
        typer.Option(
            "--operators",
            help="Comma-separated operator names (default: all): " + ", ".join(_operator_names()),
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the letters and labels of a set already in --out."),
    ] = False,
    gold: Annotated[
        list[Path] | None,
        typer.Option(
            "--gold",
            help="A labeled set, or a directory of sets, to take each letter's gold label from "
            "(repeatable; default: evals/ of the current directory).",
        ),
    ] = None,
    no_gold: Annotated[
        bool,
        typer.Option("--no-gold", help="Label every letter from its parse; search no sets."),
    ] = False,
) -> None:
    """Write one labeled variant per (letter, operator) that applies, as an eval set in --out."""
    from imr_llm.evals.mutate import OPERATORS, GoldDirsMissing, gold_index, mutate
    from imr_llm.ingest import expand_paths

    names = [n.strip() for n in operators.split(",") if n.strip()] if operators else None
    unknown = [n for n in names or [] if n not in OPERATORS]
    if unknown or names == []:
        raise _fail(
            f"unknown operator(s): {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(OPERATORS)}"
        )
    found, unmatched = expand_paths(sources)
    for arg in unmatched:
        console.print(
            f"[yellow]warning:[/yellow] {arg}: no such file, or no .pdf/.txt letters in it"
        )
    if not found:
        raise _fail("no input letters; give .pdf or .txt files, directories or globs")
    if gold and no_gold:
        raise _fail("--gold and --no-gold exclude each other")
    gold_dirs = [] if no_gold else gold
    try:
        gold_index(gold_dirs)
    except GoldDirsMissing as exc:
        raise _fail(str(exc)) from None
    old = [p for sub in ("letters", "labels") for p in sorted((out / sub).glob("*")) if p.is_file()]
    if old and not force:
        raise _fail(
            f"{out} already holds {len(old)} letter/label files; pass --force to replace them "
            "or choose another --out"
        )
    for p in old:
        if p.suffix in (".txt", ".json"):
            p.unlink()
    report = mutate([Path(s) for s in sources], out, seed, operators=names, gold_dirs=gold_dirs)

    out_console.print(
        f"{len(report.applied)} mutated letters from {len(found)} source letters "
        f"(seed {seed}), {len(report.skipped)} skipped (source, operator) pairs.\n"
    )
    out_console.print(report.table())
    if report.skipped:
        out_console.print("\nSkipped (source, operator): reason")
        for s in report.skipped[:MAX_LISTED_SKIPS]:
            out_console.print(f"  {Path(s.source).name}  {s.operator}: {s.reason}")
        if len(report.skipped) > MAX_LISTED_SKIPS:
            out_console.print(
                f"  … {len(report.skipped) - MAX_LISTED_SKIPS} more in {out / 'mutations.json'}"
            )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    out_console.print(
        f"\nWrote {out}: set.json, labels/, letters/, mutations.json ({size / 1e6:.1f} MB). "
        f"Score it with: imr-llm eval {out}"
    )
