"""The fixed tune/check split and `imr-llm eval --split`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from builders import EVALS
from imr_llm.cli import app
from imr_llm.evals.runner import load_set
from imr_llm.evals.split import split_of

MUTATIONS = EVALS / "mutations"


def test_split_is_by_base_letter_and_about_one_in_three_check():
    ids = [lab.letter_id for lab in load_set(MUTATIONS).labels]
    for i in ids:
        assert split_of(i) == split_of(i.split("__")[0])
    bases = sorted({i.split("__")[0] for i in ids})
    check = [b for b in bases if split_of(b) == "check"]
    assert 0.25 <= len(check) / len(bases) <= 0.42


def test_eval_split_scores_only_that_side(tmp_path):
    labels = load_set(MUTATIONS).labels
    seen = {}
    for side in ("tune", "check"):
        out = tmp_path / side
        res = CliRunner().invoke(
            app, ["eval", str(MUTATIONS), "--split", side, "--limit", "40", "--out", str(out)]
        )
        assert res.exit_code == 0, res.output
        run = json.loads((out / "scorecard.json").read_text())["run"]
        assert run["split"] == side and "--split " + side in run["command"]
        assert run["labeled"] == sum(split_of(lab.letter_id) == side for lab in labels)
        assert all(split_of(i) == side for i in run["letter_ids"])
        seen[side] = set(run["letter_ids"])
    assert seen["tune"] and seen["check"] and not seen["tune"] & seen["check"]
