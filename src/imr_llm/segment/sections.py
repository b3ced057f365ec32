"""Section boundaries: header, reviewer credentials, case summary, issues, documents."""

from __future__ import annotations

import re

from imr_llm.schemas import Layout
from imr_llm.segment.markers import (
    HOW_HEADING,
    ISSUES_HEADINGS,
    REQUEST_2013,
    first_request_block,
)
from imr_llm.text.spans import LineRegex, Sections

_SUMMARY_HEADING = LineRegex(
    r"[ \t]*(?:(?:CLINICAL |EXPERT REVIEWER'?S? )?CASE SUMMARY"
    r"|(?:Clinical |Expert Reviewer'?s? )?Case Summary):?[ \t]*$"
)
# The lead-in sentence between a summary heading and the summary itself (searched in the
# first _SUMMARY_INTRO_WINDOW characters after the heading only).
_SUMMARY_INTRO = re.compile(
    r"including\s+all\s+medical\s+records:?[ \t]*\n"
    r"|based\s+on\s+a\s+review\s+of\s+the\s+case\s+file[^\n]*\n"
    r"|\bcase\s+summary\s+below\b[^.:]*[.:][ \t]*\n",
    re.I,
)
_SUMMARY_INTRO_WINDOW = 800
_DOCS_HEADING = LineRegex(r"[ \t]*DOCUMENTS REVIEWED:?[ \t]*$")


def find_sections(text: str, layout: Layout) -> Sections:
    n = len(text)
    how = HOW_HEADING.search(text)
    summ = _SUMMARY_HEADING.search(text)
    issues = ISSUES_HEADINGS.search(text)
    if layout == "dwc-2013":
        issues = REQUEST_2013.search(text) and first_request_block(text)
    docs = _DOCS_HEADING.search(text)
    marks = sorted(
        (m.start(), name)
        for name, m in (
            ("credentials", how),
            ("summary", summ),
            ("issues", issues),
            ("documents", docs),
        )
        if m
    )
    spans: dict[str, tuple[int, int]] = {}
    for i, (start, name) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else n
        spans[name] = (start, end)
    first = marks[0][0] if marks else n
    header = (0, first) if first > 0 and layout in ("dwc-2016", "dwc-2015", "dwc-2013") else None
    if summ:
        s0, s1 = spans["summary"]
        body = _SUMMARY_INTRO.search(text, s0, min(s1, summ.end() + _SUMMARY_INTRO_WINDOW))
        spans["summary"] = (body.end() if body else summ.end(), s1)
    return Sections(
        header=header,
        credentials=spans.get("credentials"),
        summary=spans.get("summary"),
        documents=spans.get("documents"),
        issues=spans.get("issues"),
    )
