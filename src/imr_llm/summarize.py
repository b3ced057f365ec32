"""Letter summaries: an extractive one from the letter's own words, or a grounded LLM summary.

``extractive_summary`` needs no LLM: the injury statement, the body parts (from the injury
statement and the disputed items only), the diagnoses and treatment to date, then one line per
item with its decision and the rationale's decisive reason, each a quote with its offsets, in
that fixed order.
Importing this module does not load the LLM stack. ``llm_summary`` asks for 2-4 plain sentences, each backed by a verbatim quote that must
occur in the letter (validated and re-asked like every other quote), and appends the template's
flags sentence, which comes from the record rather than the letter.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from imr_llm.schemas import (
    AuditRecord,
    Decision,
    Evidence,
    ItemSummary,
    Letter,
    Severity,
    SummaryParts,
)
from imr_llm.text import anatomy
from imr_llm.text import dates as dateparse
from imr_llm.text.spans import Sections, sentences

if TYPE_CHECKING:
    from imr_llm.llm.client import LLMClient


def flags_sentence(record: AuditRecord) -> str:
    """ "Flagged: 1 high (decision-conclusion-mismatch), 1 low (extraction-disagreement)." """
    flagged = [f for f in record.findings if f.severity != Severity.info]
    if not flagged:
        return "Nothing was flagged."
    parts = []
    for sev in (Severity.high, Severity.medium, Severity.low):
        codes = Counter(f.code for f in flagged if f.severity == sev)
        if codes:
            n = sum(codes.values())
            parts.append(f"{n} {sev.value} ({', '.join(sorted(codes))})")
    return "Flagged: " + ", ".join(parts) + "."


# ---------------------------------------------------------------- extractive summary

_INJURY = re.compile(
    r"\b(?:injur(?:y|ies|ed)(?!\s+(?:worker|employee|patient))|sustained|date\s+of\s+injury|"
    r"DOI|cumulative\s+trauma|(?:industrial|occupational)\s+(?:injury|claim)|claim\s+from|"
    r"mechanism|fell|slipped|tripped|"
    r"twisted|inverted|struck|felt\s+a\s+pop|developed\s+(?:\w+\s+){0,3}pain)\b",
    re.I,
)
_MECHANISM = re.compile(
    r"\b(?:mechanism|while|when\s+(?:she|he|the)|lifting|lifted|fell|fall(?:ing)?|slipped|"
    r"tripped|struck|hit|twisted|pulling|pushing|motor\s+vehicle|repetitive|cumulative)\b",
    re.I,
)
_DIAGNOSES = re.compile(
    r"\bdiagnos(?:is|es|ed)\b|\bimpressions?\b|\b(?:undergoing|being|is|was)\s+"
    r"(?:treatment|treated)\s+for\b",
    re.I,
)
# "Treatment to date has included", "Past treatments included", "Relevant treatments have
# included", "Treatment rendered included": the letter's own list of care so far.
_TREATMENT = re.compile(
    r"\btreatments?\b(?!\s+(?:for|plan|plans|recommendations?|requests?)\b)[^.;]{0,60}?\b(?:include[sd]?|included|consisted|rendered|"
    r"to\s+date|thus\s+far|history)\b",
    re.I,
)
# Weaker: a sentence that mentions some care given ("has been treated with", "medications
# included").
_TREATMENT_WEAK = re.compile(
    r"\b(?:has|had|have)\s+been\s+treated|\btreated\s+(?:with|conservatively)|"
    r"\b(?:has|had)\s+undergone|\bprior\s+treatments?|\bconservative\s+(?:care|treatment|"
    r"management)|\bmedications?\s+(?:include|included|consist|list)|"
    r"\b(?:has|had)\s+(?:completed|received|tried|attended)\b",
    re.I,
)
# Cue words of a rationale sentence, read from its words (one lower-cased split a sentence):
# a reason ("no documentation", "exceeds", "has failed"), talk about this patient's case
# ("the patient", "this claimant", "in this case"), or a guideline's rule ("MTUS recommends").
_REASON_WORDS = frozenset(
    [
        "no",
        "not",
        "lack",
        "lacks",
        "lacking",
        "absence",
        "without",
        "insufficient",
        "fail",
        "fails",
        "failed",
        "exceed",
        "exceeds",
        "exceeded",
        "beyond",
        "unclear",
        "unknown",
        "limited",
        "only",
        "already",
        "documented",
        "documents",
        "demonstrated",
        "demonstrates",
        "demonstrate",
        "shows",
        "show",
        "showed",
        "reports",
        "reported",
        "meets",
        "meet",
        "met",
        "criteria",
        "indicated",
        "warranted",
        "supported",
        "appropriate",
        "reasonable",
    ]
)
_REASON_PAIRS = frozenset(
    [("more", "than")]
    + [("has", w) for w in ("had", "completed", "failed", "improved", "undergone")]
)
_CASE_WORDS = frozenset(["he", "she", "his", "her", "submitted"])
_RULE_WORDS = frozenset(["when", "if", "unless", "whenever"])
# "no documentation", "lack of", "no evidence": the commonest decisive reason
_STRONG_PAIRS = frozenset(
    [("no", w) for w in ("documentation", "evidence", "clear", "indication", "objective")]
    + [("lack", "of"), ("not", "documented"), ("absence", "of"), ("failed", "to")]
)
_VERDICT_WORDS = frozenset(
    ["necessary", "necessity", "supported", "warranted", "certified", "recommended", "appropriate"]
)
_REQUEST_WORDS = frozenset(["request", "requested", "treatment", "item"])
_CASE_SUBJECTS = frozenset(
    [
        "patient",
        "claimant",
        "employee",
        "applicant",
        "individual",
        "records",
        "record",
        "documentation",
        "provider",
        "physician",
        "request",
        "injured",
        "note",
        "notes",
        "exam",
        "examination",
        "report",
    ]
)
_GUIDELINE_WORDS = frozenset(["mtus", "acoem", "odg", "guideline", "guidelines", "section"])
_WORDS_RX = re.compile(r"[a-z']+")
_ADDITIVE = re.compile(
    r"(?:moreover|also|additionally|furthermore|in\s+addition|lastly|finally|further)\b", re.I
)
_CITED = re.compile(r"\([A-Z][A-Za-z-]+(?:\s+et\s+al\.?)?,?\s+(?:19|20)\d\d\)")


def _cues(sentence: str) -> set[str]:
    words = _WORDS_RX.findall(sentence.lower())
    cues = set()
    if not _REASON_WORDS.isdisjoint(words):
        cues.add("reason")
    if not _CASE_WORDS.isdisjoint(words):
        cues.add("case")
    if not _GUIDELINE_WORDS.isdisjoint(words) or _CITED.search(sentence):
        cues.add("guideline")
    if ("necessary" in words or "necessity" in words) or (
        not _VERDICT_WORDS.isdisjoint(words) and not _REQUEST_WORDS.isdisjoint(words)
    ):
        cues.add("verdict")  # "the request is not medically necessary / supported"
    if not _RULE_WORDS.isdisjoint(words):
        cues.add("rule")  # "imaging is indicated when ...": a criterion, not this case
    for w, x in zip(words, words[1:], strict=False):
        if (w, x) in _STRONG_PAIRS:
            cues.update(("reason", "strong"))
        elif (w, x) in _REASON_PAIRS:
            cues.add("reason")
        elif w in ("the", "this", "recent") and x in _CASE_SUBJECTS:
            cues.add("case")
        elif w == "official" and x == "disability":
            cues.add("guideline")
    return cues


_MAX_QUOTE = 360
# Where a sentence turns from its reason to its verdict: "...; therefore, the request is not".
_THEREFORE = re.compile(
    r"[,;]?\s+(?:and\s+)?(?:therefore|thus|hence|as\s+such|consequently)\b", re.I
)
# How many sentences before the verdict the decisive reason is looked for in.
_REASON_REACH = 8
# A conclusion that carries its own reason.
_BECAUSE = re.compile(
    r"\b(?:because|since|given(?!\s+(?:the\s+above|the\s+foregoing|this|these|that|all|the\s+"
    r"(?:information|documentation|records)))|due\s+to|"
    # "in the absence of such documentation" points back at the sentence before: not here
    r"(?:in\s+the\s+absence\s+of|without)\s+(?!such\b|this\b|these\b|that\b|the\s+above\b)"
    r"(?:any\s+|the\s+|clear\s+|objective\s+|further\s+)*(?:documentation|documented|evidence|"
    r"indication|objective|improvement|failure|a\s+trial|trial)|"
    r"as\s+(?:there|no|this\s+patient|the\s+patient|he|she))\b",
    re.I,
)


def extractive_summary(text: str, record: AuditRecord, sections: Sections) -> SummaryParts:
    """The summary's parts, each quoted from ``text`` with its offsets."""
    parts = SummaryParts()
    if sections.summary:
        s0, s1 = sections.summary
        spans = sentences(text, s0, s1)
        parts.injury = _injury(text, spans)
        parts.diagnoses = _first(text, spans, _DIAGNOSES)
        parts.treatment_to_date = (
            _first(text, spans, _TREATMENT)
            or _first(text, spans, _TREATMENT_WEAK)
            or _treatment(text, spans)
        )
    parts.body_parts = _body_parts([parts.injury, parts.diagnoses], record.decisions)
    for d in record.decisions:
        parts.items.append(
            ItemSummary(index=d.index, item=d.item, outcome=d.outcome, reason=_reason(text, d))
        )
    return parts


