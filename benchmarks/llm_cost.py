"""What the LLM second reader costs on the local model: calls, seconds and prompt tokens per
letter, the prompt tokens the server evaluated against their floor.

Starts the bundled llama.cpp server with its per-request counters on (a private log, read for
numbers only and deleted), runs `--ask` (default `checks`) on the chosen letters one after
another, and reports from the server's own counters:

- ``prompt_tokens``: the prompts as the server tokenized them (the record's ``llm`` usage);
- ``evaluated``: the prompt tokens it actually computed (its ``prompt eval ... / N tokens``,
  after reusing the cached prefix of the request before);
- ``floor``: each letter's first prompt in full, then only what each later question adds to the
  prefix all of that letter's prompts share (the letter): the letter once, plus each question's
  own tokens, schema included. ``evaluated / floor`` is 1.0 when every question after the first
  reuses the letter from the server's cache.

    python benchmarks/llm_cost.py --set evals/corpus --letters ID,ID [--ask checks] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")
_EVAL = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")


def _counters(log: str) -> tuple[list[int], list[int]]:
    """(prefix tokens reused per request that reused some, tokens evaluated per request)."""
    return [int(m.group(1)) for m in _HIT.finditer(log)], [
        int(m.group(1)) for m in _EVAL.finditer(log)
    ]


async def _run(letters: list[Path], ask: str, log_dir: Path) -> list[dict]:
    from imr_llm.llm.backends import get_backend
    from imr_llm.llm.local_server import LocalServer
    from imr_llm.pipeline import LLMSession, analyze

    config = get_backend("local").configure(ask=ask, cache=False)
    assert config is not None
    server = LocalServer(config.model_path, log_dir=log_dir, verbose=True)
    out = []
    with server:
        config = config.model_copy(
            update={"backend": "openai", "base_url": server.base_url, "model": server.model_name}
        )
        assert server.log_path is not None
        async with LLMSession(config, use_cache=False) as session:
            for path in letters:
                analysis = analyze(path)
                seen = server.log_path.read_text(errors="replace")
                t0 = time.perf_counter()
                record = await session.enrich(analysis)
                seconds = time.perf_counter() - t0
                await asyncio.sleep(0.2)  # the server flushes its counters after answering
                log = server.log_path.read_text(errors="replace")[len(seen) :]
                hits, evaluated = _counters(log)
                calls = record.llm.calls
                requests = calls + record.llm.retries
                prompt = record.llm.prompt_tokens
                # the prefix every later prompt of this letter reused at least (the letter); a
                # first prompt that reused the chat template's opening from the letter before
                # has a hit line too
                later = hits[1:] if len(hits) >= requests else hits
                shared = min(later) if later and requests > 1 else 0
                floor = prompt - shared * max(requests - 1, 0)
                out.append(
                    {
                        "letter": record.letter_id,
                        "status": record.status,
                        "calls": calls,
                        "questions": record.llm.questions,
                        "seconds": round(seconds, 1),
                        "prompt_tokens": prompt,
                        "completion_tokens": record.llm.completion_tokens,
                        "evaluated": sum(evaluated),
                        "floor": floor,
                        "shared_prefix": shared,
                        "requests": requests,
                        "findings": [
                            (f.code, f.severity.value, f.decision_index, f.detector)
                            for f in record.findings
                            if f.detector == "llm" or "also found by llm" in f.message
                        ],
                    }
                )
                print(json.dumps(out[-1]), flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=ROOT / "evals" / "corpus")
    ap.add_argument("--letters", required=True, help="comma-separated letter ids of the set")
    ap.add_argument("--ask", default="checks")
    ap.add_argument("--out", type=Path, help="write rows.jsonl and summary.json here")
    args = ap.parse_args()

    from imr_llm.evals.runner import load_set

    es = load_set(args.set)
    wanted = [x.strip() for x in args.letters.split(",") if x.strip()]
    by_id = {lab.letter_id: es.letter_path(lab) for lab in es.labels}
    missing = [x for x in wanted if x not in by_id]
    if missing:
        ap.error(f"not in {args.set}: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="imr-llm-cost-") as tmp:
        rows = asyncio.run(_run([by_id[x] for x in wanted], args.ask, Path(tmp)))
    asked = [r for r in rows if r["calls"]]
    evaluated = sum(r["evaluated"] for r in rows)
    floor = sum(r["floor"] for r in rows)
    summary = {
        "set": es.name,
        "ask": args.ask,
        "letters": len(rows),
        "letters_without_a_call": len(rows) - len(asked),
        "calls_per_letter": round(statistics.fmean(r["calls"] for r in rows), 2),
        "seconds_per_letter": round(statistics.fmean(r["seconds"] for r in rows), 1),
        "seconds_per_asked_letter": (
            round(statistics.fmean(r["seconds"] for r in asked), 1) if asked else 0.0
        ),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "evaluated_prompt_tokens": evaluated,
        "floor_prompt_tokens": floor,
        "evaluated_over_floor": round(evaluated / floor, 3) if floor else None,
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
