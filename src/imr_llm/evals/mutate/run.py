"""The driver: apply each operator to each source letter and write the labeled set."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from imr_llm.evals.mutate.base import (
    REGISTRY,
    CannotApply,
    Change,
    Operator,
    Planted,
    Source,
    apply_edits,
)
from imr_llm.evals.mutate.labels import gold_index, load_source, mutated_label
from imr_llm.ingest import IngestError, expand_paths, owner_only_open
from imr_llm.segment import segment

MAX_CANDIDATES = 12


@dataclass
class Applied:
    source: str
    letter_id: str
    operator: str
    codes: list[str]
    decision_indexes: list[int | None]
    letter_file: str
    label_file: str
    label_source: str
    description: str
    changes: list[Change]


@dataclass
class Skipped:
    source: str
    operator: str
    reason: str


@dataclass
class MutationReport:
    out: Path
    seed: int
    applied: list[Applied] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "seed": self.seed,
            "applied": [asdict(a) for a in self.applied],
            "skipped": [asdict(s) for s in self.skipped],
        }

    def table(self) -> str:
        """Applied / skipped counts per operator, as text."""
        names = [op.name for op in REGISTRY.values()]
        width = max(len(n) for n in names)
        lines = [f"{'operator':<{width}}  applied  skipped"]
        for n in names:
            a = sum(1 for x in self.applied if x.operator == n)
            s = sum(1 for x in self.skipped if x.operator == n)
            lines.append(f"{n:<{width}}  {a:>7}  {s:>7}")
        return "\n".join(lines)


def try_operator(
    src: Source, op: Operator, rng: random.Random
) -> tuple[Planted, str, list[Change]] | str:
    """The first verified candidate as (planted, mutated text, changes), or why there is none."""
    try:
        cands = op.candidates(src, rng)[:MAX_CANDIDATES]
    except CannotApply as exc:
        return str(exc)
    first_problem = ""
    for planted in cands:
        text, changes = apply_edits(src.text, planted.edits)
        seg = segment(src.letter.model_copy(update={"text": text}))
        problems = op.verify(src, planted, text, seg)
        if not problems:
            return planted, text, changes
        first_problem = first_problem or "; ".join(problems)
    return f"none of {len(cands)} candidate(s) re-parsed as planted ({first_problem})"


def mutate(
    sources: list[Path],
    out: Path,
    seed: int,
    operators: Sequence[str] | None = None,
    gold_dirs: Iterable[Path] | None = None,
    progress: Callable[[str], None] | None = None,
) -> MutationReport:
    """Write one labeled variant per (source, operator) that applies into ``out``.

    ``out`` receives ``letters/*.txt``, ``labels/*.json``, ``set.json`` and ``mutations.json``.
    ``operators`` picks operators by name (default: all); ``gold_dirs`` are the labeled sets
    (or directories of sets) searched for gold labels: default ``evals/`` of the working
    directory, ``[]`` for none. A missing one raises ``GoldDirsMissing``.
    """
    names = list(operators) if operators else list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown operator(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    index = gold_index(gold_dirs)
    out = Path(out)
    (out / "letters").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    report = MutationReport(out=out, seed=seed)
    paths: list[Path] = []
    for p in sources:
        found, unmatched = expand_paths([str(p)])
        paths += [f.path for f in found]
        report.skipped += [
            Skipped(u, "*", "no such file or no .pdf/.txt inside") for u in unmatched
        ]
    for path in paths:
        try:
            src = load_source(path, index)
        except IngestError as exc:
            report.skipped.append(Skipped(str(path), "*", exc.message))
            continue
        for name in names:
            op = REGISTRY[name]
            rng = random.Random(f"{seed}:{path.stem}:{name}")
            result = try_operator(src, op, rng)
            if isinstance(result, str):
                report.skipped.append(Skipped(str(path), name, result))
                continue
            planted, text, changes = result
            letter_id = f"{path.stem}__{name}"
            label = mutated_label(src, planted, op, letter_id, changes)
            letter_file = out / "letters" / f"{letter_id}.txt"
            label_file = out / "labels" / f"{letter_id}.json"
            with owner_only_open(letter_file, "w", encoding="utf-8") as fh:
                fh.write(text)
            with owner_only_open(label_file, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(label, indent=2) + "\n")
            report.applied.append(
                Applied(
                    source=str(path),
                    letter_id=letter_id,
                    operator=name,
                    codes=[f["code"] for f in planted.findings],
                    decision_indexes=[f["decision_index"] for f in planted.findings],
                    letter_file=str(letter_file),
                    label_file=str(label_file),
                    label_source=src.label_source,
                    description=planted.description,
                    changes=changes,
                )
            )
            if progress:
                progress(letter_id)
    meta = {
        "name": f"{out.name}",
        "description": f"Labeled mutations (seed {seed}) of {len(paths)} source letter(s); "
        "info-severity codes are not labeled in this set.",
        "letters_dir": "letters",
    }
    with owner_only_open(out / "set.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(meta, indent=2) + "\n")
    with owner_only_open(out / "mutations.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return report
