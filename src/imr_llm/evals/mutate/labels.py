"""The base label of a source letter (its gold label, else the parse) and the mutated label."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from imr_llm.evals.mutate.base import Change, Operator, Planted, Source
from imr_llm.ingest import read_letter
from imr_llm.schemas import Letter
from imr_llm.segment import Segmentation, segment

DEFAULT_GOLD_DIR = Path("evals")


class GoldDirsMissing(ValueError):
    """A directory to search for gold labels is not there; the message says what to pass."""


def label_sets(gold_dirs: Iterable[Path]) -> list[Path]:
    """The labeled sets in ``gold_dirs``: each is a set (holds ``set.json``) or holds sets."""
    out: list[Path] = []
    for d in map(Path, gold_dirs):
        if (d / "set.json").is_file():
            found = [d.resolve()]
        else:
            found = [p.parent for p in sorted(d.resolve().glob("*/set.json"))]
        if not found:
            raise GoldDirsMissing(
                f"no labeled set (a set.json) in {d} or its subdirectories, where gold labels "
                "are looked up. Run from the repository root (default: evals/), pass the sets "
                "with --gold DIR (a set such as evals/corpus, or a directory of sets), or pass "
                "--no-gold to label the letters from their parse"
            )
        out += [f for f in found if f not in out]
    return out


def gold_index(gold_dirs: Iterable[Path] | None = None) -> dict[str, list[tuple[Path, Path]]]:
    """letter stem -> [(label path, resolved letter path)] over the labeled sets in
    ``gold_dirs`` (default ``evals/`` of the working directory; ``[]`` for none)."""
    set_dirs = label_sets([DEFAULT_GOLD_DIR] if gold_dirs is None else gold_dirs)
    index: dict[str, list[tuple[Path, Path]]] = {}
    for sd in set_dirs:
        meta_path = Path(sd) / "set.json"
        if not meta_path.is_file():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        letters = (Path(sd) / meta.get("letters_dir", "letters")).resolve()
        for lp in sorted((Path(sd) / "labels").glob("*.json")):
            try:
                lab = json.loads(lp.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if "mutation" in lab:
                continue
            target = letters / lab.get("file", "")
            index.setdefault(Path(lab.get("file", lp.stem)).stem, []).append((lp, target))
    return index


def find_gold(path: Path, index: dict[str, list[tuple[Path, Path]]]) -> Path | None:
    """The gold label for ``path``: same file first, else a label for a letter of the same stem."""
    hits = index.get(path.stem, [])
    resolved = path.resolve()
    for lp, target in hits:
        if target == resolved:
            return lp
    return hits[0][0] if hits else None


def label_from_parse(letter: Letter, seg: Segmentation) -> dict:
    c = seg.case
    return {
        "letter_id": letter.letter_id,
        "file": Path(letter.source).name,
        "layout": seg.layout,
        "case": {
            "case_number": c.case_number,
            "date_assigned": c.date_assigned.isoformat() if c.date_assigned else None,
            "date_of_injury": c.date_of_injury.isoformat() if c.date_of_injury else None,
            "decision_date": c.decision_date.isoformat() if c.decision_date else None,
            "ur_denial_date": c.ur_denial_date.isoformat() if c.ur_denial_date else None,
            "patient_age": c.patient_age,
            "patient_sex": c.patient_sex,
            "reviewer_specialty": c.reviewer_specialty,
        },
        "decisions": [
            {"item": d.item, "outcome": d.outcome, "conclusion": d.conclusion}
            for d in seg.decisions
        ],
        "findings": [],
        "notes": "Labels read from the parse (no gold label found); not checked by a person.",
    }


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def load_source(path: Path, index: dict[str, list[tuple[Path, Path]]]) -> Source:
    letter = read_letter(path)
    seg = segment(letter)
    gold = find_gold(path, index)
    if gold is not None:
        label = json.loads(gold.read_text(encoding="utf-8"))
        return Source(path, letter, seg, label, f"gold:{_relative(gold)}")
    return Source(path, letter, seg, label_from_parse(letter, seg), "parse")


def mutated_label(
    src: Source, planted: Planted, operator: Operator, letter_id: str, changes: list[Change]
) -> dict:
    label = copy.deepcopy(src.label)
    label["letter_id"] = letter_id
    label["file"] = f"{letter_id}.txt"
    for i, upd in planted.decision_updates.items():
        label["decisions"][i].update(upd)
    label["findings"] = list(label.get("findings", [])) + planted.findings
    base = label.get("notes", "")
    label["notes"] = f"Mutation {operator.name}: {planted.description}." + (
        f" Source notes: {base}" if base else ""
    )
    label["mutation"] = {
        "operator": operator.name,
        "source": str(src.path),
        "label_source": src.label_source,
        "description": planted.description,
        "changes": [asdict(c) for c in changes],
    }
    return label
