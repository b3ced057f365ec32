"""LLM pass 2: narrow consistency questions per item, answered with quotes; code decides.

The model is never asked "is this letter consistent?". It answers three kinds of narrow
questions, each with verbatim quotes (``prompts/item_*.j2``):

``item_absence`` (once per absence claim, at most ``MAX_CLAIMS_PER_ITEM`` per item)
    The rationale says something is absent ("there is no documentation of radiculopathy",
    "the MRI does not show a meniscal tear"). Claims are found by rules over the rationale
    text, plus the pass-1 ``missing`` facts that lie inside the rationale. Question: does the
    CLINICAL CASE SUMMARY report it as present? Quote it, or null.
``item_criteria`` (once per item)
    Each guideline criterion the rationale applies, with status met / unmet / not addressed
    by the rationale's own account, and the rationale's words that show it.
``item_subject`` (once per item)
    Which treatment, body part, side and spinal level the rationale discusses.

Code then decides, and only from answers it could verify:

``fact-contradiction`` (high)
    the summary quote lies inside the CLINICAL CASE SUMMARY and names the claimed finding without
    a negation or hedge in front of it ("negative", "no", "intact", "normal", "full",
    "possible", ...) or a "was negative" after it: when the model answers "yes", a strong key term
    of the claim or a finding of the same concept counts (e.g. "positive straight leg raise" for
    radiculopathy); when it answers "no" (a 1.5B model often quotes the right sentence and then
    says "no") only a strong key term of the claim itself counts. The claim's sentence and the
    quote must not name disjoint body regions.
``criteria-decision-mismatch`` (high)
    Overturned, yet at least one criterion is unmet and none is met; or Upheld, yet at least one
    criterion is met, none unmet, the rationale states no absence and no exceeded limit. Each
    counted criterion's quote must lie inside the rationale, speak about this patient rather
    than restate the guideline, and (for "unmet") carry a negative or over-limit cue, (for
    "met") carry none. Items whose rationale concludes against its own decision word are left
    to ``decision-conclusion-mismatch``.
``treatment-mismatch`` (medium)
    The subject quote lies inside the rationale and names a treatment topic unrelated to the
    item's (catalog aliases and relations decide sameness), a body region disjoint from the
    item's, the other side, or another spinal level; and the rationale nowhere names the item's
    own treatment / region / side / level.

A question whose answer fails validation on every re-ask (an ungrounded quote, bad JSON) is
skipped: no finding comes from it. Transport and budget errors still fail the letter.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from imr_llm.checks.base import Sections
from imr_llm.extract.llm import compact, gather_or_cancel, letter_head
from imr_llm.guidelines import body_regions, find_regions, topics_related, treatment_topics
from imr_llm.llm.client import LLMClient, LLMError
from imr_llm.llm.responses import (
    AbsenceCheck,
    CriteriaAnswer,
    CriterionCheck,
    RationaleSubject,
    locate,
)
from imr_llm.schemas import AuditRecord, Decision, Evidence, Finding, Letter, Severity

log = logging.getLogger(__name__)

MAX_CLAIMS_PER_ITEM = 3
"""Absence claims checked per item (each is one call); rule-found claims come first."""

SKIPPABLE = frozenset({"validation", "truncated"})
"""LLMError kinds that skip one question instead of failing the letter."""


# ---------------------------------------------------------------- text helpers

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])|;\s+")
_NEG_CUE = re.compile(
    r"\b(?:no|not|none|never|nor|without|negative|normal|intact|unremarkable|denie[sd]|deny|"
    r"absence|free\s+of|rule[sd]?\s+out|r/o|possible|possibly|suspected|questionable|versus|vs|"
    r"full|resolved)\b"
    r"|n't\b",
    re.I,
)
_POST_NEG = re.compile(
    r"^\W{0,3}(?:\w+\W+){0,2}?(?:was|were|is|are|remains?|remained)\s+(?:\w+\s+)?"
    r"(?:negative|normal|intact|unremarkable|absent|not)\b",
    re.I,
)
_STOP = frozenset(
    """
    a an the of to in on at by for from with and or nor but as is are was were be been being has
    have had do does did this that these those there their his her he she it its they them any
    some all no not none without documentation documented document documents evidence evident
    record records report reports reported medical clinical objective objectively submitted
    provided noted note notes indicate indicated indicating indication suggest suggesting show
    shows showed shown demonstrate demonstrated demonstrating describe described describes
    patient patients injured worker workers claimant employee case file current currently
    recent recently significant clear clearly such which who whom would could should may might
    must can will also only other than then into over under per each more less most least
    further additional specific specifically appropriate requested request requests treating
    provider physician reviewer rationale guideline guidelines criteria criterion mtus acoem odg
    regarding relating related about presence present
    """.split()  # noqa: SIM905
)
_CONCEPTS: list[tuple[re.Pattern, re.Pattern]] = [
    (
        re.compile(r"radicul|nerve\s+root|neurolog|neuropath|dermatom", re.I),
        re.compile(
            r"radicul|radiat|positive\s+(?:straight[- ]leg|SLR|Spurling)|\bSLR\b|dermatom|"
            r"(?:decreased|diminished|reduced|altered|absent|loss\s+of)\s+(?:\w+\s+){0,2}"
            r"(?:sensation|reflex(?:es)?|strength)|weakness|numbness|tingling|paresthes|"
            r"nerve\s+root\s+(?:impingement|compression|contact|irritation)|"
            r"(?:contacting|compressing|impinging)\s+(?:\w+\s+){0,3}nerve\s+root|"
            r"burning|neuropath|sciatica",
            re.I,
        ),
    ),
    (
        re.compile(r"sciatic", re.I),
        re.compile(
            r"sciatic|radiat\w*\s+(?:\w+\s+){0,5}(?:leg|buttock|thigh|calf|foot|feet)|"
            r"positive\s+straight[- ]leg|\bSLR\b",
            re.I,
        ),
    ),
    (
        re.compile(r"electrodiagnostic|\bEMG\b|\bNCV\b|nerve\s+conduction|electromyogra", re.I),
        re.compile(r"electrodiagnostic|\bEMG\b|\bNCV\b|nerve\s+conduction|electromyogra", re.I),
    ),
    (
        re.compile(r"mechanical\s+symptom|locking|catching|giving\s+way|instabilit", re.I),
        re.compile(r"locking|catching|gave\s+way|giving\s+way|buckling|popping|instabilit", re.I),
    ),
    (
        re.compile(r"menisc", re.I),
        re.compile(r"menisc", re.I),
    ),
    (
        re.compile(r"provocative|special\s+test|orthopedic\s+test", re.I),
        re.compile(
            r"positive\s+(?:\w+\s+){0,2}(?:test|sign|maneuver)|positive\s+(?:Spurling|Tinel|Phalen|"
            r"McMurray|Neer|Hawkins|Hoffmann|FABER|Patrick|Lachman|drawer|straight)",
            re.I,
        ),
    ),
    (
        re.compile(r"range\s+of\s+motion|\bROM\b|stiffness", re.I),
        re.compile(
            r"(?:decreased|diminished|reduced|limited|restricted|loss\s+of|lacked|lacking)\s+"
            r"(?:\w+\s+){0,2}(?:range\s+of\s+motion|motion|ROM|rotation|flexion|extension)|"
            r"loss\s+of\s+(?:the\s+)?(?:last\s+)?\d+\s+degrees",
            re.I,
        ),
    ),
    (
        re.compile(r"pain\s+(?:score|rating|level)|\bVAS\b|analgesi|pain\s+relief", re.I),
        re.compile(r"\d{1,2}\s*/\s*10|\d{1,2}\s+out\s+of\s+10|\bVAS\b", re.I),
    ),
    (
        re.compile(r"function|activit|ADL", re.I),
        re.compile(
            r"(?:improv|increas|better|able\s+to|returned\s+to|can\s+now)\w*\s+(?:\w+\s+){0,3}"
            r"(?:function|activit|ADL|walk|work|sleep)|function\w*\s+(?:\w+\s+){0,2}improv",
            re.I,
        ),
    ),
    (
        re.compile(r"first[- ]line|anticonvulsant|antidepressant|tricyclic|SNRI|AED", re.I),
        re.compile(
            r"gabapentin|neurontin|pregabalin|lyrica|amitriptyline|nortriptyline|duloxetine|"
            r"cymbalta|tricyclic|antidepressant|anticonvulsant|venlafaxine|topiramate",
            re.I,
        ),
    ),
    (
        re.compile(r"conservative|physical\s+therapy|\bPT\b|home\s+exercise", re.I),
        re.compile(
            r"physical\s+therapy|\bPT\b|chiropractic|acupuncture|home\s+exercise|"
            r"(?:completed|attended|underwent|had)\s+\w*\s*(?:\d+\s+)?(?:sessions|visits)",
            re.I,
        ),
    ),
    (
        re.compile(r"trigger\s+point|twitch", re.I),
        re.compile(r"trigger\s+points?|twitch", re.I),
    ),
    (
        re.compile(r"spasm", re.I),
        re.compile(r"spasms?", re.I),
    ),
    (
        re.compile(r"tender", re.I),
        re.compile(r"tender", re.I),
    ),
    (
        re.compile(r"effusion|swelling", re.I),
        re.compile(r"effusion|swelling", re.I),
    ),
    (
        re.compile(r"weakness|strength|deficit", re.I),
        re.compile(
            r"weakness|(?:[0-4](?:[-+])?/5)|(?:decreased|diminished|reduced)\s+(?:\w+\s+){0,2}"
            r"strength|(?:decreased|diminished|reduced|absent)\s+(?:\w+\s+){0,2}(?:sensation|"
            r"reflex(?:es)?)",
            re.I,
        ),
    ),
    (
        re.compile(r"numbness|paresthes|tingling|sensation|sensory", re.I),
        re.compile(
            r"numbness|paresthes|tingling|(?:decreased|diminished|reduced|altered|loss\s+of)\s+"
            r"(?:\w+\s+){0,2}sensation|hypoesthes|dysesthes",
            re.I,
        ),
    ),
    (
        re.compile(r"\bMRI\b|imaging|x-?ray|radiograph|\bCT\b", re.I),
        re.compile(r"\bMRI\b|imaging|x-?ray|radiograph|\bCT\b", re.I),
    ),
]


def _stem(word: str) -> str:
    w = word.lower().strip("-")
    return w[:6] if len(w) > 6 else w


_WEAK = frozenset(
    _stem(w)
    for w in """
    examination exam exams examined pain pains symptom symptoms finding findings study studies
    test tests testing treatment treatments therapy history sign signs level levels change changes
    physical right left bilateral lower upper extremity extremities severe chronic acute positive
    negative improvement improved increase decreased reduced function functional ongoing prior
    previous trial trials visit visits session sessions medication medications response body part
    parts area areas type types condition conditions complaint complaints issue issues
    """.split()  # noqa: SIM905
)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z\-]{2,}", text)


def key_terms(claim: str) -> set[str]:
    """Distinctive word stems of an absence claim (``"radiculopathy on examination"`` ->
    ``{"radicu", "examin"}``); generic documentation words are left out."""
    return {_stem(w) for w in _words(claim) if w.lower() not in _STOP and len(w) >= 4}


def _negated(text: str, start: int, end: int) -> bool:
    """Whether the term at ``text[start:end]`` is negated or hedged in its clause."""
    clause_start = max(text.rfind(c, 0, start) for c in ".;:\n") + 1
    before = text[max(clause_start, start - 70) : start]
    if _NEG_CUE.search(before):
        return True
    after = text[end : end + 40]
    return bool(_POST_NEG.match(after))


def _positive_hits(claim: str, quote: str) -> tuple[bool, bool]:
    """(literal, concept): whether ``quote`` names, un-negated, a strong key term of ``claim``
    (literal), or a finding of the same concept (see ``_CONCEPTS``)."""
    terms = key_terms(claim) - _WEAK
    literal = any(
        len(m.group()) >= 4 and _stem(m.group()) in terms and not _negated(quote, *m.span())
        for m in re.finditer(r"[A-Za-z][A-Za-z\-]{2,}", quote)
    )
    concept = any(
        not _negated(quote, *m.span())
        for claim_pat, evidence_pat in _CONCEPTS
        if claim_pat.search(claim)
        for m in evidence_pat.finditer(quote)
    )
    return literal, concept


def mentions_positively(claim: str, quote: str, strict: bool = False) -> bool:
    """Whether ``quote`` names what ``claim`` says is absent, without negating it: a strong key
    term of the claim, or (unless ``strict``) a finding of the same concept."""
    literal, concept = _positive_hits(claim, quote)
    return literal or (concept and not strict)


# ---------------------------------------------------------------- absence claims

_LEAD = r"\b(?:no|any)\s+(?:objective\s+|clear\s+|clinical\s+|medical\s+|current\s+|recent\s+|further\s+)*"
_ABSENCE_PATTERNS = [
    # "no documentation / evidence of X", "no indication that X"
    re.compile(
        _LEAD + r"(?:documentation|evidence|indication|record|report|mention|description|findings?)"
        r"\s+(?:of|that|to\s+suggest|to\s+support|regarding|showing|documenting)\s+(?:any\s+)?(?P<x>.+)",
        re.I | re.S,
    ),
    # "the records do not document / show / describe X"
    re.compile(
        r"\b(?:do|does|did)\s+not\s+(?:clearly\s+)?(?:show|document|describe|demonstrate|reveal|"
        r"indicate|mention|identify|support|establish|report|include|note)\s+(?:any\s+|a\s+|an\s+)?(?P<x>.+)",
        re.I | re.S,
    ),
    # "has not tried / had / undergone X"
    re.compile(
        r"\b(?:has|have|had)\s+not\s+(?:yet\s+)?(?:tried|had|undergone|completed|failed|received|"
        r"attempted|participated\s+in|documented)\s+(?:any\s+|a\s+|an\s+)?(?P<x>.+)",
        re.I | re.S,
    ),
    # "X is not documented / was not noted"
    re.compile(
        r"(?P<x>(?:[\w\-/]+\s+){1,5}?)(?:is|are|was|were|has\s+been|have\s+been)\s+not\s+"
        r"(?:clearly\s+|objectively\s+)?(?:documented|noted|reported|described|present|shown|"
        r"demonstrated|established|evident|identified)\b",
        re.I | re.S,
    ),
    # generic "no X" ("no functional improvement", "no sciatic symptoms are reported")
    re.compile(
        r"\b(?:there\s+(?:is|are|was|were)\s+)?no\s+(?!more\b|longer\b|less\b|need\b|further\s+need|"
        r"other\b|than\b|reason\b|indication\s+for\b|role\b|benefit\s+from\b|rationale\b|"
        r"documentation\b|evidence\b|clear\b|objective\b|clinical\b|medical\b|mention\b|report\b|"
        r"record\b|indication\b|description\b)(?P<x>.+)",
        re.I | re.S,
    ),
]
_X_STOP = re.compile(
    r"[.;:()]|,\s*(?:and|but|which|so|although|though|while|as|his|her|he|she|the|there|it|"
    r"this|has|have|is|was|with)\b|"
    r"\s+(?:and|but|or)\s+(?=(?:no|not|the|there|he|she|his|her|it|this|that|these|therefore|"
    r"thus|so)\b)|\s+(?:that\s+would|which|to\s+support|to\s+justify|to\s+warrant|in\s+the\s+"
    r"(?:submitted|medical|available|provided)|in\s+(?:the\s+)?records?|is\s+(?:documented|noted|"
    r"reported|described)|are\s+(?:documented|noted|reported|described)|(?:was|were)\s+"
    r"(?:documented|noted|reported))\b",
    re.I,
)
_GUIDELINE_TALK = re.compile(
    r"\b(?:MTUS|ACOEM|ODG|guidelines?|recommend(?:s|ed)?|supports?|advis\w*|indicated\s+(?:for|when|only)|"
    r"are\s+an?\s+option|should|may\s+be|is\s+an?\s+option|requires?|criteria\s+(?:for|include)|"
    r"(?:when|if|unless)\s+there|only\s+(?:when|if|after)|in\s+patients)\b",
    re.I,
)
_PATIENT_STRONG = re.compile(
    r"\b(?:in\s+this\s+case|this\s+(?:patient|claimant|injured\s+worker)|the\s+(?:patient|"
    r"claimant|injured\s+worker|records?|examination|exam|notes?)|he|she|his|her)\b",
    re.I,
)


@dataclass
class Claim:
    """One absence claim of a rationale: the absent thing ``x``, its sentence and evidence."""

    x: str
    sentence: str
    evidence: Evidence
    source: str = "rules"


def _sentences(text: str, base: int) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((base + start, base + m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((base + start, base + len(text.rstrip())))
    return spans


def _clean_x(x: str) -> str:
    m = _X_STOP.search(x)
    if m:
        x = x[: m.start()]
    x = " ".join(x.split()[:12]).strip(" ,-")
    return x


def absence_claims(text: str, span: tuple[int, int]) -> list[Claim]:
    """Absence claims in the rationale ``text[span[0]:span[1]]``, in order, one per thing."""
    out: list[Claim] = []
    taken: list[tuple[int, int]] = []
    for s0, s1 in _sentences(text[span[0] : span[1]], span[0]):
        sentence = text[s0:s1]
        if re.search(r"medically\s+necessary", sentence, re.I):
            continue
        if _GUIDELINE_TALK.search(sentence) and not _PATIENT_STRONG.search(sentence):
            continue
        for pat in _ABSENCE_PATTERNS:
            for m in pat.finditer(sentence):
                a, b = s0 + m.start("x"), s0 + m.end("x")
                x = _clean_x(text[a:b])
                if not key_terms(x):
                    continue
                start = s0 + m.start()
                end = a + text[a:b].find(x.split()[-1]) + len(x.split()[-1]) if x else b
                end = max(end, start + 1)
                if any(t0 < end and start < t1 for t0, t1 in taken):
                    continue
                taken.append((start, end))
                out.append(
                    Claim(
                        x=x,
                        sentence=" ".join(sentence.split()),
                        evidence=Evidence(quote=text[start:end], start=start, end=end),
                    )
                )
    out.sort(key=lambda c: c.evidence.start)
    return out


def _pass1_claims(
    extraction, d: Decision, text: str, span: tuple[int, int], taken: list[Claim]
) -> list[Claim]:
    """Pass-1 ``missing`` facts of item ``d`` whose quote lies inside its rationale."""
    item = extraction.item(d.index) if extraction is not None else None
    if item is None or item.rationale is None:
        return []
    out = []
    for fact in item.rationale.missing:
        ev = locate(text, fact.quote, span)
        if ev is None or not (span[0] <= ev.start and ev.end <= span[1]):
            continue
        if any(c.evidence.start < ev.end and ev.start < c.evidence.end for c in taken + out):
            continue
        x = " ".join(fact.text.split())
        if not key_terms(x):
            continue
        s0, s1 = next(
            ((a, b) for a, b in _sentences(text[span[0] : span[1]], span[0]) if a <= ev.start < b),
            (ev.start, ev.end),
        )
        if re.search(r"medically\s+necessary", text[s0:s1], re.I):
            continue
        out.append(Claim(x=x, sentence=" ".join(text[s0:s1].split()), evidence=ev, source="llm"))
    return out


# ---------------------------------------------------------------- criteria

_UNMET_CUE = re.compile(
    r"\b(?:no|not|none|nor|without|negative|normal|intact|unchanged|lack(?:s|ing)?|absent|"
    r"fail(?:s|ed)?\s+to|exceed(?:s|ed|ing)?|more\s+than|in\s+excess|beyond|rather\s+than|"
    r"inconsisten\w*|only)\b|n't\b",
    re.I,
)
_LIMIT_CUE = re.compile(
    r"\b(?:exceed(?:s|ed|ing)?|more\s+than\s+(?:the\s+)?(?:guidelines?|recommended|allowed|"
    r"maximum|limit)|in\s+excess\s+of|beyond\s+(?:the\s+)?(?:guidelines?|recommended|limit)|"
    r"more\s+than\s+(?:\w+\s+){0,3}allow)",
    re.I,
)
_PATIENT = re.compile(
    r"\b(?:in\s+this\s+case|this\s+(?:patient|claimant|injured\s+worker)|the\s+(?:patient|"
    r"claimant|injured\s+worker|records?|examination|exam|notes?|MRI|imaging|study|provider)|"
    r"he|she|his|her|has|had|completed|documents?|documented|shows?|showed|reports?|reported|"
    r"there\s+(?:is|are|was|were))\b",
    re.I,
)
_CONCLUSION = re.compile(
    r"medically\s+necessary|\b(?:is|are)\s+(?:not\s+)?(?:supported|indicated|warranted|"
    r"appropriate|recommended)\s*(?:at\s+this\s+time)?\W*$",
    re.I,
)


@dataclass
class CriterionReading:
    check: CriterionCheck
    evidence: Evidence


@dataclass
class CriteriaReading:
    met: list[CriterionReading] = field(default_factory=list)
    unmet: list[CriterionReading] = field(default_factory=list)


def read_criteria(
    answer: CriteriaAnswer | None, text: str, span: tuple[int, int]
) -> CriteriaReading:
    """Keep the criteria whose quote lies in the rationale, speaks about this patient, and
    carries (unmet) or lacks (met) a negative / over-limit cue."""
    out = CriteriaReading()
    if answer is None:
        return out
    seen: set[tuple[int, int]] = set()
    for c in answer.criteria:
        if c.status == "not_addressed":
            continue
        ev = locate(text, c.quote, span)
        if ev is None or not (span[0] <= ev.start and ev.end <= span[1]):
            continue
        if (ev.start, ev.end) in seen:
            continue
        quote = ev.quote
        if _CONCLUSION.search(quote):
            continue
        if _GUIDELINE_TALK.search(quote) and not _PATIENT_STRONG.search(quote):
            continue
        negative = bool(_UNMET_CUE.search(quote))
        if c.status == "unmet" and negative:
            out.unmet.append(CriterionReading(c, ev))
        elif c.status == "met" and not negative and _PATIENT.search(quote):
            out.met.append(CriterionReading(c, ev))
        else:
            continue
        seen.add((ev.start, ev.end))
    return out


def _consistent(outcome: str, conclusion: str) -> bool:
    return conclusion == "unclear" or (outcome, conclusion) in (
        ("upheld", "not_medically_necessary"),
        ("overturned", "medically_necessary"),
    )


def criteria_finding(
    d: Decision,
    reading: CriteriaReading,
    rationale: str,
    claims: list[Claim],
    record: AuditRecord,
    conclusion: str,
) -> Finding | None:
    """``criteria-decision-mismatch`` when the verified criteria point against the decision."""
    if d.outcome not in ("upheld", "overturned") or not _consistent(d.outcome, conclusion):
        return None
    if d.outcome == "overturned" and reading.unmet and not reading.met:
        shown = reading.unmet[:3]
        names = "; ".join(f"'{r.check.criterion}'" for r in shown)
        return Finding(
            code="criteria-decision-mismatch",
            severity=Severity.high,
            decision_index=d.index,
            message=(
                f"Item {d.index + 1} was Overturned (medically necessary), but its rationale finds "
                f"criteria unmet ({names}) and none met."
            ),
            detector="llm",
            evidence=[r.evidence for r in shown] + _conclusion_ev(d),
        )
    if d.outcome == "upheld" and reading.met and not reading.unmet and not claims:
        over_limit = _LIMIT_CUE.search(rationale) or any(
            f.code == "quantity-over-limit" and f.decision_index == d.index for f in record.findings
        )
        if over_limit:
            return None
        shown = reading.met[:3]
        names = "; ".join(f"'{r.check.criterion}'" for r in shown)
        return Finding(
            code="criteria-decision-mismatch",
            severity=Severity.high,
            decision_index=d.index,
            message=(
                f"Item {d.index + 1} was Upheld (not medically necessary), but its rationale finds "
                f"the criteria met ({names}) and none unmet, with no limit exceeded."
            ),
            detector="llm",
            evidence=[r.evidence for r in shown] + _conclusion_ev(d),
        )
    return None


def _conclusion_ev(d: Decision) -> list[Evidence]:
    return [d.conclusion_evidence] if d.conclusion_evidence is not None else []


# ---------------------------------------------------------------- subject

_LEVEL = re.compile(
    r"\b(?P<r>[CTL])\s?(?P<a>\d{1,2})\s?(?:-|–|/|to|through)\s?(?P<r2>[CTLS])?\s?(?P<b>\d)\b"
    r"|\b(?P<r3>[CTLS])\s?(?P<c>\d{1,2})\b(?!\s*/)",
)
_SIDE = re.compile(r"\b(left|right|bilateral(?:ly)?|both)\b", re.I)


def spinal_levels(text: str) -> set[str]:
    """Spinal segments named in ``text``: ``"L4-5"`` -> ``{"L4", "L5"}``."""
    out = set()
    for m in _LEVEL.finditer(text):
        if m.group("r"):
            r, r2 = m.group("r"), m.group("r2") or m.group("r")
            out |= {f"{r}{m.group('a')}", f"{r2}{m.group('b')}"}
        else:
            out.add(f"{m.group('r3')}{m.group('c')}")
    return out


def _sides(text: str) -> set[str]:
    out = set()
    for m in _SIDE.finditer(text):
        w = m.group(1).lower()
        out.add("bilateral" if w.startswith("bilat") or w == "both" else w)
    return out


def _inside(text: str, quote: str | None, span: tuple[int, int]) -> Evidence | None:
    if not quote:
        return None
    ev = locate(text, quote, span)
    if ev is None or not (span[0] <= ev.start and ev.end <= span[1]):
        return None
    return ev


def subject_finding(
    d: Decision,
    answer: RationaleSubject | None,
    text: str,
    span: tuple[int, int],
    item_ev: list[Evidence],
) -> Finding | None:
    """``treatment-mismatch`` when the verified subject differs from the item and the rationale
    nowhere names the item's own treatment, region, side or level."""
    if answer is None or not item_ev:
        return None
    rationale = text[span[0] : span[1]]
    item = d.item

    def make(what: str, ev: Evidence) -> Finding:
        return Finding(
            code="treatment-mismatch",
            severity=Severity.medium,
            decision_index=d.index,
            message=f"Item {d.index + 1} is '{' '.join(item.split())}', but its rationale {what}.",
            detector="llm",
            evidence=[*item_ev, ev],
        )

    treatment = answer.treatment
    ev = _inside(text, treatment.quote, span) if treatment else None
    if ev is not None:
        item_topics = treatment_topics(item)
        named = treatment_topics(ev.quote)
        if (
            item_topics
            and named
            and not topics_related(item_topics, named)
            and not topics_related(item_topics, treatment_topics(rationale))
        ):
            return make(f"evaluates '{ev.quote}'", ev)

    item_regions = body_regions(item)
    subject_evs = [
        e
        for e in (
            _inside(text, answer.body_part.quote, span) if answer.body_part else None,
            ev,
        )
        if e is not None
    ]
    for e in subject_evs:
        regions = body_regions(e.quote)
        if (
            item_regions
            and regions
            and not (item_regions & regions)
            and not (item_regions & body_regions(rationale))
        ):
            return make(f"discusses the {e.quote}", e)

    side = answer.side
    side_ev = _inside(text, side.quote, span) if side else None
    item_sides = {m.side for m in find_regions(item) if m.side} or _sides(item)
    if side_ev is not None and side.side in _sides(side_ev.quote):
        other = {"left": "right", "right": "left"}
        if (
            len(item_sides) == 1
            and (s := next(iter(item_sides))) in other
            and side.side == other[s]
            and not (_sides(rationale) & {s, "bilateral"})
        ):
            return make(f"discusses the {side.side} side", side_ev)

    level = answer.spinal_level
    level_ev = _inside(text, level.quote, span) if level else None
    item_levels = spinal_levels(item)
    if level_ev is not None and item_levels:
        levels = spinal_levels(level_ev.quote)
        if levels and not (levels & item_levels) and not (spinal_levels(rationale) & item_levels):
            return make(f"discusses level {level_ev.quote}", level_ev)
    return None


