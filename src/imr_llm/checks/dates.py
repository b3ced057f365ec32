"""Impossible orders of dates: header dates against each other and against the injury."""

from __future__ import annotations

import re
from datetime import date

from imr_llm.checks.base import CheckContext, finding, register
from imr_llm.extract import dates as dateparse
from imr_llm.schemas import Evidence, Finding

_LABELS = {
    "date_of_injury": r"Date\s+of\s+Injury:",
    "date_assigned": r"Date\s+Assigned:",
    "decision_date": r"Decision\s+Date:",
    "ur_denial_date": r"UR\s+Denial\s+Date:",
    "application_received": r"Application\s+Received:",
}
_NAMES = {
    "date_of_injury": "date of injury",
    "date_assigned": "date assigned",
    "decision_date": "decision date",
    "ur_denial_date": "UR denial date",
    "application_received": "application received date",
}
# (earlier, later): the first must not come after the second.
_ORDER = [
    ("date_of_injury", "ur_denial_date"),
    ("date_of_injury", "date_assigned"),
    ("date_of_injury", "decision_date"),
    ("ur_denial_date", "application_received"),
    ("application_received", "date_assigned"),
    ("date_assigned", "decision_date"),
    ("ur_denial_date", "decision_date"),
]
_POST_INJURY_EVENT = re.compile(
    r"\b(?:utilization\s+review|UR)\b[^.\n]{0,60}?\b(?:dated|on|of)\s*$"
    r"|\b(?:request\s+for\s+authorization|RFA)\b[^.\n]{0,30}?\b(?:dated|on|of)\s*$",
    re.I,
)


@register("dates", "date-inconsistency")
def date_order(ctx: CheckContext) -> list[Finding]:
    """Header dates in an impossible order; a utilization review dated before the injury."""
    case = ctx.record.case
    out: list[Finding] = []
    for early, late in _ORDER:
        a, b = getattr(case, early), getattr(case, late)
        if a is None or b is None or a <= b:
            continue
        ev = [e for e in (_header_evidence(ctx, early, a), _header_evidence(ctx, late, b)) if e]
        out.append(
            finding(
                "date-inconsistency",
                "medium",
                f"The {_NAMES[late]} ({b.isoformat()}) is before the {_NAMES[early]} ({a.isoformat()}).",
                ev,
            )
        )
    doi = case.date_of_injury
    if doi and ctx.sections.summary:
        s0, s1 = ctx.sections.summary
        for m, d in dateparse.find_dates(ctx.text, s0, s1):
            if d >= doi:
                continue
            before = ctx.text[max(s0, m.start() - 80) : m.start()]
            if _POST_INJURY_EVENT.search(before):
                start = m.start() - len(before) + _POST_INJURY_EVENT.search(before).start()
                out.append(
                    finding(
                        "date-inconsistency",
                        "medium",
                        f"A utilization review or authorization request is dated {d.isoformat()}, "
                        f"before the date of injury ({doi.isoformat()}).",
                        [ctx.evidence(start, m.end())]
                        + _opt(_header_evidence(ctx, "date_of_injury", doi)),
                    )
                )
    return out


def _opt(e: Evidence | None) -> list[Evidence]:
    return [e] if e else []


def _header_evidence(ctx: CheckContext, field: str, value: date) -> Evidence | None:
    """The header date's own text, wherever the extraction order put it."""
    header = ctx.sections.header or (0, min(len(ctx.text), 2500))
    label = re.search(_LABELS[field], ctx.text[header[0] : header[1]])
    candidates = [m for m, d in dateparse.find_dates(ctx.text, header[0], header[1]) if d == value]
    if not candidates and field == "date_of_injury" and ctx.sections.summary:
        candidates = [
            m for m, d in dateparse.find_dates(ctx.text, *ctx.sections.summary) if d == value
        ][:1]
    if not candidates:
        return None
    if label:
        pos = header[0] + label.end()
        m = min(candidates, key=lambda m: abs(m.start() - pos))
        if 0 <= m.start() - pos < 30:
            return ctx.evidence(header[0] + label.start(), m.end())
    else:
        m = candidates[0]
    return ctx.evidence(m.start(), m.end())
