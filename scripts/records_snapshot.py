"""Snapshot the rules-path records of every eval set, to show a refactor changed no output.

Runs ``analyze`` (rules only) on every labeled letter of every set under ``evals/`` and writes
one JSON line per letter (the record without its timing field), sorted by set and letter, to
the snapshot file; prints one sha256 per set. Compare two snapshots with ``--compare``:

    python scripts/records_snapshot.py /tmp/before.jsonl          # on the old commit
    python scripts/records_snapshot.py /tmp/after.jsonl           # on the new one
    python scripts/records_snapshot.py --compare /tmp/before.jsonl /tmp/after.jsonl

``--ignore summary,summary_parts`` leaves those fields out of the comparison. ``--compare`` exits 1 and names the first letters that differ when any record changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ("seconds",)


def snapshot(evals: Path) -> dict[str, list[str]]:
    from imr_llm.evals.runner import load_set
    from imr_llm.pipeline import analyze

    out: dict[str, list[str]] = {}
    for set_json in sorted(evals.glob("*/set.json")):
        es = load_set(set_json.parent)
        lines = []
        for label in es.labels:
            path = es.letter_path(label)
            rec = analyze(path, source=f"{set_json.parent.name}/{label.file}").record.to_json_dict()
            for key in VOLATILE:
                rec.pop(key, None)
            lines.append(json.dumps(rec, sort_keys=True, ensure_ascii=False))
        out[set_json.parent.name] = lines
    return out


def _load(path: Path) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, rec = line.partition("\t")
        sets.setdefault(name, []).append(rec)
    return sets


def _without(lines: list[str], ignore: set[str]) -> list[str]:
    if not ignore:
        return lines
    out = []
    for line in lines:
        rec = json.loads(line)
        for key in ignore:
            rec.pop(key, None)
        out.append(json.dumps(rec, sort_keys=True, ensure_ascii=False))
    return out


def compare(before: Path, after: Path, ignore: set[str] = frozenset()) -> int:
    a, b = _load(before), _load(after)
    a = {k: _without(v, ignore) for k, v in a.items()}
    b = {k: _without(v, ignore) for k, v in b.items()}
    bad = 0
    for name in sorted(set(a) | set(b)):
        ra, rb = a.get(name, []), b.get(name, [])
        diff = [i for i in range(max(len(ra), len(rb))) if ra[i : i + 1] != rb[i : i + 1]]
        status = "identical" if not diff else f"{len(diff)} of {max(len(ra), len(rb))} differ"
        print(f"{name:20s} {len(rb):5d} records  {status}")
        for i in diff[:5]:
            rec = json.loads((rb[i : i + 1] or ra[i : i + 1])[0])
            print(f"    {rec.get('source')}")
        bad += len(diff)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--compare", action="store_true", help="compare two snapshot files")
    ap.add_argument("--evals", type=Path, default=ROOT / "evals")
    ap.add_argument(
        "--ignore", default="", help="with --compare: comma-separated record fields to leave out"
    )
    args = ap.parse_args()
    if args.compare:
        if len(args.paths) != 2:
            ap.error("--compare takes two snapshot files")
        return compare(*args.paths, ignore={k for k in args.ignore.split(",") if k})
    sets = snapshot(args.evals)
    with args.paths[0].open("w", encoding="utf-8") as fh:
        for name, lines in sets.items():
            for line in lines:
                fh.write(f"{name}\t{line}\n")
            digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
            print(f"{name:20s} {len(lines):5d} records  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
