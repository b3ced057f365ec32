"""Negation and hypothetical scope, after the NegEx/ConText trigger-and-scope approach.

A trigger ("not", "no", "cannot", "never", ...) negates a target when only scope-passing words
stand between them: auxiliaries, copulas, judgement verbs and adverbs ("is not indicated as
medically necessary", "does not appear medically necessary", "cannot be deemed medically
necessary"). Any other word (a noun, a new subject, a clause boundary) ends the scope, so "has
not improved, and the request is medically necessary" stays affirmed.

``conclusions`` finds the rationale sentences that say whether a request is medically
necessary (or appropriate, certified, supported), each with its polarity and whether it is
hypothetical ("would be necessary if ..."), which then does not count as the conclusion.

medspaCy's ConText does the same over a spaCy pipeline; measured at about 195 ms a whole
letter against ~3 ms for the whole rules path, so the published rule is implemented here over
candidate clauses only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from imr_llm.text.spans import find_all

Polarity = Literal["affirmed", "negated"]

NEGATION_WORDS: tuple[str, ...] = (
    "no",
    "not",
    "none",
    "never",
    "neither",
    "nor",
    "without",
    "cannot",
    "unable",
    "lack",
    "lacks",
    "lacked",
    "lacking",
    "absence",
    "absent",
)
"""The negation triggers every reader of negation shares (this module's conclusions, the
absence claims of ``extract.claims``, ``text.support``); each adds only what its own reading
needs ("n't" everywhere; "fail(s)" here; uncertainty cues in claims)."""


def negation_pattern(extra: str = "") -> re.Pattern[str]:
    """A regex matching a word of ``NEGATION_WORDS`` (or an ``extra`` alternative) or "n't"."""
    words = "|".join(NEGATION_WORDS) + (f"|{extra}" if extra else "")
    return re.compile(rf"\b(?:{words})\b|n't\b", re.I)


_TRIGGERS = frozenset((*NEGATION_WORDS, "fail", "fails", "failed"))
# Phrases that contain a trigger but negate nothing after them.
_PSEUDO = re.compile(
    r"\b(?:not\s+only|not\s+necessarily|whether\s+or\s+not|if\s+not|no\s+doubt|"
    r"not\s+(?:be\s+)?(?:denied|disputed))\b",
    re.I,
)
# Words a trigger's scope passes over on the way to its target.
_PASSING = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "to",
        "as",
        "at",
        "this",
        "time",
        "currently",
        "presently",
        "clinically",
        "medically",
        "therefore",
        "thus",
        "hence",
        "also",
        "then",
        "yet",
        "still",
        "considered",
        "deemed",
        "found",
        "determined",
        "established",
        "shown",
        "proven",
        "felt",
        "believed",
        "thought",
        "judged",
        "appear",
        "appears",
        "appeared",
        "seem",
        "seems",
        "seemed",
        "remain",
        "remains",
        "remained",
        "indicated",
        "supported",
        "warranted",
        "recommended",
        "certified",
        "justified",
        "substantiated",
        "demonstrated",
        "documented",
        "reasonable",
        "appropriate",
        "necessary",
        "and",
        "or",
        "in",
        "my",
        "opinion",
        "reviewer's",
        "view",
        "fully",
        "entirely",
        "longer",
        "case",
        "instance",
        "particular",
        "a",
        "an",
    ]
)
_WORD = re.compile(r"[A-Za-z']+|[^\sA-Za-z']")
# Punctuation inside a scope: commas may set off an adverb ("is not, therefore, necessary"),
# a hyphen may join ("not-medically necessary"); anything else ends it.
_SCOPE_PUNCT = frozenset(",-")


def negated_before(text: str, start: int, floor: int = 0, reach: int = 90) -> bool:
    """Whether a trigger in ``text[floor:start]`` negates what starts at ``start``.

    Walks back word by word from ``start`` over scope-passing words; the first trigger met
    negates (two triggers cancel: "not unreasonable" is rare and left to the reader), any other
    word ends the scope.
    """
    lo = max(floor, start - reach)
    window = text[lo:start]
    pseudo = [(m.start(), m.end()) for m in _PSEUDO.finditer(window)]
    words = list(_WORD.finditer(window))
    k = len(words)
    while k > 0:
        k -= 1
        w = words[k]
        token = w.group(0)
        low = token.lower()
        if any(a <= w.start() < b for a, b in pseudo):
            return False
        if low in _TRIGGERS or low.endswith("n't"):
            return True
        if low == "as" and (verb := _JUDGE_OBJECT.search(window, 0, w.start())) is not None:
            # "cannot recommend the request as necessary": skip the object to its verb.
            k = next(i for i, x in enumerate(words) if x.start() >= verb.start())
            continue
        if low in _PASSING or token in _SCOPE_PUNCT or _participle(words, k):
            continue
        return False
    return False


def _participle(words: list[re.Match], k: int) -> bool:
    """Whether ``words[k]`` is a participle before "as"/"to": "seen as", "viewed to be"."""
    low = words[k].group(0).lower()
    nxt = words[k + 1].group(0).lower() if k + 1 < len(words) else ""
    return low.endswith(("ed", "en")) and nxt in ("as", "to")


# A judgement verb and its object before "as": "recommend the requested MRI as".
_JUDGE_OBJECT = re.compile(
    r"\b(?:recommend|certify|support|consider|deem|find|approve|endorse|authorize|regard|view)"
    r"(?:s|ed|ing)?\s+(?:the|this|these|that|such|a|an)\s+(?:[\w'-]+\s+){0,6}?$",
    re.I,
)


Target = Literal["necessity", "certification", "support"]


@dataclass(frozen=True)
class Conclusion:
    """A statement that a request is (not) medically necessary, at ``text[start:end]``."""

    start: int
    end: int
    polarity: Polarity
    hypothetical: bool


# The targets: "(medically) necessary", "medically appropriate/reasonable", "necessary and
# appropriate", "unnecessary", "(non-)certified", "medical necessity ... (not) established".
_TARGET = re.compile(
    r"\b(?P<un>un)?necessary\b"
    r"|\bmedically\s+(?:appropriate|reasonable)\b"
    r"|\bappropriate\s+and\s+(?:medically\s+)?necessary\b"
    r"|\b(?P<noncert>non-?\s?)?certified\b"
    r"|\bmedical\s+necessity\b"
    r"|\b(?:supported|warranted|indicated)\b",
    re.I,
)
# Verbs that make "necessary" predicative ("the request is necessary", "considered necessary",
# "as necessary", "appear necessary"), not attributive ("the necessary documentation").
_PREDICATE_VERBS = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "considered",
        "deemed",
        "found",
        "determined",
        "established",
        "appear",
        "appears",
        "appeared",
        "seem",
        "seems",
        "seemed",
        "as",
        "remain",
        "remains",
        "remained",
        "become",
        "becomes",
        "shown",
        "proven",
        "felt",
        "believed",
        "judged",
        "thought",
        "certified",
        "indicated",
        "supported",
        "recommended",
        "'s",
    ]
)


_NEGATED_COPULAS = frozenset(("is", "are", "was", "were", "does", "do", "did", "wo", "would"))


def _predicative(text: str, start: int, floor: int, reach: int = 90) -> bool:
    """Whether a predicate verb governs what starts at ``start``, over passing words only."""
    words = list(_WORD.finditer(text, max(floor, start - reach), start))
    for k in range(len(words) - 1, -1, -1):
        low = words[k].group(0).lower()
        if low in _PREDICATE_VERBS or low.endswith("'s") or low[:-3] in _NEGATED_COPULAS:
            return True
        if _participle(words, k):
            return True
        if low in _PASSING or low in _TRIGGERS or low.endswith("n't") or low in _SCOPE_PUNCT:
            continue
        return False
    return False


# "medical necessity (of/for the request) has (not) been established / is (not) supported".
_NECESSITY_AFTER = re.compile(
    r"(?:\s+(?:of|for)\s+(?:[\w'-]+\s+){0,6}?)?\s*(?:has|have|had|is|are|was|were|can|could)\s+"
    r"(?P<neg>(?:not|never|n't)\s+|not\s+yet\s+)?(?:been\s+|be\s+)?(?:clearly\s+|fully\s+)?"
    r"(?:established|demonstrated|supported|substantiated|shown|met|proven|documented)\b",
    re.I,
)
# "there is no medical necessity", "does not establish medical necessity", "lacks medical
# necessity", "medical necessity cannot be established".
_NECESSITY_BEFORE = re.compile(
    r"\bno\W+$|\b(?:establish(?:es|ed)?|demonstrate[sd]?|support(?:s|ed)?|substantiate[sd]?|show(?:s|n)?|"
    r"confirm(?:s|ed)?|is|are|was|there\s+is|there\s+was)\W+$",
    re.I,
)
# "no documentation/evidence that ... is necessary": the sentence denies the claim.
_NO_EVIDENCE_THAT = re.compile(
    r"\b(?:no|not|lack\s+of|without|absence\s+of)\s+(?:\w+\s+){0,3}?(?:evidence|documentation|"
    r"indication|support|rationale|basis|showing)\s+(?:that|to\s+(?:support|show|suggest|"
    r"indicate)\s+that)\b[^.;]*$",
    re.I,
)
_HYPOTHETICAL_AFTER = re.compile(
    r"^[^.;]{0,40}?\b(?:if|when|unless|provided|once|only\s+if|in\s+the\s+event|should\s+the)\b",
    re.I,
)
_HYPOTHETICAL_BEFORE = re.compile(
    r"(?:^|[.;:]\s*)(?:if|when|whenever|unless|once|should|in\s+order\s+for|for)\b[^.;]*$"
    r"|\b(?:would|could|might|may)\s+(?:only\s+)?(?:be\s+)?(?:considered\s+)?"
    r"(?:medically\s+)?$",
    re.I,
)
# "supported/warranted/indicated" conclude only negated with the request as subject: "the
# request is not supported", never "surgery is indicated for ...".
_SUPPORT_SUBJECT = re.compile(
    r"\b(?:request(?:ed)?|item|treatment|it|this|service|procedure|medication|prescription)\b"
    r"(?:\s+[\w()'.,-]+){0,8}?\s+(?:is|are|was|were)\s+(?:not|n't)\s+(?:medically\s+|currently\s+)?$",
    re.I,
)


def conclusions(text: str, start: int = 0, end: int | None = None) -> list[Conclusion]:
    """Every conclusion in ``text[start:end]``, in order."""
    end = len(text) if end is None else end
    out = []
    for m in _targets(text, start, end):
        c = _reading(text, m, start, end)
        if c is not None:
            out.append(c)
    return out


# Every _TARGET match holds one of these, lower-cased; ``re`` tries the case-insensitive
# alternation at every position, so it runs only around them.
_ANCHORS = (
    "necess",
    "appropriate",
    "reasonable",
    "certified",
    "supported",
    "warranted",
    "indicated",
)


def _targets(text: str, start: int, end: int) -> list[re.Match]:
    """``_TARGET.finditer(text, start, end)``, tried only near an anchor word."""
    low = text[start:end].lower()
    if len(low) != end - start:
        return list(_TARGET.finditer(text, start, end))
    spots = sorted(start + i for a in _ANCHORS for i in find_all(low, a))
    found: list[re.Match] = []
    pos = start
    for p in spots:
        lo = max(pos, p - 40)
        if lo > p:
            continue
        for m in _TARGET.finditer(text, lo, min(end, p + 40)):
            if m.start() >= pos and m.end() > p:
                found.append(m)
                pos = m.end()
                break
    return found


def _clause_start(text: str, pos: int, floor: int) -> int:
    """Start of the sentence part holding ``pos``: after the last . ; : ! ? before it (a
    period only when whitespace follows it), at most 400 characters back."""
    lo = max(floor, pos - 400)
    cut = max(text.rfind(c, lo, pos) for c in ";!?:")
    for end in (". ", ".\n", ".\t"):
        cut = max(cut, text.rfind(end, lo, pos))
    return lo if cut < 0 else cut + 1


def _reading(text: str, m: re.Match, floor: int, ceil: int) -> Conclusion | None:
    word = m.group(0).lower()
    clause = _clause_start(text, m.start(), floor)
    before = text[max(clause, m.start() - 120) : m.start()]
    if m.group("un"):
        polarity: Polarity = "negated"
    elif word.startswith("medical") and word.endswith("necessity"):
        after = _NECESSITY_AFTER.match(text, m.end(), min(ceil, m.end() + 120))
        if after is not None:
            pre = negated_before(text, m.start(), clause)
            neg = bool(after.group("neg")) != pre
            polarity = "negated" if neg else "affirmed"
        elif _predicative(text, m.start(), clause):  # "is not a medical necessity"
            polarity = "negated" if negated_before(text, m.start(), clause) else "affirmed"
        elif (verb := _NECESSITY_BEFORE.search(before)) is not None:
            at = m.start() - len(before) + verb.start()
            if not (verb.group(0).lower().startswith("no") or negated_before(text, at, clause)):
                return None  # "to establish medical necessity, ...": a criterion, not a verdict
            polarity = "negated"
        else:
            return None
    elif word.endswith("certified"):
        if m.group("noncert"):
            polarity = "negated"
        elif _predicative(text, m.start(), clause):
            polarity = "negated" if negated_before(text, m.start(), clause) else "affirmed"
        else:
            return None
    elif word in ("supported", "warranted", "indicated"):
        if not _SUPPORT_SUBJECT.search(before):
            return None
        if re.match(r"\s+(?:as|to\s+be)\b", text[m.end() : m.end() + 8], re.I):
            return None  # "not indicated as medically necessary": the target follows
        polarity = "negated"
    else:
        if not _predicative(text, m.start(), clause):
            return None
        polarity = "negated" if negated_before(text, m.start(), clause) else "affirmed"
    if polarity == "affirmed" and _NO_EVIDENCE_THAT.search(before):
        polarity = "negated"
    hypothetical = bool(
        _HYPOTHETICAL_BEFORE.search(before)
        or (polarity == "affirmed" and _HYPOTHETICAL_AFTER.match(text, m.end(), ceil))
    )
    return Conclusion(m.start(), m.end(), polarity, hypothetical)


def last_conclusion(text: str, start: int = 0, end: int | None = None) -> Conclusion | None:
    """The last non-hypothetical conclusion of ``text[start:end]`` (a rationale ends on its
    verdict), or None."""
    end = len(text) if end is None else end
    hi = end
    while hi > start:
        # scan back a window at a time from a sentence start: a rationale ends on its verdict
        lo = max(start, hi - _WINDOW)
        if lo > start:
            cut = text.rfind(". ", start, lo)
            lo = start if cut == -1 else cut + 2
        found = [c for c in conclusions(text, lo, hi) if not c.hypothetical and c.end <= hi]
        if found:
            return found[-1]
        hi = lo
    return None


_WINDOW = 600
