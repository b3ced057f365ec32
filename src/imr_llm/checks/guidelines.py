"""Guideline-citation checks: cited topic, cited body region, and CA vs reviewer citations.

Severity policy (``SEVERITY_POLICY``; a test holds each finding to it):

| code | rests on | at most | when |
|---|---|---|---|
| guideline-topic-mismatch | reviewer's citation | medium | a catalogued page/section whose
  treatments cover neither the item's class (the head of its phrase) nor its subject |
| guideline-topic-mismatch | claims administrator's citation | low | the same, on the UR's line |
| guideline-region-mismatch | reviewer's citation | medium | a body-region chapter fitting neither
  the item's regions, the injured regions nor the regions its rationale discusses (a study of a
  named part: that part) |
| guideline-region-mismatch | claims administrator's citation | low | the same, on the UR's line |
| citation-disagreement | both | info | the parties cite different guidelines |

Items whose head names no known class ("transportation to office visits", "ultrasound guided
injection") are not judged against topics at all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from imr_llm.checks.base import CheckContext, finding, register
from imr_llm.guidelines import (
    GuidelineRef,
    body_regions,
    catalog,
    cites_nothing,
    find_regions,
    is_regional,
    regions_for_ref,
    topics_covered,
)
from imr_llm.guidelines.catalog import item_class
from imr_llm.guidelines.citations import ref_coverage, shared_citations
from imr_llm.schemas import Decision, Evidence, Finding, Severity

PARTIES = {"claims_administrator": "claims administrator", "reviewer": "reviewer"}


@dataclass(frozen=True)
class SeverityRule:
    """The most a finding of ``code`` resting on ``basis`` may be, and when."""

    code: str
    basis: str
    severity: Severity
    when: str

    def row(self) -> str:
        return f"| `{self.code}` | {self.basis} | {self.severity.value} | {self.when} |"


# Severity follows evidence. The claims administrator's citation is the utilization review's,
# quoted in the letter as background ("The Claims Administrator based its decision on ..."),
# often one line for a whole plan of items: a citation of it that fits badly is not the IMR
# letter's own judgement, so it is at most low. The reviewer's own citation ("The Expert
# Reviewer based his/her decision on ...") keeps medium, and only where the words settle it:
# the page or section is in the catalog and names treatments (or a body-region chapter) none
# of which fit the item's class, its subject or the injured regions.
SEVERITY_POLICY: dict[tuple[str, str], SeverityRule] = {
    (r.code, r.basis): r
    for r in (
        SeverityRule(
            "guideline-topic-mismatch",
            "reviewer",
            Severity.medium,
            "the reviewer's own citation names a catalogued page or section whose treatments "
            "cover neither the item's class (the head of its phrase) nor its subject, and no "
            "other cited page/section is general or unknown",
        ),
        SeverityRule(
            "guideline-topic-mismatch",
            "claims_administrator",
            Severity.low,
            "the same, resting only on the claims administrator's (UR's) citation",
        ),
        SeverityRule(
            "guideline-region-mismatch",
            "reviewer",
            Severity.medium,
            "the reviewer's own citation names a body-region chapter that fits neither the "
            "item's regions nor the injured regions (for a study of a named part, that part)",
        ),
        SeverityRule(
            "guideline-region-mismatch",
            "claims_administrator",
            Severity.low,
            "the same, resting only on the claims administrator's (UR's) citation",
        ),
        SeverityRule(
            "citation-disagreement",
            "both",
            Severity.info,
            "the two parties cite different guidelines (never above info)",
        ),
    )
}


def policy_severity(code: str, basis: str) -> Severity:
    """The severity ``SEVERITY_POLICY`` gives a finding of ``code`` resting on ``basis``."""
    return SEVERITY_POLICY[(code, basis)].severity


_SOFT = "\ufffe\u00ad"


@functools.lru_cache(maxsize=256)
def _loose(needle: str) -> re.Pattern | None:
    words = needle.split()
    if not words:
        return None
    soft = r"[\ufffe\u00ad]?"
    return re.compile(r"[\s\ufffe\u00ad]*".join(soft.join(re.escape(c) for c in w) for w in words))


def find_loose(
    text: str, needle: str, start: int = 0, end: int | None = None
) -> tuple[int, int] | None:
    """Span of the last whitespace-insensitive occurrence of ``needle`` in ``text[start:end]``.

    The needle's words match with any whitespace or soft-hyphen marks between them (or none)
    and at most one soft-hyphen mark between two characters of a word; occurrences are taken
    left to right without overlapping, as ``_loose(needle).finditer`` would, without
    compiling a regex per needle.
    """
    words = needle.split()
    if not words:
        return None
    if any(c in needle for c in _SOFT):
        pattern = _loose(needle)
        assert pattern is not None  # words is non-empty
        hits = list(pattern.finditer(text, start, len(text) if end is None else end))
        return (hits[-1].start(), hits[-1].end()) if hits else None
    size = len(text)
    end = size if end is None else end
    # clamp like re's pos/endpos
    start = 0 if start < 0 else min(start, size)
    end = 0 if end < 0 else min(end, size)
    soft = _SOFT[0] in text[start:end] or _SOFT[1] in text[start:end]
    match = _match_soft if soft else _match_plain
    first = words[0] if not soft else words[0][0]
    last = None
    pos = start
    while True:
        i = text.find(first, pos, end)
        if i < 0:
            return last
        j = match(text, words, i, end)
        if j is None:
            pos = i + 1
        else:
            last = (i, j)
            pos = j


def _match_plain(text: str, words: list[str], i: int, end: int) -> int | None:
    """End of ``words`` matched at ``i`` with only whitespace between them (no soft hyphens)."""
    j = i + len(words[0])
    for w in words[1:]:
        while j < end and text[j].isspace():
            j += 1
        if not text.startswith(w, j, end):
            return None
        j += len(w)
    return j


def _match_soft(text: str, words: list[str], i: int, end: int) -> int | None:
    """End of ``words`` matched at ``i``: whitespace or soft hyphens between words, at most
    one soft hyphen between the characters of a word (``words`` hold no soft hyphens)."""
    j = i
    for n, w in enumerate(words):
        if n:
            while j < end and (text[j].isspace() or text[j] in _SOFT):
                j += 1
        for k, c in enumerate(w):
            if k and j < end and text[j] in _SOFT:
                j += 1
            if j >= end or text[j] != c:
                return None
            j += 1
    return j


def item_span(ctx: CheckContext, decision: Decision) -> tuple[int, int] | None:
    """Where the decision's item is named in its heading (falls back to the heading span)."""
    if decision.heading_span:
        a, b = decision.heading_span
        hit = find_loose(ctx.text, decision.item, a, b)
        return hit or (a, b)
    a, b = decision.span
    return find_loose(ctx.text, decision.item, a, b)


