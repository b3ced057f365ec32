"""LLM pass 2: narrow consistency questions per item, answered with quotes; code decides.

The model is never asked "is this letter consistent?". It answers four kinds of narrow
questions, each with verbatim quotes (``prompts/item_*.j2``):

``item_absence`` (once per absence claim, at most ``MAX_CLAIMS_PER_ITEM`` per item)
    The rationale says something is absent ("there is no documentation of radiculopathy",
    "the MRI does not show a meniscal tear"). Claims are found by rules over the rationale
    text, plus the pass-1 ``missing`` facts that lie inside the rationale. Code keeps only the
    claims that some summary sentence could contradict (it names the finding or its concept,
    un-negated, not as the request) and lists those sentences as hints. Question: does the
    CLINICAL CASE SUMMARY report it in this patient? Quote it, or null.
``item_criteria`` (once per item)
    Each guideline criterion the rationale applies, with status met / unmet / not addressed
    by the rationale's own account, and the rationale's words that show it.
``item_verdict`` (once per item)
    By the rationale's own account of this patient's records, does the patient meet the
    guideline's conditions: meets / does not meet / not stated, with a quote. (Measured on the
    local 1.5B model: this overall question and the per-criterion list miss different items,
    so either one suffices once verified.)
``item_subject`` (once per item)
    Which treatment, body part, side and spinal level the rationale discusses.

Code then decides, and only from answers it could verify:

``fact-contradiction`` (high)
    the summary quote lies inside the CLINICAL CASE SUMMARY (up to two words trimmed at either
    edge), is not about the request or plan, and names the claimed finding without a negation or
    hedge in its clause ("negative", "no", "intact", "normal", "full", "possible", ...; or "was
    negative" after it): a strong key term of the claim, or a finding of the same concept (e.g.
    "positive straight leg raise" for radiculopathy). The claim's sentence and the quote must
    not name disjoint body regions. The model's own yes/no is not used: on the local 1.5B model
    it was noise (it often quotes the right sentence and then says "no").
``criteria-decision-mismatch`` (high)
    Overturned, yet the criteria list has unmet criteria and none met, or the verdict is "does
    not meet" and the rationale has a sentence about this patient reporting a shortfall; or
    Upheld, yet the list has met criteria and none unmet (or the verdict is "meets"), and the
    rationale states no absence and no exceeded limit. Each counted criterion's quote must lie
    inside the rationale, speak about this patient rather than restate the guideline, and (for
    "unmet") carry a negative or over-limit cue that is not a supporting negative such as "no
    side effects" or "has not had acupuncture before", (for "met") carry none. Items whose
    rationale concludes against its own decision word are left to
    ``decision-conclusion-mismatch``.
``treatment-mismatch`` (medium)
    The subject quote lies inside the rationale and names a treatment topic unrelated to the
    item's (catalog aliases and relations decide sameness), a body region disjoint from the
    item's, the other side, or another spinal level; and the rationale nowhere names the item's
    own treatment / region / side / level.

Pass-2 quotes are not validated against the letter by the response models (``LooseQuote``):
code places each one in the section it must come from and drops what it cannot place, so one
bad quote in a list neither discards the answer nor costs re-asks. A question whose answer
still fails validation on every re-ask (bad JSON, wrong shape) is skipped: no finding comes from
it. Transport and budget errors still fail the letter.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from imr_llm.codes import Code
from imr_llm.extract.llm import compact, gather_or_cancel, letter_head
from imr_llm.guidelines import body_regions, find_regions, topics_related, treatment_topics
from imr_llm.llm.client import LLMClient, LLMError
from imr_llm.llm.responses import (
    AbsenceCheck,
    CriteriaAnswer,
    CriteriaVerdict,
    CriterionCheck,
    RationaleSubject,
    locate,
)
from imr_llm.schemas import AuditRecord, Decision, Evidence, Finding, Letter, Severity
from imr_llm.text.spans import Sections, clauses

log = logging.getLogger(__name__)

MAX_CLAIMS_PER_ITEM = 3
"""Absence claims checked per item (each is one call); rule-found claims come first."""

MAX_CANDIDATES = 4
"""Summary sentences listed as hints in one absence question."""

SKIPPABLE = frozenset({"validation", "truncated"})
"""LLMError kinds that skip one question instead of failing the letter."""


# ---------------------------------------------------------------- text helpers

_NEG_CUE = re.compile(
    r"\b(?:no|not|none|never|nor|without|negative|normal|intact|unremarkable|denie[sd]|deny|"
    r"absence|free\s+of|rule[sd]?\s+out|r/o|possible|possibly|suspected|questionable|versus|vs|"
    r"full|resolved)\b"
    r"|n't\b",
    re.I,
)
_POST_NEG = re.compile(
    r"^\W{0,3}(?:\w+\W+){0,5}?(?:was|were|is|are|remains?|remained)\s+(?:\w+\s+)?"
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
    # Nerve involvement. Signs (exam, imaging, electrodiagnosis) answer any such claim;
    # complaints (numbness, tingling, burning) answer only a claim about symptoms or one that
    # asks for no "specific"/"objective" evidence or "compromise" (reviewed: a diagnosis of arm
    # paresthesias does not show "specific nerve compromise", CM16-0213037).
    (
        re.compile(r"radicul|nerve\s+root|neurolog|neuropath|dermatom", re.I),
        re.compile(
            r"radicul|positive\s+(?:straight[- ]leg|SLR|Spurling)|\bSLR\b|dermatom|"
            r"(?:decreased|diminished|reduced|altered|absent|loss\s+of)\s+(?:\w+\s+){0,2}"
            r"(?:sensation|reflex(?:es)?|strength)|"
            r"nerve\s+root\s+(?:impingement|compression|contact|irritation)|"
            r"(?:contacting|compressing|impinging)\s+(?:\w+\s+){0,3}nerve\s+root|"
            r"neuropath|sciatica",
            re.I,
        ),
    ),
    (
        re.compile(
            r"^(?=.*(?:radicul|nerve\s+root|neurolog|neuropath|dermatom))"
            r"(?:(?=.*symptom)|(?!.*\b(?:specific|objective|compromise)))",
            re.I | re.S,
        ),
        re.compile(r"weakness|numbness|tingling|paresthes|burning", re.I),
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
        re.compile(
            r"pain\s+(?:score|rating|level)s?(?!.*(?:relief|reduc|decreas|improv|with\s+(?:and|or)"
            r"\s+without|medication))",
            re.I | re.S,
        ),
        re.compile(r"\d{1,2}\s*/\s*10|\d{1,2}\s+out\s+of\s+10", re.I),
    ),
    (
        re.compile(r"relief|analgesi|reduction\s+in\s+pain|pain\s+reduction", re.I),
        re.compile(
            r"\d{1,2}\s*/\s*10\s*(?:\w+\s+){0,8}?(?:to|down\s+to|with)\s+\d{1,2}\s*/\s*10|"
            r"(?:relief|reduc\w+|decreas\w+)\s+(?:\w+\s+){0,3}pain|pain\s+(?:\w+\s+){0,3}"
            r"(?:relief|reduc\w+|decreas\w+)|\d+\s*%\s*(?:relief|improvement|reduction)",
            re.I,
        ),
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
        re.compile(
            r"(?:physical\s+therapy|\bPT\b)(?!\s+(?:notes?|progress|records?|reports?|"
            r"documentation|evaluation))",
            re.I,
        ),
        re.compile(r"physical\s+therapy|\bPT\b", re.I),
    ),
    (
        re.compile(r"home\s+exercise|\bHEP\b", re.I),
        re.compile(r"home\s+exercise|\bHEP\b", re.I),
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
    parts area areas type types condition conditions complaint complaints issue issues injury injuries
    injured work working worked return returned attempt attempts use used using fail failed
    failure plan planned recent diagnosis diagnoses diagnosed evaluation management care
    shoulder shoulders knee knees hip hips back lumbar lumbosacral cervical thoracic neck spine
    spinal wrist wrists hand hands elbow elbows ankle ankles foot feet arm arms leg legs thumb
    finger fingers toe toes muscle muscles joint joints region regions side sides applicant
    actual provided explanation need needed needs include includes including activity activities
    terms
    """.split()  # noqa: SIM905
)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z\-]{2,}", text)


