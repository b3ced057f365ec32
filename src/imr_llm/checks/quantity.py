"""Requested quantity vs the limit the rationale itself states."""

from __future__ import annotations

from collections.abc import Iterable

from imr_llm.checks.base import CheckContext, finding, register
from imr_llm.checks.guidelines import find_loose, item_span
from imr_llm.guidelines import treatment_topics
from imr_llm.guidelines.quantity import requested_quantity, stated_limits
from imr_llm.schemas import Finding, Severity


@register("quantity-limit", "quantity-over-limit")
def check_quantity(ctx: CheckContext) -> Iterable[Finding]:
    """Requested quantity exceeds the limit stated in the rationale (high if Overturned anyway)."""
    summary = ctx.section_text("summary")
    for d in ctx.record.decisions:
        topics = treatment_topics(d.item)
        if not topics or not d.rationale:
            continue
        span = item_span(ctx, d)
        if span is None:
            continue
        qty = requested_quantity(ctx.text[span[0] : span[1]])
        if qty is None:
            continue
        if d.rationale_span:
            r0, r1 = d.rationale_span
        else:
            hit = find_loose(ctx.text, d.rationale, *d.span)
            if hit is None:
                continue
            r0, r1 = hit
        limits = [
            lim
            for lim in stated_limits(
                ctx.text[r0:r1], topics, context=f"{d.item}\n{summary}", requested=qty.value
            )
            if not qty.unit or lim.unit == qty.unit
        ]
        if not limits:
            continue
        top = max(limits, key=lambda lim: lim.value)
        if qty.value <= top.value:
            continue
        overturned = d.outcome == "overturned"
        stated = ctx.text[r0 + top.start : r0 + top.end]
        message = (
            f"Requested {qty.value} {qty.unit or 'units'} exceed the limit of {top.value} the rationale "
            f'states ("{" ".join(stated.split())}")'
        )
        message += (
            "; the item was nevertheless Overturned." if overturned else "; the item was Upheld."
        )
        yield finding(
            "quantity-over-limit",
            Severity.high if overturned else Severity.low,
            message,
            [
                ctx.evidence(span[0] + qty.start, span[0] + qty.end),
                ctx.evidence(r0 + top.sentence_start, r0 + top.sentence_end),
            ],
            d.index,
        )
