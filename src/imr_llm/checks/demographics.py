"""Stated sex and age against the pronouns and ages used later in the letter."""

from __future__ import annotations

import re

from imr_llm.checks.base import CheckContext, finding, register
from imr_llm.schemas import Finding

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


@register("demographics", "demographic-inconsistency")
def demographics(ctx: CheckContext) -> list[Finding]:
    """'A 38 year old female' ... 'his pain' repeatedly; a different age stated later."""
    case = ctx.record.case
    out: list[Finding] = []
    if case.patient_sex and ctx.sections.summary:
        other = "female" if case.patient_sex == "male" else "male"
        spans = [ctx.sections.summary] + [
            d.rationale_span for d in ctx.record.decisions if d.rationale_span
        ]
        hits = []
        for a, b in spans:
            masked = _SLASHED.sub(lambda m: " " * len(m.group(0)), ctx.text[a:b])
            for m in _PRONOUNS[other].finditer(masked):
                sentence = masked[max(0, m.start() - 120) : m.start()]
                last_stop = max(sentence.rfind(". "), sentence.rfind("\n\n"))
                if _THIRD_PARTY.search(sentence[last_stop + 1 :]):
                    continue
                hits.append((a + m.start(), a + m.end()))
        if len(hits) >= MIN_OPPOSITE:
            stated = _stated(ctx, case.patient_sex)
            ev = ([stated] if stated else []) + [_around(ctx, s, e) for s, e in hits[:3]]
            out.append(
                finding(
                    "demographic-inconsistency",
                    "medium",
                    f"The summary describes a {case.patient_sex} patient, but {len(hits)} later "
                    f"pronouns refer to the patient as {other}.",
                    ev,
                )
            )
    if case.patient_age and ctx.sections.summary:
        first = None
        for m in _AGE.finditer(ctx.text, ctx.sections.summary[0]):
            age = int(m.group(1))
            if first is None:
                first = m
                continue
            if abs(age - case.patient_age) > 1 and 14 <= age <= 100:
                out.append(
                    finding(
                        "demographic-inconsistency",
                        "medium",
                        f"The patient's age is given as {case.patient_age} and later as {age}.",
                        [
                            ctx.evidence(first.start(), first.end()),
                            ctx.evidence(m.start(), m.end()),
                        ],
                    )
                )
                break
    return out


def _stated(ctx: CheckContext, sex: str):
    a, b = ctx.sections.summary
    word = r"\b(?:male|man|gentleman)\b" if sex == "male" else r"\b(?:female|woman|lady)\b"
    m = re.compile(word, re.I).search(ctx.text, a, b)
    return ctx.evidence(m.start(), m.end()) if m else None


def _around(ctx: CheckContext, start: int, end: int):
    a = max(ctx.text.rfind(" ", 0, max(0, start - 25)) + 1, 0)
    b = ctx.text.find(" ", end + 20)
    b = len(ctx.text) if b == -1 else b
    return ctx.evidence(a, b)