def key_terms(claim: str) -> set[str]:
    """Distinctive word stems of an absence claim (``"radiculopathy on examination"`` ->
    ``{"radicu", "examin"}``); generic documentation words are left out."""
    return {_stem(w) for w in _words(claim) if w.lower() not in _STOP and len(w) >= 4}


def _negated(text: str, start: int, end: int) -> bool:
    """Whether the term at ``text[start:end]`` is negated or hedged in its clause."""
    clause_start = max(text.rfind(c, 0, start) for c in ".;:") + 1
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
        not _negated(quote, *m.span()) and not _score_range(m.group())
        for claim_pat, evidence_pat in _CONCEPTS
        if claim_pat.search(claim)
        for m in evidence_pat.finditer(quote)
    )
    return literal, concept


_TWO_SCORES = re.compile(r"(\d{1,2})\s*/\s*10\b.*?\b(\d{1,2})\s*/\s*10", re.S)


def _score_range(match: str) -> bool:
    """Whether ``match`` pairs two pain scores that do not fall ("pain rated 6/10 to 10/10" is
    a range, not relief)."""
    m = _TWO_SCORES.search(match)
    return m is not None and int(m.group(2)) >= int(m.group(1))


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
    r"thus|so|normal|negative|intact|unremarkable)\b)|\s+(?:that\s+would|which|to\s+support|to\s+justify|to\s+warrant|in\s+the\s+"
    r"(?:submitted|medical|available|provided)|in\s+(?:the\s+)?records?|is\s+(?:documented|noted|"
    r"reported|described)|are\s+(?:documented|noted|reported|described)|(?:was|were)\s+"
    r"(?:documented|noted|reported))\b",
    re.I,
)
_GUIDELINE_TALK = re.compile(
    r"\b(?:MTUS|ACOEM|ODG|guidelines?|recommend(?:s|ed)?|supports?|advis\w*|indicated\s+(?:for|when|only)|"
    r"are\s+an?\s+option|should|may\s+be|is\s+an?\s+option|criteria\s+(?:for|include)|"
    r"(?:when|if)\s+there|unless|only\s+(?:when|if|after)|in\s+patients)\b"
    r"|^\s*\(\d{1,2}\)\s",  # an item of an enumerated criteria list: "(6) No repeat ..."
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
    tier: int = 0
    """How explicit the claim is: 0 "no documentation/evidence of X" ... 4 a bare "no X";
    5 a pass-1 ``missing`` fact."""
    candidates: list[str] = field(default_factory=list)
    """Summary sentences that could contradict the claim (shown to the model as hints)."""


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
    for s0, s1 in clauses(text, span[0], span[1]):
        sentence = text[s0:s1]
        if re.search(r"medically\s+necessary", sentence, re.I):
            continue
        if _GUIDELINE_TALK.search(sentence) and not _PATIENT_STRONG.search(sentence):
            continue
        for tier, pat in enumerate(_ABSENCE_PATTERNS):
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
                        tier=tier,
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
    out: list[Claim] = []
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
            ((a, b) for a, b in clauses(text, span[0], span[1]) if a <= ev.start < b),
            (ev.start, ev.end),
        )
        if re.search(r"medically\s+necessary", text[s0:s1], re.I):
            continue
        out.append(
            Claim(x=x, sentence=" ".join(text[s0:s1].split()), evidence=ev, source="llm", tier=5)
        )
    return out


