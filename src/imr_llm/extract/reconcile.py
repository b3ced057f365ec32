"""Compare what the rules and the LLM read where both read the same field.

A difference becomes an ``extraction-disagreement`` finding (severity low, detector ``llm``) with
the LLM's quote and, when the record has one, the rules' span as evidence. The rules' value stays
in the record. Facts only the LLM reads (diagnoses, body regions) fill the record's empty lists
(``case_lists``; the session writes them).
Compared: date of injury, age, sex, the item list (count and names), each item's decision word,
and each item's rationale conclusion (only where both sides give a definite value).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from imr_llm.codes import Code
from imr_llm.extract.llm import LLMExtraction
from imr_llm.llm.responses import ListedItem
from imr_llm.schemas import AuditRecord, Decision, Evidence, Finding, Severity
from imr_llm.segment import case_regions

CODE = "extraction-disagreement"
MATCH_THRESHOLD = 0.6


def _finding(
    message: str, evidence: list[Evidence | None], decision_index: int | None = None
) -> Finding:
    return Finding(
        code=Code(CODE),
        severity=Severity.low,
        decision_index=decision_index,
        message=message,
        detector="llm",
        evidence=[e for e in evidence if e is not None],
    )


def _span_evidence(record_text: str | None, span: tuple[int, int] | None) -> Evidence | None:
    if span is None or record_text is None:
        return None
    return Evidence(quote=record_text[span[0] : span[1]], start=span[0], end=span[1])


def _heading_evidence(d: Decision, text: str | None) -> Evidence | None:
    if text is not None and d.heading_span is not None:
        return _span_evidence(text, d.heading_span)
    return None


_DECISION_WORD = re.compile(r"\s*[:\-]?\s*(upheld|overturned)\s*$", re.I)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _norm_item(s: str) -> str:
    return _NON_WORD.sub(" ", _DECISION_WORD.sub("", s).lower()).strip()


def _similarity(a: str, b: str) -> float:
    a, b = _norm_item(a), _norm_item(b)
    if not a or not b:
        return 0.0
    if a in b or b in a:
        return 1.0
    return SequenceMatcher(None, a, b).ratio()


def match_items(decisions: list[Decision], listed: list[ListedItem]) -> list[tuple[int, int]]:
    """Greedy best-first pairs (decision position, listed position) with similarity >= 0.6."""
    scored = sorted(
        (
            (_similarity(d.item, li.item), i, j)
            for i, d in enumerate(decisions)
            for j, li in enumerate(listed)
        ),
        key=lambda t: (-t[0], abs(t[1] - t[2]), t[1]),
    )
    used_d: set[int] = set()
    used_l: set[int] = set()
    pairs = []
    for score, i, j in scored:
        if score < MATCH_THRESHOLD:
            break
        if i in used_d or j in used_l:
            continue
        used_d.add(i)
        used_l.add(j)
        pairs.append((i, j))
    return sorted(pairs)


def reconcile(
    record: AuditRecord, extraction: LLMExtraction, text: str | None = None
) -> list[Finding]:
    """Findings where rules and LLM disagree. ``text`` (the letter text) lets rules-side spans
    become evidence quotes; without it ``record.text`` is used when present."""
    text = text if text is not None else record.text
    return _case(record, extraction) + _items(record, extraction, text)


def _case(record: AuditRecord, ex: LLMExtraction) -> list[Finding]:
    out: list[Finding] = []
    b = ex.basics
    if b is None:
        return out
    case = record.case
    llm_doi = ex.date_of_injury
    if case.date_of_injury and llm_doi and case.date_of_injury != llm_doi:
        out.append(
            _finding(
                f"Date of injury: the rules read {case.date_of_injury.isoformat()}, "
                f"the LLM read {llm_doi.isoformat()}.",
                [ex.ev("basics.date_of_injury")],
            )
        )
    if case.patient_age is not None and b.age is not None and case.patient_age != b.age.years:
        out.append(
            _finding(
                f"Patient age: the rules read {case.patient_age}, the LLM read {b.age.years}.",
                [ex.ev("basics.age")],
            )
        )
    if case.patient_sex and b.sex is not None and case.patient_sex != b.sex.sex:
        out.append(
            _finding(
                f"Patient sex: the rules read {case.patient_sex}, the LLM read {b.sex.sex}.",
                [ex.ev("basics.sex")],
            )
        )
    return out


def _items(record: AuditRecord, ex: LLMExtraction, text: str | None) -> list[Finding]:
    out: list[Finding] = []
    decisions = record.decisions
    if ex.items_list is not None:
        listed = ex.items_list.items
        pairs = match_items(decisions, listed)
        counts = f"(rules: {len(decisions)} items, LLM: {len(listed)})"
        matched_d = {i for i, _ in pairs}
        matched_l = {j for _, j in pairs}
        for j, li in enumerate(listed):
            if j not in matched_l:
                out.append(
                    _finding(
                        f"The LLM read a disputed item the rules did not: {li.item!r} {counts}.",
                        [ex.ev(f"items_list.items[{j}]")],
                    )
                )
        missing = [d for i, d in enumerate(decisions) if i not in matched_d]
        if len(missing) == 1:
            d = missing[0]
            out.append(
                _finding(
                    f"The rules read item {d.index + 1} ({d.item!r}) but the LLM's item list "
                    f"does not have it {counts}.",
                    [_heading_evidence(d, text)],
                    d.index,
                )
            )
        elif missing:
            # A short list is one misreading of the letter, not one per item left out.
            names = ", ".join(f"{d.index + 1} ({d.item[:60]!r})" for d in missing)
            out.append(
                _finding(
                    f"The LLM's item list leaves out {len(missing)} of the {len(decisions)} items "
                    f"the rules read: items {names} {counts}.",
                    [_heading_evidence(d, text) for d in missing],
                )
            )
        for i, j in pairs:
            d, li = decisions[i], listed[j]
            if d.outcome != "unknown" and li.decision != "unknown" and d.outcome != li.decision:
                out.append(
                    _finding(
                        f"Item {d.index + 1} decision: the rules read {d.outcome}, the LLM read "
                        f"{li.decision}.",
                        [ex.ev(f"items_list.items[{j}]"), _heading_evidence(d, text)],
                        d.index,
                    )
                )
    by_index = {d.index: d for d in decisions}
    for k, it in enumerate(ex.items):
        dec = by_index.get(it.index)
        if dec is None or it.rationale is None:
            continue
        llm_c = it.rationale.conclusion
        if "unclear" in (dec.conclusion, llm_c) or dec.conclusion == llm_c:
            continue
        rules_ev = dec.conclusion_evidence or _span_evidence(text, dec.rationale_span)
        out.append(
            _finding(
                f"Item {dec.index + 1} rationale conclusion: the rules read "
                f"{dec.conclusion.replace('_', ' ')}, the LLM read {llm_c.replace('_', ' ')}.",
                [ex.ev(f"items[{k}].rationale.conclusion"), rules_ev],
                dec.index,
            )
        )
    return out


def case_lists(record: AuditRecord, ex: LLMExtraction) -> dict[str, list[str]]:
    """The case lists only the LLM read (diagnoses, body regions), for those the record has
    empty: an update for ``record.case``."""
    b = ex.basics
    if b is None:
        return {}
    case = record.case
    update: dict[str, list[str]] = {}
    if not case.diagnoses and b.diagnoses:
        update["diagnoses"] = _unique(f.text.strip() for f in b.diagnoses)
    if not case.body_regions and b.body_regions:
        update["body_regions"] = _regions([f.text for f in b.body_regions])
    return update


def _regions(values: list[str]) -> list[str]:
    """Map the LLM's body parts onto the rules' region names where they fit; keep the rest."""
    out: list[str] = []
    for v in values:
        mapped = case_regions(v)
        out += mapped if mapped else [v.strip().lower()]
    return _unique(out)


def _unique(values) -> list[str]:
    seen: list[str] = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return seen
