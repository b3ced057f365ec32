"""Impossible orders of dates: header dates against each other and against the injury."""

from __future__ import annotations

import re
from datetime import date

from imr_llm.checks.base import CheckContext, finding, register
from imr_llm.guidelines import treatment_topics
from imr_llm.schemas import Evidence, Finding
from imr_llm.text import dates as dateparse
from imr_llm.text.spans import sentence_around, sentences

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
        ev = [e for e in (header_evidence(ctx, early, a), header_evidence(ctx, late, b)) if e]
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
    if ctx.sections.summary:
        out.extend(_review_order(ctx))
    if doi:
        out.extend(_rationale_dates(ctx, doi))
    out.extend(_impossible_dates(ctx))
    return out


_EVENT = re.compile(
    r"\b(?:presented|evaluated|seen|visit|examined|exam|examination|report(?:ed)?|request(?:ed)?|underwent|"
    r"surgery|utilization\s+review|UR|RFA|treated|injection|therapy|MRI|x-?rays?|EMG|NCV|CT|"
    r"follow[- ]up|progress\s+note|office|consult(?:ation)?|authoriz\w+|approved|prescribed|dispensed|"
    # visits and records of the treated complaint
    r"complain(?:s|ed|ing)?|date\s+of\s+service|DOS|(?:medical\s+)?records?|clinical\s+note|"
    r"objective\s+findings|PR-?2|refills?|"
    # review decisions and procedures
    r"denied|denial|determination|(?:re)?reviewed|non-?\s?certifi\w+|modified|"
    r"excision|exploration|arthroscop\w+|repair|release|fusion|discectomy|decompression)\b",
    re.I,
)
_HISTORY = re.compile(
    r"\b(?:prior|previous(?:ly)?|history|before|pre-?existing|earlier|preceding|old|remote|past|"
    r"since|birth|born|prior\s+to|to\s+date|have\s+included|has\s+included|status\s+post|s/p)\b",
    re.I,
)
# "prior"/"previous" that name the utilization review being appealed, not the patient's
# history: "a prior denial was made on", "the request was previously reviewed on".
_PRIOR_REVIEW = re.compile(
    r"\b(?:prior|previous)\s+(?:(?:utilization\s+)?review|UR|denial|determination|"
    r"non-?\s?certification|adverse\s+determination|decision)\b"
    r"|\b(?:previously|prior)\s+(?:been\s+)?(?:denied|non-?\s?certified|modified|reviewed)\b",
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
    assert ctx.sections.summary is not None  # the caller checks for a summary
    s0, s1 = ctx.sections.summary
    text = ctx.text
    header_doi = header_evidence(ctx, "date_of_injury", doi) if ctx.sections.header else None
    for m, d in dateparse.find_dates(text, s0, s1):
        if d >= doi:
            continue
        role = dateparse.date_role(text, m.start(), m.end(), s0, s1)
        if role in _NOT_CARE and role != "injury":
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
        elif (
            role != "injury"
            and _EVENT.search(sentence)
            and not _HISTORY.search(_PRIOR_REVIEW.sub(" ", sentence))
        ):
            out.append(
                finding(
                    "date-inconsistency",
                    _by_role(role),
                    f"The case summary describes care or review on {d.isoformat()}, before the "
                    f"{doi.isoformat()} date of injury.",
                    [ctx.evidence(a, b)] + _opt(header_doi),
                )
            )
    return out[:3]


def _opt(e: Evidence | None) -> list[Evidence]:
    return [e] if e else []


def header_evidence(ctx: CheckContext, field: str, value: date) -> Evidence | None:
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


_RFA = re.compile(r"\b(?:request\s+for\s+authori[sz]ation|RFA)\b", re.I)
_UR_DECISION = re.compile(
    r"\b(?:utilization\s+review|UR)\b|"
    + _PRIOR_REVIEW.pattern
    + r"|\bnon-?\s?certified\b|\bdenied\b",
    re.I,
)
# "the physical therapy report reviewed by Utilization Review was dated ...": the date is the
# document's, not the review's.
_SEEN_BY_UR = re.compile(
    r"\b(?:reviewed|submitted|provided|sent|considered)\s+(?:by|to)\s+(?:the\s+)?"
    r"(?:utilization\s+review|UR)\b",
    re.I,
)
# A summary's date for the appealed review that is more than this many days from the
# header's UR denial date cannot be the same review (the corpus' own slips are 1-6 days).
_SAME_REVIEW_DAYS = 7


def _review_order(ctx: CheckContext) -> list[Finding]:
    """A summary that dates the utilization review before the request it decided, or dates
    the review of a disputed request far from the header's UR denial date.

    Only sentences that name one event and state one date count: "The Request for
    Authorization form was dated 11/18/2016." / "A prior review dated 11/13/2016 ...
    non-certified ...". A review dated before the request is reported only when it is not
    the header's UR denial date (a later request after that denial may be a new one).
    """
    assert ctx.sections.summary is not None  # the caller checks for a summary
    s0, s1 = ctx.sections.summary
    text = ctx.text
    header_ur = ctx.record.case.ur_denial_date
    spans = sentences(text, s0, s1)
    rfa: list[tuple[date, int, int]] = []
    reviews: list[tuple[date, int, int]] = []
    for a, b in spans:
        found = list(dateparse.find_dates(text, a, b))
        if len({d for _, d in found}) != 1:
            continue
        sentence = text[a:b]
        cue_rfa, cue_ur = bool(_RFA.search(sentence)), bool(_UR_DECISION.search(sentence))
        if not (cue_rfa or cue_ur):
            continue
        d = found[0][1]
        role = dateparse.date_role(text, found[0][0].start(), found[0][0].end(), a, b)
        is_rfa = role == "request" and cue_rfa
        is_ur = role == "ur" and cue_ur
        if is_rfa and not is_ur:
            rfa.append((d, a, b))
        elif is_ur and not is_rfa and not _SEEN_BY_UR.search(sentence):
            reviews.append((d, a, b))
    out: list[Finding] = []
    for d_ur, a, b in reviews:
        if header_ur is not None and d_ur == header_ur:
            continue
        later = [(d, ra, rb) for d, ra, rb in rfa if d > d_ur]
        if later:
            d_rfa, ra, rb = later[0]
            out.append(
                finding(
                    "date-inconsistency",
                    "medium",
                    f"The case summary dates the utilization review {d_ur.isoformat()}, before the "
                    f"request for authorization it decided ({d_rfa.isoformat()}).",
                    [ctx.evidence(a, b), ctx.evidence(ra, rb)],
                )
            )
            break
    if header_ur is not None:
        items = set().union(*(treatment_topics(d.item) for d in ctx.record.decisions))
        for d_ur, a, b in reviews:
            if abs((d_ur - header_ur).days) <= _SAME_REVIEW_DAYS:
                continue
            if not items & treatment_topics(text[a:b]):
                continue  # not about a disputed item: may be another review
            out.append(
                finding(
                    "date-inconsistency",
                    "medium",
                    f"The case summary dates the utilization review of the disputed request "
                    f"{d_ur.isoformat()}, {abs((d_ur - header_ur).days)} days from the header's "
                    f"UR denial date ({header_ur.isoformat()}).",
                    [ctx.evidence(a, b)] + _opt(header_evidence(ctx, "ur_denial_date", header_ur)),
                )
            )
            break
    return out


# Dates that are not events of this patient's care: a birth date, a regulation's or guideline
# edition's date, a date the letter puts in the future.
_NOT_CARE = frozenset(("birth", "regulation", "future", "injury"))


def _by_role(role: str) -> str:
    """Medium when the date's clause says what event it dates, low when its role is unknown
    (severity policy: an uncertain reading is at most low)."""
    return "medium" if role in dateparse.CARE_ROLES else "low"


# "the MTUS Chronic Pain Medical Treatment Guidelines (July 28, 2016)": a guideline's date
_GUIDELINE_DATE = re.compile(
    r"\b(?:guidelines?|MTUS|ODG|ACOEM|updated|effective|revised|published|edition)\b[^.]{0,40}$",
    re.I,
)
_INJURY = re.compile(r"\b(?:DOI|date\s+of\s+(?:industrial\s+)?injury|injur(?:y|ies|ed))\b", re.I)


def _rationale_dates(ctx: CheckContext, doi: date) -> list[Finding]:
    """A rationale that dates care or review of the claim before the date of injury."""
    out: list[Finding] = []
    text = ctx.text
    for dec in ctx.record.decisions:
        if not dec.rationale_span:
            continue
        r0, r1 = dec.rationale_span
        for m, d in dateparse.find_dates(text, r0, r1):
            if d >= doi or _GUIDELINE_DATE.search(text, max(r0, m.start() - 60), m.start()):
                continue
            role = dateparse.date_role(text, m.start(), m.end(), r0, r1)
            if role in _NOT_CARE:
                continue
            a = max(r0, text.rfind(". ", r0, m.start()) + 2, text.rfind(".\n", r0, m.start()) + 2)
            ends = [
                i for i in (text.find(". ", m.end(), r1), text.find(".\n", m.end(), r1)) if i >= 0
            ]
            b = min(ends) + 1 if ends else r1
            sentence = text[a:b]
            if _INJURY.search(sentence):
                continue  # the rationale discussing the injury date itself
            if _EVENT.search(sentence) and not _HISTORY.search(_PRIOR_REVIEW.sub(" ", sentence)):
                out.append(
                    finding(
                        "date-inconsistency",
                        _by_role(role),
                        f"The rationale describes care or review on {d.isoformat()}, before the "
                        f"{doi.isoformat()} date of injury.",
                        [ctx.evidence(a, b)],
                        dec.index,
                    )
                )
                break
    return out


# A letter is decided within a year or so of its review; a year this far past its decision
# date, or before 1900, is no date a letter can hold.
_YEARS_AFTER_DECISION = 1
_EARLIEST_YEAR = 1900


def _impossible_dates(ctx: CheckContext) -> list[Finding]:
    """A date whose year is out of range in the header, the summary or a rationale, and a
    summary or rationale date of care or review after the letter's own decision date (not
    one it puts in the future). One finding a letter: the first such date."""
    text = ctx.text
    decided = ctx.record.case.decision_date
    latest_year = (decided.year if decided else date.today().year) + _YEARS_AFTER_DECISION
    told = [ctx.sections.summary] + [dec.rationale_span for dec in ctx.record.decisions]
    spans = [s for s in [ctx.sections.header, *told] if s]
    for s0, s1 in spans:
        for m, d in dateparse.find_any_year(text, s0, s1):
            if d.year > latest_year or d.year < _EARLIEST_YEAR:
                a, b = sentence_around(text, m.start(), s0, s1)
                return [
                    finding(
                        "date-inconsistency",
                        "medium",
                        f"The letter dates something {m.group(0)}: the year {d.year} is "
                        f"impossible for a letter decided "
                        f"{decided.isoformat() if decided else 'in its time'}.",
                        [ctx.evidence(a, b)],
                    )
                ]
    if decided is None:
        return []
    for s0, s1 in (s for s in told if s):
        for m, d in dateparse.find_dates(text, s0, s1):
            if d <= decided:
                continue
            if dateparse.date_role(text, m.start(), m.end(), s0, s1) not in dateparse.CARE_ROLES:
                continue
            a, b = sentence_around(text, m.start(), s0, s1)
            ev = [ctx.evidence(a, b)] + _opt(header_evidence(ctx, "decision_date", decided))
            return [
                finding(
                    "date-inconsistency",
                    "medium",
                    f"The letter describes care or review on {d.isoformat()}, after its own "
                    f"decision date ({decided.isoformat()}).",
                    ev,
                )
            ]
    return []
