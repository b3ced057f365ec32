"""Stated sex and age against the pronouns and ages used later in the letter."""

from __future__ import annotations

import re

from imr_llm.checks.base import (
    CheckContext,
    finding,
    finditer_at,
    lower_folds,
    matches_at,
    register,
)
from imr_llm.checks.guidelines import SeverityRule
from imr_llm.schemas import Finding, Severity
from imr_llm.text.spans import sentences

_SLASHED = re.compile(
    r"\b(?:he/she|she/he|his/her|her/his|him/her|s/he|he or she|his or her|him or her)\b", re.I
)
_PRONOUNS = {
    "male": re.compile(r"\b(?:he|him|his|himself)\b", re.I),
    "female": re.compile(r"\b(?:she|her|hers|herself)\b", re.I),
}
_AGE = re.compile(
    r"\b(\d{1,3})[- ](?:years?|yr)[- ]old,?\s+(?:male|female|man|woman|gentleman|lady|patient|"
    r"injured\s+worker|claimant|applicant|employee)\b",
    re.I,
)
_THIRD_PARTY = re.compile(
    r"\b(?:physician|doctor|provider|surgeon|therapist|chiropractor|reviewer|wife|husband|son|"
    r"daughter|mother|father|dr\.|md|pa-c|np)\b",
    re.I,
)
MIN_OPPOSITE = 2

# The severity policy of this check (see checks.guidelines.SeverityRule).
SEVERITY_POLICY: dict[str, SeverityRule] = {
    "demographic-inconsistency": SeverityRule(
        "demographic-inconsistency",
        "letter",
        Severity.medium,
        "the header/summary states the sex and the summary or a rationale calls the patient "
        "by the other sex's pronoun: once where the patient is named earlier in the sentence "
        "(or the sentences before name only the patient), twice with no one named before, or "
        "opening the sentence right after the sex is stated; or a later age differs by more "
        "than a year. Pronouns after another person is named (physician, treating provider, "
        "reviewer, spouse) and he/she forms never count; no low tier",
    ),
}
# Where the patterns above can begin (for ``finditer_at``): a word starting with h or s
# (U+017F is the long s, U+0130/U+0131 the dotted and dotless i that re.I matches for "s"
# and "i").
_SLASHED_START = re.compile(r"[HhSs\u017f](?<!\w[HhSs\u017f])(?=\w{0,2}[/ ])")
_PRONOUN_START = {
    "male": re.compile(r"[Hh](?<!\w[Hh])(?=[Ee]\b|[Ii\u0130\u0131][MmSs])"),
    "female": re.compile(
        r"[HhSs\u017f](?<!\w[HhSs\u017f])(?:(?<=[Hh])(?=[Ee][Rr])|(?<![Hh])(?=[Hh][Ee]\b))"
    ),
}


def _age_starts(text: str, start: int, end: int) -> list[int]:
    """Where _AGE or _SEX_STATEMENT can begin in ``text[start:end]`` (a superset): the one to
    three digits before each "[- ][Yy]", found by ``str.find``."""
    out = set()
    for mark in (" y", " Y", "-y", "-Y"):
        q = text.find(mark, start, end)
        while q != -1:
            p = q
            while p > start and q - p < 3 and text[p - 1].isdecimal():
                p -= 1
            if p < q:
                out.add(p)
            q = text.find(mark, q + 1, end)
    return sorted(out)


def _slashed_starts(text: str) -> list[int] | None:
    """Where _SLASHED can begin (a superset): an h or s one to three characters before each
    "/" or " or "; None when lower-casing ``text`` does not keep its letters in place."""
    low = text.lower()
    if not lower_folds(text, low):
        return None
    out: set[int] = set()
    for mark in ("/", " or "):
        q = low.find(mark)
        while q != -1:
            out.update(p for p in range(max(0, q - 3), q) if low[p] in "hs")
            q = low.find(mark, q + 1)
    return sorted(out)


def _blank_slashed(text: str) -> str:
    """``text`` with "he/she", "his or her" ... blanked (same length)."""
    parts: list[str] = []
    last = 0
    starts = _slashed_starts(text)
    found = (
        finditer_at(_SLASHED_START, _SLASHED, text)
        if starts is None
        else matches_at(_SLASHED, text, starts)
    )
    for m in found:
        parts += (text[last : m.start()], " " * (m.end() - m.start()))
        last = m.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


