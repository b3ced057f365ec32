"""``no-documentation``: a rationale denies a finding the case summary documents."""

from __future__ import annotations

import re

from imr_llm.codes import Code
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    planted_finding,
    register,
)
from imr_llm.segment import Segmentation

_NEGATION = re.compile(
    r"\b(?:no|not|without|negative|denie[sd]|deny|absent|free of|rule out|r/o|possible|versus|vs\.?|suspected|normal)\b",
    re.I,
)
DOCUMENTED: list[tuple[str, str]] = [
    (r"positive straight[- ]leg[- ]rais(?:e|ing)", "a positive straight leg raise"),
    (
        r"positive (?:Spurling|Tinel|Phalen|McMurray|Neer|Hawkins|Hoffmann|FABER|Patrick)",
        "a positive provocative test",
    ),
    (r"\bspasms?\b", "muscle spasm"),
    (
        r"\b(?:decreased|diminished|reduced|limited|restricted)\s+(?:\w+\s+)?range\s+of\s+motion",
        "reduced range of motion",
    ),
    (r"\b(?:decreased|diminished|reduced)\s+sensation", "decreased sensation"),
    (r"\b(?:numbness|paresthesias?|tingling)\b", "numbness or paresthesias"),
    (r"\bradiculopathy\b", "radiculopathy"),
    (r"\btenderness\b", "tenderness on examination"),
    (r"\btrigger points?\b", "trigger points"),
    (r"\beffusion\b", "an effusion"),
    (r"\bweakness\b", "weakness"),
    (
        r"\bpain\s+(?:was\s+)?(?:rated|of|at)\s+\d{1,2}(?:\s*/\s*10|\s+out\s+of\s+10|\s+on\s+a\s+10)",
        "pain scores",
    ),
]


def _documented(text: str, start: int, end: int) -> list[tuple[str, str, tuple[int, int]]]:
    """(pattern, phrase, span) for findings the text states positively."""
    out = []
    for pat, phrase in DOCUMENTED:
        for m in re.finditer(pat, text[start:end], re.I):
            a = start + m.start()
            s0 = max(text.rfind(". ", start, a) + 2, a - 50, start)
            if _NEGATION.search(text, s0, a) or _NEGATION.search(
                text, start + m.end(), min(end, start + m.end() + 25)
            ):
                continue
            out.append((pat, phrase, (a, start + m.end())))
            break
    return out


@register
class NoDocumentation(Operator):
    name = "no-documentation"
    code = Code.fact_contradiction
    description = "make an upheld item's rationale deny for 'no documentation' of a finding the summary documents"

    def candidates(self, src, rng):
        span = src.summary_span
        if not span:
            raise CannotApply("no case summary section")
        documented = _documented(src.text, *span)
        if not documented:
            raise CannotApply("the summary documents none of the findings this operator knows")
        out = []
        for d in src.decisions():
            g = src.gold_decision(d.index)
            ev = d.conclusion_evidence
            if src.flagged(d.index) or g["conclusion"] != "not_medically_necessary" or ev is None:
                continue
            for pat, phrase, (a, b) in documented:
                if re.search(pat, d.rationale or "", re.I):
                    continue
                sentence = (
                    f"There is no documentation of {phrase} in the submitted medical records. "
                )
                out.append(
                    Planted(
                        edits=[Edit(ev.start, ev.start, sentence)],
                        findings=[
                            planted_finding(
                                self.code,
                                d.index,
                                f"Rationale says there is no documentation of {phrase}; the summary "
                                f"states '{_context(src.text, a, b, *span)}'.",
                            )
                        ],
                        description=f"item {d.index}: 'no documentation of {phrase}'",
                        expect={
                            "index": d.index,
                            "sentence": sentence.strip(),
                            "evidence": src.text[a:b],
                        },
                    )
                )
        if not out:
            raise CannotApply(
                "no unflagged not-necessary item whose rationale leaves a documented finding unmentioned"
            )
        rng.shuffle(out)
        return out

    def verify(self, src, planted, text, seg):
        problems = super().verify(src, planted, text, seg)
        if problems:
            return problems
        d = seg.decisions[planted.expect["index"]]
        if planted.expect["sentence"] not in " ".join(d.rationale.split()):
            problems.append("the inserted sentence is not in the rationale")
        if d.conclusion != "not_medically_necessary":
            problems.append(f"the conclusion now parses as {d.conclusion}")
        if planted.expect["evidence"] not in seg_summary(text, seg):
            problems.append("the documented finding is no longer in the summary")
        return problems


def _context(text: str, a: int, b: int, lo: int, hi: int, width: int = 60) -> str:
    """The matched words with some text either side, on one line."""
    left, right = max(lo, a - width), min(hi, b + width)
    return " ".join(text[left:right].split())


def seg_summary(text: str, seg: Segmentation) -> str:
    span = seg.sections.summary
    return text[span[0] : span[1]] if span else ""
