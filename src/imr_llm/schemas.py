"""Typed models: the input letter, the per-letter audit record (DESIGN §5), and findings.

The record is a contract read by other tools: fields may be added, never renamed or removed.
"""

from __future__ import annotations

import hashlib
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from imr_llm.codes import Code, Severity

SCHEMA_VERSION = 1

Layout = Literal["dwc-2013", "dwc-2014", "dwc-2015", "dwc-2016", "unknown"]
Outcome = Literal["upheld", "overturned", "unknown"]
Conclusion = Literal["medically_necessary", "not_medically_necessary", "unclear"]
Sex = Literal["male", "female"]
Detector = Literal["rules", "llm"]


class ErrorKind(StrEnum):
    """What went wrong with one input; scripts branch on these values."""

    not_found = "not_found"
    empty = "empty"
    too_large = "too_large"
    binary = "binary"
    encoding = "encoding"
    pdf_encrypted = "pdf_encrypted"
    pdf_corrupt = "pdf_corrupt"
    pdf_no_text = "pdf_no_text"
    unsupported_type = "unsupported_type"
    not_imr_letter = "not_imr_letter"
    llm_error = "llm_error"
    internal = "internal"


class Letter(BaseModel):
    """A letter's extracted text; all offsets in the record index ``text``."""

    model_config = ConfigDict(frozen=True)

    letter_id: str
    source: str
    sha256: str
    text: str
    reader: Literal["pdfium", "text", "pypdf"] = "text"
    pages: int | None = None


class Evidence(BaseModel):
    quote: str
    start: int
    end: int


class CaseFacts(BaseModel):
    case_number: str | None = None
    date_of_injury: date | None = None
    date_assigned: date | None = None
    ur_denial_date: date | None = None
    decision_date: date | None = None
    application_received: date | None = None
    priority: str | None = None
    patient_age: int | None = None
    patient_sex: Sex | None = None
    reviewer_specialty: str | None = None
    diagnoses: list[str] = Field(default_factory=list)
    body_regions: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    index: int
    item: str
    outcome: Outcome = "unknown"
    conclusion: Conclusion = "unclear"
    claims_administrator_guideline: str | None = None
    reviewer_guideline: str | None = None
    rationale: str = ""
    span: tuple[int, int]
    original_request: str | None = None
    heading_span: tuple[int, int] | None = None
    rationale_span: tuple[int, int] | None = None
    ca_guideline_span: tuple[int, int] | None = None
    reviewer_guideline_span: tuple[int, int] | None = None
    conclusion_evidence: Evidence | None = None


def finding_id(
    sha256: str | None, code: str, decision_index: int | None, quotes: list[str], nth: int = 0
) -> str:
    """A finding's stable id (DESIGN §6): the first 16 hex digits of the sha256 of the letter's
    sha256, the code, the item index and the evidence text (quotes, whitespace collapsed), so a
    re-run of the same letter gives the same id and a review verdict stays attached to it.
    ``nth`` tells apart findings that share all of these within one letter."""
    parts = [
        sha256 or "",
        code,
        "" if decision_index is None else str(decision_index),
        "\x1e".join(" ".join(q.split()) for q in quotes),
    ]
    if nth:
        parts.append(str(nth))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


class Finding(BaseModel):
    id: str | None = Field(
        default=None,
        description="Stable id (finding_id): set when the record is written (to_json_dict).",
    )
    code: Code
    severity: Severity
    decision_index: int | None = None
    message: str
    detector: Detector = "rules"
    evidence: list[Evidence] = Field(default_factory=list)


class LLMUsage(BaseModel):
    backend: str = "none"
    model: str | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    questions: dict[str, int] = Field(
        default_factory=dict,
        description="How many times each question was asked about this letter (cache hits too).",
    )
    failed_questions: list[str] = Field(
        default_factory=list,
        description="Questions the model could not answer with grounded quotes after every re-ask.",
    )


class ItemSummary(BaseModel):
    """One disputed item in a summary: its decision and the rationale's decisive reason."""

    index: int
    item: str
    outcome: str
    reason: Evidence | None = None


class SummaryParts(BaseModel):
    """A summary's parts, each a quote of the letter with its offsets (extractive path) or a
    sentence resting on such a quote (LLM path); ``summary`` is these joined in this order."""

    source: Literal["extractive", "llm"] = "extractive"
    injury: Evidence | None = None
    body_parts: list[str] = Field(default_factory=list)
    diagnoses: Evidence | None = None
    treatment_to_date: Evidence | None = None
    items: list[ItemSummary] = Field(default_factory=list)
    fallback_reason: str | None = Field(
        default=None,
        description="Why an LLM summary was not used and this extractive one stands in.",
    )
    sentences: dict[str, str] = Field(
        default_factory=dict,
        description="LLM path: the plain sentence for each part the model grounded in the "
        "letter (keys injury, diagnoses, treatment_to_date, item:<index>); its quote is the part.",
    )
    extractive_parts: list[str] = Field(
        default_factory=list,
        description="LLM path: parts whose LLM quote was missing or not in the letter (for an "
        "item's reason: not in its rationale), so the extractive quote stands.",
    )


class RecordError(BaseModel):
    kind: ErrorKind
    message: str


class AuditRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    letter_id: str
    source: str
    sha256: str | None = None
    path: str | None = Field(
        default=None,
        description="`audit` only: the input's absolute path with symlinks resolved; with sha256, "
        "what resume is keyed on (source is the path as typed).",
    )
    layout: Layout = "unknown"
    status: Literal["ok", "error"] = "ok"
    error: RecordError | None = None
    case: CaseFacts = Field(default_factory=CaseFacts)
    decisions: list[Decision] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    summary: str = ""
    summary_parts: SummaryParts | None = None
    llm: LLMUsage = Field(default_factory=LLMUsage)
    seconds: float | None = None
    text: str | None = Field(default=None, description="Letter text, only with --with-text.")

    def max_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def assign_finding_ids(self) -> AuditRecord:
        """Set every finding's stable ``id`` from its current content (idempotent)."""
        seen: dict[str, int] = {}
        for f in self.findings:
            base = finding_id(self.sha256, f.code, f.decision_index, [e.quote for e in f.evidence])
            nth = seen.get(base, 0)
            seen[base] = nth + 1
            f.id = (
                base
                if not nth
                else finding_id(
                    self.sha256, f.code, f.decision_index, [e.quote for e in f.evidence], nth
                )
            )
        return self

    def to_json_dict(self) -> dict:
        self.assign_finding_ids()
        return self.model_dump(
            mode="json", exclude_none=False, exclude={"text"} if self.text is None else None
        )
