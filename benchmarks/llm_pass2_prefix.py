"""Prompt-prefix caching on the local backend: the LLM path (pass 1 + pass 2, no summary) per
letter with the server's prompt cache as it is, and with it evicted before every question.

    python benchmarks/llm_pass2_prefix.py [--model-path GGUF] [--out DIR] LETTER.txt ...

Every prompt starts with the letter (``_letter.j2``) and ends with the question, so consecutive
questions share a prefix that llama.cpp keeps in its KV cache (llama-cpp-python's server keeps the
last prompt's tokens and re-evaluates only what differs). Variant ``evicted`` sends a tiny
unrelated request before each question, so every question is evaluated from scratch; its own
time is not counted. The response cache is off in both variants, and the two run alternately per
letter (one server, loaded once). Prints per letter: questions, prompt and completion tokens, and
seconds, for both variants; with ``--out`` also writes ``prefix.json`` and ``prefix.md``.
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

    def __init__(self, client, evict: bool):
        self.client = client
        self.evict = evict
        self.rows: list[dict] = []
        self.evict_seconds = 0.0
        self._ask = client.ask
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
            t0 = time.monotonic()
            value, stats = await self._ask(
                response_model, template_name, letter=letter, variables=variables
            )
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


async def one_letter(path: Path, client, evict: bool) -> dict:
    from imr_llm.extract.llm import llm_pass1
    from imr_llm.extract.pass2 import llm_pass2
    from imr_llm.pipeline import analyze

    analysis = analyze(path)
    letter = analysis.letter.model_copy(update={"text": analysis.masked_text})
    timed = Timed(client, evict)
    t0 = time.monotonic()
    try:
        extraction = await llm_pass1(letter, analysis.record, analysis.sections, client)
        findings = await llm_pass2(letter, analysis.record, analysis.sections, client, extraction)
    finally:
        client.ask = timed._ask
        client.finish_letter(letter)
    wall = time.monotonic() - t0 - timed.evict_seconds
    rows = timed.rows
    return {
        "letter": path.stem,
        "variant": "evicted" if evict else "prefix-cache",
        "questions": len(rows),
        "requests": sum(r["requests"] for r in rows),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "seconds": round(wall, 1),
        "median_s_per_question": round(statistics.median(r["seconds"] for r in rows), 1),
        "findings": sorted({f.code for f in findings}),
        "calls": rows,
    }


async def main_async(args) -> list[dict]:
    from imr_llm.llm.client import LLMClient, LLMConfig
    from imr_llm.llm.local_server import LocalServer

    results = []
    with LocalServer(args.model_path) as server:
        config = LLMConfig.from_cli(
            backend="local", base_url=server.base_url, model=server.model_name, cache=False
        )
        async with LLMClient(config) as client:
            for path in args.letters:
                for evict in (False, True):
                    r = await one_letter(path, client, evict)
                    print(
                        f"{r['letter']:>10} {r['variant']:>12}: {r['questions']} questions, "
                        f"{r['requests']} requests, {r['prompt_tokens']} prompt + "
                        f"{r['completion_tokens']} completion tokens, {r['seconds']} s "
                        f"(median {r['median_s_per_question']} s/question)",
                        flush=True,
                    )
                    results.append(r)
    return results


def markdown(results: list[dict]) -> str:
    out = [
        "| letter | variant | questions | requests | prompt tok | completion tok | seconds | median s/question |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        out.append(
            f"| {r['letter']} | {r['variant']} | {r['questions']} | {r['requests']} | "
            f"{r['prompt_tokens']} | {r['completion_tokens']} | {r['seconds']} | "
            f"{r['median_s_per_question']} |"
        )
    for variant in ("prefix-cache", "evicted"):
        rs = [r for r in results if r["variant"] == variant]
        if rs:
            n = len(rs)
            out.append(
                f"| **mean per letter** | {variant} | {sum(r['questions'] for r in rs) / n:.1f} | "
                f"{sum(r['requests'] for r in rs) / n:.1f} | {sum(r['prompt_tokens'] for r in rs) / n:.0f} | "
                f"{sum(r['completion_tokens'] for r in rs) / n:.0f} | {sum(r['seconds'] for r in rs) / n:.1f} | |"
            )
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("letters", nargs="*", type=Path, default=DEFAULT_LETTERS)
    ap.add_argument("--model-path", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
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
