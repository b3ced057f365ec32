"""Coverage of the local model's grounded summary against the summary gold, beside the
extractive summary of the same letters:

    python benchmarks/local_summary_coverage.py --out DIR [--split check] [--sample 8] [--seed 7]

Starts one llama.cpp server and asks only the summary question for each sampled corpus letter
that has gold in evals/summary-gold/ (the response cache is on, so a re-run is free). A gold
fact (injury statement, diagnoses, treatment to date, each item's decisive reason) counts as
covered when some summary sentence's quote shares most of its words with the gold quote
(``imr_llm.evals.summaries.same_quote``). Prints per letter and totals, seconds a letter, and
how many letters got no grounded sentence (those fall back to the extractive summary); writes
DIR/summaries.jsonl (owner-only: it holds quotes) and DIR/coverage.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "dwc-2016"
GOLD = ROOT / "evals" / "summary-gold"


def _facts(gold: dict) -> list[tuple[str, list[str]]]:
    """(fact name, acceptable gold quotes) for every fact the gold states."""
    out: list[tuple[str, list[str]]] = []
    if (gold.get("injury") or {}).get("quote"):
        out.append(("injury", [gold["injury"]["quote"]]))
    if gold.get("diagnoses_quote"):
        out.append(("diagnoses", [gold["diagnoses_quote"]]))
    if gold.get("treatment_to_date"):
        out.append(("treatment", [gold["treatment_to_date"]]))
    for it in gold.get("items") or []:
        if it.get("decisive_reason"):
            out.append(
                (f"reason:{it['index']}", [it["decisive_reason"], *it.get("alternatives", [])])
            )
    return out


def _extractive_quotes(record) -> dict[str, str | None]:
    parts = record.summary_parts
    quotes: dict[str, str | None] = {
        "injury": parts.injury.quote if parts and parts.injury else None,
        "diagnoses": parts.diagnoses.quote if parts and parts.diagnoses else None,
        "treatment": parts.treatment_to_date.quote if parts and parts.treatment_to_date else None,
    }
    for it in parts.items if parts else []:
        quotes[f"reason:{it.index}"] = it.reason.quote if it.reason else None
    return quotes


async def main() -> int:
    from imr_llm.evals.split import split_of
    from imr_llm.evals.summaries import same_quote
    from imr_llm.ingest import owner_only_open
    from imr_llm.llm.client import LLMConfig, LLMError
    from imr_llm.pipeline import LLMSession, analyze
    from imr_llm.summarize import llm_summary

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--split", choices=["tune", "check"], default="check")
    ap.add_argument("--sample", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    ids = sorted(p.stem for p in GOLD.glob("CM*.json") if split_of(p.stem) == args.split)
    ids = sorted(random.Random(args.seed).sample(ids, min(args.sample, len(ids))))
    args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
    totals = {"llm": [0, 0], "extractive": [0, 0]}
    fallback = 0
    seconds: list[float] = []
    rows = []
    async with LLMSession(LLMConfig.from_cli(backend="local")) as session:
        assert session.client is not None
        for lid in ids:
            analysis = analyze(CORPUS / f"{lid}.pdf")
            gold = json.loads((GOLD / f"{lid}.json").read_text(encoding="utf-8"))
            record = analysis.record
            extractive = _extractive_quotes(record)
            started = time.perf_counter()
            assert analysis.letter is not None
            try:
                summary = await llm_summary(
                    analysis.letter, record, session.client, analysis.sections
                )
                sentences = summary.sentences
            except LLMError:  # nothing grounded after the re-asks: the extractive one stands
                sentences = []
            seconds.append(time.perf_counter() - started)
            llm_quotes = [s.evidence.quote for s in sentences]
            fallback += not llm_quotes
            got = {"llm": 0, "extractive": 0}
            facts = _facts(gold)
            for name, golds in facts:
                got["llm"] += any(same_quote(q, g) for q in llm_quotes for g in golds)
                got["extractive"] += any(same_quote(extractive.get(name), g) for g in golds)
            for k in totals:
                totals[k][0] += got[k]
                totals[k][1] += len(facts)
            rows.append(
                {
                    "letter_id": lid,
                    "facts": len(facts),
                    "llm_covered": got["llm"],
                    "extractive_covered": got["extractive"],
                    "llm_sentences": [
                        {"sentence": s.text, "quote": s.evidence.quote} for s in sentences
                    ],
                    "seconds": round(seconds[-1], 1),
                }
            )
            print(
                f"{lid}: facts {len(facts)}, LLM covers {got['llm']}, extractive "
                f"{got['extractive']}, {len(llm_quotes)} grounded sentences, {seconds[-1]:.0f} s",
                flush=True,
            )
    with owner_only_open(args.out / "summaries.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    result = {
        "split": args.split,
        "letters": ids,
        "llm_covered": totals["llm"],
        "extractive_covered": totals["extractive"],
        "letters_without_grounded_llm_sentence": fallback,
        "seconds_per_letter": round(sum(seconds) / max(len(seconds), 1), 1),
    }
    with owner_only_open(args.out / "coverage.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
