"""``item_criteria``: the guideline criteria one item's rationale applies, each met / unmet /
not addressed by the rationale's own account, with its words.

Decides ``criteria-decision-mismatch`` (high), reading this answer and ``item_verdict``'s:
Overturned, yet the criteria list has unmet criteria and none met, or the verdict is "does not
meet" and the rationale has a sentence about this patient reporting a shortfall; or Upheld, yet
the list has met criteria and none unmet (or the verdict is "meets"), and the rationale states
no absence (``absence_claims`` or ``STATED_SHORTFALL``) and no exceeded limit. Each counted
criterion's quote must lie inside the rationale, speak about this patient rather than restate
the guideline, and (for "unmet") carry a negative or over-limit cue that is not a supporting
negative such as "no side effects" or "has not had acupuncture before", (for "met") carry none.
Items whose rationale concludes against its own decision word are left to
``decision-conclusion-mismatch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from imr_llm.codes import Code
from imr_llm.extract.claims import GUIDELINE_TALK, PATIENT_STRONG, Claim, absence_claims
from imr_llm.llm.responses import CriteriaAnswer, CriterionCheck
from imr_llm.questions.base import Answers, LetterView, RationaleQuestion, rationale_span
from imr_llm.questions.quotes import CONCLUSION, conclusion_evidence, inside
from imr_llm.questions.verdict import VerdictQuestion, read_verdict
from imr_llm.schemas import AuditRecord, Decision, Evidence, Finding, Severity
from imr_llm.text.spans import clauses


class CriteriaQuestion(RationaleQuestion):
    name = "item_criteria"
    response_model = CriteriaAnswer
    codes = (Code.criteria_decision_mismatch,)

    def worth_asking(self, view: LetterView, item: Decision) -> bool:
        return could_mismatch(view, item)

    def decide(self, view: LetterView, item: Decision | None, answers: Answers) -> list[Finding]:
        span = rationale_span(item) if item is not None else None
        if item is None or span is None:
            return []
        text = view.text
        conclusion = item.conclusion
        pass1 = view.extraction.item(item.index) if view.extraction is not None else None
        if conclusion == "unclear" and pass1 is not None and pass1.rationale is not None:
            conclusion = pass1.rationale.conclusion
        finding = criteria_finding(
            item,
            read_criteria(answers.one(self.name, item.index), text, span),
            read_verdict(answers.one(VerdictQuestion.name, item.index), text, span),
            text,
            span,
            absence_claims(text, span),
            view.record,
            conclusion,
        )
        return [finding] if finding is not None else []


# Its own list, not text.negation's shared one: with that one ("never", "cannot", "unable"
# reporting this patient's shortfall) 2 more blind-set items were asked and one more false
# alarm raised.
_UNMET_CUE = re.compile(
    r"\b(?:no|not|none|nor|without|negative|normal|intact|unchanged|lack(?:s|ing)?|absent|"
    r"fail(?:s|ed)?\s+to|exceed(?:s|ed|ing)?|more\s+than|in\s+excess|beyond|rather\s+than|"
    r"inconsisten\w*|only)\b|n't\b",
    re.I,
)
_NOT_A_SHORTFALL = re.compile(
    r"\b(?:has|have|had)\s+not\s+(?:previously\s+|yet\s+|already\s+)?(?:had|tried|received|"
    r"undergone)|\bno\s+(?:prior|previous)\b|\bno\s+(?:side\s+effects?|adverse|aberrant|"
    r"inconsisten\w*|red\s+flags?|contraindications?|signs?\s+of\s+(?:misuse|abuse|diversion)|"
    r"history\s+of\s+(?:substance|drug|alcohol|misuse|abuse))",
    re.I,
)
"""Negative wording that supports a request rather than reporting a shortfall ("has not had
acupuncture before", "no side effects", "no aberrant behavior")."""
STATED_SHORTFALL = re.compile(
    r"\b(?:(?:a\s+)?(?:lack|absence)\s+of|no|without)\s+(?:\w+\s+){0,2}?(?:documentation|"
    r"evidence|indication|record|report|mention|description)\b|\bnot\s+(?:been\s+|clearly\s+)*"
    r"(?:documented|established|demonstrated|provided|submitted)\b|\bfail(?:s|ed)?\s+to\s+"
    r"(?:document|provide|demonstrate|show|establish|include|specify)\b",
    re.I,
)
"""A rationale saying the records lack something, in any sentence, its verdict's included
("Given the lack of clear evidence of ..., the request is not medically necessary"): an
Upheld decision it explains cannot be one whose criteria were all met."""
_LIMIT_CUE = re.compile(
    r"\b(?:exceed(?:s|ed|ing)?|more\s+than\s+(?:the\s+)?(?:guidelines?|recommended|allowed|"
    r"maximum|limit)|in\s+excess\s+of|beyond\s+(?:the\s+)?(?:guidelines?|recommended|limit)|"
    r"more\s+than\s+(?:\w+\s+){0,3}allow)",
    re.I,
)
_PATIENT = re.compile(
    r"\b(?:in\s+this\s+case|this\s+(?:patient|claimant|injured\s+worker)|the\s+(?:patient|"
    r"claimant|injured\s+worker|records?|examination|exam|notes?|MRI|imaging|study|provider)|"
    r"he|she|his|her|has|had|completed|documents?|documented|shows?|showed|reports?|reported|"
    r"there\s+(?:is|are|was|were))\b",
    re.I,
)


@dataclass
class CriterionReading:
    check: CriterionCheck
    evidence: Evidence


@dataclass
class CriteriaReading:
    met: list[CriterionReading] = field(default_factory=list)
    unmet: list[CriterionReading] = field(default_factory=list)


def read_criteria(
    answer: CriteriaAnswer | None, text: str, span: tuple[int, int]
) -> CriteriaReading:
    """Keep the criteria whose quote lies in the rationale, speaks about this patient, and
    carries (unmet, inside a sentence reporting this patient's shortfall) or lacks (met) a
    negative / over-limit cue."""
    out = CriteriaReading()
    if answer is None:
        return out
    shortfalls = _patient_shortfalls(text, span)
    seen: set[tuple[int, int]] = set()
    for c in answer.criteria:
        if c.status == "not_addressed":
            continue
        ev = inside(text, c.quote, span)
        if ev is None:
            continue
        if (ev.start, ev.end) in seen:
            continue
        quote = ev.quote
        if CONCLUSION.search(quote):
            continue
        if GUIDELINE_TALK.search(quote) and not PATIENT_STRONG.search(quote):
            continue
        negative = bool(_UNMET_CUE.search(quote))
        if (
            c.status == "unmet"
            and negative
            and not _NOT_A_SHORTFALL.search(quote)
            and any(e.start < ev.end and ev.start < e.end for e in shortfalls)
        ):
            out.unmet.append(CriterionReading(c, ev))
        elif c.status == "met" and not negative and _PATIENT.search(quote):
            out.met.append(CriterionReading(c, ev))
        else:
            continue
        seen.add((ev.start, ev.end))
    return out


def could_mismatch(view: LetterView, d: Decision) -> bool:
    """Whether some answer could make ``criteria_finding`` fire for ``d``: what it requires of
    the rationale before it reads an answer. Overturned: a rationale sentence reporting this
    patient's shortfall (where an unmet criterion's quote must lie, and what a "does not meet"
    verdict needs). Upheld: no absence claim, no exceeded limit (stated or found by the
    rules)."""
    span = rationale_span(d)
    if span is None or d.outcome not in ("upheld", "overturned"):
        return False
    if not _consistent(d.outcome, d.conclusion):
        return False
    text = view.text
    rationale = text[span[0] : span[1]]
    if d.outcome == "overturned":
        return bool(_patient_shortfalls(text, span))
    return not (
        absence_claims(text, span)
        or STATED_SHORTFALL.search(rationale)
        or _LIMIT_CUE.search(rationale)
        or any(
            f.code == "quantity-over-limit" and f.decision_index == d.index
            for f in view.record.findings
        )
    )


def _consistent(outcome: str, conclusion: str) -> bool:
    return conclusion == "unclear" or (outcome, conclusion) in (
        ("upheld", "not_medically_necessary"),
        ("overturned", "medically_necessary"),
    )


def _patient_shortfalls(text: str, span: tuple[int, int]) -> list[Evidence]:
    """Rationale sentences that report a shortfall in this patient's records: about the patient
    (not the guideline), with a negative cue, not a supporting negative ("no side effects",
    "has not had acupuncture before"), and not the concluding sentence."""
    out = []
    for a, b in clauses(text, span[0], span[1]):
        sentence = text[a:b]
        if (
            PATIENT_STRONG.search(sentence)
            and _UNMET_CUE.search(sentence)
            and not _NOT_A_SHORTFALL.search(sentence)
            and not CONCLUSION.search(sentence)
            and not (GUIDELINE_TALK.search(sentence) and not PATIENT_STRONG.search(sentence))
        ):
            out.append(Evidence(quote=sentence, start=a, end=b))
    return out


def criteria_finding(
    d: Decision,
    reading: CriteriaReading,
    verdict: tuple[str, Evidence | None],
    text: str,
    span: tuple[int, int],
    claims: list[Claim],
    record: AuditRecord,
    conclusion: str,
) -> Finding | None:
    """``criteria-decision-mismatch`` when the verified criteria point against the decision.

    Two readings of the rationale, either of which suffices once verified: the per-criterion
    list (``reading``) and the overall verdict (``verdict``). Overturned: unmet criteria and
    none met, or a "does not meet" verdict backed by a sentence reporting a shortfall in this
    patient's records. Upheld: met criteria and none unmet, or a "meets" verdict; and the
    rationale states no absence and no exceeded limit."""
    if d.outcome not in ("upheld", "overturned") or not _consistent(d.outcome, conclusion):
        return None
    rationale = text[span[0] : span[1]]
    says, said = verdict
    if d.outcome == "overturned":
        evidence: list[Evidence] = []
        if reading.unmet and not reading.met:
            evidence = [r.evidence for r in reading.unmet[:3]]
            why = "; ".join(f"'{r.check.criterion}'" for r in reading.unmet[:3])
            why = f"finds criteria unmet ({why}) and none met"
        # read_verdict quotes every stated verdict: ``said`` is None only with "not_stated"
        elif says == "does_not_meet" and said is not None and not reading.met:
            shortfalls = _patient_shortfalls(text, span)
            if not shortfalls:
                return None
            inside = [e for e in shortfalls if said.start < e.end and e.start < said.end]
            evidence = (inside or shortfalls)[:2]
            why = "says this patient's records do not meet the guideline's conditions"
        if not evidence:
            return None
        return Finding(
            code=Code.criteria_decision_mismatch,
            severity=Severity.high,
            decision_index=d.index,
            message=f"Item {d.index + 1} was Overturned (medically necessary), but its rationale {why}.",
            detector="llm",
            evidence=evidence + conclusion_evidence(d),
        )
    if claims or reading.unmet or says == "does_not_meet" or STATED_SHORTFALL.search(rationale):
        return None
    if _LIMIT_CUE.search(rationale) or any(
        f.code == "quantity-over-limit" and f.decision_index == d.index for f in record.findings
    ):
        return None
    if reading.met:
        evidence = [r.evidence for r in reading.met[:3]]
        why = "; ".join(f"'{r.check.criterion}'" for r in reading.met[:3])
        why = f"finds the criteria met ({why}) and none unmet"
    elif (
        says == "meets"
        and said is not None
        and not _UNMET_CUE.search(said.quote)
        and _PATIENT.search(said.quote)
    ):
        evidence = [said]
        why = "says this patient's records meet the guideline's conditions"
    else:
        return None
    return Finding(
        code=Code.criteria_decision_mismatch,
        severity=Severity.high,
        decision_index=d.index,
        message=(
            f"Item {d.index + 1} was Upheld (not medically necessary), but its rationale {why}, "
            "with no limit exceeded."
        ),
        detector="llm",
        evidence=evidence + conclusion_evidence(d),
    )
