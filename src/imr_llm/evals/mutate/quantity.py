"""``raise-quantity``: an overturned item's count raised past its limit."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from imr_llm.codes import Code
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    Source,
    flex,
    planted_finding,
    register,
)
from imr_llm.guidelines import limit_for, treatment_topics
from imr_llm.schemas import Decision
from imr_llm.text import spans


@dataclass(frozen=True)
class KnownLimit:
    """A limit written into a rationale that states none: the catalog topic, which of its
    catalog limits (by scope), and the sentence, whose {low} and {value} come from that limit."""

    topic: str
    scope: str
    sentence: str


# In order: an item naming several of these treatments takes the first.
KNOWN_LIMITS = (
    KnownLimit(
        "manual-therapy",
        "total with functional improvement, over 6-8 weeks",
        "The MTUS allows a trial of 6 visits over 2 weeks and, with objective functional "
        "improvement, up to {value} visits over 6 to 8 weeks.",
    ),
    KnownLimit(
        "acupuncture",
        "time to produce functional improvement",
        "The Acupuncture Medical Treatment Guidelines expect functional improvement within "
        "{low} to {value} treatments.",
    ),
    KnownLimit(
        "massage",
        "usual maximum",
        "The guidelines limit massage therapy to {low} to {value} visits.",
    ),
    KnownLimit(
        "trigger-point-injections",
        "per session",
        "The guidelines allow no more than {low} to {value} trigger point injections per session.",
    ),
    KnownLimit(
        "physical-therapy",
        "myalgia and myositis, over 8 weeks",
        "The MTUS allows {low} to {value} visits over 8 weeks for myalgia and myositis.",
    ),
    KnownLimit(
        "aquatic-therapy",
        "follows the physical medicine visit counts",
        "The MTUS allows {low} to {value} visits over 8 weeks for myalgia and myositis.",
    ),
)


def known_limit(item: str) -> tuple[int, str] | None:
    """The limit on file for the item's treatment and the sentence stating it, if any."""
    topics = treatment_topics(item)
    for known in KNOWN_LIMITS:
        if known.topic not in topics:
            continue
        lim = next((x for x in limit_for(known.topic) if x.scope == known.scope), None)
        if lim is None:
            raise ValueError(
                f"the guideline catalog has no {known.topic} limit for {known.scope!r}"
            )
        words = {
            "low": f"{lim.low if lim.low is not None else lim.value:g}",
            "value": f"{lim.value:g}",
        }
        return int(lim.value), known.sentence.format(**words)
    return None


_QTY_PRODUCT = re.compile(
    r"\b(?P<f>\d{1,2})\s*(?:x|X|times)\s*(?:a\s+week\s+(?:for|x)\s*|per\s+week\s+(?:for|x)\s*|weekly\s+(?:for|x)\s*)?(?P<w>\d{1,2})\b"
)
_QTY_COUNT = re.compile(
    r"\b(?P<n>\d{1,3})\s*(?:\(\w+\)\s*)?(?:additional\s+|more\s+|further\s+)?(?:\w+\s+){0,2}?(?P<unit>visits|sessions|treatments|injections)\b",
    re.I,
)
_QTY_TIMES = re.compile(r"(?:\bx|\bX|#)\s*(?P<n>\d{1,3})\b(?!\s*(?:x|X|times|/))")
_LIMIT_RX = [
    re.compile(
        r"\b(\d{1,2})\s*(?:to|-|–)\s*(\d{1,2})\s+(?:\w+\s+){0,3}?(?:visits|sessions|treatments|injections)",
        re.I,
    ),
    re.compile(
        r"\b(?:up\s+to|maximum\s+of|max\s+of|no\s+more\s+than|not\s+more\s+than|limited\s+to|total\s+of)\s+(?:\d{1,2}\s*(?:to|-)\s*)?(\d{1,2})\s+(?:\w+\s+){0,3}?(?:visits|sessions|treatments|injections)",
        re.I,
    ),
]


def _stated_limit(text: str) -> int | None:
    values = []
    for rx in _LIMIT_RX:
        for m in rx.finditer(text):
            values.append(int(m.groups()[-1]))
    return max(values) if values else None


