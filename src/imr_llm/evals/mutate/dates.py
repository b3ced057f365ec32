"""Date operators: a summary date moved before the injury, or made impossible."""

from __future__ import annotations

import re
from datetime import date, timedelta

from imr_llm.codes import Code
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    Source,
    match_case,
    planted_finding,
    register,
)
from imr_llm.text import dates as dateparse


def format_like(original: str, d: date) -> str:
    """Write ``d`` the way ``original`` writes its date (separators, padding, month names)."""
    m = re.fullmatch(r"(\d{1,2})([/-])(\d{1,2})\2(\d{2}|\d{4})", original)
    if m:
        parts = (m.group(1), m.group(3))
        pad = any(p.startswith("0") for p in parts) or all(len(p) == 2 for p in parts)
        mm = f"{d.month:02d}" if pad else str(d.month)
        dd = f"{d.day:02d}" if pad else str(d.day)
        yy = str(d.year) if len(m.group(4)) == 4 else f"{d.year % 100:02d}"
        return f"{mm}{m.group(2)}{dd}{m.group(2)}{yy}"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", original):
        return d.isoformat()
    m = re.fullmatch(r"([A-Za-z]+)(\.?)(\s+)(\d{1,2})(st|nd|rd|th)?(,?)(\s+)(\d{4})", original)
    if m:
        full = d.strftime("%B")
        name = full if len(m.group(1)) > 3 or m.group(1).lower() == "may" else full[:3]
        name = match_case(name.lower(), m.group(1)) if not m.group(1).isupper() else name.upper()
        day = f"{d.day:02d}" if len(m.group(4)) == 2 and m.group(4).startswith("0") else str(d.day)
        return f"{name}{m.group(2)}{m.group(3)}{day}{m.group(6)}{m.group(7)}{d.year}"
    return d.strftime("%m/%d/%Y")


def _injury_date(src: Source) -> date | None:
    iso = (src.label.get("case") or {}).get("date_of_injury")
    if iso:
        return date.fromisoformat(iso)
    return src.seg.case.date_of_injury


@register
class DateBeforeInjury(Operator):
    name = "date-before-injury"
    code = Code.date_inconsistency
    description = "move a post-injury date in the case summary to before the date of injury"

    def candidates(self, src, rng):
        doi = _injury_date(src)
        if doi is None:
            raise CannotApply("no date of injury to compare with")
        if src.has_code(self.code):
            raise CannotApply("the label already lists a date-inconsistency")
        span = src.summary_span
        if not span:
            raise CannotApply("no case summary section")
        found = [(m, d) for m, d in dateparse.find_dates(src.text, *span) if d > doi]
        if not found:
            raise CannotApply("the case summary has no date after the injury")
        rng.shuffle(found)
        out = []
        for m, _ in found:
            new_date = doi - timedelta(days=rng.randint(20, 300))
            new = format_like(m.group(0), new_date)
            out.append(
                Planted(
                    edits=[Edit(m.start(), m.end(), new)],
                    findings=[
                        planted_finding(
                            self.code,
                            None,
                            f"Summary date {m.group(0)} changed to {new}, before the "
                            f"{doi.isoformat()} date of injury.",
                        )
                    ],
                    description=f"summary date {m.group(0)} -> {new} (injury {doi.isoformat()})",
                    expect={"doi": doi.isoformat(), "new": new, "date": new_date.isoformat()},
                )
            )
        return out

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        span = seg.sections.summary
        if span is None:
            return [*problems, "no summary after mutation"]
        hits = [
            d for m, d in dateparse.find_dates(text, *span) if m.group(0) == planted.expect["new"]
        ]
        if not any(d.isoformat() == planted.expect["date"] for d in hits):
            problems.append("the moved date is not read in the summary")
        if seg.case.date_of_injury and seg.case.date_of_injury.isoformat() != planted.expect["doi"]:
            problems.append(f"the date of injury now parses as {seg.case.date_of_injury}")
        return problems


@register
class ImpossibleDate(Operator):
    name = "impossible-date"
    code = Code.date_inconsistency
    description = (
        "give a case summary date of care or review an impossible year (3016) or a day after "
        "the letter's own decision date"
    )

    def candidates(self, src, rng):
        if src.has_code(self.code):
            raise CannotApply("the label already lists a date-inconsistency")
        decided_iso = (src.label.get("case") or {}).get("decision_date")
        decided = date.fromisoformat(decided_iso) if decided_iso else src.seg.case.decision_date
        span = src.summary_span
        if decided is None or not span:
            raise CannotApply("no decision date or no case summary")
        found = [
            (m, d)
            for m, d in dateparse.find_dates(src.text, *span)
            if dateparse.date_role(src.text, m.start(), m.end(), *span) in dateparse.CARE_ROLES
            and len(m.group(0)) >= 8  # a four-digit or spelled year: "3016" stays readable
        ]
        if not found:
            raise CannotApply("the case summary has no dated care or review")
        rng.shuffle(found)
        out = []
        for k, (m, d) in enumerate(found):
            if k % 2 == 0:
                new_date = d.replace(year=d.year + 1000) if d.day < 29 else d.replace(day=28)
                if new_date.year < 3000:
                    new_date = new_date.replace(year=new_date.year + 1000)
                why = f"the year {new_date.year}"
            else:
                new_date = decided + timedelta(days=rng.randint(20, 300))
                why = f"after the {decided.isoformat()} decision date"
            new = format_like(m.group(0), new_date)
            if re.fullmatch(r"\d{1,2}[/-]\d{1,2}[/-]\d{2}", new):
                continue
            out.append(
                Planted(
                    edits=[Edit(m.start(), m.end(), new)],
                    findings=[
                        planted_finding(
                            self.code, None, f"Summary date {m.group(0)} changed to {new}: {why}."
                        )
                    ],
                    description=f"summary date {m.group(0)} -> {new} ({why})",
                    expect={"new": new},
                )
            )
        return out
