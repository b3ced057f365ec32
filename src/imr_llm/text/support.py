"""Whether a sentence says what its quote says: the share of the sentence's content words the
quote holds, and whether the two agree on negation. A lexical proxy for entailment, used to hold
a model's paraphrase to the quote it cites."""

from __future__ import annotations

import re

from imr_llm.text.negation import negation_pattern

_WORD = re.compile(r"[A-Za-z][A-Za-z']+|\d+(?:[./]\d+)*")
_FUNCTION = frozenset(
    """
    a an the of to in on at by for from with and or but as is are was were be been being has
    have had do does did this that these those there their his her he she it its they them
    which who whom whose what when where while than then so such also only into onto upon
    because since given due per each any some all both either would could should may might must
    can will shall thus therefore hence however although though
    upheld overturned
    """.split()  # noqa: SIM905
)
# The shared triggers, less "no/not" bounding a quantity ("no more than 10 visits", "not to
# exceed"): a limit, not a negation of what is said.
_BOUND = re.compile(
    r"\b(?:no|not)\s+(?:(?:more|greater|less|fewer|longer)\s+than|(?:to\s+)?exceed)\b", re.I
)
_NEGATION = negation_pattern(r"insufficient|fail(?:s|ed)?\s+to")
_LEAD = re.compile(
    r"^\s*(?:upheld|overturned)\b[\s,:;-]*(?:because|as|since|for|due\s+to)?\s*", re.I
)


def _stem(word: str) -> str:
    w = word.lower().strip("-'")
    if w.endswith("'s"):
        w = w[:-2]
    return w[:5] if len(w) > 5 else w


def content_stems(text: str) -> set[str]:
    """The stems (first five letters) of the words of ``text`` that carry content; numbers kept
    whole."""
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in _FUNCTION}


def support(sentence: str, source: str) -> float:
    """The share of ``sentence``'s content stems that ``source`` holds (1.0 when it has none).
    A leading decision word ("Upheld because ...") is the sentence's frame, not its claim."""
    said = content_stems(_LEAD.sub("", sentence))
    if not said:
        return 1.0
    return len(said & content_stems(source)) / len(said)


def negated(text: str) -> bool:
    bounds = [m.span() for m in _BOUND.finditer(text)]
    return any(not any(a <= m.start() < b for a, b in bounds) for m in _NEGATION.finditer(text))


def supports(source: str, sentence: str, at_least: float = 0.6) -> bool:
    """Whether ``source`` backs ``sentence``: most of its content words, and the same polarity
    (a sentence that drops or adds the source's "no"/"not" says the opposite)."""
    claim = _LEAD.sub("", sentence)
    return support(claim, source) >= at_least and negated(claim) == negated(source)
