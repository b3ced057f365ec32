"""Evals: metric arithmetic, scorecards, compare, the labeled sets, and mutation operators."""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from imr_llm.evals.metrics import (
    CODE_SEVERITY,
    GoldLabel,
    load_label,
    match_findings,
    normalize_item,
    score,
)
from imr_llm.evals.mutate import OPERATORS, Edit, apply_edits, format_like, mutate
from imr_llm.evals.runner import load_set, run_eval
from imr_llm.evals.scorecard import compare, format_deltas, load_scorecard, write_scorecard
from imr_llm.ingest import read_letter
from imr_llm.schemas import AuditRecord, CaseFacts, Decision, Finding, LLMUsage
from imr_llm.segment import segment
from imr_llm.text import dates as dateparse

ROOT = Path(__file__).resolve().parents[1]
EVALS = ROOT / "evals"
AUTHORED = EVALS / "authored"
PLANTED_CODES = (
    "decision-conclusion-mismatch",
    "criteria-decision-mismatch",
    "fact-contradiction",
    "treatment-mismatch",
    "guideline-topic-mismatch",
    "guideline-region-mismatch",
    "date-inconsistency",
    "demographic-inconsistency",
    "quantity-over-limit",
    "suspicious-instructions",
    "missing-decision",
    "missing-rationale",
    "citation-disagreement",
)


# ---------------------------------------------------------------- metric arithmetic


def _gold(letter_id: str, findings: list[tuple[str, int | None]], items=(), **case) -> GoldLabel:
    return GoldLabel.model_validate(
        {
            "letter_id": letter_id,
            "file": f"{letter_id}.txt",
            "layout": "dwc-2016",
            "case": case,
            "decisions": [{"item": i, "outcome": o, "conclusion": c} for i, o, c in items],
            "findings": [{"code": c, "decision_index": i, "note": ""} for c, i in findings],
        }
    )


def _rec(
    letter_id: str, findings: list[tuple[str, int | None]], items=(), seconds=1.0, calls=0, **case
):
    return AuditRecord(
        letter_id=letter_id,
        source=f"{letter_id}.txt",
        case=CaseFacts(**case),
        decisions=[
            Decision(index=k, item=i, outcome=o, conclusion=c, span=(0, 1))
            for k, (i, o, c) in enumerate(items)
        ],
        findings=[
            Finding(
                code=c,
                severity=CODE_SEVERITY.get(c, "medium"),
                decision_index=i,
                message=f"{c}@{i}",
            )
            for c, i in findings
        ],
        seconds=seconds,
        llm=LLMUsage(calls=calls, prompt_tokens=100 * calls, completion_tokens=10 * calls),
    )


UP, NMN = "upheld", "not_medically_necessary"
OV, MN = "overturned", "medically_necessary"


def _example():
    golds = [
        _gold(
            "L1",
            [
                ("decision-conclusion-mismatch", 0),
                ("fact-contradiction", 1),
                ("date-inconsistency", None),
            ],
            items=[("MRI of the knee.", UP, NMN), ("Norco 10/325 #60", UP, NMN)],
            case_number="CM16-0000001",
            patient_age=40,
            patient_sex="male",
        ),
        _gold("L2", [], items=[("TENS unit", OV, MN)], case_number="CM16-0000002", patient_age=51),
        _gold(
            "L3",
            [("fact-contradiction", 0), ("missing-rationale", 1)],
            items=[("PT 2x4", OV, MN), ("Lidoderm", UP, "unclear")],
            case_number="CM16-0000003",
        ),
    ]
    records = [
        _rec(
            "L1",
            [
                ("decision-conclusion-mismatch", 0),
                ("fact-contradiction", 0),
                ("date-inconsistency", None),
                ("date-inconsistency", 1),
                ("treatment-mismatch", 1),
                ("citation-disagreement", 0),
            ],
            items=[("mri of the  knee", UP, NMN), ("Norco 10/325 #60", OV, NMN)],
            case_number="CM16-0000001",
            patient_age=40,
            patient_sex="female",
            seconds=2.0,
            calls=2,
        ),
        _rec(
            "L2",
            [("quantity-over-limit", 0), ("quantity-over-limit", 0)],
            items=[("TENS unit", OV, MN)],
            case_number="cm16-0000002",
            patient_age=51,
            calls=1,
        ),
        _rec(
            "L3",
            [("fact-contradiction", None)],
            items=[("PT 2x4", OV, MN)],
            case_number="CM16-0000003",
            patient_age=33,
        ),
    ]
    return golds, records