# ---------------------------------------------------------------- criteria

_UNMET_CUE = re.compile(
    r"\b(?:no|not|none|nor|without|negative|normal|intact|unchanged|lack(?:s|ing)?|absent|"
    r"fail(?:s|ed)?\s+to|exceed(?:s|ed|ing)?|more\s+than|in\s+excess|beyond|rather\s+than|"
    r"inconsisten\w*|only)\b|n't\b",
    re.I,
)
_NOT_A_SHORTFALL = re.compile(
    r"\b(?:has|have|had)\s+not\s+(?:previously\s+|yet\s+|already\s+)?(?:had|tried|received|"
    r"undergone)|\bno\s+(?:prior|previous)\b|\bno\s+(?:side\s+effects?|adverse|aberrant|"
    r"inconsisten\w*|red\s+flags?|contraindications?|signs?\s+of\s+(?:misuse|abuse|diversion)|"
    r"history\s+of\s+(?:substance|drug|alcohol|misuse|abuse))",
    re.I,
)
"""Negative wording that supports a request rather than reporting a shortfall ("has not had
acupuncture before", "no side effects", "no aberrant behavior")."""
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
        ev = _inside(text, c.quote, span)
        if ev is None:
            continue
        if (ev.start, ev.end) in seen:
            continue
        quote = ev.quote
        if _CONCLUSION.search(quote):
            continue
        if _GUIDELINE_TALK.search(quote) and not _PATIENT_STRONG.search(quote):
            continue
        negative = bool(_UNMET_CUE.search(quote))
        if c.status == "unmet" and negative and not _NOT_A_SHORTFALL.search(quote):
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


