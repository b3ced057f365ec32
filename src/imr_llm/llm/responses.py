"""LLM pass-1 response models and the grounding check every quote must pass.

Each fact the model reports carries a ``quote``: words copied from the letter. The ``Quote`` type
checks, during validation, that the quote occurs in ``info.context["text"]`` (the letter text)
after whitespace, case and typographic-punctuation normalisation; a failure raises a ValueError
naming the quote, so instructor re-asks. Character offsets are never taken from the model:
``locate`` finds the quote in the letter and maps it back through the normalisation.

The models are small and shallow on purpose: a 1.5B local model must be able to fill them.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, PrivateAttr, ValidationInfo, model_validator

from imr_llm.schemas import Conclusion, Evidence

QUOTE_MAX = 300

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00ad": "",
        "\u2026": "...",
    }
)
_EDGE = " \t\n\"'.,;:!?…`*-"


def _normalise(text: str) -> tuple[str, array]:
    """Drop whitespace, casefold and unify typography; return the result and, for each of its
    characters, the index of the original character it came from."""
    out: list[str] = []
    pos = array("q")
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for c in ch.translate(_TYPOGRAPHY).casefold():
            if not c.isspace():
                out.append(c)
                pos.append(i)
    return "".join(out), pos


@lru_cache(maxsize=32)
def _normalised_letter(text: str) -> tuple[str, array]:
    return _normalise(text)


def normalise_quote(quote: str) -> str:
    """The form a quote is matched in: normalised, with quotation marks and end punctuation
    stripped (a model often adds a final period or wraps the quote in quotes)."""
    return _normalise(quote.strip(_EDGE))[0]


def quote_in_text(quote: str, text: str) -> bool:
    q = normalise_quote(quote)
    return len(q) >= 2 and q in _normalised_letter(text)[0]


def locate(text: str, quote: str, window: tuple[int, int] | None = None) -> Evidence | None:
    """Evidence (exact letter slice and offsets) for ``quote``; inside ``window`` when it occurs
    there, else its first occurrence in the letter; None when it does not occur."""
    q = normalise_quote(quote)
    if len(q) < 2:
        return None
    norm, pos = _normalised_letter(text)
    idx = -1
    if window is not None:
        lo = bisect_left(pos, window[0])
        hi = bisect_left(pos, window[1])
        idx = norm.find(q, lo, hi)
    if idx < 0:
        idx = norm.find(q)
    if idx < 0:
        return None
    start, end = pos[idx], pos[idx + len(q) - 1] + 1
    return Evidence(quote=text[start:end], start=start, end=end)


def _grounded(value: str, info: ValidationInfo) -> str:
    text = (info.context or {}).get("text")
    if text is None:
        return value
    if not quote_in_text(value, text):
        raise ValueError(
            f"quote not found in the letter: {value!r}. Copy the words exactly as the letter "
            "writes them (a short phrase), or answer null when the letter does not say it."
        )
    return value


# A quote the caller places and checks itself (pass 2, summary sentences): not validated here.
LooseQuote = Annotated[
    str,
    Field(
        min_length=2,
        max_length=QUOTE_MAX,
        description="a short phrase copied word for word from the letter",
    ),
]
Quote = Annotated[LooseQuote, AfterValidator(_grounded)]
Short = Annotated[str, Field(min_length=1, max_length=120)]


class Fact(BaseModel):
    """A short fact in the model's words, with the letter's words that state it."""

    text: Short
    quote: Quote


class AgeFact(BaseModel):
    years: int = Field(ge=0, le=120)
    quote: LooseQuote


class SexFact(BaseModel):
    sex: Literal["male", "female"]
    quote: LooseQuote


class DateFact(BaseModel):
    as_written: str = Field(
        min_length=4, max_length=40, description="the date exactly as the letter writes it"
    )
    quote: LooseQuote


class CaseFact(BaseModel):
    """A short fact in the model's words, with the letter's words that state it."""

    text: Short
    quote: LooseQuote


# Each basic fact stands alone: one whose quote is not in the letter is dropped (named in
# ``ungrounded``) and the others kept; only an answer with no grounded fact left is re-asked (a
# small model's one loose quote used to cost the letter every basic fact). Not in the
# docstring: a response model's docstring is part of the schema the model reads.
class CaseBasics(BaseModel):
    """Who the patient is and what was injured (from the CLINICAL CASE SUMMARY)."""

    age: AgeFact | None
    sex: SexFact | None
    date_of_injury: DateFact | None
    diagnoses: list[CaseFact] = Field(max_length=8)
    body_regions: list[CaseFact] = Field(max_length=8)
    _ungrounded: list[str] = PrivateAttr(default_factory=list)

    @property
    def ungrounded(self) -> list[str]:
        return list(self._ungrounded)

    @model_validator(mode="after")
    def _keep_grounded(self, info: ValidationInfo) -> CaseBasics:
        text = (info.context or {}).get("text")
        if text is None:
            return self
        missed: list[str] = []
        kept = 0
        for name in ("age", "sex", "date_of_injury"):
            fact = getattr(self, name)
            if fact is None:
                continue
            if quote_in_text(fact.quote, text):
                kept += 1
            else:
                missed.append(fact.quote)
                setattr(self, name, None)
                self._ungrounded.append(name)
        for name in ("diagnoses", "body_regions"):
            facts = getattr(self, name)
            grounded = [f for f in facts if quote_in_text(f.quote, text)]
            kept += len(grounded)
            if len(grounded) < len(facts):
                missed.extend(f.quote for f in facts if f not in grounded)
                setattr(self, name, grounded)
                self._ungrounded.append(name)
        if missed and not kept:
            shown = ", ".join(repr(q[:80]) for q in dict.fromkeys(missed))
            raise ValueError(
                f"quote not found in the letter: {shown}. Copy each quote exactly as the letter "
                "writes it (a short phrase), or answer null when the letter does not say it."
            )
        return self


class ListedItem(BaseModel):
    item: str = Field(min_length=1, max_length=200)
    decision: Literal["upheld", "overturned", "unknown"]
    quote: Quote


class ItemsList(BaseModel):
    """The disputed items and the decision word given to each."""

    items: list[ListedItem] = Field(max_length=40)


class ItemRationale(BaseModel):
    """What one item's rationale applies, finds and concludes."""

    criteria: list[Fact] = Field(max_length=6)
    documented: list[Fact] = Field(max_length=6)
    missing: list[Fact] = Field(max_length=6)
    conclusion: Conclusion
    conclusion_quote: Quote