def item_evidence(ctx: CheckContext, decision: Decision) -> list[Evidence]:
    span = item_span(ctx, decision)
    return [ctx.evidence(*span)] if span else []


def citation_refs(
    ctx: CheckContext, decision: Decision, party: str
) -> tuple[list[GuidelineRef], int | None, bool]:
    """The party's parsed refs with offsets into the letter, and whether it cited nothing.

    Refs are parsed from the letter text under the citation span when the segmenter gave
    one, so ``base + ref.start`` indexes the letter; ``base`` is None when the citation
    could not be located.
    """
    field = (
        "claims_administrator_guideline"
        if party == "claims_administrator"
        else "reviewer_guideline"
    )
    span = (
        decision.ca_guideline_span
        if party == "claims_administrator"
        else decision.reviewer_guideline_span
    )
    text = getattr(decision, field)
    base: int | None
    if span:
        text, base = ctx.text[span[0] : span[1]], span[0]
    elif text:
        hit = find_loose(ctx.text, text, *decision.span)
        base = hit[0] if hit else None
        if hit:
            text = ctx.text[hit[0] : hit[1]]
    else:
        return [], None, True
    if cites_nothing(text):
        return [], base, True
    # the parsed refs are cached and shared: the checks only read them
    return list(shared_citations(text)), base, False


def ref_evidence(ctx: CheckContext, ref: GuidelineRef, base: int | None) -> list[Evidence]:
    if base is None:
        return []
    return [ctx.evidence(base + ref.start, base + ref.end)]


