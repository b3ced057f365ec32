"""Treatment operators: a rationale, side or body part that no longer fits its item."""

from __future__ import annotations

import re

from imr_llm.codes import Code
from imr_llm.evals.metrics import normalize_item
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    Source,
    consistent,
    match_case,
    planted_finding,
    register,
)
from imr_llm.guidelines import find_topics, topics_related, treatment_topics
from imr_llm.schemas import Decision
from imr_llm.segment import Segmentation
from imr_llm.text import anatomy, spans

_MODIFIERS = {
    "purchase",
    "rental",
    "rent",
    "trial",
    "supplies",
    "supply",
    "refill",
    "continued",
    "additional",
    "initial",
    "repeat",
    "home",
    "use",
    "request",
    "requested",
    "x",
    "times",
    "time",
    "per",
    "week",
    "weeks",
    "a",
    "an",
    "the",
    "of",
    "for",
    "to",
    "and",
    "with",
    "visits",
    "visit",
    "sessions",
    "session",
    "qty",
    "quantity",
    "mg",
    "mcg",
    "ml",
    "tab",
    "tabs",
    "tablet",
    "tablets",
    "units",
    "unit",
    "day",
    "days",
    "month",
    "months",
    "once",
    "twice",
    "daily",
    "or",
    "in",
    "on",
}


