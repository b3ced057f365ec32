"""Case facts: the header's fields, and what the case summary and credentials say about the
injury, the patient and the reviewer."""

from __future__ import annotations

import re
from datetime import date

from imr_llm.schemas import CaseFacts, Layout, Sex
from imr_llm.segment.header import HeaderFields, parse_header
from imr_llm.segment.markers import clean
from imr_llm.text import dates as dateparse
from imr_llm.text.spans import Sections

_AGE_SEX = re.compile(
    r"\b(?P<age>\d{1,3})\s*(?:-|\s)?\s*(?:years?|yrs?|y/o|yo)\b(?:[\s-]*old)?[\s,-]*"
    r"(?:(?:old|year[- ]old)\s+)?(?P<sex>male|female|man|woman|gentleman|lady|boy|girl)?",
    re.I,
)
_SEX_WORD = re.compile(r"\b(?P<sex>male|female|man|woman|gentleman|lady)\b", re.I)
_HE = re.compile(r"\b(he|him|his|himself)\b", re.I)
_SHE = re.compile(r"\b(she|her|hers|herself)\b", re.I)
_SPECIALTY = re.compile(
    r"Certification\(s\)/Specialty:\s*(?P<s>[^\n]+(?:\n(?![A-Z ]+:|CLINICAL)[^\n]+)?)"
)
_BOARD = re.compile(
    r"[Bb]oard[ \t\n]+[Cc]ertified[ \t\n]+in[ \t\n]+(?P<s>[A-Z][\w &/,-]*?(?:\n[\w &/,-]+?)??)"
    r"(?:,|\.|\s+and\s+is\b)"
)
_DIAG = re.compile(
    r"(?:diagnos(?:es|is|ed)\s+(?:include[sd]?|of|were|are|was|is|as|with)|diagnosed\s+with)"
    r"\s*:?\s*(?P<d>[^.]{3,400})\.",
    re.I,
)

_SEX_MAP: dict[str, Sex] = {
    "male": "male",
    "man": "male",
    "gentleman": "male",
    "boy": "male",
    "female": "female",
    "woman": "female",
    "lady": "female",
    "girl": "female",
}

REGION_TERMS: dict[str, tuple[str, ...]] = {
    "low back": ("low back", "lower back", "lumbar", "lumbosacral", "sacroiliac", "l4-5", "l5-s1"),
    "neck": ("neck", "cervical"),
    "upper back": ("thoracic", "upper back"),
    "shoulder": ("shoulder", "rotator cuff", "scapul"),
    "elbow": ("elbow", "epicondyl"),
    "wrist/hand": ("wrist", "hand", "carpal", "finger", "thumb"),
    "hip": ("hip",),
    "knee": ("knee", "patell", "menisc"),
    "ankle/foot": ("ankle", "foot", "feet", "heel", "plantar", "toe"),
    "head": ("head injury", "headache", "concussion", "traumatic brain"),
}


def case_facts(text: str, sections: Sections, layout: Layout) -> CaseFacts:
    header = parse_header(text, layout) if layout != "dwc-2014" else HeaderFields()
    summary = text[sections.summary[0] : sections.summary[1]] if sections.summary else text[:6000]
    facts = CaseFacts.model_validate(header.model_dump(exclude_none=True))
    if facts.date_of_injury is None:
        facts.date_of_injury = injury_date_from_summary(summary)
    age, sex = age_and_sex(summary)
    facts.patient_age = age
    facts.patient_sex = sex
    facts.reviewer_specialty = _specialty(text)
    facts.diagnoses = _diagnoses(summary)
    facts.body_regions = case_regions(summary)
    return facts


_INJURY_CONTEXT = re.compile(
    r"(?:date\s+of\s+(?:industrial\s+)?injury|\bDOI\b|injur(?:y|ed)(?:\s+\w+){0,3}?\s+(?:on|of|dated)"
    r"|industrial\s+injury\s+(?:on|of)|injured\s+(?:at\s+work\s+)?on)",
    re.I,
)