def _patient_shortfalls(text: str, span: tuple[int, int]) -> list[Evidence]:
    """Rationale sentences that report a shortfall in this patient's records: about the patient
    (not the guideline), with a negative cue, not a supporting negative ("no side effects",
    "has not had acupuncture before"), and not the concluding sentence."""
    out = []
    for a, b in clauses(text, span[0], span[1]):
        sentence = text[a:b]
        if (
            _PATIENT_STRONG.search(sentence)
            and _UNMET_CUE.search(sentence)
            and not _NOT_A_SHORTFALL.search(sentence)
            and not _CONCLUSION.search(sentence)
            and not (_GUIDELINE_TALK.search(sentence) and not _PATIENT_STRONG.search(sentence))
        ):
            out.append(Evidence(quote=sentence, start=a, end=b))
    return out


def read_verdict(
    answer: CriteriaVerdict | None, text: str, span: tuple[int, int]
) -> tuple[str, Evidence | None]:
    """The model's verdict and its quote, placed inside the rationale (else "not_stated")."""
    if answer is None or answer.verdict == "not_stated":
        return "not_stated", None
    ev = _inside(text, answer.quote, span)
    if ev is None or _CONCLUSION.search(ev.quote):
        return "not_stated", None
    return answer.verdict, ev


def criteria_finding(
    d: Decision,
    reading: CriteriaReading,
    verdict: tuple[str, Evidence | None],
    text: str,
    span: tuple[int, int],
    claims: list[Claim],
    record: AuditRecord,
    conclusion: str,
) -> Finding | None:
    """``criteria-decision-mismatch`` when the verified criteria point against the decision.

    Two readings of the rationale, either of which suffices once verified: the per-criterion
    list (``reading``) and the overall verdict (``verdict``). Overturned: unmet criteria and
    none met, or a "does not meet" verdict backed by a sentence reporting a shortfall in this
    patient's records. Upheld: met criteria and none unmet, or a "meets" verdict; and the
    rationale states no absence and no exceeded limit."""
    if d.outcome not in ("upheld", "overturned") or not _consistent(d.outcome, conclusion):
        return None
    rationale = text[span[0] : span[1]]
    says, said = verdict
    if d.outcome == "overturned":
        evidence: list[Evidence] = []
        if reading.unmet and not reading.met:
            evidence = [r.evidence for r in reading.unmet[:3]]
            why = "; ".join(f"'{r.check.criterion}'" for r in reading.unmet[:3])
            why = f"finds criteria unmet ({why}) and none met"
        # read_verdict quotes every stated verdict: ``said`` is None only with "not_stated"
        elif says == "does_not_meet" and said is not None and not reading.met:
            shortfalls = _patient_shortfalls(text, span)
            if not shortfalls:
                return None
            inside = [e for e in shortfalls if said.start < e.end and e.start < said.end]
            evidence = (inside or shortfalls)[:2]
            why = "says this patient's records do not meet the guideline's conditions"
        if not evidence:
            return None
        return Finding(
            code=Code.criteria_decision_mismatch,
            severity=Severity.high,
            decision_index=d.index,
            message=f"Item {d.index + 1} was Overturned (medically necessary), but its rationale {why}.",
            detector="llm",
            evidence=evidence + _conclusion_ev(d),
        )
    if claims or reading.unmet or says == "does_not_meet":
        return None
    if _LIMIT_CUE.search(rationale) or any(
        f.code == "quantity-over-limit" and f.decision_index == d.index for f in record.findings
    ):
        return None
    if reading.met:
        evidence = [r.evidence for r in reading.met[:3]]
        why = "; ".join(f"'{r.check.criterion}'" for r in reading.met[:3])
        why = f"finds the criteria met ({why}) and none unmet"
    elif (
        says == "meets"
        and said is not None
        and not _UNMET_CUE.search(said.quote)
        and _PATIENT.search(said.quote)
    ):
        evidence = [said]
        why = "says this patient's records meet the guideline's conditions"
    else:
        return None
    return Finding(
        code=Code.criteria_decision_mismatch,
        severity=Severity.high,
        decision_index=d.index,
        message=(
            f"Item {d.index + 1} was Upheld (not medically necessary), but its rationale {why}, "
            "with no limit exceeded."
        ),
        detector="llm",
        evidence=evidence + _conclusion_ev(d),
    )


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


