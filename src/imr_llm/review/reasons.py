"""Pick lists of reasons for a verdict: common ones plus a few per finding code (free text
is always allowed besides)."""

from __future__ import annotations

COMMON = {
    "confirmed": [
        "the letter contradicts itself as the finding says",
        "real, but the severity should be higher",
        "real, but the severity should be lower",
    ],
    "dismissed": [
        "the quoted text was misread",
        "the letter is consistent on a full reading",
        "the finding is about another item",
        "text extraction (PDF) error",
        "duplicate of another finding",
    ],
    "unsure": [
        "needs a clinician's reading",
        "needs the source PDF or case file",
    ],
}

BY_CODE = {
    "decision-conclusion-mismatch": {
        "dismissed": [
            "the conclusion was read wrong (negation or hypothetical)",
            "the decision word was read wrong",
        ]
    },
    "criteria-decision-mismatch": {"dismissed": ["the criteria analysis supports the decision"]},
    "fact-contradiction": {
        "dismissed": [
            "the summary does not settle the fact",
            "the rationale speaks of another time or body part",
        ]
    },
    "treatment-mismatch": {
        "dismissed": [
            "the rationale is about the item after all",
            "a generic word, not another treatment",
        ]
    },
    "guideline-topic-mismatch": {
        "dismissed": [
            "the cited section does cover the item",
            "the citation is the claims administrator's",
        ]
    },
    "guideline-region-mismatch": {
        "dismissed": [
            "the chapter fits the item or the injury",
            "the citation is the claims administrator's",
        ]
    },
    "date-inconsistency": {
        "dismissed": [
            "the date's role was misread (birth, guideline, other event)",
            "an earlier injury explains the date",
        ]
    },
    "demographic-inconsistency": {
        "dismissed": [
            "the pronoun refers to another person",
            "age differs by the time between visits",
        ]
    },
    "quantity-over-limit": {"dismissed": ["the limit was misread", "the quantity was misread"]},
    "suspicious-instructions": {"dismissed": ["ordinary clinical text, not an instruction"]},
    "missing-decision": {"dismissed": ["the decision word is there (layout not read)"]},
    "missing-rationale": {"dismissed": ["the rationale is there (layout not read)"]},
    "unparsed-section": {"dismissed": ["the section is there (layout not read)"]},
}


def reasons_for(code: str) -> dict[str, list[str]]:
    """{verdict: [reasons]} for a finding code: the code's own reasons first."""
    own = BY_CODE.get(code, {})
    return {v: [*own.get(v, []), *COMMON[v]] for v in COMMON}
