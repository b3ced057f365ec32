"""The labeled fields of one item block: both guideline citations and the rationale."""

from __future__ import annotations

import re

from imr_llm.schemas import Decision
from imr_llm.segment.conclusion import parse_conclusion
from imr_llm.segment.markers import clean
from imr_llm.text.spans import LineRegex

CA_LABEL = LineRegex(
    r"[ \t]*(Claims Administrator guideline:|The Claims Administrator based (?:its|their|his|her) decision on)"
)
_REV_LABEL = LineRegex(
    r"[ \t]*(MAXIMUS guideline:|The Expert Reviewer based (?:his/her|his|her|its|their) decision on)"
)
_RAT_LABEL = LineRegex(r"[ \t]*(Decision rationale:|The Expert Reviewer'?s decision rationale:)")
# "Decision based on" (2014-2016) or the "the" of "based its decision on the MTUS ..." (2013).
_LEAD_IN = re.compile(r"^\s*(?:(?i:Decision\s+based\s+on)\s+)?(?:the\s+(?=[A-Z]))?")


def fill_block(text: str, d: Decision, start: int, end: int) -> None:
    """Set ``d``'s guideline and rationale fields from ``text[start:end]``."""
    block = text[start:end]
    ca = CA_LABEL.search(block)
    rev = _REV_LABEL.search(block)
    rat = _RAT_LABEL.search(block)
    bounds = sorted(m.start() for m in (ca, rev, rat) if m) + [len(block)]

    def field_span(m):
        if not m:
            return None
        stop = min(b for b in bounds if b > m.start())
        a, b = start + m.end(), start + stop
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        return (a, b)

    if (s := field_span(ca)) is not None:
        d.ca_guideline_span = s
        d.claims_administrator_guideline = _citation(text[s[0] : s[1]])
    if (s := field_span(rev)) is not None:
        d.reviewer_guideline_span = s
        d.reviewer_guideline = _citation(text[s[0] : s[1]])
    if (s := field_span(rat)) is not None:
        d.rationale_span = s
        d.rationale = text[s[0] : s[1]]
        conclusion, ev = parse_conclusion(text, s)
        d.conclusion = conclusion
        d.conclusion_evidence = ev


def _citation(s: str) -> str:
    return _LEAD_IN.sub("", clean(s), count=1)