# ---------------------------------------------------------------- the pass


@dataclass
class _ItemWork:
    decision: Decision
    span: tuple[int, int]
    item_block: str
    claims: list[Claim]
    absence: list[AbsenceCheck | None] = field(default_factory=list)
    criteria: CriteriaAnswer | None = None
    subject: RationaleSubject | None = None


def _rationale_span(d: Decision) -> tuple[int, int] | None:
    if d.rationale_span and d.rationale_span[1] > d.rationale_span[0]:
        return d.rationale_span
    return None


def _item_evidence(text: str, d: Decision) -> list[Evidence]:
    if d.heading_span:
        a, b = d.heading_span
        words = " ".join(d.item.split())
        ev = locate(text, words, (a, b)) if words else None
        if ev is not None and a <= ev.start and ev.end <= b:
            return [ev]
        return [Evidence(quote=text[a:b], start=a, end=b)]
    ev = locate(text, d.item, d.span) if d.item.strip() else None
    return [ev] if ev is not None else []


async def _ask(client: LLMClient, model, template: str, letter: Letter, variables: dict):
    try:
        answer, _ = await client.ask(model, template, letter=letter, variables=variables)
    except LLMError as exc:
        if exc.kind not in SKIPPABLE:
            raise
        log.warning(
            "llm pass 2 question skipped letter=%s template=%s kind=%s",
            letter.letter_id,
            template,
            exc.kind,
        )
        return None
    return answer


