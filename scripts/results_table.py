"""Print the per-code table of several scorecards side by side (Markdown), for evals/README.md.

python scripts/results_table.py evals/results/rules-corpus evals/results/rules-authored ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def main(dirs: list[str]) -> None:
    cards = [json.loads((Path(d) / "scorecard.json").read_text()) for d in dirs]
    codes = sorted(
        {c for card in cards for c in card["codes"]},
        key=lambda c: (cards[0]["codes"].get(c, {}).get("info", False), c),
    )
    head = " | ".join(f"{Path(d).name} TP/FP/FN | P / R / F1" for d in dirs)
    print(f"| code | {head} |")
    print("|---|" + "---:|---:|" * len(dirs))
    for code in codes + ["overall"]:
        row = []
        for card in cards:
            m = card["overall"] if code == "overall" else card["codes"].get(code)
            if m is None:
                row += ["·", "·"]
            else:
                row += [
                    f"{m['tp']}/{m['fp']}/{m['fn']}",
                    f"{fmt(m['precision'])} / {fmt(m['recall'])} / {fmt(m['f1'])}",
                ]
        name = f"**{code}** (non-info)" if code == "overall" else code
        print(f"| {name} | " + " | ".join(row) + " |")
    print()
    print("| set | letters | created (UTC) | backend |")
    print("|---|---:|---|---|")
    for d, card in zip(dirs, cards, strict=True):
        run = card.get("run") or {}
        print(
            f"| {Path(d).name} | {card['letters']} | {card['created']} | {run.get('backend', 'none')} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
