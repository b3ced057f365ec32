"""Coverage of the local model's grounded summary, part by part, against the summary gold,
beside the extractive summary of the same letters:

    python benchmarks/local_summary_coverage.py --out DIR [--split check] [--sample 20] [--seed 7]
        [--limit N] [--exclude READINGS.jsonl ...]

Starts one llama.cpp server and asks only the summary question for each sampled corpus letter
that has gold in evals/summary-gold/ (the response cache is on, so a re-run is free). A gold
fact (injury statement, diagnoses, treatment to date, each item's decisive reason) is covered
by a part whose quote shares most of its words with the gold quote
(``imr_llm.evals.summaries.same_quote``); counted for the parts the LLM grounded ("llm"), for
the summary as recorded, LLM parts plus the extractive parts that stand in ("merged"), and for
the extractive summary alone. Prints per letter and totals, seconds a letter, and how many
parts fell back; writes DIR/summaries.jsonl (owner-only: it holds quotes; one line per letter
with each part's sentence, quote and source, for reading) and DIR/coverage.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def _part_quotes(parts, only_llm: bool = False) -> dict[str, str | None]:
    """Each part's quote, keyed like ``_facts``; ``only_llm``: the parts the LLM grounded."""
    names = {"injury": "injury", "diagnoses": "diagnoses", "treatment_to_date": "treatment"}
    quotes: dict[str, str | None] = {}
    for name, key in names.items():
        ev = getattr(parts, name) if parts else None
        keep = not only_llm or (parts is not None and name in parts.sentences)
        quotes[key] = ev.quote if ev and keep else None
    for it in parts.items if parts else []:
        keep = not only_llm or f"item:{it.index}" in parts.sentences
        quotes[f"reason:{it.index}"] = it.reason.quote if it.reason and keep else None
    return quotes


def _reading_row(parts) -> list[dict]:
    """Each part as the reader sees it: the sentence (LLM) or quote (extractive) and source."""
    out = []
    for name in ("injury", "diagnoses", "treatment_to_date"):
        ev = getattr(parts, name)
        if ev is None and name not in parts.sentences:
            continue
        out.append(_part(name, parts.sentences.get(name), ev))
    for it in parts.items:
        out.append(_part(f"item:{it.index}", parts.sentences.get(f"item:{it.index}"), it.reason))
    return out


def _part(name: str, sentence: str | None, ev) -> dict:
    return {
        "part": name,
        "source": "llm" if sentence else "extractive",
        "sentence": sentence,
        "quote": ev.quote if ev else None,
        "offsets": [ev.start, ev.end] if ev else None,
    }


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
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--exclude",
        type=Path,
        nargs="*",
        default=[],
        help="reading files (JSONL with letter_id): sample only letters none of them read",
    )
    ap.add_argument(
        "--limit", type=int, default=None, help="read only the first N letters of the sample"
    )
    args = ap.parse_args()

    read = {
        json.loads(line)["letter_id"]
        for f in args.exclude
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    ids = sorted(
        p.stem
        for p in GOLD.glob("CM*.json")
        if split_of(p.stem) == args.split and p.stem not in read
    )
    ids = sorted(random.Random(args.seed).sample(ids, min(args.sample, len(ids))))[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
    totals = {"llm": [0, 0], "merged": [0, 0], "extractive": [0, 0]}
    parts_llm = parts_all = no_grounded = 0
    seconds: list[float] = []
    rows = []
    # one line a letter as it is done, so an interrupted run keeps what it read
    partial = owner_only_open(args.out / "summaries.jsonl", "w", encoding="utf-8")
    async with LLMSession(LLMConfig.from_cli(backend="local")) as session:
        assert session.client is not None
        for lid in ids:
            analysis = analyze(CORPUS / f"{lid}.pdf")
            gold = json.loads((GOLD / f"{lid}.json").read_text(encoding="utf-8"))
            record = analysis.record
            extractive = _part_quotes(record.summary_parts)
            started = time.perf_counter()
            assert analysis.letter is not None
            # nothing grounded after the re-asks (LLMError): the extractive summary stands
            with contextlib.suppress(LLMError):
                await llm_summary(analysis.letter, record, session.client, analysis.sections)
            seconds.append(time.perf_counter() - started)
            parts = record.summary_parts
            assert parts is not None
            quotes = {
                "llm": _part_quotes(parts, only_llm=True),
                "merged": _part_quotes(parts),
                "extractive": extractive,
            }
            n_parts = len(_reading_row(parts))
            parts_all += n_parts
            parts_llm += len(parts.sentences)
            no_grounded += not parts.sentences
            got = dict.fromkeys(totals, 0)
            facts = _facts(gold)
            for name, golds in facts:
                for k in totals:
                    got[k] += any(same_quote(quotes[k].get(name), g) for g in golds)
            for k in totals:
                totals[k][0] += got[k]
                totals[k][1] += len(facts)
            rows.append(
                {
                    "letter_id": lid,
                    "facts": len(facts),
                    **{f"{k}_covered": got[k] for k in totals},
                    "parts": _reading_row(parts),
                    "extractive_parts": parts.extractive_parts,
                    "summary": record.summary,
                    "seconds": round(seconds[-1], 1),
                }
            )
            partial.write(json.dumps(rows[-1]) + "\n")
            partial.flush()
            print(
                f"{lid}: facts {len(facts)}, covered by LLM parts {got['llm']}, merged "
                f"{got['merged']}, extractive {got['extractive']}; {len(parts.sentences)} of "
                f"{n_parts} parts from the LLM, {seconds[-1]:.0f} s",
                flush=True,
            )
    partial.close()
    result = {
        "split": args.split,
        "letters": ids,
        **{f"{k}_covered": totals[k] for k in totals},
        "parts_from_llm": [parts_llm, parts_all],
        "letters_without_grounded_llm_part": no_grounded,
        "seconds_per_letter": round(sum(seconds) / max(len(seconds), 1), 1),
    }
    with owner_only_open(args.out / "coverage.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
