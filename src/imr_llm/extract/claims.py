"""Absence claims of a rationale ("there is no documentation of radiculopathy") and whether a
summary sentence names what a claim says is absent. Rules only: these pick the claims worth an
LLM question (``imr_llm.questions.absence``) and check the quote it answers with.

A claim is kept when some CLINICAL CASE SUMMARY sentence could contradict it: it names the
claim's head (``claim_head``: what is missing, not what it would show or come from) or its
concept (``_CONCEPTS``), un-negated in its clause, not as the request, plan or an earlier
review's reasoning, and names no body region disjoint from the claim's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from imr_llm.guidelines import body_regions
from imr_llm.llm.responses import locate
from imr_llm.schemas import Decision, Evidence
from imr_llm.text.negation import negation_pattern
from imr_llm.text.spans import clauses

MAX_CANDIDATES = 4
"""Summary sentences listed as hints in one absence question."""

# ---------------------------------------------------------------- text helpers

_NEG_CUE = re.compile(
    r"\b(?:negative|normal|intact|unremarkable|full|resolved|possible|possibly|questionable|"
    r"versus|vs)\b",
    re.I,
)
"""Words that negate or hedge only the finding they sit next to ("normal gait", "full range
of motion", "possible tear"): looked for a few words back."""
_CLAUSE_NEG = negation_pattern(
    r"denie[sd]|deny|free\s+of|rule[sd]?\s+out|r/o|suspect\w*|likely|probabl[ey]|"
    r"concern\s+for|differential"
)
"""Negation and uncertainty triggers (the NegEx / ConText kind): each governs the rest of its
clause, up to a terminating word (``_SCOPE_END``), however many words lie between ("made no
mention of the applicant's having issues with upper extremity paresthesias")."""
_SCOPE_END = re.compile(
    r"\b(?:but|however|although|though|except|whereas|yet|which|who|while|aside\s+from)\b|"
    r"[.;:?!]",
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
    record records report reports reported medical clinical objective objectively subjective
    submitted having section sections
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
    # An outcome of care: answered only by words of a change, not by the care itself.
    (
        re.compile(r"\b(?:respon|improv|benefit|efficacy|results?\b|gains?\b)", re.I),
        re.compile(
            r"\b(?:improv\w*|reliev\w*|relief|benefit\w*|better|helped|helpful)\b|"
            r"\b(?:decreas|reduc)\w*\s+(?:\w+\s+){0,2}(?:pain|symptoms|medications?)|"
            r"\bpain\s+(?:\w+\s+){0,3}(?:decreas|reduc)\w*|\d+\s*%\s*(?:relief|improvement|"
            r"reduction|better)",
            re.I,
        ),
    ),
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


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z\-]{2,}", text)


def key_terms(claim: str) -> set[str]:
    """Distinctive word stems of an absence claim (``"radiculopathy on examination"`` ->
    ``{"radicu", "examin"}``); generic documentation words are left out."""
    return {_stem(w) for w in _words(claim) if w.lower() not in _STOP and len(w) >= 4}


def _negated(text: str, start: int, end: int) -> bool:
    """Whether the term at ``text[start:end]`` is negated or hedged: by a trigger earlier in
    its clause (``_CLAUSE_NEG``), by a finding word just before it (``_NEG_CUE``), or by a
    predicate after it ("was negative")."""
    ends = [m.end() for m in _SCOPE_END.finditer(text, 0, start)]
    clause = text[ends[-1] if ends else 0 : start]
    if _CLAUSE_NEG.search(clause) or _NEG_CUE.search(clause[-70:]):
        return True
    after = text[end : end + 40]
    return bool(_POST_NEG.match(after))


_OUTCOME_HEAD = re.compile(
    r"\b(?:response|improvement|relief|benefit|efficacy|results?|gains?|decrease|reduction)\b"
    r"(?=\s+(?:to|with|from|after|following|of|in)\b)",
    re.I,
)
"""An outcome named with what it would come from ("response to the prior acupuncture"): the
claim's head ends at the outcome."""
_HEAD_END = re.compile(
    r"\s(?:supporting|showing|demonstrating|documenting|confirming|corroborating|including|"
    r"regarding|from|for|to\s+(?:support|suggest|justify|warrant|show)|that\s+(?:would|"
    r"could|might|shows?|supports?))\b",
    re.I,
)


def claim_head(claim: str) -> str:
    """What an absence claim says is missing, without what that thing would show or come
    from: "MRI or electrodiagnostic studies supporting a diagnosis of radiculopathy" -> "MRI or
    electrodiagnostic studies"; "functional improvement from the prior physical therapy" ->
    "functional improvement"; "objective response to the prior acupuncture" -> "objective
    response". A diagnosis named in a claim about a study is not the study, and therapy given is
    not a response to it. The whole claim where its head names nothing distinctive ("failure of
    treatment including physical therapy")."""
    cut, outcome = _HEAD_END.search(claim), _OUTCOME_HEAD.search(claim)
    ends = ([cut.start()] if cut else []) + ([outcome.end()] if outcome else [])
    if not ends:
        return claim
    head = claim[: min(ends)]
    if key_terms(head) - _WEAK or any(c.search(head) for c, _ in _CONCEPTS):
        return head
    return claim


def _positive_hits(claim: str, quote: str) -> tuple[bool, bool]:
    """(literal, concept): whether ``quote`` names, un-negated, a strong key term of ``claim``
    (literal), or a finding of the same concept (see ``_CONCEPTS``). Only the claim's head
    counts where it names something of its own (``claim_head``)."""
    claim = claim_head(claim)
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

_LEAD = r"\b(?:no|any|(?:a\s+)?(?:lack|absence)\s+of(?:\s+any)?)\s+(?:objective\s+|clear\s+|clinical\s+|medical\s+|current\s+|recent\s+|further\s+)*"
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
GUIDELINE_TALK = re.compile(
    r"\b(?:MTUS|ACOEM|ODG|guidelines?|recommend(?:s|ed)?|supports?|advis\w*|indicated\s+(?:for|when|only)|"
    r"are\s+an?\s+option|should|may\s+be|is\s+an?\s+option|criteria\s+(?:for|include)|"
    r"(?:when|if)\s+there|unless|only\s+(?:when|if|after)|in\s+patients)\b"
    r"|^\s*\(\d{1,2}\)\s",  # an item of an enumerated criteria list: "(6) No repeat ..."
    re.I,
)
PATIENT_STRONG = re.compile(
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
        if GUIDELINE_TALK.search(sentence) and not PATIENT_STRONG.search(sentence):
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


def pass1_claims(
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


def summary_support(claim: Claim, quote: str) -> bool:
    """Whether a summary ``quote`` could show ``claim`` wrong: it names the finding (see
    ``mentions_positively``), is not about the request or plan, and names no body region
    disjoint from the claim's."""
    if _REQUEST.search(quote) or _REVIEW_TALK.search(quote):
        return False
    if not mentions_positively(claim.x, quote):
        return False
    claim_regions, quote_regions = body_regions(claim.sentence), body_regions(quote)
    return not (claim_regions and quote_regions and not (claim_regions & quote_regions))


def checkable_claims(claims: list[Claim], text: str, summary: tuple[int, int]) -> list[Claim]:
    """The claims some summary sentence could contradict, most explicit first. A claim no
    summary sentence could verify cannot become a finding, so it is not asked about."""
    sentences = [text[a:b] for a, b in clauses(text, summary[0], summary[1])]
    viable = []
    for c in claims:
        c.candidates = [" ".join(s.split()) for s in sentences if summary_support(c, s)][
            :MAX_CANDIDATES
        ]
        if c.candidates:
            viable.append(c)
    return sorted(viable, key=lambda c: (c.tier, c.evidence.start))


_REQUEST = re.compile(
    r"\b(?:request\w*|RFA|prescrib\w*|recommend\w*|plan|planned|to\s+receive|scheduled|pending|"
    r"will\s+(?:be|undergo|receive|start)|was\s+to|would\s+like|consider\w*|as\s+tolerated|"
    r"\d+\s*x\s*\d+)\b",
    re.I,
)
"""A summary sentence about the request or plan ("requested X for neuropathic pain", "the
treatment plan included acupuncture", an order's "2x3" or "as tolerated") says what is asked
for, not that a finding is present."""
_REVIEW_TALK = re.compile(
    r"\b(?:utilization\s+review\w*|UR|non-?certif\w*|denied|denial|modified|peer\s+review\w*|"
    r"claims\s+administrator)\b",
    re.I,
)
"""A summary sentence reporting an earlier review's decision or reasoning ("previously denied
due to notes not documenting ..."): background to this review, not the records' own finding."""