def fact_findings(
    d: Decision, work: _ItemWork, text: str, summary: tuple[int, int]
) -> Finding | None:
    """``fact-contradiction`` from verified absence answers (one finding per item)."""
    pairs: list[tuple[Claim, Evidence]] = []
    for claim, answer in zip(work.claims, work.absence, strict=False):
        if answer is None or not answer.summary_quote:
            continue
        ev = _inside(text, answer.summary_quote, summary)
        if ev is None:
            continue
        # The model's yes/no is a weak signal (a 1.5B model often quotes the right sentence
        # and then says "no"): a "yes" needs the quote to name the finding or its concept, a
        # "no" needs it to name a strong key term of the claim itself.
        if not mentions_positively(claim.x, ev.quote, strict=answer.reports_it != "yes"):
            continue
        claim_regions, quote_regions = body_regions(claim.sentence), body_regions(ev.quote)
        if claim_regions and quote_regions and not (claim_regions & quote_regions):
            continue  # the summary speaks of another body part
        pairs.append((claim, ev))
    if not pairs:
        return None
    claim, ev = pairs[0]
    evidence = [claim.evidence, ev]
    for c, e in pairs[1:]:
        evidence += [c.evidence, e]
    return Finding(
        code="fact-contradiction",
        severity=Severity.high,
        decision_index=d.index,
        message=(
            f"Item {d.index + 1}'s rationale says there is no {claim.x}, but the case summary "
            f"states: '{' '.join(ev.quote.split())}'."
        ),
        detector="llm",
        evidence=evidence,
    )


