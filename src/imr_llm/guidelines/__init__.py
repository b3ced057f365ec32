"""Guideline catalog and citation parsing: what a cited page/section/chapter covers."""

from imr_llm.guidelines.catalog import (
    Limit,
    Mention,
    Topic,
    body_regions,
    catalog,
    find_regions,
    find_topics,
    limit_for,
    related,
    topics_related,
    treatment_topics,
)
from imr_llm.guidelines.citations import (
    Coverage,
    GuidelineRef,
    cites_nothing,
    is_regional,
    parse_citations,
    ref_coverage,
    regions_for_ref,
    topics_for_ref,
)
from imr_llm.guidelines.quantity import (
    Quantity,
    StatedLimit,
    requested_quantities,
    requested_quantity,
    stated_limits,
)

__all__ = [
    "Coverage",
    "GuidelineRef",
    "Limit",
    "Mention",
    "Quantity",
    "StatedLimit",
    "Topic",
    "body_regions",
    "catalog",
    "cites_nothing",
    "find_regions",
    "find_topics",
    "is_regional",
    "limit_for",
    "parse_citations",
    "ref_coverage",
    "regions_for_ref",
    "requested_quantities",
    "requested_quantity",
    "related",
    "stated_limits",
    "topics_for_ref",
    "topics_related",
    "treatment_topics",
]
