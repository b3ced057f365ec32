"""Kinds first seen on letters written blind to the code (evals/authored-blind), kept as
regressions once fixed: a cue word inside a longer word, a group site beside a specific one,
and a rationale that names the item's paired part only on the other side."""

from __future__ import annotations

from builders import EVALS
from imr_llm.pipeline import process_file
from imr_llm.text.anatomy import find_sites, most_specific

BLIND = EVALS / "authored-blind" / "letters"


def codes(name: str) -> set[tuple[str, int | None]]:
    rec = process_file(BLIND / name)
    return {(f.code, f.decision_index) for f in rec.findings if f.severity in ("medium", "high")}


def test_a_date_after_the_decision_in_a_rationale():
    assert ("date-inconsistency", None) in codes("B03.txt")


def test_rationale_naming_only_the_other_side():
    assert ("treatment-mismatch", 0) in codes("B04.txt")
    assert ("treatment-mismatch", 0) in codes("B05.txt")


def test_conclusion_about_another_spine_region():
    assert ("treatment-mismatch", 0) in codes("B10.txt")


def test_clean_blind_letters_stay_clean():
    assert codes("B11.txt") == set() and codes("B12.txt") == set()


def test_group_site_beside_a_member_is_dropped():
    sites = most_specific(find_sites("3 injections to the cervical paraspinal muscles"))
    assert [s.region for s in sites] == ["neck"]
