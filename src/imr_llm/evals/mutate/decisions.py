"""Decision and conclusion flips: plant ``decision-conclusion-mismatch``."""

from __future__ import annotations

import re

from imr_llm.codes import Code
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    Source,
    consistent,
    flex,
    match_case,
    planted_finding,
    register,
)
from imr_llm.schemas import Decision

_DECISION_WORDS = {
    "upheld": "overturned",
    "overturned": "upheld",
    "uphold": "overturn",
    "overturn": "uphold",
}


@register
class FlipDecision(Operator):
    name = "flip-decision"
    code = Code.decision_conclusion_mismatch
    description = (
        "flip an item's decision word (Upheld <-> Overturned) so it contradicts its rationale"
    )

    def candidates(self, src, rng):
        out = []
        for d in src.decisions():
            g = src.gold_decision(d.index)
            if (
                src.flagged(d.index)
                or not d.heading_span
                or not consistent(g["outcome"], g["conclusion"])
            ):
                continue
            new_outcome = _DECISION_WORDS[g["outcome"]]
            edits = self._heading_edits(src, d)
            if not edits:
                continue
            edits += self._cover_edits(src, d, g["outcome"], new_outcome)
            out.append(
                Planted(
                    edits=edits,
                    findings=[
                        planted_finding(
                            self.code,
                            d.index,
                            f"Decision flipped from {g['outcome']} to {new_outcome}; the rationale still "
                            f"concludes {g['conclusion'].replace('_', ' ')}.",
                        )
                    ],
                    description=f"item {d.index} decision {g['outcome']} -> {new_outcome}",
                    decision_updates={d.index: {"outcome": new_outcome}},
                    expect={"index": d.index, "outcome": new_outcome},
                )
            )
        if not out:
            raise CannotApply("no unflagged item whose decision and conclusion agree")
        rng.shuffle(out)
        return out

    def _heading_edits(self, src: Source, d: Decision) -> list[Edit]:
        assert d.heading_span is not None  # candidates() skips items without a heading
        a, b = d.heading_span
        heading = src.text[a:b]
        if src.seg.layout == "dwc-2013":
            m = re.search(r"\b(?:is|are)\s+(not\s+)?medically", heading)
            if not m:
                return []
            return [_toggle_not(a, m)]
        hits = list(re.finditer(r"\b(upheld|overturned|uphold|overturn)\b", heading, re.I))
        if not hits:
            return []
        m = hits[-1]
        word = match_case(_DECISION_WORDS[m.group(1).lower()], m.group(1))
        return [Edit(a + m.start(1), a + m.end(1), word)]

    def _cover_edits(self, src: Source, d: Decision, old: str, new: str) -> list[Edit]:
        """2013 letters restate each decision in a numbered list and an overall result."""
        if src.seg.layout != "dwc-2013":
            return []
        edits = []
        head = src.text[: d.span[0]]
        rx = re.compile(
            r"request for\s+" + flex(d.item) + r"\s+(?:is|are)\s+(not\s+)?medically", re.I
        )
        edits += [_toggle_not(0, m) for m in rx.finditer(head)]
        outcomes = [g["outcome"] for g in src.label["decisions"]]
        outcomes[d.index] = new
        known = [o for o in outcomes if o in ("upheld", "overturned")]
        overall = (
            "UPHOLD"
            if all(o == "upheld" for o in known)
            else "OVERTURN"
            if all(o == "overturned" for o in known)
            else "PARTIAL OVERTURN"
        )
        m = re.search(r"Final Determination:\s*(PARTIAL OVERTURN|OVERTURN|UPHOLD)\b", head)
        if m and m.group(1) != overall:
            edits.append(Edit(m.start(1), m.end(1), overall))
        return edits

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        i = planted.expect["index"]
        if not problems and seg.decisions[i].outcome != planted.expect["outcome"]:
            problems.append(f"item {i} parses as {seg.decisions[i].outcome}")
        return problems


def _toggle_not(base: int, m: re.Match) -> Edit:
    """Remove the ``not `` group of ``m`` if present, else insert ``not `` before 'medically'."""
    if m.group(1):
        return Edit(base + m.start(1), base + m.end(1), "")
    pos = base + m.end() - len("medically")
    return Edit(pos, pos, "not ")


_CONCL_NEG = re.compile(
    r"\b(?:is|are|was|were|be|been)\s+(not\s+)(?:medically\s+)?necessary"
    r"|medical\s+necessity\s+(?:has|had|was|is)\s+(not\s+)(?:been\s+)?established",
    re.I,
)
_CONCL_POS = re.compile(
    r"\b(?:is|are|was|were|be|been)\s+()(?:medically\s+)?necessary"
    r"|medical\s+necessity\s+(?:has|had|was|is)\s+()(?:been\s+)?established",
    re.I,
)


@register
class FlipConclusion(Operator):
    name = "flip-conclusion"
    code = Code.decision_conclusion_mismatch
    description = "negate (or un-negate) the rationale's concluding sentence"

    def candidates(self, src, rng):
        out = []
        for d in src.decisions():
            g = src.gold_decision(d.index)
            ev = d.conclusion_evidence
            if src.flagged(d.index) or ev is None or not consistent(g["outcome"], g["conclusion"]):
                continue
            neg = g["conclusion"] == "not_medically_necessary"
            hits = list((_CONCL_NEG if neg else _CONCL_POS).finditer(src.text, ev.start, ev.end))
            if not hits:
                continue
            m = hits[-1]
            grp = 1 if m.group(1) is not None else 2
            if neg:
                edit = Edit(m.start(grp), m.end(grp), "")
            else:
                edit = Edit(m.start(grp), m.start(grp), "not ")
            new = "medically_necessary" if neg else "not_medically_necessary"
            out.append(
                Planted(
                    edits=[edit],
                    findings=[
                        planted_finding(
                            self.code,
                            d.index,
                            f"Rationale conclusion flipped to {new.replace('_', ' ')}; the decision "
                            f"is still {g['outcome']}.",
                        )
                    ],
                    description=f"item {d.index} conclusion {g['conclusion']} -> {new}",
                    decision_updates={d.index: {"conclusion": new}},
                    expect={"index": d.index, "conclusion": new},
                )
            )
        if not out:
            raise CannotApply(
                "no unflagged item with a consistent, recognisable concluding sentence"
            )
        rng.shuffle(out)
        return out

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        i = planted.expect["index"]
        if not problems and seg.decisions[i].conclusion != planted.expect["conclusion"]:
            problems.append(f"item {i} conclusion parses as {seg.decisions[i].conclusion}")
        return problems
