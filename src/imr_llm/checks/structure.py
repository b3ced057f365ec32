"""Structure the template requires: sections, a decision word and a rationale per item."""

from __future__ import annotations

from imr_llm.checks.base import CheckContext, LineRegex, finding, register
from imr_llm.schemas import Finding

_CA_LABEL = LineRegex(r"[ \t]*Claims Administrator guideline:")
MIN_RATIONALE_CHARS = 25


@register("structure", "missing-decision", "missing-rationale", "unparsed-section")
def structure(ctx: CheckContext) -> list[Finding]:
    """Every item needs a decision word and a rationale; a letter needs its sections."""
    out: list[Finding] = []
    rec, secs = ctx.record, ctx.sections
    if rec.layout == "unknown":
        out.append(
            finding(
                "unparsed-section",
                "high",
                "Layout not recognised: no IMR decisions section could be read; review this letter by hand.",
                [ctx.evidence(0, min(len(ctx.text), _first_line_end(ctx.text)))],
            )
        )
        return out
    if secs.summary is None and rec.layout != "dwc-2013":
        out.append(
            finding(
                "unparsed-section",
                "high",
                "No CLINICAL CASE SUMMARY section was found.",
                [ctx.evidence(0, _first_line_end(ctx.text))],
            )
        )
    if secs.issues is not None:
        covered = [d.span for d in rec.decisions]
        a, b = secs.issues
        for m in _CA_LABEL.finditer(ctx.text, a, b):
            if not any(s <= m.start() < e for s, e in covered):
                line_start = ctx.text.rfind("\n", a, max(a, m.start() - 1)) + 1
                prev_start = ctx.text.rfind("\n", a, max(a, line_start - 1)) + 1
                out.append(
                    finding(
                        "missing-decision",
                        "high",
                        "A guideline block has no item heading with an Upheld/Overturned decision.",
                        [ctx.evidence(prev_start, m.end())],
                    )
                )
    if not rec.decisions and secs.issues is not None:
        a, b = secs.issues
        out.append(
            finding(
                "missing-decision",
                "high",
                "The decisions section lists no item with an Upheld/Overturned decision.",
                [ctx.evidence(a, _first_line_end(ctx.text, a))],
            )
        )
    if not rec.decisions and secs.issues is None:
        out.append(
            finding(
                "unparsed-section",
                "high",
                "No IMR decisions section was found.",
                [ctx.evidence(0, _first_line_end(ctx.text))],
            )
        )
    for d in rec.decisions:
        if d.outcome == "unknown":
            out.append(
                finding(
                    "missing-decision",
                    "high",
                    f"Item '{d.item}' has no Upheld/Overturned decision.",
                    [ctx.evidence(*(d.heading_span or d.span))],
                    d.index,
                )
            )
    for d in rec.decisions:
        if not d.rationale_span or len(d.rationale.strip()) < MIN_RATIONALE_CHARS:
            span = d.heading_span or d.span
            out.append(
                finding(
                    "missing-rationale",
                    "high",
                    f"Item '{d.item}' has no decision rationale.",
                    [ctx.evidence(*span)],
                    d.index,
                )
            )
    return out


def _first_line_end(text: str, start: int = 0) -> int:
    end = text.find("\n", start)
    return len(text) if end == -1 else end