def _quote(text: str, a: int, b: int) -> Evidence:
    """``text[a:b]``, cut at a clause or word end when longer than ``_MAX_QUOTE``."""
    if b - a > _MAX_QUOTE:
        cut = max(text.rfind(c, a, a + _MAX_QUOTE) for c in (";", ",", " "))
        b = cut if cut > a + 40 else a + _MAX_QUOTE
    return Evidence(quote=text[a:b], start=a, end=b)


def _injury(text: str, spans: Sequence[tuple[int, int]]) -> Evidence | None:
    """The sentence that dates the injury (a date whose role is the injury), joined with the
    sentence next to it that tells how it happened; else the first sentence about the injury."""
    cued = _holding(_INJURY, text, spans)
    pick = next(
        (
            k
            for k in cued
            if any(
                dateparse.date_role(text, m.start(), m.end(), *spans[k]) == "injury"
                for m, _ in dateparse.find_dates(text, *spans[k])
            )
        ),
        cued[0] if cued else None,
    )
    if pick is None:
        return None
    a, b = spans[pick]
    if not _MECHANISM.search(text, a, b):
        for k in (pick + 1, pick - 1):
            if 0 <= k < len(spans) and _MECHANISM.search(text, *spans[k]):
                na, nb = spans[k]
                if max(b, nb) - min(a, na) <= _MAX_QUOTE:
                    a, b = min(a, na), max(b, nb)
                break
    return _quote(text, a, b)


