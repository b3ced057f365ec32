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
        out.extend(_summary_dates(ctx, doi))
    return out


_EVENT = re.compile(
    r"\b(?:presented|evaluated|seen|visit|examined|exam|examination|report(?:ed)?|request(?:ed)?|underwent|"
    r"surgery|utilization\s+review|UR|RFA|treated|injection|therapy|MRI|x-?rays?|EMG|NCV|CT|"
    r"follow[- ]up|progress\s+note|office|consult(?:ation)?|authoriz\w+|approved|prescribed|dispensed)\b",
    re.I,
)
_HISTORY = re.compile(
    r"\b(?:prior|previous(?:ly)?|history|before|pre-?existing|earlier|preceding|old|remote|past|"
    r"since|birth|born|prior\s+to|to\s+date|have\s+included|has\s+included)\b",
    re.I,
)
_SUMMARY_DOI = re.compile(
    r"(?:date\s+of\s+(?:industrial\s+)?injury|\bDOI\b|industrial\s+injury|injur(?:y|ed)\s+(?:on|of)|"
    r"occupational\s+(?:claim|injury)|claim\s+from)\W{0,12}(?:(?:on|of|dated|from|was|is)\W{1,3})?$",
    re.I,
)


def _summary_dates(ctx: CheckContext, doi: date) -> list[Finding]:
    """Summary dates before the injury that describe care or review, and a summary injury date
    that differs from the header's."""
    out: list[Finding] = []
    s0, s1 = ctx.sections.summary
    text = ctx.text
    header_doi = _header_evidence(ctx, "date_of_injury", doi) if ctx.sections.header else None
    for m, d in dateparse.find_dates(text, s0, s1):
        if d >= doi:
            continue
        a = max(s0, text.rfind(". ", s0, m.start()) + 2)
        b = text.find(". ", m.end(), s1)
        b = s1 if b == -1 else b + 1
        before = text[max(a, m.start() - 60) : m.start()]
        sentence = text[a:b]
        if header_doi and _SUMMARY_DOI.search(before):
            out.append(
                finding(
                    "date-inconsistency",
                    "medium",
                    f"The case summary dates the injury {d.isoformat()}, the header {doi.isoformat()}.",
                    [ctx.evidence(a, b), header_doi],
                )
            )
        elif _EVENT.search(sentence) and not _HISTORY.search(sentence):
            out.append(
                finding(
                    "date-inconsistency",
                    "medium",
                    f"The case summary describes care or review on {d.isoformat()}, before the "
                    f"{doi.isoformat()} date of injury.",
                    [ctx.evidence(a, b)] + _opt(header_doi),
                )
            )
    return out[:3]


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
