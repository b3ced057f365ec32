"""Items of the 2014-2016 letters: a heading ending in its decision word ("Item name:
Upheld"), then the item's labeled fields up to the next heading."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from imr_llm.schemas import Decision, Outcome
from imr_llm.segment.item_fields import CA_LABEL, fill_block
from imr_llm.segment.markers import clean
from imr_llm.text.spans import Sections

_DECISION_WORD = re.compile(r"(?P<word>upheld|overturned|uphold|overturn)[ \t]*\.?[ \t]*$", re.I)
_DECISION_WORD_LEN = len("overturned")  # the longest decision word
_ORIGINAL_FORM = re.compile(
    r"^(?P<orig>.+?) was the original request\b.*?(?:remaining IMR eligible portion of the\s+"
    r"original request,?\s*(?P<rem>.+)|The original request,\s*(?P<whole>.+))$",
    re.S | re.I,
)
_HEADING_SENTENCE_END = re.compile(
    r"(was the original request|by the Claims Administrator|IMR eligible|Claims Administrator)\.\s*$",
    re.I,
)


@dataclass
class _Heading:
    start: int
    end: int
    word_start: int
    word: str


def items_heading_form(text: str, sections: Sections) -> list[Decision]:
    start, end = sections.issues or (0, len(text))
    if sections.issues:
        after = re.search(r"set forth below:?[ \t]*\n", text[start:end])
        start = start + after.end() if after else text.find("\n", start) + 1
    headings = _find_headings(text, start, end)
    headings = _with_undecided_headings(text, start, end, headings)
    decisions = []
    for k, h in enumerate(headings):
        block_end = headings[k + 1].start if k + 1 < len(headings) else end
        raw = text[h.start : h.word_start].rstrip()
        raw = raw[:-1] if raw.endswith(":") else raw
        item, original = _item_text(raw)
        d = Decision(
            index=k,
            item=item,
            outcome=_outcome(h.word) if h.word else "unknown",
            span=(h.start, block_end),
            heading_span=(h.start, h.end),
            original_request=original,
        )
        fill_block(text, d, h.end, block_end)
        decisions.append(d)
    return decisions


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each line of ``text[start:end]`` (``end <= len(text)``), newlines
    excluded; no empty last line."""
    parts = text[start:end].split("\n")
    if not parts[-1]:
        parts.pop()
    offsets = list(accumulate(map((1).__add__, map(len, parts)), initial=start))
    return [(a, b - 1) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def _decision_lines(text: str, start: int, end: int, lines: list[tuple[int, int]]):
    """Indices of the lines that hold a decision word's start ("uph", "overturn"), found by
    ``str.find`` in a lower-cased copy; every line when lower-casing moves offsets."""
    low = text[start:end].lower()
    if len(low) != end - start:
        return range(len(lines))
    firsts = [a for a, _ in lines]
    found = set()
    for word in ("uph", "overturn"):
        i = low.find(word)
        while i != -1:
            found.add(bisect_right(firsts, start + i) - 1)
            i = low.find(word, i + 1)
    return sorted(found)


def _find_headings(text: str, start: int, end: int) -> list[_Heading]:
    lines = _line_spans(text, start, end)
    headings: list[_Heading] = []
    floor = 0
    for i in _decision_lines(text, start, end, lines):
        a, b = lines[i]
        line = text[a:b]
        # A decision word ends the line (but for spaces and a dot): search only its tail.
        m = _DECISION_WORD.search(line, max(0, len(line.rstrip(" \t.")) - _DECISION_WORD_LEN))
        if not m:
            continue
        before = line[: m.start()].rstrip()
        if before:
            if not before.endswith(":"):
                continue
        else:
            prev = text[lines[i - 1][0] : lines[i - 1][1]].rstrip() if i else ""
            if not prev.endswith(":"):
                continue
        j = i
        first_line = i if before else i - 1
        j = first_line
        k = j - 1
        while k >= floor and first_line - k < 10:
            prev = text[lines[k][0] : lines[k][1]].strip()
            if not prev:
                k -= 1
                continue
            if _is_boundary_line(prev):
                break
            j = k
            k -= 1
        headings.append(_Heading(lines[j][0], b, a + m.start(), m.group("word")))
        floor = i + 1
    return headings


def _with_undecided_headings(
    text: str, start: int, end: int, headings: list[_Heading]
) -> list[_Heading]:
    """Add the headings of items printed without a decision word.

    Every item block has one "Claims Administrator guideline:" label. A label that is not the
    first in its block belongs to an item whose heading ("Item name:") carries no
    Upheld/Overturned: it becomes a heading with an empty decision word (outcome unknown).
    """
    labels = [m.start() for m in CA_LABEL.finditer(text, start, end)]
    if len(labels) <= len(headings):
        return headings
    starts = [h.start for h in headings]
    seen: set[int] = set()
    extra: list[_Heading] = []
    floor = start
    for pos in labels:
        k = bisect_right(starts, pos) - 1
        if k >= 0 and k not in seen and pos >= headings[k].end:
            seen.add(k)
        elif h := _heading_before(text, pos, max(floor, headings[k].end if k >= 0 else start)):
            extra.append(h)
        floor = pos
    return sorted(headings + extra, key=lambda h: h.start) if extra else headings


def _heading_before(text: str, pos: int, floor: int) -> _Heading | None:
    """The "Item name:" lines just above the label at ``pos`` (up to a sentence end)."""
    line_start = text.rfind("\n", floor, pos) + 1 or floor
    first = last_end = None
    a = line_start
    for _ in range(6):
        if a <= floor:
            break
        b = a - 1
        a = max(floor, text.rfind("\n", floor, b) + 1)
        line = text[a:b].strip()
        if not line:
            if first is None:
                continue
            break
        if _is_boundary_line(line):
            break
        if last_end is None:
            if not line.endswith(":"):
                return None
            last_end = a + len(text[a:b].rstrip())
        first = a + len(text[a:b]) - len(text[a:b].lstrip())
    if first is None or last_end is None:
        return None
    return _Heading(first, last_end, last_end, "")


def _is_boundary_line(line: str) -> bool:
    if _HEADING_SENTENCE_END.search(line):
        return False
    if re.match(r"(Decision rationale|MAXIMUS guideline|Claims Administrator guideline):", line):
        return True
    if line.isupper() and len(line) > 8:
        return True
    if re.search(r"(set forth below|guideline|rationale):\s*$", line, re.I):
        return True
    return bool(re.search(r"[.;!?\"')\]]\s*$|necessary\.?\d*\s*$", line))


def _outcome(word: str) -> Outcome:
    return "upheld" if word.lower().startswith("uph") else "overturned"


def _item_text(raw: str) -> tuple[str, str | None]:
    heading = clean(raw)
    m = _ORIGINAL_FORM.match(heading)
    if m:
        item = (m.group("rem") or m.group("whole") or "").strip()
        item = re.sub(r"\s+is$", "", item).rstrip(" ,.")
        orig = clean(m.group("orig"))
        if m.group("whole"):
            orig = item
        return item, orig
    heading = re.sub(r"\s+is$", "", heading)
    return heading, None
