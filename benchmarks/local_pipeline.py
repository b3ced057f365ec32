"""Per-letter cost of the full ``--llm local`` pipeline (pass 1, reconciliation, pass 2, summary),
as ``imr-llm audit --llm local`` runs it, with the response cache off:

    python benchmarks/local_pipeline.py [--model-path GGUF] [--out DIR] [FILE ...]

Default files: both seed letters and the five corpus letters in ``examples/``. Prints per letter
the questions asked, HTTP requests (re-asks included), prompt and completion tokens, wall seconds,
and an estimated split of those seconds between prompt processing and generation; then letters
per minute. The server reports token counts but no timings while its verbose mode is off (it
stays off: verbose output can hold prompt text), so the split is estimated from rates calibrated
in the same run, before and after the letters: a letter-sized prompt with one output token
(prompt rate) and a tiny prompt with 96 output tokens (generation rate); the faster of the two
calibrations is used (a slow one was disturbed by other load). A question's generation time is
its completion tokens over the generation rate, the rest is prompt processing. ``~prompt tok evaluated`` (= prompt
seconds x prompt rate) shows how much of the prompt the server did not take from its prefix
cache. With ``--out`` writes the records as each letter finishes (``records.jsonl``, findings
with evidence; the letter text is not included), then ``letters.json`` and ``letters.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = sorted((ROOT / "examples").glob("*.txt")) + sorted(
    (ROOT / "examples").glob("*.pdf")
)


class Timed:
    """Wraps ``LLMClient.ask``: one line per question (no letter text)."""

    def __init__(self, client):
        self.client = client
        self.rows: list[dict] = []
        self._ask = client.ask
        client.ask = self.ask

    async def ask(self, response_model, template_name, *, letter, variables):
        t0 = time.monotonic()
        row = {"template": template_name, "failed": False}
        try:
            value, stats = await self._ask(
                response_model, template_name, letter=letter, variables=variables
            )
        except Exception:
            row["failed"] = True
            raise
        else:
            row.update(
                requests=stats.requests,
                prompt_tokens=stats.prompt_tokens,
                completion_tokens=stats.completion_tokens,
            )
            return value, stats
        finally:
            row["seconds"] = round(time.monotonic() - t0, 3)
            self.rows.append(row)


async def calibrate(session, text: str, salt: str = "") -> tuple[float, float]:
    """(prompt tok/s, generation tok/s); ``salt`` starts the prompt so a second calibration
    does not hit the server's prefix cache."""
    raw = session.client._openai
    model = session.config.model

    async def plain(content: str, max_tokens: int):
        t0 = time.monotonic()
        r = await raw.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": content}],
            temperature=0,
            max_tokens=max_tokens,
        )
        return r.usage, time.monotonic() - t0

    u, t = await plain(salt + text[:6000] + "\nSummarise.", 1)
    pp_rate = u.prompt_tokens / t
    u, t = await plain("Count from 1 to 200, separated by spaces.", 96)
    gen_rate = u.completion_tokens / t
    return pp_rate, gen_rate