def test_normalize_item():
    assert normalize_item("  MRI of the\n Knee.;  ") == "mri of the knee"
    assert normalize_item("Norco 10/325 #60") == "norco 10/325 #60"
    assert normalize_item(None) == ""


def test_match_findings_rules():
    gold = _gold("x", [("date-inconsistency", None), ("fact-contradiction", 2)]).findings
    produced = _rec(
        "x", [("date-inconsistency", 0), ("date-inconsistency", 3), ("fact-contradiction", None)]
    ).findings
    matches, misses, alarms = match_findings(gold, produced)
    assert len(matches) == 2 and not misses and not alarms


def test_metric_arithmetic():
    golds, records = _example()
    card = score(golds, records, set_name="tiny")
    c = card.codes
    assert (c["decision-conclusion-mismatch"].tp, c["decision-conclusion-mismatch"].fp) == (1, 0)
    fc = c["fact-contradiction"]
    assert (fc.tp, fc.fp, fc.fn) == (1, 1, 1)
    assert fc.precision == 0.5 and fc.recall == 0.5 and fc.f1 == 0.5
    di = c["date-inconsistency"]
    assert (di.tp, di.fp, di.fn) == (1, 0, 0)
    tm = c["treatment-mismatch"]
    assert (tm.tp, tm.fp, tm.fn) == (0, 1, 0) and tm.precision == 0.0 and tm.recall is None
    assert tm.f1 == 0.0
    qol = c["quantity-over-limit"]
    assert (qol.tp, qol.fp, qol.fn) == (0, 1, 0)
    mr = c["missing-rationale"]
    assert (mr.tp, mr.fp, mr.fn) == (0, 0, 1) and mr.precision is None and mr.recall == 0.0
    cit = c["citation-disagreement"]
    assert cit.info and (cit.tp, cit.fp) == (0, 1)

    overall = card.totals()
    assert (overall.tp, overall.fp, overall.fn) == (3, 3, 2)
    assert overall.precision == pytest.approx(0.5)
    assert overall.recall == pytest.approx(0.6)
    assert overall.f1 == pytest.approx(6 / 11)
    assert card.totals(info=True).fp == 1

    assert card.clean.letters == 1 and card.clean.false_positives == 1
    assert card.clean.fp_per_letter == 1.0 and card.clean.letters_with_fp == 1

    f = card.fields
    assert (f["case_number"].correct, f["case_number"].total) == (3, 3)
    assert (f["patient_sex"].correct, f["patient_sex"].wrong, f["patient_sex"].spurious) == (
        2,
        1,
        0,
    )
    assert (f["patient_age"].correct, f["patient_age"].spurious) == (2, 1)
    assert f["patient_age"].accuracy == pytest.approx(2 / 3)

    it = card.items
    assert (it.letters, it.count_match, it.gold_items, it.produced_items) == (3, 2, 5, 4)
    assert (it.text_match, it.outcome_correct, it.conclusion_correct) == (4, 3, 4)

    assert card.cost.per_letter("seconds") == pytest.approx(4.0 / 3)
    assert card.cost.per_letter("calls") == pytest.approx(1.0)
    assert card.cost.per_letter("tokens") == pytest.approx(330 / 3)

    kinds = Counter(i.kind for i in card.issues)
    assert kinds["miss"] == 2 and kinds["false_alarm"] == 4
    miss = next(i for i in card.issues if i.kind == "miss" and i.code == "missing-rationale")
    assert (miss.letter, miss.item) == ("L3", "Lidoderm")