async def llm_pass2(
    letter: Letter,
    record: AuditRecord,
    sections: Sections,
    client: LLMClient,
    extraction=None,
) -> list[Finding]:
    """Ask the pass-2 questions for every item with a rationale and decide findings in code.
    Sets ``record.llm`` to the usage so far. Raises ``LLMError`` on transport / budget errors."""
    text = letter.text
    summary = sections.summary if sections and sections.summary else None
    head_end = letter_head(text, sections or Sections(), record.decisions)
    base = {"letter_head": compact(text[:head_end])}

    work: list[_ItemWork] = []
    for d in record.decisions:
        span = _rationale_span(d)
        if span is None or d.span[1] <= d.span[0]:
            continue
        claims: list[Claim] = []
        if summary is not None:
            claims = absence_claims(text, span)
            claims += _pass1_claims(extraction, d, text, span, claims)
        work.append(
            _ItemWork(
                decision=d,
                span=span,
                item_block=compact(text[d.span[0] : d.span[1]]),
                claims=claims[:MAX_CLAIMS_PER_ITEM],
            )
        )
    if not work:
        return []

    # Calls are grouped by question so that consecutive requests share the longest prefix
    # (with instructor's TOOLS mode the schema comes first in the prompt).
    async def absence(w: _ItemWork, claim: Claim) -> AbsenceCheck | None:
        return await _ask(
            client,
            AbsenceCheck,
            "item_absence",
            letter,
            {**base, "claim": claim.x, "claim_sentence": claim.sentence},
        )

    async def criteria(w: _ItemWork) -> None:
        w.criteria = await _ask(
            client, CriteriaAnswer, "item_criteria", letter, {**base, "item_block": w.item_block}
        )

    async def subject(w: _ItemWork) -> None:
        w.subject = await _ask(
            client, RationaleSubject, "item_subject", letter, {**base, "item_block": w.item_block}
        )

    jobs = [absence(w, c) for w in work for c in w.claims]
    answers = await gather_or_cancel(
        *jobs, *(criteria(w) for w in work), *(subject(w) for w in work)
    )
    k = 0
    for w in work:
        w.absence = list(answers[k : k + len(w.claims)])
        k += len(w.claims)

    findings: list[Finding] = []
    for w in work:
        d = w.decision
        if summary is not None:
            f = fact_findings(d, w, text, summary)
            if f is not None:
                findings.append(f)
        conclusion = d.conclusion
        item = extraction.item(d.index) if extraction is not None else None
        if conclusion == "unclear" and item is not None and item.rationale is not None:
            conclusion = item.rationale.conclusion
        reading = read_criteria(w.criteria, text, w.span)
        all_claims = absence_claims(text, w.span)
        f = criteria_finding(
            d, reading, text[w.span[0] : w.span[1]], all_claims, record, conclusion
        )
        if f is not None:
            findings.append(f)
        f = subject_finding(d, w.subject, text, w.span, _item_evidence(text, d))
        if f is not None:
            findings.append(f)
    record.llm = client.usage_for(letter)
    return findings
