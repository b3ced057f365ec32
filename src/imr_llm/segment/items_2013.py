"""Items of the 2013 notice: numbered "Request for X is (not) medically necessary" headings,
each followed by its labeled fields."""

from __future__ import annotations

import re

from imr_llm.schemas import Decision, Outcome
from imr_llm.segment.item_fields import fill_block
from imr_llm.segment.markers import BLOCK_2013, REQUEST_2013, clean
from imr_llm.text.spans import Sections

_REQUEST_2013_DECISION = re.compile(
    r"\s+(?:is|are)\s+(?P<neg>not\s+)?medically\s+necessary(?:\s+and\s+appropriate)?\W*$", re.I
)
_HEADING_2013_STOP = re.compile(
    r"[ \t]*(?:$|The\s+Claims\s+Administrator\s+based|The\s+Expert\s+Reviewer|\d{1,2}\.[ \t])",
    re.M,
)


def items_2013(text: str, sections: Sections) -> list[Decision]:
    start = sections.issues[0] if sections.issues else 0
    end = (
        sections.documents[0] if sections.documents and sections.documents[0] > start else len(text)
    )
    matches = [
        m
        for m in REQUEST_2013.finditer(text, start, end)
        if BLOCK_2013.search(text, m.end(), min(end, m.end() + 600))
    ]
    decisions = []
    for k, m in enumerate(matches):
        block_end = matches[k + 1].start() if k + 1 < len(matches) else end
        hs = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
        he = _heading_2013_end(text, m.end(), block_end)
        words = text[m.end() : he]
        dm = _REQUEST_2013_DECISION.search(words)
        outcome: Outcome
        if dm:
            item, outcome = words[: dm.start()], "upheld" if dm.group("neg") else "overturned"
        else:
            item, outcome = words, "unknown"
        d = Decision(
            index=k,
            item=clean(item).rstrip(" ,.;:"),
            outcome=outcome,
            span=(hs, block_end),
            heading_span=(hs, he),
        )
        fill_block(text, d, he, block_end)
        decisions.append(d)
    return decisions


def _heading_2013_end(text: str, pos: int, limit: int) -> int:
    """End of a 2013 item heading starting at ``pos``: the end of its last line before a blank
    line, the block's first label or the next numbered line (at most six lines)."""
    end = text.find("\n", pos, limit)
    end = limit if end == -1 else end
    for _ in range(5):
        if end >= limit or (
            text[pos:end].rstrip().endswith(".") and _REQUEST_2013_DECISION.search(text, pos, end)
        ):
            break
        if _HEADING_2013_STOP.match(text, end + 1):
            break
        nxt = text.find("\n", end + 1, limit)
        end = limit if nxt == -1 else nxt
    while end > pos and text[end - 1].isspace():
        end -= 1
    return end