def test_scorecard_files_and_compare(tmp_path):
    golds, records = _example()
    old = score(golds, records, set_name="tiny")
    paths = write_scorecard(old, tmp_path / "old")
    assert load_scorecard(tmp_path / "old").totals().tp == 3
    data = json.loads(paths["json"].read_text())
    assert data["overall"]["f1"] == pytest.approx(6 / 11)
    assert data["codes"]["fact-contradiction"]["precision"] == 0.5
    page = paths["html"].read_text()
    assert (
        "<svg" in page
        and "<script" not in page
        and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    assert (
        "| fact-contradiction | high | 1 | 1 | 1 | 0.500 | 0.500 | 0.500 |"
        in paths["md"].read_text()
    )

    records[2].findings.append(
        Finding(code="missing-rationale", severity="high", decision_index=1, message="m")
    )
    records[1].findings = []
    new = score(golds, records, set_name="tiny")
    deltas = {d.metric: d for d in compare(old, paths["json"].parent / "scorecard.json")}
    assert deltas["findings.f1"].delta == 0.0
    deltas = {d.metric: d for d in compare(old, new)}
    assert deltas["findings.f1"].new == pytest.approx(8 / 11)
    assert deltas["findings.f1"].delta == pytest.approx(2 / 11)
    assert deltas["findings.f1"].better is True
    assert (
        deltas["clean.fp_per_letter"].delta == -1.0 and deltas["clean.fp_per_letter"].better is True
    )
    assert deltas["code.missing-rationale.recall"].old == 0.0
    assert deltas["code.missing-rationale.recall"].new == 1.0
    table = format_deltas(compare(old, new, changed_only=True))
    assert "findings.f1" in table and "+0.182" in table and "field.case_number" not in table


# ---------------------------------------------------------------- labeled sets


def _set_dirs() -> list[Path]:
    return sorted(p.parent for p in EVALS.glob("*/set.json"))


def test_sets_exist():
    names = {p.name for p in _set_dirs()}
    assert {"authored", "corpus", "seeds"} <= names


@pytest.mark.parametrize("set_dir", _set_dirs(), ids=lambda p: p.name)
def test_labels_parse_and_reference_letters(set_dir):
    es = load_set(set_dir)
    if not es.letters_dir.is_dir():
        pytest.skip(f"letters for {es.name} are not on this machine ({es.letters_dir})")
    assert es.labels, f"{set_dir} has no labels"
    known = set(CODE_SEVERITY)
    for lab in es.labels:
        assert es.letter_path(lab).is_file(), f"{lab.letter_id}: {lab.file} missing"
        assert Path(lab.file).stem == lab.letter_id
        seen = set()
        for f in lab.findings:
            assert f.code in known, f"{lab.letter_id}: unknown code {f.code}"
            assert f.decision_index is None or 0 <= f.decision_index < len(lab.decisions)
            assert (f.code, f.decision_index) not in seen, f"{lab.letter_id}: duplicate {f.code}"
            seen.add((f.code, f.decision_index))
        for field in ("date_assigned", "date_of_injury", "decision_date", "ur_denial_date"):
            value = getattr(lab.case, field)
            assert value is None or date.fromisoformat(value)


def test_authored_set_composition():
    labels = [load_label(p) for p in sorted((AUTHORED / "labels").glob("*.json"))]
    assert len(labels) >= 24
    layouts = Counter(lab.layout for lab in labels)
    assert set(layouts) == {"dwc-2013", "dwc-2014", "dwc-2015", "dwc-2016"}
    assert sum(1 for lab in labels if not lab.findings) >= 6
    per_code: Counter = Counter()
    code_layouts: dict[str, set] = defaultdict(set)
    for lab in labels:
        for f in lab.findings:
            per_code[f.code] += 1
            code_layouts[f.code].add(lab.layout)
    for code in PLANTED_CODES:
        assert per_code[code] >= 2, f"{code} planted {per_code[code]} times"
        assert len(code_layouts[code]) >= 2, f"{code} only in {code_layouts[code]}"
    qol_outcomes = {
        lab.decisions[f.decision_index].outcome
        for lab in labels
        for f in lab.findings
        if f.code == "quantity-over-limit"
    }
    assert qol_outcomes == {"upheld", "overturned"}


def _flex(s: str) -> str:
    return r"\s+".join(re.escape(w) for w in s.split())


def test_authored_labels_match_their_text():
    for p in sorted((AUTHORED / "labels").glob("*.json")):
        lab = load_label(p)
        text = (AUTHORED / "letters" / lab.file).read_text()
        if lab.case.case_number:
            assert lab.case.case_number in text
        assert re.search(rf"\b{lab.case.patient_age} year old {lab.case.patient_sex}\b", text)
        assert re.search(_flex(lab.case.reviewer_specialty), text)
        for d in lab.decisions:
            assert re.search(_flex(d.item), text, re.I), f"{lab.letter_id}: {d.item!r} not in text"


def test_run_eval_on_authored_set(tmp_path):
    calls = []

    def process(path: Path) -> AuditRecord:
        calls.append(path)
        if path.stem == "A13-01":
            raise RuntimeError("boom")
        return AuditRecord(letter_id=path.stem, source=str(path))

    card = run_eval(AUTHORED, process, out=tmp_path)
    n = len(list((AUTHORED / "labels").glob("*.json")))
    assert len(calls) == card.letters == n and card.errors == 1
    assert card.totals().tp == 0 and card.totals().fn > 0
    assert (tmp_path / "scorecard.html").is_file()
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == n
    assert (tmp_path / "scorecard.json").stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------- mutations


def test_apply_edits_and_format_like():
    text, changes = apply_edits("abcdef", [Edit(4, 5, "XYZ"), Edit(1, 1, "--"), Edit(2, 3, "")])
    assert text == "a--bdXYZf"
    for c in changes:
        assert text[c.start : c.end] == c.after
    assert format_like("11-3-16", date(2015, 8, 9)) == "8-9-15"
    assert format_like("01/05/2014", date(2015, 8, 9)) == "08/09/2015"
    assert format_like("October 13, 2016", date(2015, 8, 9)) == "August 9, 2015"


CLEAN_AUTHORED = sorted(
    AUTHORED / "letters" / load_label(p).file
    for p in (AUTHORED / "labels").glob("*.json")
    if not load_label(p).findings
)


@pytest.fixture(scope="module")
def mutated(tmp_path_factory):
    out = tmp_path_factory.mktemp("mutated")
    report = mutate(CLEAN_AUTHORED, out, seed=7)
    return out, report


def _reparse(path: Path):
    letter = read_letter(path)
    return letter, segment(letter)


def _rationale(d) -> str:
    return " ".join(d.rationale.split())


def test_mutation_report_and_set(mutated):
    out, report = mutated
    assert json.loads((out / "set.json").read_text())["letters_dir"] == "letters"
    assert json.loads((out / "mutations.json").read_text())["seed"] == 7
    assert {a.operator for a in report.applied} == set(OPERATORS)
    for s in report.skipped:
        assert s.reason, f"{s.operator} skipped {s.source} without a reason"
    es = load_set(out)
    assert len(es.labels) == len(report.applied)
    for lab in es.labels:
        assert es.letter_path(lab).is_file()
        assert "gold:" in lab.mutation["label_source"]


def test_mutation_is_deterministic(mutated, tmp_path):
    out, report = mutated
    again = mutate(CLEAN_AUTHORED[:3], tmp_path, seed=7)
    for a in again.applied:
        assert (tmp_path / "letters" / f"{a.letter_id}.txt").read_text() == (
            out / "letters" / f"{a.letter_id}.txt"
        ).read_text()


@pytest.mark.parametrize(
    ("a", "b", "swapped"),
    [
        ("MRI of the lumbar spine", "Acupuncture 6 sessions", True),
        ("EMG of the bilateral upper extremities", "NCS of the bilateral upper extremities", False),
        ("Physical therapy 2x6 lumbar spine", "Home exercise kit", False),
        ("Norco 10/325mg #60", "Oxycodone 10mg #90", False),
        ("Physical exam 2 times 8", "Initial exam", False),
        ("Gym membership 6 months", "Ultrasound 1 times 8", False),
    ],
)
def test_swap_rationales_pairs_only_unrelated_treatments(a, b, swapped):
    from imr_llm.evals.mutate.treatments import _different_treatments

    assert _different_treatments(a, b) is swapped


def test_operator_that_cannot_apply_says_why(tmp_path):
    src = AUTHORED / "letters" / "A14-02.txt"
    report = mutate([src], tmp_path, seed=1, operators=["raise-quantity", "pronoun-switch"])
    skipped = {s.operator: s.reason for s in report.skipped}
    assert "raise-quantity" in skipped and "quantity" in skipped["raise-quantity"]
    with pytest.raises(ValueError, match="unknown operator"):
        mutate([src], tmp_path, seed=1, operators=["no-such-op"])


@pytest.mark.parametrize("name", list(OPERATORS))
def test_operator_produces_its_label(mutated, name):
    out, report = mutated
    applied = [a for a in report.applied if a.operator == name]
    assert applied, f"{name} applied to none of the clean authored letters"
    op = OPERATORS[name]
    for a in applied:
        path = Path(a.letter_file)
        label = json.loads(Path(a.label_file).read_text())
        lab = GoldLabel.model_validate(label)
        source_label = load_label(AUTHORED / "labels" / f"{Path(a.source).stem}.json")
        letter, seg = _reparse(path)
        for c in a.changes:
            assert letter.text[c.start : c.end] == c.after
        planted = [f for f in lab.findings if f.code == op.code]
        assert planted, f"{a.letter_id}: label lacks {op.code}"
        idx = planted[0].decision_index
        src_letter, src_seg = _reparse(Path(a.source))
        assert len(seg.decisions) == len(src_seg.decisions)
        if idx is not None:
            assert len(seg.decisions) == len(lab.decisions)
        d = seg.decisions[idx] if idx is not None else None
        if name == "flip-decision":
            assert d.outcome == lab.decisions[idx].outcome != source_label.decisions[idx].outcome
            assert d.conclusion == source_label.decisions[idx].conclusion
        elif name == "flip-conclusion":
            assert d.conclusion == lab.decisions[idx].conclusion
            assert d.conclusion != source_label.decisions[idx].conclusion
            assert d.outcome == source_label.decisions[idx].outcome
        elif name == "swap-region-chapter":
            new = next(c.after for c in a.changes if not c.after.isdigit())
            assert new in d.reviewer_guideline
        elif name == "swap-topic-citation":
            assert " ".join(d.reviewer_guideline.split()) in " ".join(a.changes[0].after.split())
        elif name == "date-before-injury":
            moved = dateparse.parse_date(a.changes[0].after)
            assert moved < date.fromisoformat(lab.case.date_of_injury)
            s0, s1 = seg.sections.summary
            assert s0 <= a.changes[0].start < s1
            assert seg.case.date_of_injury.isoformat() == lab.case.date_of_injury
        elif name == "pronoun-switch":
            assert seg.case.patient_sex == lab.case.patient_sex
            words = (
                "she|her|hers|herself" if lab.case.patient_sex == "male" else "he|him|his|himself"
            )
            other = rf"(?<![/\w])({words})\b(?!/)"
            assert len(re.findall(other, letter.text[a.changes[0].start :], re.I)) >= 2
        elif name == "swap-rationales":
            i, j = [f.decision_index for f in planted]
            assert _rationale(seg.decisions[i]) == _rationale(src_seg.decisions[j])
            assert _rationale(seg.decisions[j]) == _rationale(src_seg.decisions[i])
            assert seg.decisions[i].conclusion == lab.decisions[i].conclusion
        elif name == "no-documentation":
            assert "There is no documentation of" in _rationale(d)
            assert d.conclusion == "not_medically_necessary" == lab.decisions[idx].conclusion
        elif name == "raise-quantity":
            assert normalize_item(d.item) == normalize_item(lab.decisions[idx].item)
            assert d.item != source_label.decisions[idx].item
            assert d.outcome == "overturned"
        elif name == "inject-instructions":
            assert a.changes[0].after.strip() in letter.text
            assert [(x.outcome, x.conclusion) for x in seg.decisions] == [
                (x.outcome, x.conclusion) for x in src_seg.decisions
            ]


def test_operators_register_by_family_and_name_their_codes():
    import pkgutil

    import imr_llm.evals.mutate as pkg
    from imr_llm.codes import Code
    from imr_llm.evals.mutate import FAMILIES

    modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)} - {"base", "labels", "run"}
    assert modules == set(FAMILIES), "list every operator module in FAMILIES"
    for op in OPERATORS.values():
        assert all(isinstance(c, Code) for c in op.codes), op.name


