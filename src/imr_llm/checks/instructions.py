"""Text aimed at automated reviewers: prompt injection and attempts to steer the checker.

``find_instructions`` runs before segmentation; the pipeline blanks the sentences it finds
(same length, so offsets hold) so that planted text cannot change what the parser reads.
"""

from __future__ import annotations

import re

from imr_llm.checks.base import CheckContext, finding, finditer_at, lower_folds, register
from imr_llm.schemas import Finding
from imr_llm.text.spans import sentence_around

# (pattern, literal words one of which the lowered text must hold before the regex runs)
_PATTERNS: list[tuple[str, tuple[str, ...]]] = [
    (
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|previous\s+|prior\s+"
        r"|above\s+|earlier\s+)*(?:instructions?|prompts?|rules|guidance|directions)",
        ("ignore", "disregard", "forget", "override"),
    ),
    (
        r"\b(?:AI|A\.I\.|automated|automatic|machine|LLM|software|computer)(?:[- ](?:based|powered|driven))?"
        r"[- ](?:(?:audit|review|compliance)(?:ing)?\s+)?(?:reviewers?|auditors?|checkers?|systems?|models?|"
        r"assistants?|tools?|readers?|screening|review|audit)\b",
        ("ai ", "ai-", "a.i.", "automat", "machine", "llm", "software", "computer"),
    ),
    (r"\b(?:large\s+)?language\s+models?\b", ("language model",)),
    (r"\bsystem\s+prompt\b", ("system prompt",)),
    (
        r"\byou\s+are\s+(?:an?\s+)?(?:AI|assistant|language model|chatbot|auditor bot)\b",
        ("you are",),
    ),
    (
        r"\b(?:report|mark|classify|treat|label|flag)\s+(?:this|the)\s+(?:letter|determination|decision|"
        r"case|file)\s+(?:as\s+)?(?:consistent|clean|correct|valid|approved|not\s+inconsistent)",
        ("consistent", "clean", "correct", "valid", "approved"),
    ),
    (
        r"\bdo\s+not\s+(?:flag|report|mention|raise)\s+(?:any\s+)?(?:findings?|issues?|inconsistenc|errors?|this)",
        ("do not flag", "do not report", "do not mention", "do not raise"),
    ),
    (
        r"\bsuppress\s+(?:any\s+|all\s+|the\s+)?(?:findings?|flags?|alerts?|inconsistenc\w*)",
        ("suppress",),
    ),
    (
        r"\bno\s+(?:findings|inconsistencies)\s+(?:should|must|may)\s+be\s+(?:reported|flagged|raised)",
        ("no findings", "no inconsistencies"),
    ),
    (
        r"<\|(?:im_start|im_end|system|user|assistant)\|>|\[/?INST\]|###\s*(?:instruction|system)",
        ("<|", "inst]", "###"),
    ),
    (
        r"\b(?:note|message|attention)\s+(?:to|for)\s+(?:any\s+|the\s+)?(?:automated|AI|machine|software)\b",
        ("note to", "note for", "message to", "message for", "attention to", "attention for"),
    ),
]
# Template labels a planted sentence may follow on the same line; never blank them.
_LABEL = re.compile(r"(?:rationale|guideline|SUMMARY|below|decision on):[ \t]*", re.I)
_COMPILED = [(re.compile(p, re.I), words) for p, words in _PATTERNS]
# Where a pattern can begin, in the lower-cased text (see ``lower_folds``), for a pattern whose
# words are common in letters: ``re`` skips to these in C instead of trying the pattern at
# every position.
_STARTS = {
    _PATTERNS[5][0]: re.compile(r"(?:report|mark|classify|treat|label|flag)\s+th"),
}
_COMPILED_STARTS = [_STARTS.get(rx.pattern) for rx, _ in _COMPILED]


def find_instructions(text: str) -> list[tuple[int, int]]:
    """Sentence spans holding text addressed to automated readers, merged and in order."""
    low = text.lower()
    folds = lower_folds(text, low)
    hits = sorted(
        (m.start(), m.end())
        for (rx, words), starts in zip(_COMPILED, _COMPILED_STARTS, strict=True)
        if any(w in low for w in words)
        for m in (
            finditer_at(starts, rx, text, scan=low) if folds and starts else rx.finditer(text)
        )
    )
    spans: list[tuple[int, int]] = []
    for start, end in hits:
        a = sentence_around(text, start)[0]
        labels = list(_LABEL.finditer(text, a, start))
        if labels:
            a = labels[-1].end()
        b = sentence_around(text, max(start, end - 1))[1]
        if spans and (a <= spans[-1][1] or not text[spans[-1][1] : a].strip()):
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        else:
            spans.append((a, b))
    return spans


def mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank the spans with spaces, keeping newlines, so every offset still points home."""
    if not spans:
        return text
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


@register("instructions", "suspicious-instructions")
def suspicious_instructions(ctx: CheckContext) -> list[Finding]:
    """Letter text that addresses automated reviewers or tries to steer the checker."""
    spans = ctx.injections if ctx.injections is not None else find_instructions(ctx.raw_text)
    return [
        finding(
            "suspicious-instructions",
            "high",
            "The letter contains text addressed to automated reviewers; it was ignored for every other check.",
            [ctx.raw_evidence(a, b)],
            _decision_at(ctx, a),
        )
        for a, b in spans
    ]


def _decision_at(ctx: CheckContext, pos: int) -> int | None:
    for d in ctx.record.decisions:
        if d.span[0] <= pos < d.span[1]:
            return d.index
    return None
