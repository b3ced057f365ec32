"""Segment: deterministic parse of a letter's layout, header fields, sections and items.

The MAXIMUS templates make decision words, citations, dates and section boundaries exact to
parse; every decision carries character spans into ``Letter.text``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate
from typing import Any

from imr_llm.schemas import (
    CaseFacts,
    Conclusion,
    Decision,
    Evidence,
    Layout,
    Letter,
    Outcome,
    Sex,
)
from imr_llm.text import dates as dateparse
from imr_llm.text.negation import last_conclusion
from imr_llm.text.spans import LineRegex, Sections, sentence_around

_ISSUES_HEADINGS = LineRegex(
    r"[ \t]*(IMR ISSUES,? DECISIONS AND RATIONALES|IMR DECISION\(S\) AND RATIONALE\(S\)"
    r"|INDEPENDENT MEDICAL REVIEW DECISION AND RATIONALE)[ \t]*$"
)
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
_HOW_HEADING = LineRegex(
    r"[ \t]*(HOW THE IMR FINAL DETERMINATION WAS MADE|Medical Qualifications of the Expert Reviewer:?)",
    re.I,
)
_DOCS_HEADING = LineRegex(r"[ \t]*DOCUMENTS REVIEWED:?[ \t]*$")
_DECISION_WORD = re.compile(r"(?P<word>upheld|overturned|uphold|overturn)[ \t]*\.?[ \t]*$", re.I)
_DECISION_WORD_LEN = len("overturned")  # the longest decision word
_CA_LABEL = LineRegex(
    r"[ \t]*(Claims Administrator guideline:|The Claims Administrator based (?:its|their|his|her) decision on)"
)
_REV_LABEL = LineRegex(
    r"[ \t]*(MAXIMUS guideline:|The Expert Reviewer based (?:his/her|his|her|its|their) decision on)"
)
_RAT_LABEL = LineRegex(r"[ \t]*(Decision rationale:|The Expert Reviewer'?s decision rationale:)")
# "Decision based on" (2014-2016) or the "the" of "based its decision on the MTUS ..." (2013).
_LEAD_IN = re.compile(r"^\s*(?:(?i:Decision\s+based\s+on)\s+)?(?:the\s+(?=[A-Z]))?")
# 2013 item headings: "1. Request for X is (not) medically necessary and appropriate." The
# heading may wrap anywhere; it ends at a blank line or at the block's first label.
_REQUEST_2013 = LineRegex(r"[ \t]*(?P<num>\d{1,2})\.[ \t]+Request[ \t]+for[ \t\n]+")
_REQUEST_2013_DECISION = re.compile(
    r"\s+(?:is|are)\s+(?P<neg>not\s+)?medically\s+necessary(?:\s+and\s+appropriate)?\W*$", re.I
)
_BLOCK_2013 = re.compile(r"The\s+Claims\s+Administrator\s+based|The\s+Expert\s+Reviewer")
_HEADING_2013_STOP = re.compile(
    r"[ \t]*(?:$|The\s+Claims\s+Administrator\s+based|The\s+Expert\s+Reviewer|\d{1,2}\.[ \t])",
    re.M,
)
_ORIGINAL_FORM = re.compile(
    r"^(?P<orig>.+?) was the original request\b.*?(?:remaining IMR eligible portion of the\s+"
    r"original request,?\s*(?P<rem>.+)|The original request,\s*(?P<whole>.+))$",
    re.S | re.I,
)
_HEADING_SENTENCE_END = re.compile(
    r"(was the original request|by the Claims Administrator|IMR eligible|Claims Administrator)\.\s*$",
    re.I,
)

_AGE_SEX = re.compile(
    r"\b(?P<age>\d{1,3})\s*(?:-|\s)?\s*(?:years?|yrs?|y/o|yo)\b(?:[\s-]*old)?[\s,-]*"
    r"(?:(?:old|year[- ]old)\s+)?(?P<sex>male|female|man|woman|gentleman|lady|boy|girl)?",
    re.I,
)
_SEX_WORD = re.compile(r"\b(?P<sex>male|female|man|woman|gentleman|lady)\b", re.I)
_HE = re.compile(r"\b(he|him|his|himself)\b", re.I)
_SHE = re.compile(r"\b(she|her|hers|herself)\b", re.I)
_SPECIALTY = re.compile(
    r"Certification\(s\)/Specialty:\s*(?P<s>[^\n]+(?:\n(?![A-Z ]+:|CLINICAL)[^\n]+)?)"
)
_BOARD = re.compile(
    r"[Bb]oard[ \t\n]+[Cc]ertified[ \t\n]+in[ \t\n]+(?P<s>[A-Z][\w &/,-]*?(?:\n[\w &/,-]+?)??)"
    r"(?:,|\.|\s+and\s+is\b)"
)
_DIAG = re.compile(
    r"(?:diagnos(?:es|is|ed)\s+(?:include[sd]?|of|were|are|was|is|as|with)|diagnosed\s+with)"
    r"\s*:?\s*(?P<d>[^.]{3,400})\.",
    re.I,
)

_SEX_MAP: dict[str, Sex] = {
    "male": "male",
    "man": "male",
    "gentleman": "male",
    "boy": "male",
    "female": "female",
    "woman": "female",
    "lady": "female",
    "girl": "female",
}

REGION_TERMS: dict[str, tuple[str, ...]] = {
    "low back": ("low back", "lower back", "lumbar", "lumbosacral", "sacroiliac", "l4-5", "l5-s1"),
    "neck": ("neck", "cervical"),
    "upper back": ("thoracic", "upper back"),
    "shoulder": ("shoulder", "rotator cuff", "scapul"),
    "elbow": ("elbow", "epicondyl"),
    "wrist/hand": ("wrist", "hand", "carpal", "finger", "thumb"),
    "hip": ("hip",),
    "knee": ("knee", "patell", "menisc"),
    "ankle/foot": ("ankle", "foot", "feet", "heel", "plantar", "toe"),
    "head": ("head injury", "headache", "concussion", "traumatic brain"),
}


@dataclass
class Segmentation:
    layout: Layout
    case: CaseFacts
    decisions: list[Decision]
    sections: Sections
    is_imr: bool = True
    notes: list[str] = field(default_factory=list)


def segment(letter: Letter) -> Segmentation:
    text = letter.text
    layout = detect_layout(text)
    sections = find_sections(text, layout)
    if layout == "dwc-2013":
        decisions = _items_2013(text, sections)
    else:
        decisions = _items_heading_form(text, sections)
    case = _case_facts(text, sections, layout)
    return Segmentation(
        layout=layout,
        case=case,
        decisions=decisions,
        sections=sections,
        is_imr=bool(decisions) or looks_like_imr(text),
    )


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
        _REQUEST_2013.search(text) and re.search(r"Expert Reviewer'?s decision rationale", text)
    ):
        return "dwc-2013"
    if re.search(r"IMR DECISION\(S\) AND RATIONALE\(S\)", text) or re.match(
        r"\s*MAXIMUS FEDERAL SERVICES, INC\.", text
    ):
        return "dwc-2015"
    if _ISSUES_HEADINGS.search(text):
        if re.search(r"Case\s+Number:", head):
            return "dwc-2016"
        return "dwc-2014"
    return "unknown"


def find_sections(text: str, layout: Layout) -> Sections:
    n = len(text)
    how = _HOW_HEADING.search(text)
    summ = _SUMMARY_HEADING.search(text)
    issues = _ISSUES_HEADINGS.search(text)
    if layout == "dwc-2013":
        issues = _REQUEST_2013.search(text) and _first_request_block(text)
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


def _first_request_block(text: str):
    for m in _REQUEST_2013.finditer(text):
        if _BLOCK_2013.search(text, m.end(), m.end() + 600):
            return m
    return None


@dataclass
class _Heading:
    start: int
    end: int
    word_start: int
    word: str


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
    labels = [m.start() for m in _CA_LABEL.finditer(text, start, end)]
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


def _clean(s: str) -> str:
    """Whitespace runs as one space, none at the ends (``str.split`` splits where ``\\s`` matches)."""
    return " ".join(s.split())


def _outcome(word: str) -> Outcome:
    return "upheld" if word.lower().startswith("uph") else "overturned"


def _items_heading_form(text: str, sections: Sections) -> list[Decision]:
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
        _fill_block(text, d, h.end, block_end)
        decisions.append(d)
    return decisions


def _item_text(raw: str) -> tuple[str, str | None]:
    heading = _clean(raw)
    m = _ORIGINAL_FORM.match(heading)
    if m:
        item = (m.group("rem") or m.group("whole") or "").strip()
        item = re.sub(r"\s+is$", "", item).rstrip(" ,.")
        orig = _clean(m.group("orig"))
        if m.group("whole"):
            orig = item
        return item, orig
    heading = re.sub(r"\s+is$", "", heading)
    return heading, None


def _fill_block(text: str, d: Decision, start: int, end: int) -> None:
    block = text[start:end]
    ca = _CA_LABEL.search(block)
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
    return _LEAD_IN.sub("", _clean(s), count=1)


def parse_conclusion(text: str, span: tuple[int, int]) -> tuple[Conclusion, Evidence | None]:
    """The rationale's own conclusion: its last non-hypothetical sentence saying the request
    is (not) medically necessary, negation read by scope (``text.negation``)."""
    c = last_conclusion(text, *span)
    if c is None:
        return "unclear", None
    s0, s1 = sentence_around(text, c.start, *span)
    ev = Evidence(quote=text[s0:s1], start=s0, end=s1)
    return ("not_medically_necessary" if c.polarity == "negated" else "medically_necessary"), ev


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


def _items_2013(text: str, sections: Sections) -> list[Decision]:
    start = sections.issues[0] if sections.issues else 0
    end = (
        sections.documents[0] if sections.documents and sections.documents[0] > start else len(text)
    )
    matches = [
        m
        for m in _REQUEST_2013.finditer(text, start, end)
        if _BLOCK_2013.search(text, m.end(), min(end, m.end() + 600))
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
            item=_clean(item).rstrip(" ,.;:"),
            outcome=outcome,
            span=(hs, block_end),
            heading_span=(hs, he),
        )
        _fill_block(text, d, he, block_end)
        decisions.append(d)
    return decisions


_HEADER_LABELS = {
    "case_number": r"Case\s+Number:",
    "date_assigned": r"Date\s+Assigned:",
    "date_of_injury": r"Date\s+of\s+Injury:",
    "decision_date": r"Decision\s+Date:",
    "ur_denial_date": r"UR\s+Denial\s+Date:",
    "priority": r"Priority:",
    "application_received": r"Application\s+Received:",
}
# The 2013 notice labels its dates differently: "Dated:" is the decision date and "Date of UR
# Decision:" the UR denial date; the assignment date is in the sentence saying when the Notice
# of Assignment and Request for Information was sent.
_HEADER_LABELS_2013 = {
    **_HEADER_LABELS,
    "decision_date": r"(?m:^[ \t]*Dated:)|Decision\s+Date:",
    "ur_denial_date": r"Date\s+of\s+UR\s+Decision:|UR\s+Denial\s+Date:",
}
_LABEL_RX = {name: re.compile(p) for name, p in _HEADER_LABELS.items()}
_LABEL_RX_2013 = {name: re.compile(p) for name, p in _HEADER_LABELS_2013.items()}
# What each label's value is (a date unless named here).
_VALUE_KIND = {"case_number": "case", "priority": "priority"}
_ASSIGNED_2013 = re.compile(
    r"Notice\s+of\s+Assignment\b(?:\s+and\s+Request\s+for\s+Information)?"
    r"(?:\s+(?:was|were)\s+sent)?\s+(?:on|dated)\s+"
)
_CASE_NO = re.compile(r"\bCM\d{2}-\d{5,8}\b")
_PRIORITY = re.compile(r"\b(Standard|Expedited)\b", re.I)


def parse_header(text: str, layout: Layout | None = None) -> dict[str, object]:
    """Header fields in any extraction order.

    PDFium and pypdf put each value after its label; pdfminer emits a column of labels and then
    a column of values, or a value just before its label. Pairing runs in passes: label then
    value, a run of labels then a run of values, value then label, then what is left in order.
    """
    stop = _HOW_HEADING.search(text[:4000])
    head = text[: stop.start() if stop else 2500]
    tokens: list[tuple[int, int, str, str, object]] = []
    labels = _LABEL_RX_2013 if layout == "dwc-2013" else _LABEL_RX
    for name, rx in labels.items():
        m = rx.search(head)
        if m:
            tokens.append((m.start(), m.end(), "label", name, None))
    for m in _CASE_NO.finditer(head):
        tokens.append((m.start(), m.end(), "value", "case", m.group(0)))
    for m in _PRIORITY.finditer(head):
        tokens.append((m.start(), m.end(), "value", "priority", m.group(1).capitalize()))
    assigned = None
    if layout == "dwc-2013" and not labels["date_assigned"].search(head):
        am = _ASSIGNED_2013.search(head)
        if am and (d := dateparse.date_at(head, am.end())):
            assigned = (am.end(), d)
    for m, d in dateparse.find_dates(head):
        if assigned and m.start() == assigned[0]:
            continue
        tokens.append((m.start(), m.end(), "value", "date", d))
    tokens.sort()
    paired: dict[int, int] = {}
    out: dict[str, object] = {}
    n = len(tokens)

    def fits(li: int, vi: int) -> bool:
        want = _VALUE_KIND.get(tokens[li][3], "date")
        return want == tokens[vi][3] and li not in paired and vi not in paired

    def blank_between(i: int, j: int) -> bool:
        return not head[tokens[i][1] : tokens[j][0]].strip()

    def pair(li: int, vi: int) -> None:
        paired[li] = vi
        paired[vi] = li
        out[tokens[li][3]] = tokens[vi][4]

    def alone(i: int) -> bool:
        line_start = head.rfind("\n", 0, tokens[i][0]) + 1
        line_end = head.find("\n", tokens[i][1])
        rest = head[tokens[i][1] : line_end if line_end != -1 else len(head)]
        return not rest.strip() and (is_label(i) or not head[line_start : tokens[i][0]].strip())

    def is_label(i: int) -> bool:
        return tokens[i][2] == "label"

    i = 0
    while i < n:
        run = []
        while i < n and is_label(i):
            run.append(i)
            i += 1
        if not run:
            i += 1
            continue
        vals: list[int] = []
        while i < n and not is_label(i) and len(vals) < len(run):
            vals.append(i)
            i += 1
        if len(run) >= 2 and len(vals) == len(run) and all(map(alone, run + vals)):
            for li, vi in zip(run, vals, strict=True):
                if fits(li, vi):
                    pair(li, vi)
    for i in range(n - 1):
        if is_label(i) and not is_label(i + 1) and blank_between(i, i + 1) and fits(i, i + 1):
            pair(i, i + 1)
    for i in range(1, n):
        if is_label(i) and not is_label(i - 1) and blank_between(i - 1, i) and fits(i, i - 1):
            pair(i, i - 1)
    for li in [i for i in range(n) if is_label(i)]:
        for vi in range(n):
            if not is_label(vi) and fits(li, vi):
                pair(li, vi)
                break
    if assigned:
        out["date_assigned"] = assigned[1]
    return out


def _case_facts(text: str, sections: Sections, layout: Layout) -> CaseFacts:
    header = parse_header(text, layout) if layout != "dwc-2014" else {}
    summary = text[sections.summary[0] : sections.summary[1]] if sections.summary else text[:6000]
    # pydantic validates each header value against its field
    known: dict[str, Any] = {k: v for k, v in header.items() if k in CaseFacts.model_fields}
    facts = CaseFacts(**known)
    if facts.date_of_injury is None:
        facts.date_of_injury = injury_date_from_summary(summary)
    age, sex = age_and_sex(summary)
    facts.patient_age = age
    facts.patient_sex = sex
    facts.reviewer_specialty = _specialty(text)
    facts.diagnoses = _diagnoses(summary)
    facts.body_regions = body_regions(summary)
    return facts


_INJURY_CONTEXT = re.compile(
    r"(?:date\s+of\s+(?:industrial\s+)?injury|\bDOI\b|injur(?:y|ed)(?:\s+\w+){0,3}?\s+(?:on|of|dated)"
    r"|industrial\s+injury\s+(?:on|of)|injured\s+(?:at\s+work\s+)?on)",
    re.I,
)


# The injury event told without the word "injury" ("slipped on a wet floor on 02/27/2012"):
# an event verb, then "on" and a date later in the same sentence.
_INJURY_EVENT = re.compile(
    r"\b(?:slipped|tripped|fell|twisted|inverted|rolled|strained|sprained|hurt|struck|hit"
    r"|lifted|lifting|pulled|developed|crushed|jammed|lacerated|cut"
    r"|felt\s+(?:a\s+)?(?:pop|snap|tear|sharp|sudden|pain))\b",
    re.I,
)
_ON_DATE = re.compile(r"\bon\s+(?=[\dA-Za-z])")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z(\"]|\s*$)")
_EVENT_SENTENCES = 2
_EVENT_WINDOW = 700
_EVENT_REACH = 120


def injury_date_from_summary(summary: str) -> date | None:
    for m in _INJURY_CONTEXT.finditer(summary):
        for dm, d in dateparse.find_dates(summary[m.end() : m.end() + 60]):
            if dm.start() < 25:
                return d
    return injury_event_date(summary)


def injury_event_date(summary: str) -> date | None:
    """The date of the injury event in the summary's first sentences, when they tell it
    without naming it an injury ("... who slipped on a wet floor on 02/27/2012 ...")."""
    start = len(summary) - len(summary.lstrip())
    end = min(len(summary), start + _EVENT_WINDOW)
    stops = []
    for m in _SENTENCE_END.finditer(summary, start, end):
        stops.append(m.end())
        if len(stops) == _EVENT_SENTENCES:
            break
    end = stops[-1] if stops else end
    for m in _INJURY_EVENT.finditer(summary, start, end):
        stop = min([s for s in stops if s > m.end()] + [end, m.end() + _EVENT_REACH])
        for on in _ON_DATE.finditer(summary, m.end(), stop):
            d = dateparse.date_at(summary, on.end())
            if d is not None:
                return d
    return None


def age_and_sex(summary: str) -> tuple[int | None, Sex | None]:
    age: int | None = None
    sex: Sex | None = None
    for m in _AGE_SEX.finditer(summary[:3000]):
        value = int(m.group("age"))
        if 14 <= value <= 100:
            age = value
            if m.group("sex"):
                sex = _SEX_MAP[m.group("sex").lower()]
            break
    if sex is None:
        word = _SEX_WORD.search(summary[:1500])
        if word:
            sex = _SEX_MAP[word.group("sex").lower()]
    if sex is None:
        he, she = len(_HE.findall(summary)), len(_SHE.findall(summary))
        if he >= 2 and he > 3 * she:
            sex = "male"
        elif she >= 2 and she > 3 * he:
            sex = "female"
    return age, sex


def _specialty(text: str) -> str | None:
    m = _SPECIALTY.search(text)
    if m:
        return _clean(m.group("s")).rstrip(" ,&")
    m = _BOARD.search(text[:5000])
    return _clean(m.group("s")) if m else None


def _diagnoses(summary: str) -> list[str]:
    m = _DIAG.search(summary)
    if not m:
        return []
    parts = re.split(r",\s*|;\s*|\s+and\s+", _clean(m.group("d")))
    return [p.strip() for p in parts if 2 < len(p.strip()) < 120][:12]


# Where a region term may start: a word boundary (every term starts with a letter).
_WORD_START = re.compile(r"\b")


def _starts_word(low: str, term: str) -> bool:
    """``re.search(r"\b" + re.escape(term), low)``, by ``str.find`` (``re`` would try the
    pattern at every position of the text)."""
    i = low.find(term)
    while i != -1:
        if _WORD_START.match(low, i):
            return True
        i = low.find(term, i + 1)
    return False


def body_regions(text: str) -> list[str]:
    low = text.lower()
    return [
        region for region, terms in REGION_TERMS.items() if any(_starts_word(low, t) for t in terms)
    ]