def test_citation_tables_come_from_the_catalog():
    from imr_llm.evals.mutate.citations import (
        AS_GENERATED,
        CHAPTER_PAGES,
        catalog_section,
        decoys,
        region_chapters,
    )

    chapters = region_chapters()
    assert [c.number for c in chapters] == list(range(8, 15))
    assert {c.number for c in chapters if c.pages} == set(CHAPTER_PAGES)
    assert len({c.region for c in chapters}) == len(chapters)
    assert len(decoys()) == 9
    # the kept values are only those where the catalog says otherwise
    for topic, kept in AS_GENERATED.items():
        section, pages = catalog_section(topic)
        for field, value in kept.items():
            assert value != {"section": section, "pages": pages}[field], (topic, field)


@pytest.mark.parametrize(
    ("item", "limit"),
    [
        ("Chiropractic 6 visits", 18),
        ("Acupuncture 6 sessions", 6),
        ("Massage therapy 8 visits", 6),
        ("Trigger point injections x4", 4),
        ("Physical therapy 2x4", 10),
        ("Aquatic therapy 12 visits", 10),
        ("MRI of the lumbar spine", None),
    ],
)
def test_raise_quantity_limits_come_from_the_catalog(item, limit):
    from imr_llm.evals.mutate.quantity import known_limit

    found = known_limit(item)
    assert (found[0] if found else None) == limit
    if found:
        assert str(limit) in found[1]