def _content_words(item: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", normalize_item(item)) if w not in _MODIFIERS}


def _different_treatments(a: str, b: str) -> bool:
    """Whether items ``a`` and ``b`` name treatments the catalog knows and does not relate.

    Related pairs (EMG and NCS, physical therapy and a home exercise kit, two opioids) are
    left alone: their rationales usually discuss both, so a swap would not plant a defect a
    reader could see."""
    ta, tb = treatment_topics(a), treatment_topics(b)
    return bool(ta and tb) and not topics_related(ta, tb) and _content_words(a) != _content_words(b)


@register
class SwapRationales(Operator):
    name = "swap-rationales"
    code = Code.treatment_mismatch
    also = (Code.decision_conclusion_mismatch,)
    description = "swap the rationales of two items whose treatments are unrelated"

    def candidates(self, src, rng):
        ds = [
            d
            for d in src.decisions()
            if d.rationale_span and d.rationale.strip() and not src.flagged(d.index)
        ]
        pairs = []
        for i, a in enumerate(ds):
            for b in ds[i + 1 :]:
                if _different_treatments(a.item, b.item):
                    pairs.append((a, b))
        if not pairs:
            raise CannotApply(
                "fewer than two unflagged items with rationales and unrelated treatments"
            )
        rng.shuffle(pairs)
        same = [
            p
            for p in pairs
            if src.gold_decision(p[0].index)["conclusion"]
            == src.gold_decision(p[1].index)["conclusion"]
        ]
        pairs = same + [p for p in pairs if p not in same]
        return [self._plant(src, a, b) for a, b in pairs]

    def _plant(self, src: Source, a: Decision, b: Decision) -> Planted:
        span_a, span_b = a.rationale_span, b.rationale_span
        assert span_a is not None and span_b is not None  # candidates() keeps items with one
        ra, rb = src.span_text(span_a), src.span_text(span_b)
        ga, gb = src.gold_decision(a.index), src.gold_decision(b.index)
        findings = [
            planted_finding(
                self.code, a.index, f"Rationale of '{b.item}' now sits under '{a.item}'."
            ),
            planted_finding(
                self.code, b.index, f"Rationale of '{a.item}' now sits under '{b.item}'."
            ),
        ]
        updates = {
            a.index: {"conclusion": gb["conclusion"]},
            b.index: {"conclusion": ga["conclusion"]},
        }
        for d, g, concl in ((a, ga, gb["conclusion"]), (b, gb, ga["conclusion"])):
            if (
                concl != "unclear"
                and g["outcome"] in ("upheld", "overturned")
                and not consistent(g["outcome"], concl)
            ):
                findings.append(
                    planted_finding(
                        Code.decision_conclusion_mismatch,
                        d.index,
                        f"The swapped-in rationale concludes {concl.replace('_', ' ')} under a {g['outcome']} decision.",
                    )
                )
        return Planted(
            edits=[Edit(*span_a, rb), Edit(*span_b, ra)],
            findings=findings,
            description=f"rationales of items {a.index} and {b.index} swapped",
            decision_updates=updates,
            expect={"pairs": [(a.index, rb), (b.index, ra)]},
        )

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        if problems:
            return problems
        for i, want in planted.expect["pairs"]:
            if " ".join(seg.decisions[i].rationale.split()) != " ".join(want.split()):
                problems.append(f"item {i} rationale does not read as the swapped one")
        return problems


# ---------------------------------------------------------------- body sites in a decision

# Sentences of a rationale that decide its item: the conclusion's sentence and those that
# speak of the request or give a verdict.
_DECIDING_CUE = re.compile(
    r"\b(?:(?:is|are|was|were|be)\s+(?:not\s+)?(?:[a-z]+ly\s+)?(?:necessary|indicated|"
    r"recommended|warranted|appropriate|supported)|medically\s+necessary|criteria|"
    r"warrants?\s+(?:an?|the)|in\s+question)\b",
    re.I,
)
_SIDE_WORD = re.compile(r"\b(?:left|right)\b", re.I)
_OPPOSITE = {"left": "right", "right": "left"}
_SITE_NAMES = {
    "neck": "cervical spine",
    "thoracic": "thoracic spine",
    "low_back": "lumbar spine",
    "shoulder": "shoulder",
    "elbow": "elbow",
    "wrist_hand": "wrist",
    "hip": "hip",
    "knee": "knee",
    "ankle_foot": "ankle",
}


_RECITES = re.compile(r"\b(?:guidelines?|MTUS|ODG|ACOEM)\b", re.I)


def _deciding_sentences(src: Source, d: Decision) -> list[tuple[int, int]]:
    """The conclusion's sentence, and those giving a verdict that are not a guideline's."""
    assert d.rationale_span is not None  # callers skip items without a rationale
    a, b = d.rationale_span
    ev = d.conclusion_evidence
    return [
        (s, e)
        for s, e in spans.sentences(src.text, a, b)
        if (ev is not None and s <= ev.start < e)
        or (
            _DECIDING_CUE.search(src.text, s, e)
            and ("request" in src.text[s:e].lower() or not _RECITES.search(src.text, s, e))
        )
    ]


def _side_word(text: str, site: anatomy.Site, lo: int, hi: int) -> tuple[int, int] | None:
    """Where the word giving ``site`` its side is: "left" just before it or just after it."""
    before = list(_SIDE_WORD.finditer(text, max(lo, site.start - 32), site.start))
    if before and before[-1].group().lower() == site.side:
        gap = text[before[-1].end() : site.start]
        if re.fullmatch(r"[\s\-]*(?:[A-Za-z]+[\s\-]+){0,2}(?:the\s+)?", gap):
            return before[-1].span()
    after = _SIDE_WORD.search(text, site.end, min(hi, site.end + 16))
    if (
        after
        and after.group().lower() == site.side
        and re.fullmatch(r"\s*[,(:\-]?\s*(?:on\s+the\s+)?", text[site.end : after.start()])
    ):
        return after.span()
    return None


def _unilateral_item_sites(src: Source, d: Decision) -> list[anatomy.Site]:
    """The item's sites on one side of a paired part, where neither the item, another item
    nor the case summary names that part on the other side or both."""
    sites = anatomy.find_sites(d.item)
    others = [x for o in src.decisions() if o.index != d.index for x in anatomy.find_sites(o.item)]
    summary = src.summary_span
    if summary:
        others += [x for x in anatomy.find_sites(src.text, *summary) if x.side == "bilateral"]
    out = []
    for s in sites:
        if s.region not in anatomy.LATERAL or s.side not in _OPPOSITE:
            continue
        if any(
            anatomy.compatible(x.region, s.region) and x.side not in (s.side, None)
            for x in [*sites, *others]
        ):
            continue
        out.append(s)
    return out


def _item_unchanged(src: Source, planted: Planted, seg: Segmentation) -> list[str]:
    """Problems if the edited item (``expect["index"]``) no longer reads as it did."""
    i = planted.expect["index"]
    a, b = src.seg.decisions[i], seg.decisions[i]
    problems = []
    if (a.outcome, a.conclusion) != (b.outcome, b.conclusion):
        problems.append(f"item {i} now parses differently")
    if normalize_item(a.item) != normalize_item(b.item):
        problems.append(f"item {i}'s heading changed")
    return problems


@register
class SwapSide(Operator):
    name = "swap-side"
    code = Code.treatment_mismatch
    description = "flip left/right of the item's body site in the sentences deciding it"

    def candidates(self, src, rng):
        out = []
        for d in src.decisions():
            if src.flagged(d.index) or not d.rationale_span:
                continue
            for s in _unilateral_item_sites(src, d):
                edits = []
                for a, b in _deciding_sentences(src, d):
                    same = [
                        x
                        for x in anatomy.find_sites(src.text, a, b)
                        if x.region in anatomy.LATERAL and anatomy.compatible(x.region, s.region)
                    ]
                    if not same:
                        continue
                    words = [_side_word(src.text, x, a, b) for x in same]
                    if any(x.side != s.side for x in same) or None in words:
                        edits = []  # a sentence this edit cannot make one-sided
                        break
                    for w in dict.fromkeys(words):
                        old = src.text[w[0] : w[1]]
                        edits.append(Edit(w[0], w[1], match_case(_OPPOSITE[old.lower()], old)))
                if not edits:
                    continue
                other = _OPPOSITE[s.side]
                out.append(
                    Planted(
                        edits=edits,
                        findings=[
                            planted_finding(
                                self.code,
                                d.index,
                                f"The item is for the {s.side} {s.text}; the rationale's deciding "
                                f"sentence now names the {other} {s.text}.",
                            )
                        ],
                        description=f"item {d.index}: {s.side} {s.text} -> {other} in its "
                        "deciding sentence",
                        expect={"index": d.index, "after": [e.new for e in edits]},
                    )
                )
                break
        if not out:
            raise CannotApply(
                "no unflagged item on one side of a paired body part whose deciding sentence "
                "names that side"
            )
        rng.shuffle(out)
        return out

    def verify(self, src, planted, text, seg):
        return super().verify(src, planted, text, seg) or _item_unchanged(src, planted, seg)


@register
class SwapBodyPart(Operator):
    name = "swap-body-part"
    code = Code.treatment_mismatch
    description = "name another body region in place of the item's in the sentences deciding it"

    def candidates(self, src, rng):
        out = []
        letter_regions = {x.region for o in src.decisions() for x in anatomy.find_sites(o.item)}
        for d in src.decisions():
            if src.flagged(d.index) or not d.rationale_span or not treatment_topics(d.item):
                continue
            regions = {x.region for x in anatomy.find_sites(d.item)}
            if not regions:
                continue
            choices = [
                r
                for r in _SITE_NAMES
                if r not in letter_regions
                and not any(anatomy.compatible(r, q) for q in letter_regions)
            ]
            if not choices:
                continue
            hits = []
            for a, b in _deciding_sentences(src, d):
                here = [
                    x
                    for x in anatomy.find_sites(src.text, a, b)
                    if any(anatomy.compatible(x.region, r) for r in regions)
                ]
                # a site word inside a treatment's name ("hand therapy") cannot change; a
                # long list of sites would read as nonsense once replaced
                names = [(a + m.start, a + m.end) for m in find_topics(src.text[a:b])]
                if len(here) > 2 or any(s <= x.start < e for x in here for s, e in names):
                    hits = []
                    break
                hits += here
            if not hits:
                continue
            if any(x.side in ("left", "right") for x in hits):
                # "right knee", not "right spine"
                choices = [r for r in choices if r in anatomy.LATERAL]
            if not choices:
                continue
            new_region = rng.choice(sorted(choices))
            edits = []
            for x in hits:
                name = _SITE_NAMES[new_region]
                if new_region in anatomy.LATERAL and x.side == "bilateral" and x.text.endswith("s"):
                    name += "s"
                edits.append(Edit(x.start, x.end, match_case(name, x.text)))
            if not edits:
                continue
            out.append(
                Planted(
                    edits=edits,
                    findings=[
                        planted_finding(
                            self.code,
                            d.index,
                            f"The item concerns the {', '.join(sorted(regions))}; its deciding "
                            f"sentence now names the {_SITE_NAMES[new_region]}.",
                        )
                    ],
                    description=f"item {d.index}: deciding sentence names the "
                    f"{_SITE_NAMES[new_region]}",
                    expect={"index": d.index},
                )
            )
        if not out:
            raise CannotApply(
                "no unflagged item for a body region whose deciding sentence names that region"
            )
        rng.shuffle(out)
        return out

    def verify(self, src, planted, text, seg):
        return super().verify(src, planted, text, seg) or _item_unchanged(src, planted, seg)
