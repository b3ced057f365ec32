"""LLM calls per letter: what `--ask checks` (the default) asks, against every question asked.

Counts the askings of each registered question on every letter of a set, without a model: the
pass-2 questions decide from the rules record whether an answer could settle anything (their
``asks``), so the count is exact for `--ask checks`. "Every question" is what `--ask all` asked
before the gates: pass 1 (case, item list, one rationale question an item), every pass-2
question on every item with a rationale (absence once per checkable claim, as now), and the
summary (the case question and one an item).

    python benchmarks/llm_calls.py [SET_DIR ...]      # default: evals/corpus evals/authored
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def count(set_dir: Path) -> dict:
    from imr_llm.evals.runner import load_set
    from imr_llm.pipeline import analyze
    from imr_llm.questions import QUESTIONS
    from imr_llm.questions.base import LetterView, Question, rationale_span

    es = load_set(set_dir)
    gated: list[int] = []
    every: list[int] = []
    by_question: Counter[str] = Counter()
    for label in es.labels:
        a = analyze(es.letter_path(label))
        if a.letter is None or a.sections is None or a.record.status != "ok":
            continue
        letter = a.letter.model_copy(update={"text": a.masked_text})
        view = LetterView(letter, a.record, a.sections)
        items = [d for d in a.record.decisions if d.span[1] > d.span[0]]
        asked = 0
        for q in QUESTIONS:
            if q.stage != 2:
                continue
            n = sum(len(q.asks(view, d)) for d in items)
            by_question[q.name] += n
            asked += n
        gated.append(asked)
        n_all = 0
        for q in QUESTIONS:
            if q.stage < 2:
                n_all += 1 if q.scope == "letter" else len(items)
            elif q.name == "item_absence":
                n_all += sum(len(q.asks(view, d)) for d in items)
            else:
                n_all += sum(
                    len(Question.asks(q, view, d)) for d in items if rationale_span(d) is not None
                )
        every.append(n_all + 1 + len(items))  # the summary: the case, then one an item
    n = len(gated)
    return {
        "set": es.name,
        "letters": n,
        "ask_checks_calls_per_letter": round(statistics.fmean(gated), 2) if n else 0,
        "ask_checks_median": statistics.median(gated) if n else 0,
        "ask_checks_letters_without_a_call": sum(1 for g in gated if g == 0),
        "ask_checks_by_question": dict(by_question),
        "ask_all_calls_per_letter": round(statistics.fmean(every), 2) if n else 0,
        "calls_ratio_checks_over_all": round(sum(gated) / sum(every), 3) if n else 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "sets",
        nargs="*",
        type=Path,
        default=[ROOT / "evals" / "corpus", ROOT / "evals" / "authored"],
    )
    args = ap.parse_args()
    for s in args.sets:
        print(json.dumps(count(s), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