class SummarySentence(BaseModel):
    sentence: str = Field(min_length=3, max_length=300)
    quote: LooseQuote


# "The letter states that ...": a small model's way of wrapping a quote in its own words.
_QUOTE_LEAD = re.compile(
    r"^\s*(?:the\s+)?(?:letter|document|summary|report|rationale)\s+(?:states|says|mentions|notes|"
    r"indicates|provides|reports|shows)(?:\s+that)?\s*[:,]?\s*",
    re.I,
)


def _grounded_sentence(sentence: SummarySentence, text: str) -> SummarySentence | None:
    """``sentence`` with a quote that occurs in the letter, or None.

    Small models often swap the fields (the letter's words in ``sentence``, a paraphrase
    "The letter states that ..." in ``quote``): a sentence that is itself the letter's words
    becomes its own quote, and a quote found once that lead-in is cut is kept cut.
    """
    if quote_in_text(sentence.quote, text):
        return sentence
    bare = _QUOTE_LEAD.sub("", sentence.quote, count=1)
    if bare != sentence.quote and quote_in_text(bare, text):
        return sentence.model_copy(update={"quote": bare})
    if quote_in_text(sentence.sentence, text):
        return sentence.model_copy(update={"quote": sentence.sentence})
    return None


class SummaryAnswer(BaseModel):
    """A short plain-language summary, each sentence backed by a quote. Sentences whose quote is
    not in the letter are dropped; only an answer with none left is re-asked (one loose quote
    used to cost every letter its summary after all re-asks)."""

    sentences: list[SummarySentence] = Field(min_length=1, max_length=4)

    @model_validator(mode="after")
    def _keep_grounded(self, info: ValidationInfo) -> SummaryAnswer:
        text = (info.context or {}).get("text")
        if text is None:
            return self
        kept = [g for s in self.sentences if (g := _grounded_sentence(s, text)) is not None]
        if not kept:
            raise ValueError(
                "no sentence's quote occurs in the letter. Copy each quote exactly as the letter "
                "writes it (a short phrase)."
            )
        self.sentences = kept
        return self


# ---------------------------------------------------------------- pass 2 (consistency questions)
# Each answer is one narrow fact with its quote; the pass-2 questions (``imr_llm.questions``) decide in code
# whether the facts disagree, after checking where each quote lies in the letter. Their quotes
# are ``LooseQuote``: not validated against the letter (so one bad quote in a list does not
# throw away the whole answer and cost two re-asks), because pass 2 checks every quote itself,
# more strictly (inside the right section or rationale), and drops the ones it cannot place.


LooseText = Annotated[str, Field(min_length=1, max_length=QUOTE_MAX)]


class LooseFact(BaseModel):
    """A short fact with the letter's words that state it (the quote is checked by the caller)."""

    text: LooseText
    quote: LooseQuote


class LooseSide(BaseModel):
    side: Literal["left", "right", "bilateral"]
    quote: LooseQuote


class AbsenceCheck(BaseModel):
    """Whether the CLINICAL CASE SUMMARY reports something a rationale sentence says is absent."""

    summary_quote: LooseQuote | None = Field(
        description="the summary's own words that report it, copied exactly; null when the "
        "summary does not report it"
    )
    reports_it: Literal["yes", "no"] = Field(
        description='"yes" if the quoted summary words report it in this patient, else "no"'
    )


class CriterionCheck(BaseModel):
    """One guideline criterion the rationale applies, and whether the rationale says it is met."""

    criterion: LooseText
    status: Literal["met", "unmet", "not_addressed"]
    quote: LooseQuote


class CriteriaAnswer(BaseModel):
    """The guideline criteria one item's rationale applies, each judged by the rationale itself."""

    criteria: list[CriterionCheck] = Field(max_length=5)


class RationaleSubject(BaseModel):
    """What one item's rationale is about, in the rationale's own words."""

    treatment: LooseFact
    body_part: LooseFact | None
    side: LooseSide | None
    spinal_level: LooseFact | None


class CriteriaVerdict(BaseModel):
    """Whether one item's rationale says this patient meets the guideline's conditions."""

    verdict: Literal["meets", "does_not_meet", "not_stated"]
    quote: LooseQuote | None
