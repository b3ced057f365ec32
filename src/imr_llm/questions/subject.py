"""``item_subject``: which treatment, body part, side and spinal level the rationale discusses.

Decides ``treatment-mismatch`` (medium): the subject quote lies inside the rationale and names a
treatment topic unrelated to the item's (catalog aliases and relations decide sameness), a body
region disjoint from the item's, the other side, or another spinal level; and the rationale
nowhere names the item's own treatment / region / side / level.
"""

from __future__ import annotations

import re

from imr_llm.codes import Code
from imr_llm.guidelines import body_regions, find_regions, topics_related, treatment_topics
from imr_llm.llm.responses import RationaleSubject
from imr_llm.questions.base import Answers, LetterView, RationaleQuestion, rationale_span
from imr_llm.questions.quotes import inside, item_evidence, short
from imr_llm.schemas import Decision, Evidence, Finding, Severity


class SubjectQuestion(RationaleQuestion):
    name = "item_subject"
    response_model = RationaleSubject
    codes = (Code.treatment_mismatch,)

    def worth_asking(self, view: LetterView, item: Decision) -> bool:
        span = rationale_span(item)
        return span is not None and could_differ(item.item, view.text[span[0] : span[1]])

    def decide(self, view: LetterView, item: Decision | None, answers: Answers) -> list[Finding]:
        span = rationale_span(item) if item is not None else None
        if item is None or span is None:
            return []
        text = view.text
        answer = answers.one(self.name, item.index)
        finding = subject_finding(item, answer, text, span, item_evidence(text, item))
        return [finding] if finding is not None else []


_LEVEL = re.compile(
    r"\b(?P<r>[CTL])\s?(?P<a>\d{1,2})\s?(?:-|–|/|to|through)\s?(?P<r2>[CTLS])?\s?(?P<b>\d)\b"
    r"|\b(?P<r3>[CTLS])\s?(?P<c>\d{1,2})\b(?!\s*/)",
)
_SIDE = re.compile(r"\b(left|right|bilateral(?:ly)?|both)\b", re.I)


def spinal_levels(text: str) -> set[str]:
    """Spinal segments named in ``text``: ``"L4-5"`` -> ``{"L4", "L5"}``."""
    out = set()
    for m in _LEVEL.finditer(text):
        if m.group("r"):
            r, r2 = m.group("r"), m.group("r2") or m.group("r")
            out |= {f"{r}{m.group('a')}", f"{r2}{m.group('b')}"}
        else:
            out.add(f"{m.group('r3')}{m.group('c')}")
    return out


def _sides(text: str) -> set[str]:
    out = set()
    for m in _SIDE.finditer(text):
        w = m.group(1).lower()
        out.add("bilateral" if w.startswith("bilat") or w == "both" else w)
    return out


def could_differ(item: str, rationale: str) -> bool:
    """Whether some answer could make ``subject_finding`` fire: the rationale nowhere names the
    item's own treatment, its body region, its one side, or its spinal level (each check there
    requires one of these before it reads the answer)."""
    topics = treatment_topics(item)
    if topics and not topics_related(topics, treatment_topics(rationale)):
        return True
    regions = body_regions(item)
    if regions and not (regions & body_regions(rationale)):
        return True
    sides = {m.side for m in find_regions(item) if m.side} or _sides(item)
    one = next(iter(sides)) if len(sides) == 1 else None
    if one in ("left", "right") and not (_sides(rationale) & {one, "bilateral"}):
        return True
    levels = spinal_levels(item)
    return bool(levels) and not (spinal_levels(rationale) & levels)


def subject_finding(
    d: Decision,
    answer: RationaleSubject | None,
    text: str,
    span: tuple[int, int],
    item_ev: list[Evidence],
) -> Finding | None:
    """``treatment-mismatch`` when the verified subject differs from the item and the rationale
    nowhere names the item's own treatment, region, side or level."""
    if answer is None or not item_ev:
        return None
    rationale = text[span[0] : span[1]]
    item = d.item

    def make(what: str, ev: Evidence) -> Finding:
        return Finding(
            code=Code.treatment_mismatch,
            severity=Severity.medium,
            decision_index=d.index,
            message=f"Item {d.index + 1} is '{short(item)}', but its rationale {what}.",
            detector="llm",
            evidence=[*item_ev, ev],
        )

    treatment = answer.treatment
    ev = inside(text, treatment.quote, span) if treatment else None
    if ev is not None:
        item_topics = treatment_topics(item)
        named = treatment_topics(ev.quote)
        if (
            item_topics
            and named
            and not topics_related(item_topics, named)
            and not topics_related(item_topics, treatment_topics(rationale))
        ):
            return make(f"evaluates another treatment: '{short(ev.quote)}'", ev)

    item_regions = body_regions(item)
    subject_evs = [
        e
        for e in (
            inside(text, answer.body_part.quote, span) if answer.body_part else None,
            ev,
        )
        if e is not None
    ]
    for e in subject_evs:
        regions = body_regions(e.quote)
        if (
            item_regions
            and regions
            and not (item_regions & regions)
            and not (item_regions & body_regions(rationale))
        ):
            return make(f"discusses another body part: '{short(e.quote)}'", e)

    side = answer.side
    side_ev = inside(text, side.quote, span) if side else None
    item_sides = {m.side for m in find_regions(item) if m.side} or _sides(item)
    if side is not None and side_ev is not None and side.side in _sides(side_ev.quote):
        other = {"left": "right", "right": "left"}
        if (
            len(item_sides) == 1
            and (s := next(iter(item_sides))) in other
            and side.side == other[s]
            and not (_sides(rationale) & {s, "bilateral"})
        ):
            return make(f"discusses the {side.side} side", side_ev)

    level = answer.spinal_level
    level_ev = inside(text, level.quote, span) if level else None
    item_levels = spinal_levels(item)
    if level_ev is not None and item_levels:
        levels = spinal_levels(level_ev.quote)
        if levels and not (levels & item_levels) and not (spinal_levels(rationale) & item_levels):
            return make(f"discusses another level: '{short(level_ev.quote)}'", level_ev)
    return None
