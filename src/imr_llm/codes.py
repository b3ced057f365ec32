"""The finding codes and severities: one spec per code with its severity policy. The README's code table is
generated from here (``python -m imr_llm.codes``), and a test holds every finding to it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"

    @property
    def rank(self) -> int:
        return {"high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


class Code(StrEnum):
    decision_conclusion_mismatch = "decision-conclusion-mismatch"
    criteria_decision_mismatch = "criteria-decision-mismatch"
    fact_contradiction = "fact-contradiction"
    treatment_mismatch = "treatment-mismatch"
    guideline_topic_mismatch = "guideline-topic-mismatch"
    guideline_region_mismatch = "guideline-region-mismatch"
    date_inconsistency = "date-inconsistency"
    demographic_inconsistency = "demographic-inconsistency"
    quantity_over_limit = "quantity-over-limit"
    extraction_disagreement = "extraction-disagreement"
    suspicious_instructions = "suspicious-instructions"
    missing_decision = "missing-decision"
    missing_rationale = "missing-rationale"
    unparsed_section = "unparsed-section"
    citation_disagreement = "citation-disagreement"


@dataclass(frozen=True)
class CodeSpec:
    code: Code
    default: Severity
    allowed: frozenset[Severity]
    meaning: str
    raised_when: str
    at_most_low_when: str
    # Whether findings of this code on the same item from two detectors are one defect (merged,
    # evidence joined) or may each stand (several dates, several planted passages).
    merge: bool = True
    # Why no mutation operator (imr_llm.evals.mutate) plants this code; empty when one does.
    no_operator: str = ""


H, M, L, INFO = Severity.high, Severity.medium, Severity.low, Severity.info


def _spec(code, default, allowed, meaning, raised_when, low_when="", merge=True) -> CodeSpec:
    return CodeSpec(
        Code(code),
        default,
        frozenset(allowed),
        meaning,
        raised_when,
        low_when,
        merge,
        _NO_OPERATOR.get(code, ""),
    )


_NO_OPERATOR = {
    "criteria-decision-mismatch": "a semantic defect (the criteria analysis against its own "
    "conclusion) no text edit plants reliably; measured on the authored and blind sets",
    "extraction-disagreement": "a disagreement of two readers (rules and LLM pass 1), not a "
    "property of the letter's text",
    "missing-decision": "structure the template requires; measured on malformed-layout tests",
    "missing-rationale": "structure the template requires; measured on malformed-layout tests",
    "unparsed-section": "structure the template requires; measured on malformed-layout tests",
    "citation-disagreement": "informational: two guidelines cited is not a defect to plant",
}


SPECS: dict[Code, CodeSpec] = {
    s.code: s
    for s in (
        _spec(
            "decision-conclusion-mismatch",
            H,
            {H},
            "decision word disagrees with the rationale's own conclusion",
            "the item's Upheld/Overturned and the rationale's last non-hypothetical verdict "
            "sentence, negation read by scope, disagree",
            "never raised when the verdict is unclear",
        ),
        _spec(
            "criteria-decision-mismatch",
            H,
            {H, L},
            "the rationale's criteria analysis points the other way (LLM pass 2)",
            "the model's quoted criteria, checked by code, all point against the decision",
            "an answer the code cannot verify; any LLM decision unless --llm-findings verified",
        ),
        _spec(
            "fact-contradiction",
            H,
            {H, M, L},
            "rationale asserts a fact the case summary contradicts",
            "rules: time on a treatment longer than the injury is old (no cumulative trauma or "
            "earlier injury in the letter); LLM: an absence claim the summary's quoted "
            "finding settles",
            "the summary's evidence is indirect; an LLM decision unless --llm-findings verified",
        ),
        _spec(
            "treatment-mismatch",
            M,
            {M, L},
            "rationale is about a different treatment, body part or side than the item",
            "the rationale's own deciding sentence names another treatment (a whole catalog "
            "phrase), another body site or the other side, and never the item's",
            "a match resting on one generic word, or on history and exam sentences",
        ),
        _spec(
            "guideline-topic-mismatch",
            M,
            {M, L},
            "cited page/section covers a different treatment",
            "the reviewer's own citation names a catalogued page or section covering neither "
            "the item's class (the head of its phrase) nor its subject",
            "the citation is the claims administrator's (the UR's, quoted as background)",
        ),
        _spec(
            "guideline-region-mismatch",
            M,
            {M, L},
            "cited body-region chapter fits neither the item nor the injury",
            "the reviewer's own citation names a chapter fitting neither the item's nor the "
            "injured regions",
            "the citation is the claims administrator's",
        ),
        _spec(
            "date-inconsistency",
            M,
            {M, L},
            "impossible order of dates, or an impossible date",
            "header dates out of order; a date whose clause names its event (visit, imaging, "
            "UR, request, dispensing) before the injury or after the decision; a year out of "
            "range. Birth, regulation, guideline-edition and future dates never count",
            "the date's role is unknown",
            merge=False,
        ),
        _spec(
            "demographic-inconsistency",
            M,
            {M},
            "stated sex/age disagree with later text",
            "the stated sex and the patient's own pronoun in the summary or a rationale "
            "disagree (pronouns after another person is named never count); a later age "
            "differs by more than a year",
        ),
        _spec(
            "quantity-over-limit",
            L,
            {L, H},
            "requested quantity exceeds the limit the rationale states",
            "high when the item was Overturned anyway",
            "Upheld items: the reviewer already said no",
        ),
        _spec(
            "extraction-disagreement",
            L,
            {L},
            "rules and LLM read a field differently",
            "never above low",
            merge=False,
        ),
        _spec(
            "suspicious-instructions",
            H,
            {H},
            "letter text addresses automated reviewers; blanked before every other check",
            "imperatives to a model or checker, in any section",
            merge=False,
        ),
        _spec(
            "missing-decision",
            H,
            {H},
            "an item has no decision word the template requires",
            "the item heading holds no Upheld/Overturned",
        ),
        _spec(
            "missing-rationale",
            H,
            {H},
            "an item has no rationale",
            "the decision block holds no rationale text",
        ),
        _spec(
            "unparsed-section",
            H,
            {H},
            "a section the template requires is absent",
            "no header, summary or decision section found",
        ),
        _spec(
            "citation-disagreement",
            INFO,
            {INFO},
            "claims administrator and reviewer cite different guidelines",
            "never above info",
        ),
    )
}

CODE_SEVERITY: dict[str, str] = {c.value: s.default.value for c, s in SPECS.items()}
UNMERGED: frozenset[str] = frozenset(c.value for c, s in SPECS.items() if not s.merge)


def readme_table() -> str:
    """The README's finding-code table."""
    rows = [
        "| code | severity | meaning | medium/high when | at most low when |",
        "|---|---|---|---|---|",
    ]
    order = [H, M, L, INFO]
    for spec in SPECS.values():
        sev = " / ".join(s.value for s in order if s in spec.allowed)
        rows.append(
            f"| `{spec.code.value}` | {sev} | {spec.meaning} | {spec.raised_when} | "
            f"{spec.at_most_low_when or '-'} |"
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(readme_table(), end="")
