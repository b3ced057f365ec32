"""text.anatomy: typed body-site mentions with their side."""

from __future__ import annotations

import pytest

from imr_llm.guidelines import catalog
from imr_llm.text.anatomy import GROUPS, REGION_NAMES, compatible, find_sites


def sites(text: str) -> list[tuple[str, str, str | None]]:
    return [(s.text, s.region, s.side) for s in find_sites(text)]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("MRI of the left knee", [("knee", "knee", "left")]),
        ("X-rays knee, left", [("knee", "knee", "left")]),
        ("X-rays of the knee (right)", [("knee", "knee", "right")]),
        ("L knee MRI", [("knee", "knee", "left")]),
        ("Rt. shoulder pain", [("shoulder", "shoulder", "right")]),
        ("left-sided hip pain", [("hip", "hip", "left")]),
        ("the left index finger", [("finger", "wrist_hand", "left")]),
        ("bilateral wrists", [("wrists", "wrist_hand", "bilateral")]),
        ("both shoulders", [("shoulders", "shoulder", "bilateral")]),
        ("right and left knees", [("knees", "knee", "bilateral")]),
        ("MRI knee, left and right", [("knee", "knee", "bilateral")]),
        ("knees bilaterally", [("knees", "knee", "bilateral")]),
        ("x-rays of the knees", [("knees", "knee", "bilateral")]),
        ("EMG of the RUE", [("RUE", "upper_extremity", "right")]),
        (
            "NCV of the bilateral lower extremities",
            [("lower extremities", "lower_extremity", "bilateral")],
        ),
        (
            "left shoulder and elbow",
            [("shoulder", "shoulder", "left"), ("elbow", "elbow", "left")],
        ),
        (
            "therapy for the left shoulder wrist and hip",
            [
                ("shoulder", "shoulder", "left"),
                ("wrist", "wrist_hand", "left"),
                ("hip", "hip", "left"),
            ],
        ),
        (
            "right shoulder, left knee",
            [("shoulder", "shoulder", "right"), ("knee", "knee", "left")],
        ),
        ("the knee, left shoulder", [("knee", "knee", None), ("shoulder", "shoulder", "left")]),
        ("cervical pillow", [("cervical", "neck", None)]),
        ("Lumbar support", [("Lumbar", "low_back", None)]),
        ("low back pain and neck pain", [("low back", "low_back", None), ("neck", "neck", None)]),
        ("L4-5 and L5-S1", [("L4-5", "low_back", None), ("L5-S1", "low_back", None)]),
        ("C5-C6 disc", [("C5-C6", "neck", None)]),
        ("CT of the head", [("head", "head", None)]),
    ],
)
def test_sites_and_sides(text, want):
    assert sites(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "She went back to work.",
        "He returned to full duty; the back of the form was blank.",
        "On the other hand, the records are incomplete.",
        "The head of the department reviewed it.",
        "T1-weighted images",
        "The knee injury left her unable to kneel.",  # "left" is a verb: the knee has no side
    ],
)
def test_no_site_or_no_side(text):
    assert all(s.side is None for s in find_sites(text))
    if "knee" not in text:
        assert find_sites(text) == []


def test_offsets_and_window():
    text = "History: right knee pain. Plan: MRI of the left knee."
    start = text.index("Plan")
    (s,) = find_sites(text, start)
    assert (s.region, s.side) == ("knee", "left")
    assert text[s.start : s.end] == "knee"
    # a side word before the window does not count
    (t,) = find_sites(text, text.index("knee"), text.index("pain"))
    assert t.side is None


def test_compatible_groups():
    assert compatible("knee", "knee")
    assert compatible("upper_extremity", "wrist_hand")
    assert compatible("spine", "low_back")
    assert not compatible("elbow", "wrist_hand")
    assert not compatible("neck", "low_back")


def test_region_ids_are_the_catalogs():
    known = set(catalog().regions)
    extra = {"upper_extremity", "lower_extremity", "spine", "chest", "jaw"}
    assert set(REGION_NAMES) - extra <= known
    for members in GROUPS.values():
        assert members <= known
