"""Pronoun operators: the patient's pronouns against the stated sex."""

from __future__ import annotations

import re

from imr_llm.codes import Code
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    match_case,
    planted_finding,
    register,
)
from imr_llm.text import spans

_MALE = re.compile(r"(?<![/\w])(he|him|his|himself)\b(?!/)", re.I)
_FEMALE = re.compile(r"(?<![/\w])(she|her|hers|herself)\b(?!/)", re.I)
_OBJECT_NEXT = {
    "to",
    "and",
    "or",
    "that",
    "the",
    "a",
    "an",
    "with",
    "in",
    "on",
    "at",
    "for",
    "from",
    "by",
    "as",
    "of",
    "if",
    "when",
    "about",
    "into",
    "over",
    "since",
    "because",
    "but",
    "so",
    "until",
    "was",
    "is",
    "had",
    "has",
    "would",
    "will",
    "should",
    "were",
}
_INTRO = re.compile(
    r"\b\d{1,3}[\s-]*(?:year|yr)s?[\s-]*old\b[^.]{0,40}?\b(male|female|man|woman)\b|\b(male|female)\b",
    re.I,
)


def _swap_pronoun(word: str, text: str, end: int) -> str:
    low = word.lower()
    if low in ("he", "him", "his", "himself"):
        new = {"he": "she", "him": "her", "his": "her", "himself": "herself"}[low]
    elif low == "her":
        nxt = re.match(r"\s*([A-Za-z]+|[^\sA-Za-z]|$)", text[end : end + 40])
        token = (nxt.group(1) if nxt else "").lower()
        new = "him" if not token.isalpha() or token in _OBJECT_NEXT else "his"
    else:
        new = {"she": "he", "hers": "his", "herself": "himself"}[low]
    return match_case(new, word)


@register
class PronounSwitch(Operator):
    name = "pronoun-switch"
    code = Code.demographic_inconsistency
    description = "switch the patient's pronouns after the introduction against the stated sex"

    def candidates(self, src, rng):
        sex = (src.label.get("case") or {}).get("patient_sex") or src.seg.case.patient_sex
        if sex not in ("male", "female"):
            raise CannotApply("the letter states no sex")
        if src.has_code(self.code):
            raise CannotApply("the label already lists a demographic-inconsistency")
        span = src.summary_span
        if not span:
            raise CannotApply("no case summary section")
        intro = _INTRO.search(src.text, *span)
        if not intro:
            raise CannotApply("the summary does not state the sex")
        stop = re.compile(r"[.!?](?=\s)").search(src.text, intro.end())
        start = stop.end() if stop else intro.end()
        rx = _MALE if sex == "male" else _FEMALE
        edits = [
            Edit(m.start(), m.end(), _swap_pronoun(m.group(0), src.text, m.end()))
            for m in rx.finditer(src.text, start)
        ]
        if len(edits) < 2:
            raise CannotApply(f"fewer than two {sex} pronouns after the introduction")
        other = "female" if sex == "male" else "male"
        return [
            Planted(
                edits=edits,
                findings=[
                    planted_finding(
                        self.code,
                        None,
                        f"Letter states a {sex} patient, then uses {other} pronouns {len(edits)} times.",
                    )
                ],
                description=f"{len(edits)} pronouns switched {sex} -> {other}",
                expect={"sex": sex, "count": len(edits), "start": start},
            )
        ]

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        if seg.case.patient_sex != planted.expect["sex"]:
            problems.append(f"the stated sex now parses as {seg.case.patient_sex}")
        rx = _FEMALE if planted.expect["sex"] == "male" else _MALE
        if len(rx.findall(text, planted.expect["start"])) < 2:
            problems.append("the switched pronouns are not in the text")
        return problems


# Words that name the patient, and words that name someone else, for choosing which pronouns in
# a rationale are the patient's (a sentence about the patient that names no one else).
_PATIENT_WORD = re.compile(
    r"\b(?:patient|claimant|injured\s+worker|injured\s+employee|employee|applicant|worker)\b",
    re.I,
)
_OTHER_PERSON = re.compile(
    r"\b(?:physician|doctor|provider|surgeon|therapist|chiropractor|reviewer|clinician|"
    r"practitioner|nurse|specialist|consultant|author|wife|husband|spouse|son|daughter|mother|"
    r"father|sister|brother|friend|attorney|employer|supervisor|dr\.?|md|pa-c|np|ptp|pa)\b",
    re.I,
)


@register
class RationalePronounSwitch(Operator):
    name = "rationale-pronoun-switch"
    code = Code.demographic_inconsistency
    description = (
        "in one rationale, call the patient by the other sex's pronoun in one sentence about "
        "the patient (switch its pronouns, or put one in place of 'the patient'); the rest of "
        "the letter keeps the right ones"
    )

    def candidates(self, src, rng):
        sex = (src.label.get("case") or {}).get("patient_sex") or src.seg.case.patient_sex
        if sex not in ("male", "female"):
            raise CannotApply("the letter states no sex")
        if src.has_code(self.code):
            raise CannotApply("the label already lists a demographic-inconsistency")
        rx = _MALE if sex == "male" else _FEMALE
        other = "female" if sex == "male" else "male"
        out = []
        for d in src.decisions():
            if not d.rationale_span:
                continue
            about_patient = False  # the sentence before names the patient and no one else
            for a, b in spans.sentences(src.text, *d.rationale_span):
                sentence = src.text[a:b]
                patient = _PATIENT_WORD.search(sentence)
                alone = not _OTHER_PERSON.search(sentence)
                if alone and (patient or about_patient):
                    edits = self._edits(src.text, a, b, rx, other, patient, about_patient)
                    if edits:
                        out.append(self._planted(d.index, sex, other, edits))
                about_patient = bool(patient) and alone
        if not out:
            raise CannotApply("no rationale sentence about the patient alone to change")
        rng.shuffle(out)
        return out

    @staticmethod
    def _edits(text, a, b, rx, other, patient, about_patient) -> list[Edit]:
        # switch the pronouns after the patient is named (or all, when the sentence before
        # was about the patient alone)
        start = a + patient.end() if patient else a
        edits = [
            Edit(m.start(), m.end(), _swap_pronoun(m.group(0), text, m.end()))
            for m in rx.finditer(text, start, b)
        ]
        if edits or not about_patient:
            return edits
        # else a sentence opening with "The patient('s)" after one about the patient alone:
        # the other sex's pronoun in its place
        m = _SUBJECT_PATIENT.match(text, a, b)
        if not m:
            return []
        if m.group("poss"):
            word = "His" if other == "male" else "Her"
        else:
            word = "He" if other == "male" else "She"
        return [Edit(m.start(), m.end(), word)]

    def _planted(self, index, sex, other, edits) -> Planted:
        return Planted(
            edits=edits,
            findings=[
                planted_finding(
                    self.code,
                    None,
                    f"Letter states a {sex} patient; one sentence of rationale {index} "
                    f"calls the patient {other} ({len(edits)} pronoun(s)).",
                )
            ],
            description=f"item {index}: {len(edits)} rationale pronoun(s) {sex} -> {other}",
            expect={"sex": sex},
        )

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        if seg.case.patient_sex != planted.expect["sex"]:
            problems.append(f"the stated sex now parses as {seg.case.patient_sex}")
        return problems


_SUBJECT_PATIENT = re.compile(
    r"(?:The|This)\s+(?:patient|claimant|injured\s+worker|injured\s+employee|applicant)"
    r"(?P<poss>['\u2019]s)?\b"
)