async def run(args) -> list[dict]:
    from imr_llm.ingest import owner_only_open
    from imr_llm.llm.client import LLMConfig
    from imr_llm.pipeline import LLMSession, analyze

    config = LLMConfig.from_cli(
        backend="local", model_path=args.model_path, base_url=args.base_url, model=args.model
    )
    results = []
    t_start = time.monotonic()
    async with LLMSession(config, use_cache=False) as session:
        start_s = session.server.start_seconds if session.server else None
        print(f"server start: {start_s:.2f} s" if start_s else "server: given")
        analyses = [analyze(p) for p in args.files]
        first = next(a for a in analyses if a.letter is not None)
        pp_rate, gen_rate = await calibrate(session, first.letter.text)
        print(f"calibration: prompt {pp_rate:.1f} tok/s, generation {gen_rate:.1f} tok/s")
        calibrations = [(pp_rate, gen_rate)]
        print(
            f"\n{'letter':<26} {'q':>3} {'req':>4} {'prompt tok':>10} {'compl tok':>9} "
            f"{'s':>7} {'~pp s':>7} {'~gen s':>7} {'~prompt tok evaluated':>21} findings"
        )
        records_file = None
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
            records_file = owner_only_open(args.out / "records.jsonl", "w", encoding="utf-8")
        for path, analysis in zip(args.files, analyses, strict=True):
            timed = Timed(session.client)
            t0 = time.monotonic()
            try:
                record = await session.enrich(analysis)
            finally:
                session.client.ask = timed._ask
            wall = time.monotonic() - t0
            rows = timed.rows
            usage = record.llm  # counts failed questions' requests and tokens too
            prompt, completion = usage.prompt_tokens, usage.completion_tokens
            gen_s = completion / gen_rate
            pp_s = max(wall - gen_s, 0.0)
            codes = sorted({f.code for f in record.findings if f.detector != "rules"})
            r = {
                "letter": path.name,
                "status": record.status,
                "questions": len(rows),
                "failed_questions": sum(r["failed"] for r in rows),
                "requests": usage.calls + usage.retries,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "seconds": round(wall, 1),
                "est_prompt_s": round(pp_s, 1),
                "est_generation_s": round(gen_s, 1),
                "est_prompt_tokens_evaluated": round(pp_s * pp_rate),
                "median_s_per_question": round(statistics.median(r["seconds"] for r in rows), 1)
                if rows
                else 0.0,
                "llm_finding_codes": codes,
                "calls": rows,
            }
            results.append(r)
            if records_file is not None:
                records_file.write(record.model_dump_json(exclude={"text"}) + "\n")
                records_file.flush()
            print(
                f"{path.name:<26} {r['questions']:>3} {r['requests']:>4} {prompt:>10} "
                f"{completion:>9} {wall:>7.1f} {pp_s:>7.1f} {gen_s:>7.1f} "
                f"{r['est_prompt_tokens_evaluated']:>21} {','.join(codes) or '-'}",
                flush=True,
            )
        again = await calibrate(session, first.letter.text, salt=f"[{time.time_ns()}]\n")
        print(f"calibration again: prompt {again[0]:.1f} tok/s, generation {again[1]:.1f} tok/s")
        calibrations.append(again)
    # The split uses the faster of the two calibrations: a slower one was disturbed by other load.
    pp_rate = max(c[0] for c in calibrations)
    gen_rate = max(c[1] for c in calibrations)
    for r in results:
        gen_s = r["completion_tokens"] / gen_rate
        pp_s = max(r["seconds"] - gen_s, 0.0)
        r.update(
            est_prompt_s=round(pp_s, 1),
            est_generation_s=round(gen_s, 1),
            est_prompt_tokens_evaluated=round(pp_s * pp_rate),
        )
    total = time.monotonic() - t_start
    ok = [r for r in results if r["status"] == "ok"]
    mean = statistics.mean(r["seconds"] for r in ok) if ok else float("nan")
    summary = {
        "letters": len(results),
        "ok": len(ok),
        "calibrations_tok_s": [[round(p, 1), round(g, 1)] for p, g in calibrations],
        "prompt_rate_tok_s": round(pp_rate, 1),
        "generation_rate_tok_s": round(gen_rate, 1),
        "mean_seconds_per_letter": round(mean, 1),
        "letters_per_minute": round(60 / mean, 2) if ok else 0.0,
        "wall_seconds_with_server_start": round(total, 1),
        "share_prompt_processing": round(
            sum(r["est_prompt_s"] for r in ok) / max(sum(r["seconds"] for r in ok), 1e-9), 2
        ),
    }
    for r in results:
        print(
            f"{r['letter']:<26} split with the faster calibration: ~{r['est_prompt_s']} s prompt, "
            f"~{r['est_generation_s']} s generation"
        )
    print(
        f"\n{summary['letters_per_minute']} letters/minute (mean {mean:.1f} s/letter over "
        f"{len(ok)} letters); prompt processing ~{summary['share_prompt_processing']:.0%} of the "
        f"time, generation the rest"
    )
    if args.out:
        with owner_only_open(args.out / "letters.json", "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"summary": summary, "letters": results}, indent=1) + "\n")
        with owner_only_open(args.out / "letters.md", "w", encoding="utf-8") as fh:
            fh.write(markdown(results, summary))
        records_file.close()
    return results


def markdown(results: list[dict], summary: dict) -> str:
    out = [
        f"`{' '.join(['python', *sys.argv])}`",
        "",
        "| letter | questions | failed | requests | prompt tok | completion tok | seconds | "
        "~prompt s | ~generation s | ~prompt tok evaluated | LLM finding codes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        out.append(
            f"| {r['letter']} | {r['questions']} | {r['failed_questions']} | {r['requests']} | "
            f"{r['prompt_tokens']} | {r['completion_tokens']} | {r['seconds']} | "
            f"{r['est_prompt_s']} | {r['est_generation_s']} | "
            f"{r['est_prompt_tokens_evaluated']} | {', '.join(r['llm_finding_codes']) or '-'} |"
        )
    out += ["", "```", json.dumps(summary, indent=1), "```", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    ap.add_argument("--model-path", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--base-url", help="a llama.cpp server already running on 127.0.0.1")
    ap.add_argument("--model", help="its model name (with --base-url)")
    args = ap.parse_args()
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
