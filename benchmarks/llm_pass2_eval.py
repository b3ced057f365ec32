"""Scorecard of the LLM path (pass 1 + pass 2) on a chosen sample of a labeled set.

    python benchmarks/llm_pass2_eval.py SET_DIR --llm local|none --out DIR \
        [--letters ID,ID,...] [--pick-codes CODE,... --per-code N --clean N --seed S] \
        [--summary] [--cache-dir DIR] [--model-path GGUF]

Unlike ``imr-llm eval`` this skips the LLM summary unless ``--summary`` is given (it changes no
finding and costs one call per letter), picks letters by id or by gold code, and writes, besides
the scorecard files and records.jsonl, ``calls.jsonl``: one line per LLM question (letter,
template, cached, seconds, prompt/completion tokens, requests) and ``calls.md``, a per-template
table. The response cache (``--cache-dir``, default ``.eval-cache``) makes re-runs free: only
questions whose prompt, template or schema changed are asked again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import statistics
import sys
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path.home() / ".cache/imr-llm/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def choose(
    labels, letters: list[str] | None, codes: list[str], per_code: int, clean: int, seed: int
):
    if letters:
        want = set(letters)
        return [lab for lab in labels if lab.letter_id in want]
    rng = random.Random(seed)
    picked: dict[str, object] = {}
    for code in codes:
        having = [lab for lab in labels if any(f.code == code for f in lab.findings)]
        having.sort(key=lambda lab: (len(lab.decisions), lab.letter_id))
        pool = having[: max(per_code * 3, per_code)]
        for lab in rng.sample(pool, min(per_code, len(pool))):
            picked[lab.letter_id] = lab
    wanted = {c for c in codes}
    others = [
        lab
        for lab in labels
        if lab.letter_id not in picked and not any(f.code in wanted for f in lab.findings)
    ]
    others.sort(key=lambda lab: (not lab.is_clean, len(lab.decisions), lab.letter_id))
    for lab in rng.sample(others[: max(clean * 3, clean)], min(clean, len(others))):
        picked[lab.letter_id] = lab
    return [lab for lab in labels if lab.letter_id in picked]


class Recorder:
    """Wraps ``LLMClient.ask``: one question at a time (FIFO, so the order is the pipeline's and
    ``seconds`` is service time, not time queued), one line per question (no letter text).

    With ``failures`` (a JSON file), a question that failed validation on every re-ask is
    remembered under its cache key and fails at once on the next run, instead of costing the
    same re-asks again (failures are not in the response cache)."""

    def __init__(self, client, failures: Path | None = None):
        self.client = client
        self.rows: list[dict] = []
        self._ask = client.ask
        self._lock = asyncio.Lock()
        self.failures_path = failures
        self.failures: dict[str, str] = {}
        if failures is not None and failures.is_file():
            self.failures = json.loads(failures.read_text())
        client.ask = self.ask

    def _key(self, response_model, template_name, variables) -> str:
        from imr_llm.llm import prompts
        from imr_llm.llm.cache import cache_key
        from imr_llm.llm.client import _schema_sha256

        prompt = prompts.load(template_name)
        messages = [{"role": "user", "content": prompt.render(**variables)}]
        cfg = self.client.config
        return cache_key(
            model=cfg.model,
            template_sha256=prompt.sha256,
            schema_sha256=_schema_sha256(response_model),
            input_sha256=self.client._input_sha256(messages),
            mode=cfg.mode,
        )

    async def ask(self, response_model, template_name, *, letter, variables):
        from imr_llm.llm.client import LLMError

        key = self._key(response_model, template_name, variables)
        if key in self.failures:
            self.rows.append(
                {
                    "letter": letter.letter_id,
                    "template": template_name,
                    "cached": True,
                    "seconds": 0.0,
                    "failed": self.failures[key],
                }
            )
            raise LLMError(self.failures[key], "remembered failure", template=template_name)
        async with self._lock:
            t0 = time.monotonic()
            try:
                value, stats = await self._ask(
                    response_model, template_name, letter=letter, variables=variables
                )
            except LLMError as exc:
                self.rows.append(
                    {
                        "letter": letter.letter_id,
                        "template": template_name,
                        "cached": False,
                        "seconds": round(time.monotonic() - t0, 3),
                        "failed": exc.kind,
                    }
                )
                if exc.kind in ("validation", "truncated") and self.failures_path is not None:
                    self.failures[key] = exc.kind
                    self.failures_path.write_text(json.dumps(self.failures))
                raise
        self.rows.append(
            {
                "letter": letter.letter_id,
                "template": template_name,
                "cached": stats.cached,
                "seconds": round(time.monotonic() - t0, 3),
                "prompt_tokens": stats.prompt_tokens,
                "completion_tokens": stats.completion_tokens,
                "requests": stats.requests,
            }
        )
        return value, stats


PASS1_FAILED: list[tuple[str, str | None]] = []


async def enrich(analysis, client, with_summary: bool):
    """``LLMSession.enrich`` with the summary optional (same stages, same order). Pass-1
    questions the model could not answer with grounded quotes are listed in ``pass1_failed``."""
    from imr_llm.extract.llm import llm_pass1
    from imr_llm.extract.pass2 import llm_pass2
    from imr_llm.extract.reconcile import reconcile
    from imr_llm.llm.client import LLMError
    from imr_llm.pipeline import merge_findings, sort_findings
    from imr_llm.summarize import llm_summary

    record = analysis.record
    if record.status != "ok" or analysis.letter is None:
        return record
    letter = analysis.letter.model_copy(update={"text": analysis.masked_text})
    try:
        extraction = await llm_pass1(letter, record, analysis.sections, client)
        for template in extraction.failed_questions:
            PASS1_FAILED.append((letter.letter_id, template))
        record.findings.extend(reconcile(record, extraction, letter.text))
        record.findings.extend(
            await llm_pass2(letter, record, analysis.sections, client, extraction)
        )
        record.findings = sort_findings(merge_findings(record.findings))
        if with_summary:
            await llm_summary(letter, record, client, analysis.sections)
    except LLMError as exc:
        record.status = "error"
        record.error = exc.record_error()
    finally:
        record.llm = client.finish_letter(letter)
    return record


def calls_table(rows: list[dict], letters: int) -> str:
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[r["template"]].append(r)
    out = [
        f"{len(rows)} questions over {letters} letters "
        f"({sum(1 for r in rows if not r['cached'])} asked, {sum(1 for r in rows if r['cached'])} "
        f"from the cache, {sum(1 for r in rows if r.get('failed'))} failed validation); "
        f"{sum(r['seconds'] for r in rows if not r['cached']):.0f} s spent asking.",
        "",
        "| template | questions | asked | failed validation | s/asked (median) | s/asked (mean) | "
        "prompt tok/asked | completion tok/asked | requests/asked |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in sorted(by.items()):
        failed = [r for r in rs if r.get("failed")]
        rs = [r for r in rs if not r.get("failed")]
        asked = [r for r in rs if not r["cached"]]
        med = statistics.median(r["seconds"] for r in asked) if asked else 0
        mean = statistics.fmean(r["seconds"] for r in asked) if asked else 0
        pt = statistics.fmean(r["prompt_tokens"] for r in asked) if asked else 0
        ct = statistics.fmean(r["completion_tokens"] for r in asked) if asked else 0
        rq = statistics.fmean(r["requests"] for r in asked) if asked else 0
        out.append(
            f"| {name} | {len(rs) + len(failed)} | {len(asked)} | {len(failed)} | {med:.1f} | "
            f"{mean:.1f} | {pt:.0f} | {ct:.0f} | {rq:.2f} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--llm", choices=["none", "local"], default="none")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--letters", help="comma-separated letter ids")
    ap.add_argument("--pick-codes", default="")
    ap.add_argument("--per-code", type=int, default=3)
    ap.add_argument("--clean", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--summary", action="store_true", help="also ask for the LLM summary")
    ap.add_argument(
        "--retry-failed",
        action="store_true",
        help="ask again the questions that failed validation in an earlier run",
    )
    ap.add_argument("--cache-dir", type=Path, default=ROOT / ".eval-cache")
    ap.add_argument("--model-path", type=Path, default=DEFAULT_MODEL)
    ap.add_argument(
        "--threads",
        type=int,
        help="server threads (default: all CPUs; 1 is steadier when "
        "another process competes for the cores)",
    )
    args = ap.parse_args(argv)

    from imr_llm.evals.cli import RunInfo, _subset_dir, write_run_scorecard
    from imr_llm.evals.runner import load_set, run_eval
    from imr_llm.ingest import owner_only_open
    from imr_llm.pipeline import analyze

    es = load_set(args.set_dir)
    letters = [x for x in (args.letters or "").split(",") if x]
    codes = [c for c in args.pick_codes.split(",") if c]
    chosen = choose(es.labels, letters, codes, args.per_code, args.clean, args.seed)
    if not chosen:
        print("no letters chosen", file=sys.stderr)
        return 2
    how = (
        f"letters {', '.join(lab.letter_id for lab in chosen)}"
        if letters
        else f"up to {args.per_code} per code of {', '.join(codes)} and {args.clean} others (seed {args.seed})"
    )

    class Info(RunInfo):
        def describe_sample(self) -> str:
            return f"Sample: {self.used} of {self.labeled} labeled letters of set `{self.set_name}`; {how}."

    import os

    env = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items()) if k.startswith("IMR_LLM_")
    )
    command = (
        (env + " " if env else "")
        + "python "
        + " ".join(
            shlex.quote(a)
            for a in [
                str(Path(__file__).relative_to(ROOT)),
                *(argv if argv is not None else sys.argv[1:]),
            ]
        )
    )
    info = Info(
        set_name=es.name,
        set_dir=str(args.set_dir),
        labeled=len(es.labels),
        used=len(chosen),
        selection="sample",
        seed=args.seed,
        backend=args.llm,
        model=None,
        base_url=None,
        cache=True,
        command=command,
        letter_ids=[lab.letter_id for lab in chosen],
    )
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    started = time.monotonic()

    def progress(done: int, total: int, letter_id: str) -> None:
        print(
            f"[{time.monotonic() - started:7.1f}s] {done}/{total} {letter_id}",
            file=sys.stderr,
            flush=True,
        )

    with ExitStack() as stack:
        target = _subset_dir(es, chosen, stack)
        if args.llm == "none":
            card = run_eval(target, lambda p: analyze(p).record, args.out, progress)
        else:
            card = asyncio.run(run_local(target, args, info, rows, progress))
    write_run_scorecard(card, info, args.out)
    with owner_only_open(args.out / "COMMAND", "w", encoding="utf-8") as fh:
        fh.write(command + "\n")
    if rows:
        with owner_only_open(args.out / "calls.jsonl", "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        with owner_only_open(args.out / "calls.md", "w", encoding="utf-8") as fh:
            fh.write(calls_table(rows, len(chosen)))
    if PASS1_FAILED:
        with owner_only_open(args.out / "pass1_failed.json", "w", encoding="utf-8") as fh:
            json.dump(PASS1_FAILED, fh)
    print(f"done in {time.monotonic() - started:.0f}s", file=sys.stderr)
    for code in ("fact-contradiction", "criteria-decision-mismatch", "treatment-mismatch"):
        c = card.codes.get(code)
        if c:
            print(f"{code}: tp={c.tp} fp={c.fp} fn={c.fn} P={c.precision} R={c.recall}")
    return 0


async def run_local(target, args, info, rows, progress):
    from imr_llm.llm.client import LLMConfig
    from imr_llm.llm.local_server import LocalServer

    server = LocalServer(args.model_path, n_threads=args.threads).start()
    config = LLMConfig.from_cli(
        backend="local",
        base_url=server.base_url,
        model=server.model_name,
        model_path=args.model_path,
        cache_dir=args.cache_dir,
    )
    loop = asyncio.get_running_loop()
    try:
        return await _run(target, args, info, rows, progress, config, loop)
    finally:
        server.stop()


async def _run(target, args, info, rows, progress, config, loop):
    from imr_llm.evals.runner import run_eval
    from imr_llm.pipeline import LLMSession, analyze

    async with LLMSession(config) as session:
        info.model = session.config.model
        recorder = Recorder(
            session.client,
            None if args.retry_failed else args.cache_dir / "failed-questions.json",
        )

        def process(path: Path):
            analysis = analyze(path)
            if analysis.letter is None:
                return analysis.record
            fut = asyncio.run_coroutine_threadsafe(
                enrich(analysis, session.client, args.summary), loop
            )
            return fut.result()

        card = await asyncio.to_thread(run_eval, target, process, args.out, progress)
        rows.extend(recorder.rows)
        return card


if __name__ == "__main__":
    raise SystemExit(main())
