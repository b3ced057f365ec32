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
from imr_llm.text.negation import negation_pattern
from imr_llm.text.spans import Sections, sentences

if TYPE_CHECKING:
    from imr_llm.llm.client import LLMClient
    from imr_llm.summary_llm import GroundedSummary


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
    r"(?:treatments?|treated)\s+for\b",
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
    r"\b(?:has|had)\s+(?:completed|received|tried|attended)\b|\b(?:was|were)\s+prescribed\b|"
    r"\bunderwent\b",
    re.I,
)
# ---- what kind of clause a rationale sentence is (the decisive reason is a shortfall of the
# case against a criterion, or for an overturned item, a criterion the case meets)

# A negation ("no", "lack of", "did not", "fails to") ...
_NEGATION = negation_pattern(
    r"lack\w*|absen\w*|fail(?:s|ed)?\s+to|insufficient|inadequate|unclear|unknown|only"
)
# ... of something the case file should show: documentation, findings, a trial, a response.
_DOCUMENTED = re.compile(
    r"\b(?:document\w*|evidence|indicat\w*|rationale|records?|reports?|noted|notes?|mention\w*|"
    r"explanation|discussion|information|findings?|signs?|red\s+flags?|improve\w*|response|"
    r"outcomes?|trials?|failure|failed|history|deficits?|candidate|plans?|goals?|attempts?|"
    r"assessment|screen\w*|complaints?|symptoms?|provided|submitted|included|objective|"
    r"benefit|efficacy|functional|progress\w*|quantity|number|frequency|duration|reason|"
    r"justification|specif\w*|exam\w*|radiographs?|x-?rays?|imaging|spasms?|procedure|surg\w*|"
    r"conservative|therapy|medications?|swelling|clear)\b",
    re.I,
)
# A request beyond what is allowed, or already given.
_EXCESS = re.compile(
    r"\b(?:exceed\w*|in\s+excess|excess\w*|surpass\w*|beyond\s+the\s+(?:recommended|guideline|"
    r"allowed|upper|acute)|more\s+than\s+(?:the\s+)?(?:recommended|allowed|guideline)|already|"
    r"previously\s+(?:authorized|certified|approved)|full\s+course|upper\s+limit|acute\s+phase|"
    r"limits?\s+the\s+use)\b",
    re.I,
)
# A criterion the case meets (the reason of an overturned item).
_MEETS = re.compile(
    r"\b(?:(?:has|have|had)\s+(?:failed|tried|undergone|persist\w*|continued)|completed|despite|"
    r"persistent|not\s+responded|(?:do|does|did)\s+(?:indicate|document|show|support|"
    r"demonstrate)|documented|demonstrat\w*|meets?|compatible|consistent\s+with|warrant\w*|"
    r"support\w*|objective|positive|suggest\w*|progression|failed|revealed|showed|within\s+the\s+(?:guidelines?|recommend\w*))\b",
    re.I,
)
# The request's verdict ("is not medically necessary", "would not be supported").
_VERDICT = re.compile(
    # the copula and its negation belong to the verdict ("is not considered medically necessary",
    # "is not a medical necessity"): they are not a negation in the reason before it
    r"\b(?:(?:(?:is|are|was|were|be|been)\s+(?:not\s+)?(?:(?:deemed|considered|found|felt|shown)"
    r"\s+(?:to\s+be\s+)?)?(?:a\s+)?)?(?:medically\s+(?:necessary|unnecessary)|medical\s+necessity)|"
    r"(?:is|are|was|were|be|been)"
    r"\s+(?:not\s+)?(?:deemed\s+)?(?:medically\s+|clinically\s+)?(?:necessary|supported|"
    r"warranted|indicated|appropriate|reasonable|justified)|"
    r"cannot\s+be\s+(?:deemed|considered|supported|recommended))\b",
    re.I,
)
# A generic closing that points at the guidelines rather than at the case.
_CLOSING = re.compile(
    r"\b(?:go(?:es|ing)?\s+against|deviat\w*|extenuating|exceptional\s+(?:factors|circumstances)"
    r"|(?:meet|meets|met)\s+(?:the\s+)?(?:[\w-]+\s+){0,3}(?:criteria|guidelines?|"
    r"recommendations?|requirements?)|criteria\s+(?:have|has)\s+not\s+been\s+met|guideline\s+"
    r"criteria|not\s+been\s+established|based\s+on\s+(?:the\s+)?(?:clinical\s+"
    r"information|above|records?\s+provided|submitted)|(?:is|are)\s+consistent\s+with\s+(?:the\s+)?"
    r"guidelines?|(?:lack|absence)\s+of\s+(?:the\s+)?(?:above|aforementioned|such)|(?:given|based\s+"
    r"on)\s+(?:the\s+)?(?:above|foregoing)|(?:of|without)\s+such\s+(?:documentation|information|"
    r"evidence))\b",
    re.I,
)
# A sentence that leads to the verdict from what came before.
_SO = re.compile(
    r"(?:therefore|thus|hence|as\s+such|consequently|accordingly|in\s+conclusion|based\s+on)\b",
    re.I,
)
# The modified-request preamble: what the claims administrator authorized, not a reason.
_ADMIN = re.compile(
    r"\bIMR\s+eligible\b|\bClaims\s+Administrator\s+(?:authorized|approved|certified)\b|"
    r"\bwas\s+the\s+original\s+request\b",
    re.I,
)
_NOT_RECOMMENDED = re.compile(
    r"\b(?:is|are)\s+not\s+recommended\b(?![^.;]*\b(?:if|when|unless|for\s+patients)\b)|"
    r"^\s*not\s+recommended\b",
    re.I,
)
_CITED = re.compile(r"\([A-Z][A-Za-z-]+(?:\s+et\s+al\.?)?,?\s+(?:19|20)\d\d\)")
_IF = r"if|when|unless|whenever"
_CONDITION = re.compile(rf"\b(?:{_IF})\b", re.I)
# A condition or a concession: what follows in its clause is supposed or conceded, not stated.
_NOT_ASSERTED = re.compile(rf"\b(?:{_IF}|(?:even\s+)?though|although)\b", re.I)
# A guideline's rule: a guideline as subject, a condition, a general statement about patients.
_RULE = re.compile(
    r"\b(?:MTUS|ACOEM|ODG|guidelines?|Official\s+Disability)\b[^.;]{0,40}?\b(?:states?|stated|"
    r"recommend\w*|supports?|indicates?|allows?|notes?|says?|specif\w*|cites?|refers?|limits?|"
    r"calls?\s+for|requires?)\b|"
    r"\b(?:if|when|unless|whenever|in\s+"
    r"patients|for\s+patients|patients\s+(?:with|who))\b|\b(?:is|are)\s+(?:not\s+)?recommended\b|"
    r"\b(?:should|may|can)\b|"
    # where the guideline comes from: "the MTUS does not address ..., so the ODG was cited"
    r"\b(?:do|does|did)\s+not\s+(?:specifically\s+)?address\b|\b(?:was|were|is|are)\s+"
    r"(?:cited|referenced|consulted)\b",
    re.I,
)
# A sentence that opens with a guideline's name or a numbered criterion.
_RULE_LEAD = re.compile(
    r"(?:According\s+to|Per|As\s+per|Pursuant\s+to)\s+(?:the\s+)?(?:CA\s+|California\s+)?(?:MTUS|"
    r"ACOEM|ODG|guidelines?|Official)\b|\(?\d+\)",
    re.I,
)
_CASE = re.compile(
    r"\b(?:patient|claimant|worker|employee|applicant|individual|records?|documentation|"
    r"provider|physician|exam\w*|notes?|he|she|his|her|this\s+case)\b",
    re.I,
)
_CASE_LEAD = re.compile(
    r"(?:In\s+(?:this|the)\s+(?:\w+'s\s+)?(?:case|instance)|In\s+the\s+case\s+of|Regarding\s+this|"
    r"For\s+this\s+(?:patient|claimant|worker)|Currently|Here)\b",
    re.I,
)
_ADDITIVE = re.compile(
    r"(?:moreover|also|additionally|furthermore|in\s+addition|lastly|finally|further)\b|"
    r".*\balso\b",
    re.I,
)
# A sentence that gives its reason before or after its verdict: "Given X, the request is not
# supported", "Absent X, ...", "... is not necessary, as there is no ...".
_MAX_QUOTE = 360
# Where a sentence turns from its reason to its verdict: "...; therefore, the request is not".
_CONCESSIVE = re.compile(r"\W*(?:while|although|though|even\s+though|whereas)\b[^,;]*[,;]", re.I)
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
    spans: Sequence[tuple[int, int]] = ()
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
    told = [_whole(text, spans, e) for e in (parts.injury, parts.diagnoses) if e is not None]
    parts.body_parts = _body_parts(told, [d.item for d in record.decisions])
    for d in record.decisions:
        parts.items.append(
            ItemSummary(index=d.index, item=d.item, outcome=d.outcome, reason=_reason(text, d))
        )
    return parts


