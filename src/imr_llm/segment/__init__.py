"""Segment: deterministic parse of a letter's layout, header fields, sections and items.

The MAXIMUS templates make decision words, citations, dates and section boundaries exact to
parse; every decision carries character spans into ``Letter.text``. One module per part of
the parse: ``layout``, ``sections``, ``items`` (2014-2016 headings) and ``items_2013``,
``item_fields`` and ``conclusion`` (an item block's contents), ``header`` and ``facts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imr_llm.schemas import CaseFacts, Decision, Layout, Letter
from imr_llm.segment.conclusion import parse_conclusion
from imr_llm.segment.facts import (
    REGION_TERMS,
    age_and_sex,
    case_facts,
    case_regions,
    injury_date_from_summary,
    injury_event_date,
)
from imr_llm.segment.header import HeaderFields, parse_header
from imr_llm.segment.items import items_heading_form
from imr_llm.segment.items_2013 import items_2013
from imr_llm.segment.layout import detect_layout, looks_like_imr
from imr_llm.segment.sections import find_sections
from imr_llm.text.spans import Sections

__all__ = [
    "REGION_TERMS",
    "HeaderFields",
    "Segmentation",
    "age_and_sex",
    "case_regions",
    "detect_layout",
    "find_sections",
    "injury_date_from_summary",
    "injury_event_date",
    "looks_like_imr",
    "parse_conclusion",
    "parse_header",
    "segment",
]


@dataclass
class Segmentation:
    layout: Layout
    case: CaseFacts
    decisions: list[Decision]
    sections: Sections
    is_imr: bool = True
    notes: list[str] = field(default_factory=list)


def segment(letter: Letter) -> Segmentation:
    text = letter.text
    layout = detect_layout(text)
    sections = find_sections(text, layout)
    if layout == "dwc-2013":
        decisions = items_2013(text, sections)
    else:
        decisions = items_heading_form(text, sections)
    case = case_facts(text, sections, layout)
    return Segmentation(
        layout=layout,
        case=case,
        decisions=decisions,
        sections=sections,
        is_imr=bool(decisions) or looks_like_imr(text),
    )