# The injury event told without the word "injury" ("slipped on a wet floor on 02/27/2012"):
# an event verb, then "on" and a date later in the same sentence.
_INJURY_EVENT = re.compile(
    r"\b(?:slipped|tripped|fell|twisted|inverted|rolled|strained|sprained|hurt|struck|hit"
    r"|lifted|lifting|pulled|developed|crushed|jammed|lacerated|cut"
    r"|felt\s+(?:a\s+)?(?:pop|snap|tear|sharp|sudden|pain))\b",
    re.I,
)
_ON_DATE = re.compile(r"\bon\s+(?=[\dA-Za-z])")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z(\"]|\s*$)")
_EVENT_SENTENCES = 2
_EVENT_WINDOW = 700
_EVENT_REACH = 120


def injury_date_from_summary(summary: str) -> date | None:
    for m in _INJURY_CONTEXT.finditer(summary):
        for dm, d in dateparse.find_dates(summary[m.end() : m.end() + 60]):
            if dm.start() < 25:
                return d
    return injury_event_date(summary)


def injury_event_date(summary: str) -> date | None:
    """The date of the injury event in the summary's first sentences, when they tell it
    without naming it an injury ("... who slipped on a wet floor on 02/27/2012 ...")."""
    start = len(summary) - len(summary.lstrip())
    end = min(len(summary), start + _EVENT_WINDOW)
    stops = []
    for m in _SENTENCE_END.finditer(summary, start, end):
        stops.append(m.end())
        if len(stops) == _EVENT_SENTENCES:
            break
    end = stops[-1] if stops else end
    for m in _INJURY_EVENT.finditer(summary, start, end):
        stop = min([s for s in stops if s > m.end()] + [end, m.end() + _EVENT_REACH])
        for on in _ON_DATE.finditer(summary, m.end(), stop):
            d = dateparse.date_at(summary, on.end())
            if d is not None:
                return d
    return None


def age_and_sex(summary: str) -> tuple[int | None, Sex | None]:
    age: int | None = None
    sex: Sex | None = None
    for m in _AGE_SEX.finditer(summary[:3000]):
        value = int(m.group("age"))
        if 14 <= value <= 100:
            age = value
            if m.group("sex"):
                sex = _SEX_MAP[m.group("sex").lower()]
            break
    if sex is None:
        word = _SEX_WORD.search(summary[:1500])
        if word:
            sex = _SEX_MAP[word.group("sex").lower()]
    if sex is None:
        he, she = len(_HE.findall(summary)), len(_SHE.findall(summary))
        if he >= 2 and he > 3 * she:
            sex = "male"
        elif she >= 2 and she > 3 * he:
            sex = "female"
    return age, sex


def _specialty(text: str) -> str | None:
    m = _SPECIALTY.search(text)
    if m:
        return clean(m.group("s")).rstrip(" ,&")
    m = _BOARD.search(text[:5000])
    return clean(m.group("s")) if m else None


def _diagnoses(summary: str) -> list[str]:
    m = _DIAG.search(summary)
    if not m:
        return []
    parts = re.split(r",\s*|;\s*|\s+and\s+", clean(m.group("d")))
    return [p.strip() for p in parts if 2 < len(p.strip()) < 120][:12]


# Where a region term may start: a word boundary (every term starts with a letter).
_WORD_START = re.compile(r"\b")


def _starts_word(low: str, term: str) -> bool:
    """``re.search(r"\b" + re.escape(term), low)``, by ``str.find`` (``re`` would try the
    pattern at every position of the text)."""
    i = low.find(term)
    while i != -1:
        if _WORD_START.match(low, i):
            return True
        i = low.find(term, i + 1)
    return False


def case_regions(text: str) -> list[str]:
    """The record's ``case.body_regions`` vocabulary ("low back", "neck", ...) named in ``text``;
    the guideline catalog's region ids are ``imr_llm.guidelines.body_regions``."""
    low = text.lower()
    return [
        region for region, terms in REGION_TERMS.items() if any(_starts_word(low, t) for t in terms)
    ]
