"""How often one local-model question survives validation, asked on its own:

    python benchmarks/local_questions.py --question summary|case_basics [FILE ...]
    (default files: the corpus letters in examples/)

Starts one llama.cpp server, asks only that question for each letter with the response cache
off (no other pass runs, so a letter costs ~25-100 s on 2 cores), and prints per letter whether
an answer came back, how many grounded facts or sentences it kept and how many it dropped, the
requests it took and the seconds; then the count. Answers are not printed (letter words).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = sorted((ROOT / "examples").glob("*.pdf"))


async def _summary(session, analysis) -> tuple[int, int | None]:
    from imr_llm.summarize import llm_summary

    summary = await llm_summary(analysis.letter, analysis.record, session.client, analysis.sections)
    return len(summary.sentences), None  # sentences dropped are not counted


async def _case_basics(session, analysis) -> tuple[int, int | None]:
    from imr_llm.extract.llm import compact, letter_head
    from imr_llm.llm.responses import CaseBasics

    text = analysis.letter.text
    head_end = letter_head(text, analysis.sections, analysis.record.decisions)
    basics, _ = await session.client.ask(
        CaseBasics,
        "case_basics",
        letter=analysis.letter,
        variables={"letter_head": compact(text[:head_end])},
    )
    kept = sum(v is not None for v in (basics.age, basics.sex, basics.date_of_injury))
    # dropped: the fields (age, sex, ..., diagnoses) that lost a fact to an ungrounded quote
    return kept + len(basics.diagnoses) + len(basics.body_regions), len(basics.ungrounded)


QUESTIONS = {"summary": _summary, "case_basics": _case_basics}


async def run(question: str, files: list[Path]) -> int:
    from imr_llm.llm.client import LLMConfig, LLMError
    from imr_llm.pipeline import LLMSession, analyze

    ask = QUESTIONS[question]
    ok = 0
    async with LLMSession(LLMConfig.from_cli(backend="local"), use_cache=False) as session:
        print(f"{'letter':<26} {'result':<10} {'kept':>5} {'dropped':>7} {'requests':>8} {'s':>6}")
        for path in files:
            analysis = analyze(path)
            t0 = time.monotonic()
            try:
                kept, dropped = await ask(session, analysis)
                result = "ok"
                ok += 1
            except LLMError as exc:
                result, kept, dropped = exc.kind, 0, 0
            usage = session.client.usage_for(analysis.letter)
            print(
                f"{path.name:<26} {result:<10} {kept:>5} {'-' if dropped is None else dropped:>7} "
                f"{usage.calls + usage.retries:>8} {time.monotonic() - t0:>6.1f}"
            )
    print(f"\n{question}: {ok} of {len(files)} letters answered with grounded quotes")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--question", choices=sorted(QUESTIONS), required=True)
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    args = ap.parse_args()
    if not args.files:
        sys.exit("no letters given")
    asyncio.run(run(args.question, args.files))


if __name__ == "__main__":
    main()