def reads_as(part: str, text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` is the kind of statement the summary ``part`` is (the same cues the
    extractive summary picks by): an injury statement, a diagnosis, care given so far, or an
    item's reason rather than a guideline's rule or a bare verdict. Used to check the parts an
    LLM quotes."""
    if part == "injury":
        return bool(_INJURY.search(text, a, b))
    if part == "diagnoses":
        return bool(_DIAGNOSES.search(text, a, b))
    if part == "treatment_to_date":
        return bool(
            _TREATMENT.search(text, a, b)
            or _TREATMENT_WEAK.search(text, a, b)
            or (_CARE_VERB.search(text, a, b) and _CARE_NOUN.search(text, a, b))
        )
    found = _reason_clause(text, a, b)
    return found is not None and found[1] not in ("rule", "admin")


def _quote(text: str, a: int, b: int) -> Evidence:
    """``text[a:b]``, cut at a clause or word end when longer than ``_MAX_QUOTE``."""
    if b - a > _MAX_QUOTE:
        cut = max(text.rfind(c, a, a + _MAX_QUOTE) for c in (";", ",", " "))
        b = cut if cut > a + 40 else a + _MAX_QUOTE
    return Evidence(quote=text[a:b], start=a, end=b)


def _injury(text: str, spans: Sequence[tuple[int, int]]) -> Evidence | None:
    """The sentence that dates the injury (a date whose role is the injury), joined with the
    sentence next to it that tells how it happened; else the first sentence about the injury."""
    pick = first = None
    for k, (a, b) in enumerate(spans):  # in order, stopping at the first that dates the injury
        if not _INJURY.search(text, a, b):
            continue
        if first is None:
            first = k
        if any(
            dateparse.date_role(text, m.start(), m.end(), a, b) == "injury"
            for m, _ in dateparse.find_dates(text, a, b)
        ):
            pick = k
            break
    pick = first if pick is None else pick
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


def _whole(text: str, spans: Sequence[tuple[int, int]], e: Evidence) -> str:
    """The sentences ``e`` quotes, whole: a quote cut at ``_MAX_QUOTE`` may end before the
    body parts a long diagnosis list names last."""
    ends = [b for a, b in spans if a < e.end <= b]
    return text[e.start : max(ends[0], e.end)] if ends else e.quote


def _body_parts(told: list[str], items: list[str]) -> list[str]:
    """Regions named by the injury and diagnoses statements (``told``) and by the disputed
    items, and nothing else: not guideline prose or exam findings, and not a site named only
    as where pain radiates, as the other side of a differential ("carpal tunnel syndrome versus
    cervical radiculopathy"), in how the injury happened ("when his foot caught"), as a length
    ("an 8 foot fall") or as the name of a device ("knee scooter")."""
    found: list[str] = []
    mechanism: list[str] = []
    for k, src in enumerate(told + items):
        sites = [(s.start, s.end, s.region) for s in anatomy.find_sites(src)]
        sites += [
            (m.start(), m.end(), region) for region, rx in _MORE_SITES for m in rx.finditer(src)
        ]
        for start, end, region in sorted(sites):
            if _not_injured(src, start, end, is_item=k >= len(told)):
                continue
            if _SACROILIAC.match(src, start):
                region = "low_back"  # a low-back diagnosis (ICD-10 M53.3), though at the pelvis
            name = anatomy.region_name(region)
            clause = _MECHANISM_CLAUSE.search(src, 0, start) if k < len(told) else None
            hurt = clause is not None and _HURT.search(src, clause.end(), start)
            into = mechanism if clause is not None and not hurt else found
            if name not in into:
                into.append(name)
    if not found:
        found = mechanism  # the only sites told are in how it happened: better than none
    if any(_PSYCHE.search(src) for src in told) and "psyche" not in found:
        found.append("psyche")  # a psychiatric injury: no body site, still what was injured
    if "spine" in found and any(n.endswith(" spine") for n in found):
        found.remove("spine")  # "lumbar paraspinal" and "lumbar spine": one region
    return found


def _not_injured(src: str, start: int, end: int, is_item: bool) -> bool:
    before = src[max(0, start - 40) : start]
    if _RADIATES.search(before) or _RADICULAR_AFTER.match(src, end):
        return True  # "neck pain radiating into the right arm": a symptom, not an injury
    if _LENGTH.search(before) and src[start:end].lower() in ("foot", "feet"):
        return True
    if _VERSUS.search(before):
        return True
    if _SPINE_BACK.search(before) and src[start:end].lower().startswith("back"):
        return True  # "thoracic back pain" names the thoracic spine only
    return is_item and bool(_DEVICE.match(src, end))


# Injury words the anatomy catalog does not hold, for the summary's body parts only.
_MORE_SITES = (
    ("head", re.compile(r"\b(?:headaches?|concussion|post-?concussive|scalp|cephalgia)\b", re.I)),
)
_MECHANISM_CLAUSE = re.compile(r"\b(?:when|while)\b", re.I)
# "when he strained his neck": a site the mechanism says was hurt.
_HURT = re.compile(
    r"\b(?:strain|sprain|injur|hurt|twist|fractur|broke|cut|crush|struck|hit|landed|fell)\w*\b[^,;]*$",
    re.I,
)
_SACROILIAC = re.compile(r"sacroiliac|SI\s+joint", re.I)
_RADICULAR_AFTER = re.compile(r"\s+(?:radicular|radiculopathy|radiculitis|radiating)\b", re.I)
_LENGTH = re.compile(
    r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve))[\s-]*$", re.I
)
_VERSUS = re.compile(r"\b(?:versus|vs\.?)\s+[^,;]*$", re.I)
_SPINE_BACK = re.compile(r"\b(?:thoracic|cervical|upper|mid)\s*$", re.I)
_DEVICE = re.compile(r"\s+(?:scooter|walker|pillow|cushion)\b", re.I)


_PSYCHE = re.compile(
    r"\b(?:depress\w*|anxiety|psychiatric|psychological|post-?\s?traumatic\s+stress|PTSD|"
    r"adjustment\s+disorder|panic\s+disorder)\b",
    re.I,
)
_RADIATES = re.compile(r"\bradiat\w*\b[^.;]*$", re.I)


def _reason(text: str, d: Decision) -> Evidence | None:
    """The rationale's decisive reason: of the sentences leading into its verdict, the one that
    states a shortfall of the case against a criterion (for an overturned item, a criterion the
    case meets), over one that states a rule, a verdict or a generic closing."""
    if not d.rationale_span:
        return None
    r0, r1 = d.rationale_span
    end = d.conclusion_evidence.start if d.conclusion_evidence else r1
    spans = [(a, b) for a, b in sentences(text, r0, r1) if a < max(end, r0 + 1)]
    spans = spans[-_REASON_REACH:]  # the reason leads into the verdict
    conclusion = None
    if d.conclusion_evidence:
        conclusion = (d.conclusion_evidence.start, d.conclusion_evidence.end)
        if not spans or spans[-1][1] < conclusion[1]:
            spans.append(conclusion)
    scores = _KIND_SCORE[d.outcome == "overturned"]
    best: tuple[int, int] | None = None
    best_score = 0
    last = len(spans) - 1
    # Latest first: a tie goes to the later sentence, and a sentence whose best possible score
    # (its kind at most a shortfall's) cannot beat the best so far is not read at all.
    for k in range(last, -1, -1):
        a, b = spans[k]
        if text[a] in '"\u201c':
            continue  # a quoted guideline
        bonus = k + (10 if k == last else 0)  # the reason leads into the verdict
        if _CASE_LEAD.match(text, a):
            bonus += 15
        if _ADDITIVE.match(text, a, b):
            bonus -= 15  # "Moreover, ...": a further reason; the main one came first
        if best is not None and _TOP_KIND + bonus + 10 <= best_score:
            continue
        found = _reason_clause(text, a, b)
        if found is None:
            continue  # a verdict and nothing else
        clause, kind = found
        if not scores[kind]:
            continue
        score = scores[kind] + bonus
        if _CASE.search(text, *clause):
            score += 10
        if clause[1] - clause[0] > _MAX_QUOTE:
            score -= 30
        if score >= 0 and (best is None or score > best_score):
            best, best_score = clause, score
    if best is None and conclusion:
        best = conclusion
    return _quote(text, *best) if best else None


_KIND_SCORE = {
    False: {
        "shortfall": 100,
        "case": 60,
        "not recommended": 55,
        "closing": 45,
        "meets": 40,
        "other": 30,
        "rule": 0,
    },
    True: {
        "meets": 100,
        "case": 60,
        "shortfall": 50,
        "closing": 20,
        "other": 30,
        "rule": 0,
        "not recommended": 0,
    },
}
for _scores in _KIND_SCORE.values():
    _scores["admin"] = 0
_TOP_KIND = max(max(scores.values()) for scores in _KIND_SCORE.values())


def _reason_clause(text: str, a: int, b: int) -> tuple[tuple[int, int], str] | None:
    """What sentence ``text[a:b]`` offers as a reason: the span to quote and its kind. Where the
    sentence also states the verdict, its kind is that of the clause before ("Given X, ...",
    "X, so ...", "X; therefore ...") or after ("..., as X") the verdict; None for a bare
    verdict ("Therefore, the request is not medically necessary")."""
    verdicts = list(_VERDICT.finditer(text, a, b))
    if not verdicts:
        return (a, b), _kind(text, a, b)
    v = verdicts[-1]
    concession = _CONCESSIVE.match(text, a, b)
    if concession and v.end() <= concession.end():
        # "While the request is reasonable, it failed to give a quantity": the main clause
        return (a, b), _kind(text, concession.end(), b)
    because = _BECAUSE.search(text, v.end(), b)
    if because:
        return (a, b), _kind(text, because.start(), b)
    cut = _THEREFORE.search(text, a, v.start())
    if cut and cut.start() > a + 20:
        return (a, cut.start()), _kind(text, a, cut.start())
    kind = _kind(text, a, v.start())
    if _SO.match(text, a) and kind != "shortfall":
        return None  # "Therefore, based on the records, the request is not necessary"
    if kind in ("shortfall", "meets", "case"):
        return (a, b), kind
    return ((a, b), "case") if _BECAUSE.match(text, a) and kind == "other" else None


def _kind(text: str, a: int, b: int) -> str:
    """What clause ``text[a:b]`` is: a shortfall of the case, a criterion it meets, a rule, a
    generic closing, a statement about the case, or other. (Each pattern is searched at most
    once, and only when the answer still depends on it: this runs on every rationale clause.)"""
    if _ADMIN.search(text, a, b):
        return "admin"
    if _CLOSING.search(text, a, b):
        return "closing"
    excess = _EXCESS.search(text, a, b)
    if excess and not _CONDITION.search(text, a, b):
        return "shortfall"  # more than a guideline allows: said against the guideline
    neg = _stated_negation(text, a, b)
    short = excess or (neg and _DOCUMENTED.search(text, a, b))
    lead = _CASE_LEAD.match(text, a)
    about: list[bool] = []

    def about_case() -> bool:
        if not about:
            about.append(bool(lead or _CASE.search(text, a, min(b, a + 60))))
        return about[0]

    if _NOT_RECOMMENDED.search(text, a, b) and not (short and about_case()):
        return "not recommended"  # the rule itself decides: a service the guideline rejects
    meets = None
    if _RULE.search(text, a, b) or _RULE_LEAD.match(text, a) or _CITED.search(text, a, b):
        # a guideline's rule, unless it says so of this case's shortfall or met criterion
        if not about_case():
            return "rule"
        if not short:
            meets = _MEETS.search(text, a, b)
            if not meets:
                return "rule"
    if short:
        return "shortfall"
    if meets is None:
        meets = _MEETS.search(text, a, b)
    if meets and not neg:
        return "meets"
    return "case" if lead or _CASE.search(text, a, b) else "other"


def _stated_negation(text: str, a: int, b: int) -> re.Match | None:
    """The first negation in ``text[a:b]`` that the sentence states, not one it supposes or
    concedes: a negation after "if", "unless" or "when" in its clause is a condition ("... if
    there is no evidence of improvement"), one after "although" or "though" a concession
    ("although he is unable to swallow pills, he can take liquids"), not a shortfall of this
    case."""
    for m in _NEGATION.finditer(text, a, b):
        lo = max(text.rfind(c, a, m.start()) for c in ",;:")
        if not _NOT_ASSERTED.search(text, max(lo, a), m.start()):
            return m
    return None


def _words(quote: str) -> str:
    return " ".join(quote.split())


def summary_text(parts: SummaryParts, record: AuditRecord) -> str:
    """The parts joined in a fixed order an auditor learns once, then the flags sentence. On
    the LLM path a part the model grounded shows its sentence, any other the letter's quote."""
    said = parts.sentences

    def told(name: str, ev: Evidence | None) -> str | None:
        return said.get(name) or (_words(ev.quote) if ev else None)

    lines = []
    if injury := told("injury", parts.injury):
        lines.append(f"Injury: {injury}")
    if parts.body_parts:
        lines.append(f"Body parts: {', '.join(parts.body_parts)}.")
    if diagnoses := told("diagnoses", parts.diagnoses):
        lines.append(f"Diagnoses: {diagnoses}")
    if treatment := told("treatment_to_date", parts.treatment_to_date):
        lines.append(f"Treatment to date: {treatment}")
    for it in parts.items:
        decided = {"upheld": "Upheld", "overturned": "Overturned"}.get(
            it.outcome, "Decision not read"
        )
        line = f"Item {it.index + 1}, {_words(it.item)}: {decided}"
        sentence = said.get(f"item:{it.index}")
        if sentence and sentence.lower().startswith(decided.lower()):
            line = f"Item {it.index + 1}, {_words(it.item)}: {sentence}"  # "Upheld because ..."
        elif sentence:
            line += f"; {sentence}"
        elif it.reason:
            line += f'; reason: "{_words(it.reason.quote)}"'
        lines.append(line)
    lines.append(flags_sentence(record))
    return "\n".join(_end(line) for line in lines)


def _end(line: str) -> str:
    return line if line.endswith((".", "!", "?", '"', '."')) else line + "."


async def llm_summary(
    letter: Letter, record: AuditRecord, client: LLMClient, sections: Sections | None = None
) -> GroundedSummary:
    """The grounded LLM summary in the extractive summary's parts (``summary_llm``): sets
    ``record.summary_parts``, ``record.summary`` and ``record.llm``; an answer with no grounded
    part leaves the extractive summary and returns no sentences. Raises ``LLMError``."""
    from imr_llm.summary_llm import llm_summary_parts

    return await llm_summary_parts(letter, record, client, sections)