def describe(ref: GuidelineRef) -> str:
    """Short human name of a ref, e.g. 'MTUS Chronic Pain p.122'."""
    cat = catalog()
    fam = cat.families.get(ref.family)
    name = ref.chapter_name or (fam.name if fam else ref.family)
    if ref.chapter and ref.family == "acoem":
        name = f"ACOEM Ch.{ref.chapter} {name}"
    where = ""
    if ref.pages:
        where = f" p.{ref.pages[0]}" + (f"-{ref.pages[-1]}" if len(ref.pages) > 1 else "")
    elif ref.sections:
        where = f" ({'; '.join(ref.sections)[:80]})"
    return name + where


def topic_names(topics: Iterable[str], most: int = 4) -> str:
    cat = catalog()
    names = sorted(cat.topics[t].name if t in cat.topics else t for t in topics)
    if len(names) > most:
        return ", ".join(names[:most]) + f" and {len(names) - most} more"
    return ", ".join(names)


def region_names(regions: Iterable[str]) -> str:
    cat = catalog()
    return ", ".join(sorted(cat.regions[r].name if r in cat.regions else r for r in regions))


def _parties(
    ctx: CheckContext, decision: Decision
) -> Iterator[tuple[str, list[GuidelineRef], int | None]]:
    for party in PARTIES:
        refs, base, _ = citation_refs(ctx, decision, party)
        yield party, refs, base


@register("guideline-topic", "guideline-topic-mismatch")
def check_guideline_topic(ctx: CheckContext) -> Iterable[Finding]:
    """Cited page/section covers a treatment unrelated to the item (both known)."""
    for d in ctx.record.decisions:
        # judged only when the head of the item's phrase has a known class; its modifiers'
        # topics count too ("spine surgery consultation" fits a surgery or a visits citation)
        cls = item_class(d.item)
        if not cls.head:
            continue
        item_topics = set(cls.topics)
        for party, refs, base in _parties(ctx, d):
            covs = [(r, ref_coverage(r)) for r in refs]
            specific = [(r, c) for r, c in covs if c.specific]
            if not specific or any(c.general or c.unknown for _, c in covs):
                continue
            if any(topics_covered(item_topics, set(c.topics)) for _, c in specific):
                continue
            cited = "; ".join(f"{describe(r)} covers {topic_names(c.topics)}" for r, c in specific)
            evidence = item_evidence(ctx, d) + [
                e for r, _ in specific for e in ref_evidence(ctx, r, base)
            ]
            if len(evidence) < 2:
                continue
            yield finding(
                "guideline-topic-mismatch",
                policy_severity("guideline-topic-mismatch", party),
                f"The {PARTIES[party]}'s citation does not cover the item's treatment "
                f"({topic_names(item_topics)}): {cited}.",
                evidence,
                d.index,
            )


def _specific_regions(text: str) -> set[str]:
    """Body regions ``text`` names by a specific word ("lower extremities" names none)."""
    return {i for m in find_regions(text) if len(m.ids) == 1 for i in m.ids}


def injured_regions(ctx: CheckContext) -> set[str]:
    """Body regions the case summary (or the extracted case facts) names."""
    # Only specific region words count for the injury: "lower extremities" in an exam note
    # must not make a knee chapter fit a low-back case.
    regions = {
        i for m in find_regions(ctx.section_text("summary")) if len(m.ids) == 1 for i in m.ids
    }
    if ctx.record.case.body_regions:
        regions |= body_regions("; ".join(ctx.record.case.body_regions))
    return regions


# Items that are studies of a body part (an MRI, x-ray or EMG of the lumbar spine): the
# part they name is the one the cited chapter must be about.
_STUDY_GROUPS = frozenset({"imaging", "electrodiagnostic"})


def _is_study(item: str) -> bool:
    """Whether the item's head is a study ("MRI of the lumbar spine"; not "consultation to
    review the MRI")."""
    topics = catalog().topics
    return any(set(topics[t].groups) & _STUDY_GROUPS for t in item_class(item).head if t in topics)


@functools.cache
def _family_regions(family: str) -> frozenset[str]:
    """Body regions some chapter of the guideline family is about."""
    return frozenset(
        r for c in catalog().chapters.values() if c.family == family for r in c.regions
    )


