"""Decision word against the rationale's own conclusion."""

from __future__ import annotations

from imr_llm.checks.base import CheckContext, register
from imr_llm.codes import Code
from imr_llm.schemas import Finding, Severity

_EXPECTED = {"upheld": "not_medically_necessary", "overturned": "medically_necessary"}


@register("decision-conclusion", "decision-conclusion-mismatch")
def decision_conclusion(ctx: CheckContext) -> list[Finding]:
    """Upheld must conclude 'not medically necessary'; Overturned must conclude 'necessary'."""
    out = []
    for d in ctx.record.decisions:
        if d.outcome == "unknown" or d.conclusion == "unclear" or not d.conclusion_evidence:
            continue
        if _EXPECTED[d.outcome] == d.conclusion:
            continue
        word = ctx.text.rfind(d.outcome[:5].capitalize(), *d.heading_span) if d.heading_span else -1
        evidence = []
        if d.heading_span:
            a, b = d.heading_span
            evidence.append(ctx.evidence(word if word >= 0 else a, b))
        evidence.append(d.conclusion_evidence)
        said = (
            "is medically necessary"
            if d.conclusion == "medically_necessary"
            else "is not medically necessary"
        )
        out.append(
            Finding(
                code=Code.decision_conclusion_mismatch,
                severity=Severity.high,
                decision_index=d.index,
                message=f"Decision reads {d.outcome.capitalize()} but its rationale concludes the request {said}.",
                evidence=evidence,
            )
        )
    return out
