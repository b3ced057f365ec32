"""Header fields (case number, priority and the dates) of the 2013, 2015 and 2016 letters, in
any extraction order.

PDFium and pypdf put each value after its label; pdfminer emits a column of labels and then a
column of values, or a value just before its label. Pairing runs in passes: label then value,
a run of labels then a run of values, value then label, then what is left in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from imr_llm.schemas import Layout
from imr_llm.segment.markers import HOW_HEADING
from imr_llm.text import dates as dateparse


class HeaderFields(BaseModel):
    """What the header states; a field the header does not state is None."""

    case_number: str | None = None
    date_assigned: date | None = None
    date_of_injury: date | None = None
    decision_date: date | None = None
    ur_denial_date: date | None = None
    priority: str | None = None
    application_received: date | None = None


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


@dataclass(frozen=True, slots=True)
class _Token:
    """A label ("Case Number:") or a value (a case number, a priority, a date) in the head."""

    start: int
    end: int
    is_label: bool
    name: str  # a label: the field it names; a value: its kind ("case", "priority", "date")
    value: str | date | None = None  # None for a label


def parse_header(text: str, layout: Layout | None = None) -> HeaderFields:
    stop = HOW_HEADING.search(text[:4000])
    head = text[: stop.start() if stop else 2500]
    labels = _LABEL_RX_2013 if layout == "dwc-2013" else _LABEL_RX
    assigned = _assigned_2013(head, labels) if layout == "dwc-2013" else None
    tokens = _label_tokens(head, labels) + _value_tokens(head, assigned)
    tokens.sort(key=lambda t: (t.start, t.end, not t.is_label, t.name))
    fields = _Pairing(head, tokens).run()
    if assigned:
        fields["date_assigned"] = assigned[1]
    return HeaderFields.model_validate(fields)


def _label_tokens(head: str, labels: dict[str, re.Pattern[str]]) -> list[_Token]:
    return [
        _Token(m.start(), m.end(), True, name)
        for name, rx in labels.items()
        if (m := rx.search(head))
    ]


def _value_tokens(head: str, assigned: tuple[int, date] | None) -> list[_Token]:
    """Case numbers, priorities and dates; not the 2013 assignment date, read apart."""
    tokens = [
        _Token(m.start(), m.end(), False, "case", m.group(0)) for m in _CASE_NO.finditer(head)
    ]
    tokens += [
        _Token(m.start(), m.end(), False, "priority", m.group(1).capitalize())
        for m in _PRIORITY.finditer(head)
    ]
    tokens += [
        _Token(m.start(), m.end(), False, "date", d)
        for m, d in dateparse.find_dates(head)
        if not (assigned and m.start() == assigned[0])
    ]
    return tokens


def _assigned_2013(head: str, labels: dict[str, re.Pattern[str]]) -> tuple[int, date] | None:
    """Where the 2013 assignment sentence's date starts, and the date (without a label)."""
    if labels["date_assigned"].search(head):
        return None
    am = _ASSIGNED_2013.search(head)
    if am and (d := dateparse.date_at(head, am.end())):
        return am.end(), d
    return None


class _Pairing:
    """Pairs each label with one value of its kind, pass by pass; a paired token is taken."""

    def __init__(self, head: str, tokens: list[_Token]):
        self.head = head
        self.tokens = tokens
        self.paired: dict[int, int] = {}
        self.fields: dict[str, str | date | None] = {}

    def run(self) -> dict[str, str | date | None]:
        self._label_run_then_value_run()
        self._label_then_value()
        self._value_then_label()
        self._in_order()
        return self.fields

    def _label_run_then_value_run(self) -> None:
        """A column of two or more labels, each alone on its line, then as many values."""
        n = len(self.tokens)
        i = 0
        while i < n:
            run = []
            while i < n and self._is_label(i):
                run.append(i)
                i += 1
            if not run:
                i += 1
                continue
            vals: list[int] = []
            while i < n and not self._is_label(i) and len(vals) < len(run):
                vals.append(i)
                i += 1
            if len(run) >= 2 and len(vals) == len(run) and all(map(self._alone, run + vals)):
                for li, vi in zip(run, vals, strict=True):
                    if self._fits(li, vi):
                        self._pair(li, vi)

    def _label_then_value(self) -> None:
        for i in range(len(self.tokens) - 1):
            if self._adjacent(label=i, value=i + 1):
                self._pair(i, i + 1)

    def _value_then_label(self) -> None:
        for i in range(1, len(self.tokens)):
            if self._adjacent(label=i, value=i - 1):
                self._pair(i, i - 1)

    def _in_order(self) -> None:
        n = len(self.tokens)
        for li in [i for i in range(n) if self._is_label(i)]:
            for vi in range(n):
                if not self._is_label(vi) and self._fits(li, vi):
                    self._pair(li, vi)
                    break

    def _adjacent(self, label: int, value: int) -> bool:
        """``label`` and ``value`` are neighbours with only whitespace between, and fit."""
        a, b = sorted((label, value))
        return (
            self._is_label(label)
            and not self._is_label(value)
            and not self.head[self.tokens[a].end : self.tokens[b].start].strip()
            and self._fits(label, value)
        )

    def _is_label(self, i: int) -> bool:
        return self.tokens[i].is_label

    def _fits(self, li: int, vi: int) -> bool:
        want = _VALUE_KIND.get(self.tokens[li].name, "date")
        return want == self.tokens[vi].name and li not in self.paired and vi not in self.paired

    def _pair(self, li: int, vi: int) -> None:
        self.paired[li] = vi
        self.paired[vi] = li
        self.fields[self.tokens[li].name] = self.tokens[vi].value

    def _alone(self, i: int) -> bool:
        """Token ``i`` ends its line and, unless a label, starts it."""
        t = self.tokens[i]
        line_start = self.head.rfind("\n", 0, t.start) + 1
        line_end = self.head.find("\n", t.end)
        rest = self.head[t.end : line_end if line_end != -1 else len(self.head)]
        return not rest.strip() and (t.is_label or not self.head[line_start : t.start].strip())
