"""`imr-llm eval` and `imr-llm eval mutate` through the real CLI (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builders import EVALS, EXAMPLES, SEEDS
from imr_llm.cli import app
from imr_llm.evals.runner import load_set
from imr_llm.evals.scorecard import load_scorecard

AUTHORED = EVALS / "authored"
TWO_LETTERS = [str(EXAMPLES / "CM16-0213037.pdf"), str(EXAMPLES / "000_9c64455a8480a098.txt")]


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def card_json(out: Path) -> dict:
    return json.loads((out / "scorecard.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- eval


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seeds not on this machine")
def test_eval_seeds_writes_scorecard(tmp_path):
    out = tmp_path / "seeds"
    res = invoke("eval", EVALS / "seeds", "--out", out)
    assert res.exit_code == 0, res.output
    assert "| **overall** |" in res.stdout and "## Case fields" in res.stdout
    for name in ("scorecard.json", "scorecard.md", "scorecard.html", "records.jsonl"):
        assert (out / name).is_file()
        assert (out / name).stat().st_mode & 0o077 == 0
    data = card_json(out)
    assert data["letters"] == 2
    assert data["run"]["backend"] == "none" and data["run"]["selection"] == "all"
    assert len((out / "records.jsonl").read_text().splitlines()) == 2
    assert load_scorecard(out).letters == 2  # the run block does not upset the loader


def test_eval_authored_states_the_run(tmp_path):
    out = tmp_path / "a"
    res = invoke("eval", AUTHORED, "--out", out)
    assert res.exit_code == 0, res.output
    run = card_json(out)["run"]
    assert run["set_name"] == "authored"
    assert run["used"] == run["labeled"] == len(load_set(AUTHORED).labels)
    assert run["backend"] == "none" and run["model"] is None and run["seed"] is None
    assert run["command"].startswith("imr-llm eval ") and "--llm none" in run["command"]
    md = (out / "scorecard.md").read_text()
    assert f"Sample: {run['used']} of {run['labeled']} labeled letters of set `authored`" in md
    assert "Backend: rules only" in md
    assert "Backend: rules only" in (out / "scorecard.html").read_text()
    assert "Sample:" in res.stdout and "## Misses and false alarms" not in res.stdout


def test_eval_sample_is_seeded_and_limit_takes_the_first(tmp_path):
    labels = [lab.letter_id for lab in load_set(AUTHORED).labels]
    runs = []
    for k in range(2):
        out = tmp_path / f"s{k}"
        res = invoke("eval", AUTHORED, "--sample", "5", "--seed", "3", "--out", out)
        assert res.exit_code == 0, res.output
        runs.append(card_json(out))
    a, b = (r["run"] for r in runs)
    assert a["letter_ids"] == b["letter_ids"] and len(a["letter_ids"]) == 5
    assert a["letter_ids"] == [x for x in labels if x in a["letter_ids"]]  # set order
    assert a["selection"] == "sample" and a["seed"] == 3
    assert runs[0]["letters"] == 5
    assert "random sample (--sample 5 --seed 3)" in (tmp_path / "s0" / "scorecard.md").read_text()
    other = tmp_path / "s9"
    assert invoke("eval", AUTHORED, "--sample", "5", "--seed", "9", "--out", other).exit_code == 0
    assert card_json(other)["run"]["letter_ids"] != a["letter_ids"]

    out = tmp_path / "lim"
    assert invoke("eval", AUTHORED, "--limit", "3", "--out", out).exit_code == 0
    data = card_json(out)
    assert data["run"]["letter_ids"] == labels[:3] and data["run"]["selection"] == "first"
    assert data["letters"] == 3
    assert len((out / "records.jsonl").read_text().splitlines()) == 3


def test_eval_letters_scores_exactly_the_named_letters(tmp_path):
    labels = [lab.letter_id for lab in load_set(AUTHORED).labels]
    want = [labels[4], labels[1]]
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(want) + "\n")
    for k, arg in enumerate([",".join(want), f"@{listing}"]):
        out = tmp_path / f"l{k}"
        res = invoke("eval", AUTHORED, "--letters", arg, "--out", out)
        assert res.exit_code == 0, res.output
        run = card_json(out)["run"]
        assert run["letter_ids"] == [labels[1], labels[4]] and run["selection"] == "listed"
        assert f"--letters {labels[1]},{labels[4]}" in run["command"]
        assert len((out / "records.jsonl").read_text().splitlines()) == 2


def test_eval_compare_prints_deltas(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    assert invoke("eval", AUTHORED, "--limit", "4", "--out", old).exit_code == 0
    res = invoke("eval", AUTHORED, "--out", new, "--compare", old / "scorecard.json")
    assert res.exit_code == 0, res.output
    assert "Changes against" in res.stdout and "findings.recall" in res.stdout
    assert (new / "compare.txt").read_text().startswith(f"old: {old / 'scorecard.json'}")
    same = invoke("eval", AUTHORED, "--limit", "4", "--compare", old)  # a directory works too
    assert same.exit_code == 0, same.output
    assert "findings.f1" not in same.stdout  # only changed metrics are listed


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-set"],
        ["{authored}", "--limit", "2", "--sample", "2"],
        ["{authored}", "--seed", "3"],
        ["{authored}", "--letters", "NO-SUCH-LETTER"],
        ["{authored}", "--letters", "@no-such-file.txt"],
        ["{authored}", "--letters", "A13-01", "--limit", "2"],
        ["{authored}", "--limit", "0"],
        ["{authored}", "--compare", "no-such-scorecard.json"],
        ["{authored}", "--no-such-option"],
        ["{authored}", "--llm", "bogus"],
        ["{authored}", "--llm", "local", "--base-url", "http://example.com/v1"],
    ],
)
def test_eval_usage_errors_exit_2(args, tmp_path):
    res = invoke("eval", *[a.format(authored=AUTHORED) for a in args], "--out", tmp_path / "o")
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "o" / "scorecard.json").exists()


def test_eval_openai_without_model_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("IMR_LLM_MODEL", raising=False)
    res = invoke("eval", AUTHORED, "--llm", "openai")
    assert res.exit_code == 2 and "model" in res.output


def test_eval_letters_dir_missing_is_a_usage_error(tmp_path):
    (tmp_path / "labels").mkdir()
    label = json.loads(next((AUTHORED / "labels").glob("*.json")).read_text())
    (tmp_path / "labels" / f"{label['letter_id']}.json").write_text(json.dumps(label))
    (tmp_path / "set.json").write_text(json.dumps({"name": "x", "letters_dir": "nowhere"}))
    res = invoke("eval", tmp_path)
    assert res.exit_code == 2 and "letters directory" in res.output


def test_usage_error_naming_a_long_path_is_one_line_at_any_width(tmp_path):
    """Issue 15, item 10: the message is not wrapped by Rich, so it reads the same whatever
    the terminal width (COLUMNS) or the length of the temporary path."""
    deep = tmp_path / ("a-long-folder-name-" * 6) / ("b" * 120) / ("c" * 120)
    (deep / "labels").mkdir(parents=True)
    label = json.loads(next((AUTHORED / "labels").glob("*.json")).read_text())
    (deep / "labels" / f"{label['letter_id']}.json").write_text(json.dumps(label))
    (deep / "set.json").write_text(json.dumps({"name": "x", "letters_dir": "nowhere"}))
    res = invoke("eval", deep)
    assert res.exit_code == 2
    assert f"{deep}: its letters directory" in res.stderr


def test_eval_accepts_verbosity_flags(tmp_path):
    res = invoke("eval", "-q", AUTHORED, "--limit", "1")
    assert res.exit_code == 0, res.output
    assert res.stdout == ""


def test_eval_with_llm_uses_one_session(fake_openai, tmp_path, monkeypatch):
    import imr_llm.pipeline as pipeline

    entered = []
    original = pipeline.LLMSession.__aenter__

    async def counted(self):
        entered.append(self)
        return await original(self)

    monkeypatch.setattr(pipeline.LLMSession, "__aenter__", counted)
    monkeypatch.setenv("IMR_LLM_BACKOFF_S", "0.01")
    out = tmp_path / "llm"
    res = invoke(
        "eval", AUTHORED, "--limit", "3", "--llm", "openai", "--model", "fake-model",
        "--base-url", fake_openai.base_url, "--out", out, "--ask", "all",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(entered) == 1
    run = card_json(out)["run"]
    assert (run["backend"], run["model"]) == ("openai", "fake-model")
    assert run["base_url"] == fake_openai.base_url
    assert (
        "Backend: `--llm openai`, model `fake-model` at "
        f"{fake_openai.base_url}, asked: checks,extract,summary"
    ) in " ".join((out / "scorecard.md").read_text().split())
    assert "--ask all" in run["command"]
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 3
    assert all(r["llm"]["calls"] > 0 for r in records if r["status"] == "ok")
    assert fake_openai.chat_requests


# ---------------------------------------------------------------- mutate


def test_mutate_two_examples_then_score_them(tmp_path):
    out = tmp_path / "mut"
    res = invoke("eval", "mutate", *TWO_LETTERS, "--out", out, "--seed", "3")
    assert res.exit_code == 0, res.output
    assert "operator" in res.stdout and "applied" in res.stdout and "skipped" in res.stdout
    report = json.loads((out / "mutations.json").read_text())
    assert report["seed"] == 3 and report["applied"]
    assert 0 < len(report["skipped"]) <= 40
    for s in report["skipped"]:
        assert f"{s['operator']}: {s['reason']}" in res.stdout
    es = load_set(out)
    assert len(es.labels) == len(report["applied"])
    assert all(es.letter_path(lab).suffix == ".txt" for lab in es.labels)

    scored = invoke("eval", out, "--out", tmp_path / "card")
    assert scored.exit_code == 0, scored.output
    assert card_json(tmp_path / "card")["letters"] == len(es.labels)


def test_mutate_refuses_to_mix_sets_and_is_deterministic(tmp_path):
    out = tmp_path / "mut"
    assert invoke("eval", "mutate", *TWO_LETTERS, "--out", out, "--seed", "3").exit_code == 0
    first = {p.name: p.read_text() for p in (out / "letters").iterdir()}
    again = invoke("eval", "mutate", TWO_LETTERS[0], "--out", out, "--seed", "3")
    assert again.exit_code == 2 and "--force" in again.output
    forced = invoke("eval", "mutate", *TWO_LETTERS, "--out", out, "--seed", "3", "--force")
    assert forced.exit_code == 0, forced.output
    assert {p.name: p.read_text() for p in (out / "letters").iterdir()} == first


def test_mutate_operators_option(tmp_path):
    out = tmp_path / "mut"
    res = invoke(
        "eval", "mutate", *TWO_LETTERS, "--out", out, "--seed", "1",
        "--operators", "inject-instructions,date-before-injury",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    ops = {a["operator"] for a in json.loads((out / "mutations.json").read_text())["applied"]}
    assert ops <= {"inject-instructions", "date-before-injury"} and ops


@pytest.mark.parametrize(
    "args",
    [
        ["{letter}", "--out", "{out}", "--operators", "no-such-op"],
        ["{letter}", "--out", "{out}", "--operators", ","],
        ["no-such-letter.pdf", "--out", "{out}"],
        ["{letter}"],  # --out is required
        ["{letter}", "--out", "{out}", "--gold", "{out}/no-such-set"],
        ["{letter}", "--out", "{out}", "--gold", "evals", "--no-gold"],
    ],
)
def test_mutate_usage_errors_exit_2(args, tmp_path):
    out = tmp_path / "mut"
    res = invoke("eval", "mutate", *[a.format(letter=TWO_LETTERS[0], out=out) for a in args])
    assert res.exit_code == 2, res.output
    assert not (out / "mutations.json").exists()


def test_mutate_outside_the_checkout_says_where_gold_labels_come_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no evals/ here
    res = invoke("eval", "mutate", TWO_LETTERS[0], "--out", "mut", "--operators", "flip-decision")
    assert res.exit_code == 2 and "--gold" in res.output and "--no-gold" in res.output
    assert not (tmp_path / "mut").exists()
    gold = invoke(
        "eval", "mutate", TWO_LETTERS[0], "--out", "mut", "--operators", "flip-decision",
        "--gold", EVALS / "corpus",
    )  # fmt: skip
    assert gold.exit_code == 0, gold.output
    applied = json.loads((tmp_path / "mut" / "mutations.json").read_text())["applied"]
    assert applied and all(a["label_source"].startswith("gold:") for a in applied)
    parse = invoke(
        "eval", "mutate", TWO_LETTERS[0], "--out", "mut2", "--operators", "flip-decision",
        "--no-gold",
    )  # fmt: skip
    assert parse.exit_code == 0, parse.output
    applied = json.loads((tmp_path / "mut2" / "mutations.json").read_text())["applied"]
    assert all(a["label_source"] == "parse" for a in applied)
