"""Prompt-prefix caching on the local backend: the LLM path (pass 1 + pass 2, no summary) per
letter, timed question by question, in three variants on one server (loaded once):

``letter-first``
    as the pipeline runs (``LLMConfig.letter_role="system"``): the letter is the system message,
    so the chat template renders it before the tool schema and every question about a letter
    shares it as a prefix; llama-cpp-python's server keeps the last prompt's tokens and
    evaluates only what differs.
``schema-first``
    the letter in the user message (``letter_role="user"``): Qwen's chat template puts the tool
    schema in the system turn, before the letter, so only consecutive questions with the same
    schema share the letter.
``evicted``
    ``letter-first`` with a tiny unrelated request before each question, so every prompt is
    evaluated from scratch (its own time is not counted): the "no prefix caching" baseline.

    python benchmarks/llm_pass2_prefix.py [--model-path GGUF] [--out DIR] [--variants ...] [LETTER ...]

The response cache is off. A pass-1 question that fails validation ends pass 1 for that letter
(pass 2 still runs), so variants may ask different numbers of questions: compare the
per-question medians as well as the totals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path.home() / ".cache/imr-llm/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_LETTERS = [
    ROOT / "evals/authored/letters/A13-04.txt",
    ROOT / "evals/authored/letters/A16-08.txt",
    ROOT / "evals/authored/letters/A15-08.txt",
]


class Timed:
    """Wraps ``LLMClient.ask``: one question at a time, timed; optionally evicts the server's
    prompt cache first (a short request with other tokens)."""

    def __init__(self, client, evict: bool, ask=None):
        self.client = client
        self.evict = evict
        self.rows: list[dict] = []
        self.evict_seconds = 0.0
        self._original = client.ask
        self._ask = ask or client.ask
        self._lock = asyncio.Lock()
        client.ask = self.ask

    async def _evict(self) -> None:
        t0 = time.monotonic()
        await self.client._openai.chat.completions.create(
            model=self.client.config.model,
            messages=[{"role": "user", "content": f"Say OK. ({len(self.rows)})"}],
            max_tokens=1,
            temperature=0,
        )
        self.evict_seconds += time.monotonic() - t0

    async def ask(self, response_model, template_name, *, letter, variables):
        async with self._lock:
            if self.evict:
                await self._evict()
            from imr_llm.llm.client import LLMError

            t0 = time.monotonic()
            try:
                value, stats = await self._ask(
                    response_model, template_name, letter=letter, variables=variables
                )
            except LLMError:
                self.rows.append(
                    {
                        "template": template_name,
                        "seconds": round(time.monotonic() - t0, 3),
                        "prompt_tokens": 0,
                        "completion_tokens": 0,
                        "requests": 0,
                        "failed": True,
                    }
                )
                raise
            self.rows.append(
                {
                    "template": template_name,
                    "seconds": round(time.monotonic() - t0, 3),
                    "prompt_tokens": stats.prompt_tokens,
                    "completion_tokens": stats.completion_tokens,
                    "requests": stats.requests,
                }
            )
            return value, stats


async def one_letter(path: Path, client, variant: str) -> dict:
    from imr_llm.extract.llm import llm_pass1
    from imr_llm.extract.pass2 import llm_pass2
    from imr_llm.llm.client import LLMError
    from imr_llm.pipeline import analyze

    analysis = analyze(path)
    letter = analysis.letter.model_copy(update={"text": analysis.masked_text})
    timed = Timed(client, variant == "evicted")
    t0 = time.monotonic()
    try:
        try:
            extraction = await llm_pass1(letter, analysis.record, analysis.sections, client)
        except LLMError:
            extraction = None  # a pass-1 question failed validation: pass 2 still runs
        findings = await llm_pass2(letter, analysis.record, analysis.sections, client, extraction)
    finally:
        client.ask = timed._original
        client.finish_letter(letter)
    wall = time.monotonic() - t0 - timed.evict_seconds
    rows = timed.rows
    return {
        "letter": path.stem,
        "variant": variant,
        "failed_validation": sum(1 for r in rows if r.get("failed")),
        "questions": len(rows),
        "requests": sum(r["requests"] for r in rows),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "seconds": round(wall, 1),
        "median_s_per_question": round(
            statistics.median(r["seconds"] for r in rows if not r.get("failed")), 1
        ),
        "findings": sorted({f.code for f in findings}),
        "calls": rows,
    }


async def main_async(args) -> list[dict]:
    from imr_llm.llm.client import LLMClient, LLMConfig
    from imr_llm.llm.local_server import LocalServer

    results = []
    with LocalServer(args.model_path) as server:
        clients = {}
        for variant in args.variants:
            config = LLMConfig.from_cli(
                backend="local",
                base_url=server.base_url,
                model=server.model_name,
                cache=False,
                letter_role="user" if variant == "schema-first" else "system",
            )
            clients[variant] = await LLMClient(config).__aenter__()
        try:
            for path in args.letters:
                for variant in args.variants:
                    r = await one_letter(path, clients[variant], variant)
                    print(
                        f"{r['letter']:>10} {r['variant']:>12}: {r['questions']} questions, "
                        f"{r['requests']} requests, {r['prompt_tokens']} prompt + "
                        f"{r['completion_tokens']} completion tokens, {r['seconds']} s "
                        f"(median {r['median_s_per_question']} s/question)",
                        flush=True,
                    )
                    results.append(r)
        finally:
            for client in clients.values():
                await client.__aexit__(None, None, None)
    return results


def markdown(results: list[dict]) -> str:
    out = [
        "| letter | variant | questions | requests | prompt tok | completion tok | seconds | "
        "median s/question | failed validation |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        out.append(
            f"| {r['letter']} | {r['variant']} | {r['questions']} | {r['requests']} | "
            f"{r['prompt_tokens']} | {r['completion_tokens']} | {r['seconds']} | "
            f"{r['median_s_per_question']} | {r['failed_validation']} |"
        )
    for variant in ("letter-first", "schema-first", "evicted"):
        rs = [r for r in results if r["variant"] == variant]
        if rs:
            n = len(rs)
            out.append(
                f"| **mean per letter** | {variant} | {sum(r['questions'] for r in rs) / n:.1f} | "
                f"{sum(r['requests'] for r in rs) / n:.1f} | {sum(r['prompt_tokens'] for r in rs) / n:.0f} | "
                f"{sum(r['completion_tokens'] for r in rs) / n:.0f} | {sum(r['seconds'] for r in rs) / n:.1f} | | |"
            )
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("letters", nargs="*", type=Path, default=DEFAULT_LETTERS)
    ap.add_argument("--model-path", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--variants",
        default="letter-first,schema-first,evicted",
        help="comma-separated: letter-first (as the pipeline runs), schema-first (the letter in "
        "the user message, after the tool schema), evicted (letter-first with the server's "
        "prompt cache emptied before every question)",
    )
    args = ap.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    results = asyncio.run(main_async(args))
    table = markdown(results)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "prefix.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / "prefix.md").write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
