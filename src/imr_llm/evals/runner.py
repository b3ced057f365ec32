"""Run a processing function over a labeled set and score it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imr_llm.evals.metrics import GoldLabel, Scorecard, load_label, score
from imr_llm.evals.scorecard import write_scorecard
from imr_llm.evals.summaries import load_gold, score_summaries
from imr_llm.ingest import owner_only_open
from imr_llm.schemas import AuditRecord, ErrorKind, RecordError


@dataclass
class EvalSet:
    """A labeled set: ``set.json`` plus ``labels/*.json``; letters live in ``letters_dir``."""

    root: Path
    name: str
    description: str
    letters_dir: Path
    labels: list[GoldLabel]

    def letter_path(self, label: GoldLabel) -> Path:
        return self.letters_dir / label.file


def load_set(set_dir: Path | str) -> EvalSet:
    """Read ``set.json`` and every label under ``labels/`` (sorted by file name)."""
    root = Path(set_dir)
    meta_path = root / "set.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{root}: no set.json; an eval set needs set.json and labels/")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    labels = [load_label(p) for p in sorted((root / "labels").glob("*.json"))]
    return EvalSet(
        root=root,
        name=meta.get("name", root.name),
        description=meta.get("description", ""),
        letters_dir=(root / meta.get("letters_dir", "letters")).resolve(),
        labels=labels,
    )


def run_eval(
    set_dir: Path | str,
    process: Callable[[Path], AuditRecord],
    out: Path | str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    summary_gold: Path | None = None,
) -> Scorecard:
    """Call ``process`` on every labeled letter, score the records, and write the scorecard.

    An exception from ``process`` becomes an error record for that letter. Records without
    ``seconds`` get the wall time of their ``process`` call. With ``out``, writes
    scorecard.json/.md/.html and records.jsonl there. Summaries are scored when
    ``summary_gold`` (default: ``summary-gold`` beside the set) holds gold for its letters.
    """
    es = load_set(set_dir)
    records: list[AuditRecord] = []
    for k, label in enumerate(es.labels):
        path = es.letter_path(label)
        started = time.perf_counter()
        try:
            rec = process(path)
        except Exception as exc:
            rec = AuditRecord(
                letter_id=label.letter_id,
                source=str(path),
                status="error",
                error=RecordError(kind=ErrorKind.internal, message=f"{type(exc).__name__}: {exc}"),
            )
        if rec.seconds is None:
            rec.seconds = time.perf_counter() - started
        records.append(rec)
        if progress:
            progress(k + 1, len(es.labels), label.letter_id)
    card = score(es.labels, records, set_name=es.name)
    gold_dir = summary_gold or es.root.parent / "summary-gold"
    if gold_dir.is_dir():
        card.summary = score_summaries(records, load_gold(gold_dir))
    if out is not None:
        out = Path(out)
        write_scorecard(card, out)
        with owner_only_open(out / "records.jsonl", "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec.to_json_dict()) + "\n")
    return card
