"""Check the hand-written summary gold files in this folder.

For every <letter_id>.json here: re-extract the letter with `imr-llm extract FILE --with-text`
and check that every quote is an exact substring of the extracted text, that each item index
exists and its item text matches, that every decided item has a gold entry, that each item's
decisive reason (and alternatives) occurs inside that item's own span (a null decisive
reason is allowed only for an item whose rationale gives none, noted in `notes`), and that body parts come
from the vocabulary. Prints one line per problem; exit status 1 if any.

    python evals/summary-gold/validate.py [ID ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = Path("/work/shared/corpus/dwc-2016")
AUTHORED = REPO / "evals" / "authored" / "letters"

VOCAB = {
    "cervical spine",
    "thoracic spine",
    "lumbar spine",
    "shoulder",
    "elbow",
    "wrist/hand",
    "hip",
    "knee",
    "ankle/foot",
    "head",
    "abdomen",
    "eye",
    "upper extremity",
    "lower extremity",
    "psyche",
    "other",
}
KEYS = {
    "letter_id",
    "set",
    "injury",
    "body_parts",
    "diagnoses",
    "diagnoses_quote",
    "treatment_to_date",
    "items",
    "notes",
}


def source(letter_id: str, which: str) -> Path:
    return CORPUS / f"{letter_id}.pdf" if which == "corpus" else AUTHORED / f"{letter_id}.txt"


def extract(path: Path) -> dict:
    out = subprocess.run(
        ["imr-llm", "extract", str(path), "--with-text"],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(out.stdout)


def occurrences(text: str, q: str) -> list[int]:
    found, i = [], text.find(q)
    while i >= 0:
        found.append(i)
        i = text.find(q, i + 1)
    return found


def check(path: Path) -> list[str]:
    errs: list[str] = []
    name = path.stem
    try:
        gold = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [f"{name}: bad JSON: {exc}"]
    missing = KEYS - gold.keys()
    if missing:
        errs.append(f"{name}: missing keys {sorted(missing)}")
    if gold.get("letter_id") != name:
        errs.append(f"{name}: letter_id {gold.get('letter_id')!r} does not match the file name")
    which = gold.get("set")
    if which not in ("corpus", "authored"):
        return errs + [f"{name}: set must be corpus or authored, got {which!r}"]
    src = source(name, which)
    if not src.exists():
        return errs + [f"{name}: letter not found at {src}"]
    rec = extract(src)
    text = rec.get("text") or ""
    if not text:
        return errs + [f"{name}: extraction gave no text (status {rec.get('status')})"]

    def quote(q, what, span=None, required=False):
        if q is None:
            if required:
                errs.append(f"{name}: {what} is null")
            return
        if not isinstance(q, str) or not q.strip():
            errs.append(f"{name}: {what} is not a non-empty string")
            return
        hits = occurrences(text, q)
        if not hits:
            errs.append(f"{name}: {what} is not a substring of the text: {q[:80]!r}")
        elif span and not any(span[0] <= h and h + len(q) <= span[1] for h in hits):
            errs.append(f"{name}: {what} occurs only outside its item's span: {q[:80]!r}")

    inj = gold.get("injury") or {}
    quote(inj.get("quote"), "injury.quote", required=True)
    if not (inj.get("mechanism") is None or isinstance(inj.get("mechanism"), str)):
        errs.append(f"{name}: injury.mechanism must be a string or null")
    parts = gold.get("body_parts") or []
    if not parts:
        errs.append(f"{name}: body_parts is empty")
    for p in parts:
        if p not in VOCAB:
            errs.append(f"{name}: body part {p!r} not in the vocabulary")
    if len(set(parts)) != len(parts):
        errs.append(f"{name}: body_parts has duplicates")
    if not all(isinstance(d, str) and d for d in gold.get("diagnoses") or []):
        errs.append(f"{name}: diagnoses must be non-empty strings")
    quote(gold.get("diagnoses_quote"), "diagnoses_quote")
    quote(gold.get("treatment_to_date"), "treatment_to_date")

    decisions = {d["index"]: d for d in rec.get("decisions") or []}
    seen = set()
    for it in gold.get("items") or []:
        i = it.get("index")
        if i not in decisions:
            errs.append(f"{name}: item index {i} does not exist (have {sorted(decisions)})")
            continue
        if i in seen:
            errs.append(f"{name}: item index {i} appears twice")
        seen.add(i)
        if it.get("item") != decisions[i]["item"]:
            errs.append(f"{name}: item {i} text {it.get('item')!r} != {decisions[i]['item']!r}")
        span = decisions[i].get("span")
        # null only where the item's rationale gives no reason at all (say so in notes)
        quote(it.get("decisive_reason"), f"item {i} decisive_reason", span)
        for k, alt in enumerate(it.get("alternatives") or []):
            quote(alt, f"item {i} alternative {k}", span, required=True)
    for i in sorted(set(decisions) - seen):
        errs.append(f"{name}: decision {i} ({decisions[i]['item'][:40]!r}) has no gold item")
    return errs


def main(argv: list[str]) -> int:
    files = sorted(HERE.glob("*.json"))
    if argv:
        files = [f for f in files if f.stem in set(argv)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, files))
    errs = [e for r in results for e in r]
    for e in errs:
        print(e)
    sets = {}
    for f in files:
        s = json.loads(f.read_text()).get("set")
        sets[s] = sets.get(s, 0) + 1
    print(
        f"{len(files)} files ({', '.join(f'{v} {k}' for k, v in sorted(sets.items()))}); "
        f"{len(errs)} problem(s)"
    )
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
