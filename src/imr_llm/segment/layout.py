"""Which MAXIMUS template a letter follows, and whether it is an IMR letter at all."""

from __future__ import annotations

import re

from imr_llm.schemas import Layout
from imr_llm.segment.markers import ISSUES_HEADINGS, REQUEST_2013


def looks_like_imr(text: str) -> bool:
    head = text[:20000]
    markers = (
        r"Independent Medical Review",
        r"\bIMR\b",
        r"MAXIMUS",
        r"medically\s+necessary",
        r"Decision rationale",
    )
    return sum(bool(re.search(m, head, re.I)) for m in markers) >= 2


def detect_layout(text: str) -> Layout:
    head = text[:3000]
    if re.search(r"Notice of Independent Medical Review Determination", head, re.I) or (
        REQUEST_2013.search(text) and re.search(r"Expert Reviewer'?s decision rationale", text)
    ):
        return "dwc-2013"
    if re.search(r"IMR DECISION\(S\) AND RATIONALE\(S\)", text) or re.match(
        r"\s*MAXIMUS FEDERAL SERVICES, INC\.", text
    ):
        return "dwc-2015"
    if ISSUES_HEADINGS.search(text):
        if re.search(r"Case\s+Number:", head):
            return "dwc-2016"
        return "dwc-2014"
    return "unknown"