MIN_TRIMMED_WORDS = 5
"""A quote that is not in the letter as given may still be placed with up to two words trimmed
from either edge (a small model often writes "The MRI" for the letter's "An MRI"), keeping at
least this many words. The evidence is always the exact letter text that was found."""


def _find_in(text: str, quote: str, span: tuple[int, int]) -> Evidence | None:
    ev = locate(text, quote, span)
    if ev is None or not (span[0] <= ev.start and ev.end <= span[1]):
        return None
    return ev


def _inside(text: str, quote: str | None, span: tuple[int, int]) -> Evidence | None:
    """Evidence for ``quote`` inside ``text[span[0]:span[1]]``, or None. Tries the quote as
    given, then each of its sentences (longest first), then the quote with up to two words
    trimmed from either edge."""
    if not quote or not quote.strip():
        return None
    ev = _find_in(text, quote, span)
    if ev is not None:
        return ev
    parts = [p for p in re.split(r"(?<=[.;])\s+", quote.strip()) if len(p.split()) >= 3]
    if len(parts) > 1:
        for part in sorted(parts, key=len, reverse=True):
            ev = _find_in(text, part, span)
            if ev is not None:
                return ev
    words = quote.split()
    for lead in range(3):
        for tail in range(3):
            if not (lead or tail) or len(words) - lead - tail < MIN_TRIMMED_WORDS:
                continue
            ev = _find_in(text, " ".join(words[lead : len(words) - tail]), span)
            if ev is not None:
                return ev
    return None


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
            code=Code.treatment_mismatch,
            severity=Severity.medium,
            decision_index=d.index,
            message=f"Item {d.index + 1} is '{_short(item)}', but its rationale {what}.",
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
            return make(f"evaluates another treatment: '{_short(ev.quote)}'", ev)

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
            return make(f"discusses another body part: '{_short(e.quote)}'", e)

    side = answer.side
    side_ev = _inside(text, side.quote, span) if side else None
    item_sides = {m.side for m in find_regions(item) if m.side} or _sides(item)
    if side is not None and side_ev is not None and side.side in _sides(side_ev.quote):
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
            return make(f"discusses another level: '{_short(level_ev.quote)}'", level_ev)
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
    verdict: CriteriaVerdict | None = None
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


def _summary_support(claim: Claim, quote: str) -> bool:
    """Whether a summary ``quote`` could show ``claim`` wrong: it names the finding (see
    ``mentions_positively``), is not about the request or plan, and names no body region
    disjoint from the claim's."""
    if _REQUEST.search(quote) or not mentions_positively(claim.x, quote):
        return False
    claim_regions, quote_regions = body_regions(claim.sentence), body_regions(quote)
    return not (claim_regions and quote_regions and not (claim_regions & quote_regions))