def _study_regional(ref: GuidelineRef) -> set[str]:
    """Body regions of a cited chapter named for a body part, ODG chapters included (ODG
    files many treatments under one region's chapter, but a study of a body part is filed
    under that part's chapter)."""
    if ref.family == "odg" or is_regional(ref):
        return regions_for_ref(ref)
    return set()


@register("guideline-region", "guideline-region-mismatch")
def check_guideline_region(ctx: CheckContext) -> Iterable[Finding]:
    """A cited body-region chapter fits neither the item's region nor the injured regions.

    For a study of a body part (imaging, electrodiagnostics) that names its region, the
    citation must fit that region: a lumbar MRI judged under the Neck chapter is a mismatch
    even when the neck was injured too. That applies when none of the party's body-region
    chapters fits the item (a shared citation line may name one chapter per item) and the
    cited guideline has a chapter for the item's region.
    """
    injured: set[str] | None = None  # looked up only once a regional citation needs it
    for d in ctx.record.decisions:
        item_regions: set[str] | None = None
        study: bool | None = None
        for party, refs, base in _parties(ctx, d):
            if not refs:
                continue
            if item_regions is None:
                item_regions = body_regions(d.item)
                study = bool(item_regions) and _is_study(d.item)
            if study:
                regional = [(r, c) for r in refs if (c := _study_regional(r))]
                # one guideline's citation may list a chapter per region of a shared
                # request: a chapter is off only when none of that guideline's fits
                fits = {r.family for r, c in regional if c & item_regions}
                off = [
                    (r, c)
                    for r, c in regional
                    if r.family not in fits and item_regions & _family_regions(r.family)
                ]
                if off:
                    yield from _region_findings(
                        ctx, d, party, base, off, item_regions, "the item concerns"
                    )
                    continue
            regional = [(r, regions_for_ref(r)) for r in refs if is_regional(r)]
            regional = [(r, c) for r, c in regional if c]
            if not regional:
                continue
            if injured is None:
                injured = injured_regions(ctx)
            known = item_regions | injured
            whose = "the item and the case summary concern"
            if known and not any(c & known for _, c in regional):
                # the words settle it only when the rationale does not discuss the cited
                # chapter's region either (a summary may leave out a region)
                discussed = _specific_regions(d.rationale or "")
                if discussed - known:
                    known |= discussed
                    whose = "the item, the case summary and the rationale concern"
            if known:
                yield from _region_findings(ctx, d, party, base, regional, known, whose)


def _region_findings(
    ctx: CheckContext,
    d: Decision,
    party: str,
    base: int | None,
    regional: list[tuple[GuidelineRef, set[str]]],
    known: set[str],
    whose: str,
) -> Iterator[Finding]:
    for ref, cited in regional:
        if cited & known:
            continue
        evidence = ref_evidence(ctx, ref, base) + item_evidence(ctx, d)
        if len(evidence) < 2:
            continue
        yield finding(
            "guideline-region-mismatch",
            policy_severity("guideline-region-mismatch", party),
            f"The {PARTIES[party]} cites {describe(ref)} ({region_names(cited)}), but "
            f"{whose} {region_names(known)}.",
            evidence,
            d.index,
        )


@register("citation-disagreement", "citation-disagreement")
def check_citation_disagreement(ctx: CheckContext) -> Iterable[Finding]:
    """Claims administrator and reviewer cite different guidelines (informational)."""
    for d in ctx.record.decisions:
        ca, ca_base, ca_none = citation_refs(ctx, d, "claims_administrator")
        rv, rv_base, rv_none = citation_refs(ctx, d, "reviewer")
        if ca_none or rv_none or not ca or not rv:
            continue
        if any(a.same_guideline(b) for a in ca for b in rv):
            continue
        evidence = [e for r in ca for e in ref_evidence(ctx, r, ca_base)]
        evidence += [e for r in rv for e in ref_evidence(ctx, r, rv_base)]
        if not evidence:
            continue
        yield finding(
            "citation-disagreement",
            Severity.info,
            "The claims administrator cites "
            + "; ".join(describe(r) for r in ca)
            + ", the reviewer "
            + "; ".join(describe(r) for r in rv)
            + ".",
            evidence,
            d.index,
        )