def _first(text: str, spans: Sequence[tuple[int, int]], rx: re.Pattern) -> Evidence | None:
    """The first sentence holding a match of ``rx`` (one scan of the whole span)."""
    if not spans:
        return None
    m = rx.search(text, spans[0][0], spans[-1][1])
    if m is None:
        return None
    k = bisect_right([a for a, _ in spans], m.start()) - 1
    return _quote(text, *spans[max(k, 0)])


def _treatment(text: str, spans: Sequence[tuple[int, int]]) -> Evidence | None:
    """The first summary sentence that says care was given: a verb of having had care
    ("completed", "underwent", "received", "takes") and a kind of care in the same sentence."""
    for k in _holding(_CARE_VERB, text, spans):
        if _CARE_NOUN.search(text, *spans[k]):
            return _quote(text, *spans[k])
    return None


def _holding(rx: re.Pattern, text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
    """Indexes of the ``spans`` (sentences, in order) holding a match of ``rx``: one scan."""
    if not spans:
        return []
    starts = [a for a, _ in spans]
    found = {
        bisect_right(starts, m.start()) - 1 for m in rx.finditer(text, starts[0], spans[-1][1])
    }
    return sorted(k for k in found if k >= 0)


_CARE_VERB = re.compile(
    r"\b(?:completed|underwent|received|attended|tried|used|(?:was|were|been)\s+treated|"
    r"(?:has|have|had|was|were)\s+(?:been\s+)?prescribed|takes|is\s+taking|had|"
    r"current\s+medications?)\b",
    re.I,
)
_CARE_NOUN = re.compile(
    r"\b(?:therapy|visits?|sessions?|injections?|surgery|medications?|brace|splints?|boot|"
    r"release|arthroscopy|meniscectomy|microdiscectomy|fusion|chiropractic|acupuncture|"
    r"\d+\s*mg|NSAIDs?|opioids?|TENS|block|ablation|epidural)\b",
    re.I,
)


def _body_parts(statements: list[Evidence | None], decisions: list[Decision]) -> list[str]:
    """Regions named by the injury and diagnoses statements and by the disputed items, and
    nothing else (not guideline prose, exam findings or where pain radiates)."""
    found: list[str] = []
    told = [e.quote for e in statements if e is not None]
    sources = told + [d.item for d in decisions]
    for src in sources:
        for site in anatomy.find_sites(src):
            if _RADIATES.search(src, max(0, site.start - 40), site.start):
                continue  # "neck pain radiating into the right arm": a symptom, not an injury
            name = anatomy.region_name(site.region)
            if name not in found:
                found.append(name)
    if any(_PSYCHE.search(src) for src in told) and "psyche" not in found:
        found.append("psyche")  # a psychiatric injury: no body site, still what was injured
    if "spine" in found and any(n.endswith(" spine") for n in found):
        found.remove("spine")  # "lumbar paraspinal" and "lumbar spine": one region
    return found


_PSYCHE = re.compile(
    r"\b(?:depress\w*|anxiety|psychiatric|psychological|post-?\s?traumatic\s+stress|PTSD|"
    r"adjustment\s+disorder|panic\s+disorder)\b",
    re.I,
)
_RADIATES = re.compile(r"\bradiat\w*\b[^.;]*$", re.I)


def _reason(text: str, d: Decision) -> Evidence | None:
    """The rationale's decisive reason: the last sentence before (or at) its conclusion that
    talks about this patient's case and gives a reason, not one that only states a rule."""
    if not d.rationale_span:
        return None
    r0, r1 = d.rationale_span
    end = d.conclusion_evidence.start if d.conclusion_evidence else r1
    spans = [(a, b) for a, b in sentences(text, r0, r1) if a < max(end, r0 + 1)]
    spans = spans[-_REASON_REACH:]  # the reason leads into the verdict
    conclusion = None
    if d.conclusion_evidence:
        conclusion = (d.conclusion_evidence.start, d.conclusion_evidence.end)
    if conclusion and _BECAUSE.search(text, *conclusion):
        return _quote(text, *conclusion)  # "... is not necessary, as there is no ..."
    if not spans:
        return _quote(text, *conclusion) if conclusion else None
    best: tuple[int, int] | None = None
    best_score = 0
    last = len(spans) - 1
    for k, (a, b) in enumerate(spans):
        if text[a] in '"\u201c':
            continue
        cues = _cues(text[a:b])
        if "reason" not in cues and "case" not in cues:
            continue
        if "verdict" in cues and not ("strong" in cues or _BECAUSE.search(text, a, b)):
            continue  # a verdict ("the request is not supported"), not its reason
        score = 50 + k  # later sentences weigh more: the reason leads into the verdict
        if "reason" in cues:
            score += 40
        if "strong" in cues:
            score += 20
        if "rule" in cues:
            score -= 20
        if k == last:
            score += 30
        if "case" in cues:
            score += 30
        if "guideline" in cues:
            score -= 30
        if b - a > _MAX_QUOTE:
            score -= 30
        if _ADDITIVE.match(text, a):
            score -= 25  # "Moreover, ...": a further reason; the main one came first
        if score > best_score or (score == best_score and best is not None):
            cut = _THEREFORE.search(text, a, b) if "verdict" in cues else None
            best, best_score = (a, cut.start() if cut and cut.start() > a + 20 else b), score
    if best is None and conclusion:
        best = conclusion
    if best is None:
        return None
    return _quote(text, *best)


def _words(quote: str) -> str:
    return " ".join(quote.split())


def summary_text(parts: SummaryParts, record: AuditRecord) -> str:
    """The parts joined in a fixed order an auditor learns once, then the flags sentence."""
    lines = []
    if parts.injury:
        lines.append(f"Injury: {_words(parts.injury.quote)}")
    if parts.body_parts:
        lines.append(f"Body parts: {', '.join(parts.body_parts)}.")
    if parts.diagnoses:
        lines.append(f"Diagnoses: {_words(parts.diagnoses.quote)}")
    if parts.treatment_to_date:
        lines.append(f"Treatment to date: {_words(parts.treatment_to_date.quote)}")
    for it in parts.items:
        decided = {"upheld": "Upheld", "overturned": "Overturned"}.get(
            it.outcome, "Decision not read"
        )
        line = f"Item {it.index + 1}, {_words(it.item)}: {decided}"
        if it.reason:
            line += f'; reason: "{_words(it.reason.quote)}"'
        lines.append(line)
    lines.append(flags_sentence(record))
    return "\n".join(_end(line) for line in lines)


def _end(line: str) -> str:
    return line if line.endswith((".", "!", "?", '"', '."')) else line + "."


class GroundedSentence(BaseModel):
    text: str
    evidence: Evidence


class GroundedSummary(BaseModel):
    """LLM sentences with the letter span that backs each, plus the record's flags sentence."""

    sentences: list[GroundedSentence] = Field(default_factory=list)
    flags: str = ""

    @property
    def text(self) -> str:
        return " ".join([s.text for s in self.sentences] + ([self.flags] if self.flags else []))


def _sentence(s: str) -> str:
    s = " ".join(s.split())
    return s if re.search(r"[.!?]$", s) else s + "."


def _heading(text: str, d: Decision) -> str:
    if d.heading_span is not None:
        return " ".join(text[d.heading_span[0] : d.heading_span[1]].split())
    return f"{d.item}: {d.outcome.capitalize()}"


async def llm_summary(
    letter: Letter, record: AuditRecord, client: LLMClient, sections: Sections | None = None
) -> GroundedSummary:
    """Ask for a grounded summary; sets ``record.summary`` and ``record.llm``. Pass the letter's
    ``sections`` so the prompt starts with the same prefix as pass 1 (server prompt cache).
    Raises ``LLMError``."""
    from imr_llm.extract.llm import compact, letter_head
    from imr_llm.llm.responses import SummaryAnswer, locate

    text = letter.text
    head_end = letter_head(text, sections or Sections(), record.decisions)
    variables = {
        "letter_head": compact(text[:head_end]),
        "headings": [_heading(text, d) for d in record.decisions],
    }
    answer, _ = await client.ask(SummaryAnswer, "summary", letter=letter, variables=variables)
    grounded = []
    for s in answer.sentences:
        ev = locate(text, s.quote)
        if ev is not None:
            grounded.append(GroundedSentence(text=_sentence(s.sentence), evidence=ev))
    summary = GroundedSummary(sentences=grounded, flags=flags_sentence(record))
    record.summary = summary.text
    record.llm = client.usage_for(letter)
    return summary
