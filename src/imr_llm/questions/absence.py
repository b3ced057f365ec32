"""``item_absence``: does the CLINICAL CASE SUMMARY report what a rationale says is absent?

Asked once per absence claim (``imr_llm.extract.claims``) that some summary sentence could
contradict, at most ``MAX_CLAIMS_PER_ITEM`` per item, rule-found claims first, then pass-1
``missing`` facts inside the rationale; the summary sentences that could contradict it are listed
as hints. Decides ``fact-contradiction`` (high; ``low`` unless ``--llm-findings verified``): the
summary quote lies inside the CLINICAL CASE SUMMARY (up to two words trimmed at either edge), is
not about the request, plan or an earlier review, and names the claim's head without a negation
or hedge in its clause (``imr_llm.extract.claims.summary_support``); the claim's sentence and the
quote must not name disjoint body regions. The model's own yes/no is not used.
"""

from __future__ import annotations

from imr_llm.codes import Code
from imr_llm.extract.claims import (
    Claim,
    absence_claims,
    checkable_claims,
    pass1_claims,
    summary_support,
)
from imr_llm.llm.responses import AbsenceCheck
from imr_llm.questions.base import Answers, Ask, LetterView, RationaleQuestion, rationale_span
from imr_llm.questions.quotes import inside, narrow, short
from imr_llm.schemas import Decision, Evidence, Finding, Severity

MAX_CLAIMS_PER_ITEM = 3
"""Absence claims checked per item (each is one call); rule-found claims come first."""


class AbsenceQuestion(RationaleQuestion):
    name = "item_absence"
    response_model = AbsenceCheck
    codes = (Code.fact_contradiction,)
    variables = ("claim", "claim_sentence", "candidates")

    def asks(self, view: LetterView, item: Decision | None) -> list[Ask]:
        summary = view.sections.summary
        span = rationale_span(item) if item is not None else None
        if item is None or span is None or not summary:
            return []
        text = view.text
        claims = absence_claims(text, span)
        claims += pass1_claims(view.extraction, item, text, span, claims)
        claims = checkable_claims(claims, text, summary)
        return [
            Ask(
                {
                    **view.base,
                    "claim": claim.x,
                    "claim_sentence": claim.sentence,
                    "candidates": claim.candidates,
                },
                about=claim,
            )
            for claim in claims[:MAX_CLAIMS_PER_ITEM]
        ]

    def decide(self, view: LetterView, item: Decision | None, answers: Answers) -> list[Finding]:
        summary = view.sections.summary
        if item is None or not summary:
            return []
        asked = [(a.ask.about, a.answer) for a in answers.all(self.name, item.index)]
        finding = fact_finding(item, asked, view.text, summary)
        return [finding] if finding is not None else []


def fact_finding(
    d: Decision, asked: list[tuple[Claim, AbsenceCheck | None]], text: str, summary: tuple[int, int]
) -> Finding | None:
    """``fact-contradiction`` from verified absence answers (one finding per item)."""
    pairs: list[tuple[Claim, Evidence]] = []
    for claim, answer in asked:
        if answer is None or not answer.summary_quote:
            continue
        ev = inside(text, answer.summary_quote, summary)
        # The model's yes/no is not used: measured on the local 1.5B model it was noise (it
        # often quotes the right sentence and then says "no"); the verified quote decides.
        if ev is None or not summary_support(claim, ev.quote):
            continue
        ev = narrow(text, ev, lambda q, c=claim: summary_support(c, q))
        pairs.append((claim, ev))
    if not pairs:
        return None
    claim, ev = pairs[0]
    evidence = [claim.evidence, ev]
    for c, e in pairs[1:]:
        evidence += [c.evidence, e]
    return Finding(
        code=Code.fact_contradiction,
        severity=Severity.high,
        decision_index=d.index,
        message=(
            f"Item {d.index + 1}'s rationale says '{short(claim.evidence.quote)}', but the case "
            f"summary states '{short(ev.quote)}'."
        ),
        detector="llm",
        evidence=evidence,
    )
