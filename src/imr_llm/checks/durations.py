"""A rationale that credits the patient with more time on a treatment than the claim has lasted.

"The patient has been on chronic opioid treatment, at least 6 months" in a letter whose
injury is three months older than the decision asserts a fact the letter's own dates rule
out. Only the patient's treatment is read (not pain or symptoms, which may predate the
injury), only in rationales, and never in a letter that mentions an earlier injury, a
cumulative-trauma claim or care dated before the injury.
"""

from __future__ import annotations

import re
from datetime import date

from imr_llm.checks.base import CheckContext, finding, register, spaced
from imr_llm.checks.dates import header_evidence
from imr_llm.schemas import Finding, Severity
from imr_llm.text import dates as dateparse

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_DAYS = {"week": 7, "month": 30, "year": 365}


_CLAIM = spaced(
    r"\b(?:the )?(?:patient|injured worker|applicant|claimant|employee|he|she) (?:has|had) been "
    r"(?:on|taking|using|utilizing|prescribed|treated with|receiving|undergoing|maintained on)\b"
    r"(?P<what>[^.;]{0,100}?)(?:,| for) "
    r"(?:(?:at least|over|more than|greater than|in excess of|longer than|the (?:past|last)) )?"
    r"(?P<n>\d{1,2}|" + "|".join(_NUMBERS) + r") (?P<unit>week|month|year)s?\b"
)
# The sentence states a rule or a condition, not the patient's history.
_GENERAL = re.compile(
    r"\b(?:if|when|whether|unless|should|recommend\w*|guidelines?|criteria|indicated)\b", re.I
)
# The letter allows treatment before this claim's injury date.
_EARLIER_CLAIM = spaced(
    r"\b(?:cumulative|continuous) trauma\b|\bCT (?:injury|claim|\d)"
    r"|\b(?:prior|previous|earlier|another|other|separate|old) "
    r"(?:(?:industrial|work|work-related) )?(?:injur(?:y|ies)|claims?)\b"
    r"|\bpre-?existing\b|\bprior to (?:the|his|her) (?:industrial )?injury\b"
)
# Days of slack: the claim must exceed the injury's age by more than this.
_SLACK_DAYS = 30


def _reference(ctx: CheckContext) -> date | None:
    """The latest review date of the letter: the claim is made as of the review."""
    case = ctx.record.case
    dates = [d for d in (case.decision_date, case.date_assigned, case.ur_denial_date) if d]
    return max(dates) if dates else None


# A literal start re can skip to: every claim holds it.
_CUE = spaced(
    r"been (?:on|taking|using|utilizing|prescribed|treated|receiving|undergoing|maintained)\b"
)


@register("treatment-duration", "fact-contradiction")
def check_treatment_duration(ctx: CheckContext) -> list[Finding]:
    """Rationale says the patient has been on a treatment longer than the injury is old."""
    doi, ref = ctx.record.case.date_of_injury, _reference(ctx)
    if doi is None or ref is None or ref <= doi:
        return []
    elapsed = (ref - doi).days
    found = [(dec, m) for dec in ctx.record.decisions for m in _claims(ctx, dec, elapsed)]
    if not found or _earlier_care_possible(ctx, doi):
        return []
    doi_ev = header_evidence(ctx, "date_of_injury", doi)
    if doi_ev is None:
        return []
    out: list[Finding] = []
    for dec, m in found:
        if any(f.decision_index == dec.index for f in out):
            continue
        count, unit = _duration(m)
        out.append(
            finding(
                "fact-contradiction",
                Severity.high,
                f"The rationale says the patient has been on this treatment for {count} "
                f"{unit}{'s' if count != 1 else ''} or more, but the injury ({doi.isoformat()}) "
                f"was {elapsed / 30.4:.1f} months before the review ({ref.isoformat()}).",
                [ctx.evidence(m.start(), m.end()), doi_ev],
                dec.index,
            )
        )
    return out


def _duration(m: re.Match) -> tuple[int, str]:
    n = m.group("n").lower()
    return _NUMBERS.get(n) or int(n), m.group("unit").lower()


def _claims(ctx: CheckContext, dec, elapsed: int) -> list[re.Match]:
    """The rationale's claims of more time on a treatment than ``elapsed`` days (plus slack)."""
    if not dec.rationale_span:
        return []
    r0, r1 = dec.rationale_span
    text = ctx.text
    if not _CUE.search(text, r0, r1):
        return []
    out = []
    for m in _CLAIM.finditer(text, r0, r1):
        count, unit = _duration(m)
        if count * _DAYS[unit] <= elapsed + _SLACK_DAYS:
            continue
        a = max(r0, text.rfind(". ", r0, m.start()) + 2)
        if _GENERAL.search(text, a, m.start()) or _GENERAL.search(m.group(0)):
            continue
        out.append(m)
    return out


def _earlier_care_possible(ctx: CheckContext, doi: date) -> bool:
    """Whether the letter allows treatment before this injury: a cumulative-trauma or earlier
    claim, or summary dates before the injury."""
    if _EARLIER_CLAIM.search(ctx.text):
        return True
    summary = ctx.sections.summary  # a (start, end) pair: truthy whenever it is not None
    return summary is not None and any(d < doi for _, d in dateparse.find_dates(ctx.text, *summary))