def checkable_claims(claims: list[Claim], text: str, summary: tuple[int, int]) -> list[Claim]:
    """The claims some summary sentence could contradict, most explicit first. A claim no
    summary sentence could verify cannot become a finding, so it is not asked about."""
    sentences = [text[a:b] for a, b in clauses(text, summary[0], summary[1])]
    viable = []
    for c in claims:
        c.candidates = [" ".join(s.split()) for s in sentences if _summary_support(c, s)][
            :MAX_CANDIDATES
        ]
        if c.candidates:
            viable.append(c)
    return sorted(viable, key=lambda c: (c.tier, c.evidence.start))


_REQUEST = re.compile(
    r"\b(?:request\w*|RFA|prescrib\w*|recommend\w*|plan|planned|to\s+receive|scheduled|pending|"
    r"will\s+(?:be|undergo|receive|start)|was\s+to|would\s+like|consider\w*)\b",
    re.I,
)
"""A summary sentence about the request or plan ("requested X for neuropathic pain", "the
treatment plan included acupuncture") says what is asked for, not that a finding is present."""


def _narrow(text: str, ev: Evidence, keep) -> Evidence:
    """The first sentence of a multi-sentence quote that still satisfies ``keep``."""
    for a, b in clauses(text, ev.start, ev.end):
        if (a, b) != (ev.start, ev.end) and keep(text[a:b]):
            return Evidence(quote=text[a:b], start=a, end=b)
    return ev


def fact_findings(
    d: Decision, work: _ItemWork, text: str, summary: tuple[int, int]
) -> Finding | None:
    """``fact-contradiction`` from verified absence answers (one finding per item)."""
    pairs: list[tuple[Claim, Evidence]] = []
    for claim, answer in zip(work.claims, work.absence, strict=False):
        if answer is None or not answer.summary_quote:
            continue
        ev = _inside(text, answer.summary_quote, summary)
        # The model's yes/no is not used: measured on the local 1.5B model it was noise (it
        # often quotes the right sentence and then says "no"); the verified quote decides.
        if ev is None or not _summary_support(claim, ev.quote):
            continue
        ev = _narrow(text, ev, lambda q, c=claim: _summary_support(c, q))
        pairs.append((claim, ev))
    if not pairs:
        return None
    claim, ev = pairs[0]
    evidence = [claim.evidence, ev]
    for c, e in pairs[1:]:
        evidence += [c.evidence, e]
    return Finding(
        code=Code.fact_contradiction,
        severity=Severity.high,
        decision_index=d.index,
        message=(
            f"Item {d.index + 1}'s rationale says '{_short(claim.evidence.quote)}', but the case "
            f"summary states '{_short(ev.quote)}'."
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
            claims = checkable_claims(claims, text, summary)
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
            {
                **base,
                "claim": claim.x,
                "claim_sentence": claim.sentence,
                "candidates": claim.candidates,
            },
        )

    async def criteria(w: _ItemWork) -> None:
        w.criteria = await _ask(
            client, CriteriaAnswer, "item_criteria", letter, {**base, "item_block": w.item_block}
        )

    async def verdict(w: _ItemWork) -> None:
        w.verdict = await _ask(
            client, CriteriaVerdict, "item_verdict", letter, {**base, "item_block": w.item_block}
        )

    async def subject(w: _ItemWork) -> None:
        w.subject = await _ask(
            client, RationaleSubject, "item_subject", letter, {**base, "item_block": w.item_block}
        )

    jobs = [absence(w, c) for w in work for c in w.claims]
    answers = await gather_or_cancel(
        *jobs,
        *(criteria(w) for w in work),
        *(verdict(w) for w in work),
        *(subject(w) for w in work),
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
            d,
            reading,
            read_verdict(w.verdict, text, w.span),
            text,
            w.span,
            all_claims,
            record,
            conclusion,
        )
        if f is not None:
            findings.append(f)
        f = subject_finding(d, w.subject, text, w.span, _item_evidence(text, d))
        if f is not None:
            findings.append(f)
    record.llm = client.usage_for(letter)
    return findings
