"""The real local model end to end: `--llm local` on a seed letter (needs '.[local]')."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builders import EXAMPLES

pytestmark = pytest.mark.local_model

SEED = EXAMPLES / "000_9c64455a8480a098.txt"


def test_local_backend_reads_the_seed_letter(tmp_path):
    pytest.importorskip(
        "llama_cpp", reason="pip install -e '.[local]' (scripts/install-local-backend.sh)"
    )
    from imr_llm.llm.local_model import ModelError, find_parts

    try:
        find_parts()
    except ModelError as exc:
        pytest.skip(str(exc))
    proc = subprocess.run(
        # --ask extract: the model reads the case and both items again (by default it is asked
        # only where the rules leave something to settle, and this letter has nothing)
        [
            *(sys.executable, "-m", "imr_llm.cli", "check", str(SEED), "--json"),
            *("--llm", "local", "--ask", "extract"),
        ],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    rec = json.loads(proc.stdout)
    assert rec["status"] == "ok"
    assert rec["llm"]["backend"] == "local"
    assert rec["llm"]["calls"] + rec["llm"]["cache_hits"] >= 4
    assert rec["llm"]["prompt_tokens"] > 1000
    case = rec["case"]
    assert (case["patient_age"], case["patient_sex"], case["date_of_injury"]) == (
        36,
        "female",
        "2011-11-02",
    )
    assert [(d["outcome"], d["conclusion"]) for d in rec["decisions"]] == [
        ("upheld", "not_medically_necessary")
    ] * 2
    disagreements = [
        f["message"] for f in rec["findings"] if f["code"] == "extraction-disagreement"
    ]
    # The model read the same age, sex, injury date, items and decisions as the rules.
    for word in ("age", "sex", "injury", "decision", "outcome"):
        assert not [m for m in disagreements if word in m.lower()], disagreements
    assert rec["summary"]
    print(json.dumps(rec["llm"]), disagreements)
