"""Every finding code has one spec; the README's table and every finding follow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import EVALS, EXAMPLES
from imr_llm.checks import load_checks
from imr_llm.codes import SPECS, Code, readme_table
from imr_llm.evals.runner import load_set
from imr_llm.pipeline import process_file

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_is_generated_from_the_specs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "run: python -m imr_llm.codes, paste into README.md"


def test_every_registered_check_emits_known_codes():
    for spec in load_checks().values():
        for code in spec.codes:
            assert Code(code) in SPECS, f"check {spec.name} emits unknown code {code}"


def test_every_code_has_an_emitter_and_an_operator_or_says_why_not():
    from imr_llm.evals.mutate import load_operators
    from imr_llm.questions import QUESTIONS

    emitted = {Code(c) for spec in load_checks().values() for c in spec.codes}
    emitted |= {c for q in QUESTIONS for c in q.codes}
    planted = {c for op in load_operators().values() for c in op.codes}
    for code, spec in SPECS.items():
        assert code in emitted, f"no check or LLM question raises {code}"
        if code in planted:
            assert not spec.no_operator, f"{code} has an operator now: drop its no_operator reason"
        else:
            assert spec.no_operator, f"no mutation operator plants {code}: add one or say why not"


def _letters() -> list[Path]:
    paths = sorted(EXAMPLES.glob("*.pdf")) + sorted(EXAMPLES.glob("*.txt"))
    for name in ("authored", "mutations"):
        es = load_set(EVALS / name)
        if es.letters_dir.is_dir():
            paths += [es.letter_path(lab) for lab in es.labels[::7]]
    return paths


@pytest.mark.parametrize("path", _letters(), ids=lambda p: p.name)
def test_findings_follow_the_severity_policy(path: Path):
    record = process_file(path)
    for f in record.findings:
        spec = SPECS[Code(f.code)]
        assert f.severity in spec.allowed, f"{f.code} at {f.severity} in {path.name}"