@register
class RaiseQuantity(Operator):
    name = "raise-quantity"
    code = Code.quantity_over_limit
    description = (
        "raise an overturned item's requested quantity past the limit its rationale states"
    )

    def candidates(self, src, rng):
        out = []
        reasons = []
        for d in src.decisions():
            g = src.gold_decision(d.index)
            if (
                src.flagged(d.index)
                or g["outcome"] != "overturned"
                or not d.heading_span
                or not d.rationale_span
            ):
                continue
            try:
                out.append(self._plant(src, d, g, rng))
            except CannotApply as exc:
                reasons.append(f"item {d.index}: {exc}")
        if not out:
            raise CannotApply(
                "no overturned item with a countable quantity within a known limit"
                + (f" ({'; '.join(reasons)})" if reasons else "")
            )
        rng.shuffle(out)
        return out

    def _plant(self, src: Source, d: Decision, g: dict, rng: random.Random) -> Planted:
        # candidates() keeps items with both spans
        assert d.heading_span is not None and d.rationale_span is not None
        ha, hb = d.heading_span
        qty = (
            _QTY_PRODUCT.search(src.text, ha, hb)
            or _QTY_COUNT.search(src.text, ha, hb)
            or _QTY_TIMES.search(src.text, ha, hb)
        )
        if not qty:
            raise CannotApply("the item states no visit, session or injection count")
        product = qty.re is _QTY_PRODUCT
        old_total = int(qty["f"]) * int(qty["w"]) if product else int(qty["n"])
        rationale = src.span_text(d.rationale_span)
        limit = _stated_limit(rationale)
        edits: list[Edit] = []
        known = known_limit(d.item)
        if limit is None:
            if known is None or d.conclusion_evidence is None:
                raise CannotApply(
                    "the rationale states no limit and the treatment has none on file"
                )
            limit, sentence = known
            edits.append(
                Edit(d.conclusion_evidence.start, d.conclusion_evidence.start, sentence + " ")
            )
        if old_total > limit:
            raise CannotApply(
                f"the request ({old_total}) already exceeds the stated limit ({limit})"
            )
        if product:
            f = int(qty["f"])
            w = limit // f + 1 + rng.randint(0, 2)
            new_total = f * w
            repl = [(qty.start("w"), qty.end("w"), str(w))]
        else:
            new_total = limit + rng.randint(2, max(2, limit))
            repl = [(qty.start("n"), qty.end("n"), str(new_total))]
        old_phrase = qty.group(0)
        new_phrase = (
            old_phrase[: repl[0][0] - qty.start()]
            + repl[0][2]
            + old_phrase[repl[0][1] - qty.start() :]
        )
        edits += [Edit(a, b, s) for a, b, s in repl]
        spots: set[tuple[int, int]] = set()
        for m in re.finditer(flex(d.item), src.text, re.I):
            inner = re.search(flex(old_phrase), m.group(0))
            if inner and not ha <= m.start() < hb:
                spots.add((m.start() + inner.start(), m.start() + inner.end()))
        for a, b in spans.sentences(src.text, *d.rationale_span):
            if re.search(r"request", src.text[a:b], re.I):
                for m in re.finditer(flex(old_phrase), src.text[a:b]):
                    spots.add((a + m.start(), a + m.end()))
        edits += [Edit(a, b, new_phrase) for a, b in sorted(spots)]
        new_item = re.sub(flex(old_phrase), new_phrase, g["item"], count=1)
        if new_item == g["item"]:
            raise CannotApply("the labeled item text does not contain the parsed quantity")
        return Planted(
            edits=edits,
            findings=[
                planted_finding(
                    self.code,
                    d.index,
                    f"Requested quantity raised to {new_total} ('{new_phrase}'), above the {limit} the "
                    "rationale states, yet the item is overturned (high).",
                )
            ],
            description=f"item {d.index} quantity {old_phrase!r} -> {new_phrase!r} (limit {limit})",
            decision_updates={d.index: {"item": new_item}},
            expect={"index": d.index, "phrase": new_phrase, "limit": limit},
        )

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        if problems:
            return problems
        d = seg.decisions[planted.expect["index"]]
        if planted.expect["phrase"] not in " ".join(d.item.split()):
            problems.append(f"the item reads {d.item!r}")
        if d.outcome != "overturned":
            problems.append(f"the item now parses as {d.outcome}")
        if (_stated_limit(d.rationale) or 0) < planted.expect["limit"]:
            problems.append("the rationale no longer states the limit")
        return problems
