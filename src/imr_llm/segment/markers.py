"""Template marks that several parts of the parse read: the section headings that bound the
header and the issues, the 2013 numbered request line, and the whitespace rule for fields."""

from __future__ import annotations

import re

from imr_llm.text.spans import LineRegex

ISSUES_HEADINGS = LineRegex(
    r"[ \t]*(IMR ISSUES,? DECISIONS AND RATIONALES|IMR DECISION\(S\) AND RATIONALE\(S\)"
    r"|INDEPENDENT MEDICAL REVIEW DECISION AND RATIONALE)[ \t]*$"
)
HOW_HEADING = LineRegex(
    r"[ \t]*(HOW THE IMR FINAL DETERMINATION WAS MADE|Medical Qualifications of the Expert Reviewer:?)",
    re.I,
)
# 2013 item headings: "1. Request for X is (not) medically necessary and appropriate." The
# heading may wrap anywhere; it ends at a blank line or at the block's first label.
REQUEST_2013 = LineRegex(r"[ \t]*(?P<num>\d{1,2})\.[ \t]+Request[ \t]+for[ \t\n]+")
BLOCK_2013 = re.compile(r"The\s+Claims\s+Administrator\s+based|The\s+Expert\s+Reviewer")


def first_request_block(text: str) -> re.Match[str] | None:
    """The first 2013 request line followed (within 600 characters) by an item block."""
    for m in REQUEST_2013.finditer(text):
        if BLOCK_2013.search(text, m.end(), m.end() + 600):
            return m
    return None


def clean(s: str) -> str:
    """Whitespace runs as one space, none at the ends (``str.split`` splits where ``\\s`` matches)."""
    return " ".join(s.split())