@register("demographics", "demographic-inconsistency")
def demographics(ctx: CheckContext) -> list[Finding]:
    """'A 38 year old female' ... 'his pain' in the summary or a rationale; a different age later."""
    case = ctx.record.case
    out: list[Finding] = []
    if case.patient_sex in ("male", "female") and ctx.sections.summary:
        other = "female" if case.patient_sex == "male" else "male"
        spans = _pronoun_spans(ctx)
        strong, weak = _patient_pronouns(ctx.text, spans, case.patient_sex)
        hits = sorted(strong + weak)
        if not strong and len(hits) < MIN_OPPOSITE:
            hits = _right_after_statement(ctx, spans, other)
        if hits:
            stated = _stated(ctx, case.patient_sex)
            ev = ([stated] if stated else []) + [_around(ctx, s, e) for s, e in hits[:3]]
            out.append(
                finding(
                    "demographic-inconsistency",
                    SEVERITY_POLICY["demographic-inconsistency"].severity,
                    f"The summary describes a {case.patient_sex} patient, but {len(hits)} later "
                    f"{'pronouns refer' if len(hits) > 1 else 'pronoun refers'} to the patient as {other}.",
                    ev,
                )
            )
    if case.patient_age and ctx.sections.summary:
        first = None
        start = ctx.sections.summary[0]
        for m in matches_at(_AGE, ctx.text, _age_starts(ctx.text, start, len(ctx.text))):
            age = int(m.group(1))
            if first is None:
                first = m
                continue
            if abs(age - case.patient_age) > 1 and 14 <= age <= 100:
                out.append(
                    finding(
                        "demographic-inconsistency",
                        SEVERITY_POLICY["demographic-inconsistency"].severity,
                        f"The patient's age is given as {case.patient_age} and later as {age}.",
                        [
                            ctx.evidence(first.start(), first.end()),
                            ctx.evidence(m.start(), m.end()),
                        ],
                    )
                )
                break
    return out


# Who a pronoun can refer to in the summary and the rationales. A pronoun is the patient's
# when the patient is named earlier in its sentence with no one else named in between, or,
# with no one named before it in its sentence, when the sentences before it name the patient
# and no one else (a sentence naming no one keeps the state). Anyone else named (a physician,
# the treating provider, the reviewer, a spouse) makes the pronouns after it someone else's
# until the patient is named again; a third party owned by an opposite pronoun ("her treating
# provider" of a male patient) does not, since that pronoun is already the patient's.
_THIRD_PERSON_WORDS = [
    "physician",
    "doctor",
    "provider",
    "surgeon",
    "therapist",
    "chiropractor",
    "reviewer",
    "clinician",
    "practitioner",
    "nurse",
    "specialist",
    "consultant",
    "examiner",
    "evaluator",
    "orthopedist",
    "orthopaedist",
    "neurologist",
    "psychologist",
    "psychiatrist",
    "physiatrist",
    "acupuncturist",
    "podiatrist",
    "radiologist",
    "anesthesiologist",
    "internist",
    "treater",
    "author",
    "attorney",
    "employer",
    "supervisor",
    "manager",
    "adjuster",
    "coworker",
    "co-worker",
    "wife",
    "husband",
    "spouse",
    "son",
    "daughter",
    "mother",
    "father",
    "sister",
    "brother",
    "child",
    "friend",
]
_PERSON = re.compile(
    r"\b(?:(?P<patient>patient|claimant|applicant|injured\s+(?:worker|employee)|employee|worker|"
    r"iw|gentleman|lady|man|woman|male|female|mr|mrs|ms)"
    # plural and collective: "he" or "she" cannot refer to them
    r"|(?P<many>(?:" + "|".join(_THIRD_PERSON_WORDS) + r")s|children|family|parents|staff)"
    r"|(?P<third>" + "|".join(_THIRD_PERSON_WORDS) + r"|qme|ame|ptp|pa-c|pa|np|md|dr)"
    r"|(?P<male>he|him|his|himself)|(?P<female>she|her|hers|herself))\b"
)
_PATIENT, _THIRD, _SOMEONE = "patient", "third", None


def _pronoun_spans(ctx: CheckContext) -> list[tuple[int, int]]:
    """The case summary and every rationale, without overlaps, in text order."""
    summary = ctx.sections.summary
    assert summary is not None  # the caller checks for a summary
    spans = sorted([summary] + [d.rationale_span for d in ctx.record.decisions if d.rationale_span])
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a < out[-1][1]:
            a = out[-1][1]
        if a < b:
            out.append((a, b))
    return out


