"""How often the local model's grounded summary survives validation, asked on its own:

    python benchmarks/local_summary.py [FILE ...]      (default: the corpus letters in examples/)

Starts one llama.cpp server, asks only the ``summary`` question for each letter with the
response cache off (pass 1 and pass 2 are not run, so a letter costs ~25-60 s on 2 cores),
and prints per letter whether a summary came back, how many sentences it kept, the requests
it took and the seconds; then the count. The summary itself is not printed (letter words).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = sorted((ROOT / "examples").glob("*.pdf"))


async def run(files: list[Path]) -> int:
    from imr_llm.llm.client import LLMConfig, LLMError
    from imr_llm.pipeline import LLMSession, analyze
    from imr_llm.summarize import llm_summary

    ok = 0
    async with LLMSession(LLMConfig.from_cli(backend="local"), use_cache=False) as session:
        print(f"{'letter':<26} {'result':<8} {'sentences':>9} {'requests':>8} {'s':>6}")
        for path in files:
            analysis = analyze(path)
            before = session.client.usage_for(analysis.letter).calls
            t0 = time.monotonic()
            try:
                summary = await llm_summary(
                    analysis.letter, analysis.record, session.client, analysis.sections
                )
                result, kept = "ok", len(summary.sentences)
                ok += 1
            except LLMError as exc:
                result, kept = exc.kind, 0
            usage = session.client.usage_for(analysis.letter)
            requests = usage.calls - before + usage.retries
            print(
                f"{path.name:<26} {result:<8} {kept:>9} {requests:>8} {time.monotonic() - t0:>6.1f}"
            )
    print(f"\n{ok} of {len(files)} letters got a grounded summary")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    args = ap.parse_args()
    if not args.files:
        sys.exit("no letters given")
    asyncio.run(run(args.files))


if __name__ == "__main__":
    main()
