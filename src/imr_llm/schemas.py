"""Typed models: the input letter, the per-letter audit record (DESIGN §5), and findings.

The record is a contract read by other tools: fields may be added, never renamed or removed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Layout = Literal["dwc-2013", "dwc-2014", "dwc-2015", "dwc-2016", "unknown"]
Outcome = Literal["upheld", "overturned", "unknown"]
Conclusion = Literal["medically_necessary", "not_medically_necessary", "unclear"]
Sex = Literal["male", "female"]
Detector = Literal["rules", "llm"]


class Severity(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"

    @property
    def rank(self) -> int:
        return {"high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


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


class Finding(BaseModel):
    code: str
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
    failed_questions: list[str] = Field(
        default_factory=list,
        description="Questions the model could not answer with grounded quotes after every re-ask.",
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
    llm: LLMUsage = Field(default_factory=LLMUsage)
    seconds: float | None = None
    text: str | None = Field(default=None, description="Letter text, only with --with-text.")

    def max_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def to_json_dict(self) -> dict:
        return self.model_dump(
            mode="json", exclude_none=False, exclude={"text"} if self.text is None else None
        )