def test_gold_dirs_default_to_evals_of_the_working_directory(tmp_path, monkeypatch):
    from imr_llm.evals.mutate import GoldDirsMissing

    src = AUTHORED / "letters" / "A14-02.txt"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GoldDirsMissing, match="--gold"):
        mutate([src], tmp_path / "out", seed=1, operators=["inject-instructions"])
    assert not (tmp_path / "out").exists()
    report = mutate(
        [src], tmp_path / "out", seed=1, operators=["inject-instructions"], gold_dirs=[]
    )
    assert [a.label_source for a in report.applied] == ["parse"]
    report = mutate(
        [src], tmp_path / "gold", seed=1, operators=["inject-instructions"], gold_dirs=[EVALS]
    )
    assert report.applied[0].label_source.startswith("gold:")


CORPUS = Path(os.environ.get("IMR_LLM_SHARED", ROOT.parent / "shared")) / "corpus" / "dwc-2016"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not on this machine")
def test_mutate_corpus_letters_keep_gold_labels(tmp_path):
    pdfs = sorted(CORPUS.glob("*.pdf"))[:4]
    report = mutate(pdfs, tmp_path, seed=3, operators=["flip-decision", "date-before-injury"])
    assert report.applied
    for a in report.applied:
        lab = json.loads(Path(a.label_file).read_text())
        gold = json.loads((EVALS / "corpus" / "labels" / f"{Path(a.source).stem}.json").read_text())
        assert a.label_source.startswith("gold:") and "corpus" in a.label_source
        assert lab["case"] == gold["case"]
        assert lab["findings"][: len(gold["findings"])] == gold["findings"]
        assert lab["findings"][-1]["code"] == OPERATORS[a.operator].code
