"""The conclusion a rationale itself states, read apart from the heading's decision word."""

from __future__ import annotations

from imr_llm.schemas import Conclusion, Evidence
from imr_llm.text.negation import last_conclusion
from imr_llm.text.spans import sentence_around


def parse_conclusion(text: str, span: tuple[int, int]) -> tuple[Conclusion, Evidence | None]:
    """The rationale's own conclusion: its last non-hypothetical sentence saying the request
    is (not) medically necessary, negation read by scope (``text.negation``)."""
    c = last_conclusion(text, *span)
    if c is None:
        return "unclear", None
    s0, s1 = sentence_around(text, c.start, *span)
    ev = Evidence(quote=text[s0:s1], start=s0, end=s1)
    return ("not_medically_necessary" if c.polarity == "negated" else "medically_necessary"), ev