def _patient_pronouns(
    text: str, spans: list[tuple[int, int]], sex: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Opposite-sex pronouns that refer to the patient: ``strong`` ones after the patient is
    named (in the sentence, or the sentences before name only the patient), ``weak`` ones
    with no one named before them."""
    other = "female" if sex == "male" else "male"
    strong: list[tuple[int, int]] = []
    weak: list[tuple[int, int]] = []
    for a, b in spans:
        masked = _blank_slashed(text[a:b])
        if next(finditer_at(_PRONOUN_START[other], _PRONOUNS[other], masked), None) is None:
            continue  # the common case: no pronoun of the other sex at all
        low = masked.lower()
        scan = low if lower_folds(masked, low) else masked
        rx = _PERSON if scan is low else re.compile(_PERSON.pattern, re.I)
        before = _SOMEONE  # who the sentences so far were about
        for sa, sb in sentences(masked):
            ref = before
            named_third = False
            for m in rx.finditer(scan, sa, sb):
                kind = m.lastgroup
                if kind == "many":
                    continue
                if kind == "third":
                    if not _owned_by(scan, m.start(), other) and not _DOCUMENT.match(scan, m.end()):
                        # the rest of the sentence may be about them, whoever is named next
                        named_third = True
                        ref = _THIRD
                elif named_third:
                    continue
                elif kind == "patient":
                    ref = _PATIENT
                elif ref is _THIRD:
                    continue
                elif kind == other:
                    (strong if ref is _PATIENT else weak).append((a + m.start(), a + m.end()))
                    ref = ref or _PATIENT
                else:
                    ref = ref or _PATIENT
            if named_third:
                before = _THIRD
            elif ref is not _SOMEONE:
                before = ref
    return strong, weak


# A person word naming a document rather than a person ("a physician progress note",
# "the Doctor's First Report", "the treating provider's request"): no referent.
_DOCUMENT = re.compile(
    # possessive: "the Doctor's First Report", "the provider's notes"
    r"(?:['\u2019]s?\s+(?:[a-z-]+\s+){0,2}?(?:progress\s+)?(?:notes?|reports?|records?|"
    r"documentation|letters?|requests?|rfa|pr-?2|orders?|prescriptions?|forms?|narratives?|"
    r"evaluations?|visits?|office|consultations?|recommendations?|treatment\s+plan)"
    # a compound noun, never a verb ("physician progress note"; not "the husband reports")
    r"|\s+(?:progress\s+notes?|note|report|record|documentation|letter|rfa|pr-?2|narrative|"
    r"evaluation|visit|office|consultation|recommendation|request|order|prescription|"
    r"treatment\s+plan))\b"
)


_OWNER = {
    "male": re.compile(r"\b(?:his|him)\s+(?:[a-z-]+\s+){0,3}$", re.I),
    "female": re.compile(r"\b(?:her)\s+(?:[a-z-]+\s+){0,3}$", re.I),
}


def _owned_by(text: str, pos: int, other: str) -> bool:
    """Whether the person named at ``pos`` is owned by an ``other``-sex pronoun ("her primary
    treating provider"): the pronoun already counts, and the person is the patient's."""
    return bool(_OWNER[other].search(text, max(0, pos - 60), pos))


_SEX_STATEMENT = {
    "male": re.compile(r"\b\d{1,3}[- ](?:years?|yr)[- ]old,?\s+(?:male|man|gentleman)\b", re.I),
    "female": re.compile(r"\b\d{1,3}[- ](?:years?|yr)[- ]old,?\s+(?:female|woman|lady)\b", re.I),
}
# "The claimant is a 59 year old female who sustained an injury on 10-20-16. His diagnoses
# include ...": an opposite pronoun opening the very next sentence can only mean the
# person just described.
_NEXT_SENTENCE = 200


def _owned(clause: str, third: re.Match, other: str) -> bool:
    """Whether the third party in ``clause`` is the patient's own ("her primary treating
    provider"), so that it does not explain a later opposite pronoun in the clause."""
    return bool(
        re.search(_PRONOUNS[other].pattern + r"(?:\s+\w+){0,3}\s*$", clause[: third.start()], re.I)
    )


def _right_after_statement(
    ctx: CheckContext, spans: list[tuple[int, int]], other: str
) -> list[tuple[int, int]]:
    """An opposite pronoun that opens the sentence right after the sex is stated."""
    sex = "female" if other == "male" else "male"
    for a, b in spans:
        for st in matches_at(_SEX_STATEMENT[sex], ctx.text, _age_starts(ctx.text, a, b), b):
            stop = ctx.text.find(". ", st.end(), min(b, st.end() + _NEXT_SENTENCE))
            if stop == -1:
                continue
            nxt = re.compile(r"\s*(" + _PRONOUNS[other].pattern + r")", re.I).match(
                ctx.text, stop + 1
            )
            if nxt:
                return [(nxt.start(1), nxt.end(1))]
    return []


def _stated(ctx: CheckContext, sex: str):
    assert ctx.sections.summary is not None  # the caller checks for a summary
    a, b = ctx.sections.summary
    word = r"\b(?:male|man|gentleman)\b" if sex == "male" else r"\b(?:female|woman|lady)\b"
    m = re.compile(word, re.I).search(ctx.text, a, b)
    return ctx.evidence(m.start(), m.end()) if m else None


def _around(ctx: CheckContext, start: int, end: int):
    a = max(ctx.text.rfind(" ", 0, max(0, start - 25)) + 1, 0)
    b = ctx.text.find(" ", end + 20)
    b = len(ctx.text) if b == -1 else b
    return ctx.evidence(a, b)
