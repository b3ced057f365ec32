"""Body sites in treatment-mismatch: a sentence deciding the request names the item's site
only on the other side, its treatment for another site, or the patient's condition of another
site (used by ``checks.treatment``; no check of its own)."""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Iterable

from imr_llm.checks.base import finding, spaced
from imr_llm.checks.guidelines import item_evidence
from imr_llm.guidelines import find_topics, topics_related, treatment_topics
from imr_llm.schemas import Finding, Severity
from imr_llm.text.anatomy import LATERAL, Site, compatible, most_specific, region_name
from imr_llm.text.anatomy import find_sites as _find_sites
from imr_llm.text.spans import sentence_around, sentences

_OTHER_SIDE = {"left": "right", "right": "left"}


_LINKED = {"surgery", "surgical-assistant", "preop-testing"}


@functools.lru_cache(maxsize=256)
def _sites(text: str) -> tuple[Site, ...]:
    """Body sites of ``text`` (an item or a rationale: each is looked at by several rules)."""
    return tuple(_find_sites(text))


def _sites_in(rationale: str, base: int, a: int, b: int) -> list[Site]:
    """The rationale's sites within ``[a, b)`` of the letter (``base`` is where it starts),
    with offsets into the letter."""
    return [
        Site(base + x.start, base + x.end, x.region, x.side, x.text)
        for x in _sites(rationale)
        if a <= base + x.start and base + x.end <= b
    ]


def _region_names(regions: Iterable[str]) -> str:
    return ", ".join(sorted(region_name(r) for r in regions))


def _treatment_words(item: str) -> str:
    """``item`` with its body-region words blanked: what names the treatment itself."""
    for m in reversed(_sites(item)):
        item = item[: m.start] + " " * (m.end - m.start) + item[m.end :]
    return item


# ---------------------------------------------------------------- deciding sentences

# A sentence decides the request when it gives a verdict ("is not medically necessary", "is
# indicated", "would warrant a", "does not meet the criteria") and points at the request
# ("the request", "the requested", "at this time", "therefore", "for this patient", ...).
_VERDICT = spaced(
    r"\b(?:is|are|was|were|be|been|being|remains?|appears?|seems?)"
    r"(?: (?:not|also|therefore|thus|deemed|considered|determined|found|currently|clinically|"
    r"medically|to|be|as|yet|fully|still|then|now|hereby|reasonable|and))* (?:medically )?"
    r"(?:necessary|indicated|recommended|supported|appropriate|warranted|certified|approved|"
    r"reasonable|justified|established|substantiated)\b"
    r"|\bmedically (?:un)?necessary\b|\bnot (?:medically )?necessary\b|\bnon-?certified\b"
    r"|\bwarrants? (?:an?|the|any|further|additional|this|these|repeat)\b"
    r"|\b(?:meets?|met|satisf(?:y|ies|ied)|fulfil+(?:s|ed)?)\b[^.;]{0,60}\bcriteria\b"
    r"|\bcriteria\b[^.;]{0,80}\b(?:are|is|were|was|been|not) (?:not )?(?:met|satisfied|fulfilled)\b"
)
_POINTS_AT_REQUEST = spaced(
    r"\b(?:request(?:ed|s)?|in question|warrant(?:s|ed)?|at this time|this time|at present|currently|therefore|"
    r"thus|as such|hence|consequently|accordingly|medically|criteria|in this case|proposed|"
    r"this (?:patient|claimant|injured worker|worker|individual|case|study|procedure))\b"
)
# Sentences that tell what happened before the review (an earlier decision, a study already
# done) mention other sites and sides freely; they do not decide this request.
_HISTORY = spaced(
    r"\b(?:utilization review|UR|previously|prior(?! to\b)|earlier|underwent|had (?:an?|the)|"
    r"showed|revealed|demonstrated|was performed|were performed|dated|"
    r"(?:was|were) (?:denied|modified|non-?certified|certified|approved|authorized|"
    r"recommended|requested|ordered))\b"
)


def _deciding(
    text: str, start: int, end: int, item_topics: set[str]
) -> list[tuple[int, int, bool]]:
    """Spans of the sentences of ``text[start:end]`` that decide the request, each with
    whether it points at the request itself (else it gives a verdict on the item's own
    treatment: "MRI of the right shoulder is not indicated")."""
    out: list[tuple[int, int, bool]] = []
    spans = sentences(text, start, end)
    if not spans:
        return out
    starts = [a for a, _ in spans]
    # one scan for verdicts, each credited to its sentence
    with_verdict = sorted(
        {bisect_right(starts, m.start()) - 1 for m in _VERDICT.finditer(text, start, end)}
    )
    for k in with_verdict:
        a, b = spans[k]
        if _HISTORY.search(text, a, b):
            continue
        if _POINTS_AT_REQUEST.search(text, a, b):
            out.append((a, b, True))
        elif item_topics and any(
            topics_related(set(m.ids), item_topics) for m in find_topics(text[a:b])
        ):
            out.append((a, b, False))
    return out


def _site_mismatch(ctx, d, rationale: str, base: int, common: frozenset[str]) -> list[Finding]:
    """A sentence deciding the request names the item's body site only on the other side, or
    the item's treatment only for another body site."""
    item_sites = most_specific(_sites(d.item))
    if not item_sites:
        return []
    named_topics = treatment_topics(_treatment_words(d.item))
    item_topics = named_topics - _LINKED
    deciding = _deciding(ctx.text, base, base + len(rationale), item_topics)
    sited = [(a, b, _sites_in(rationale, base, a, b), points) for a, b, points in deciding]
    found = _side_conflict(ctx, d, item_sites, [(a, b, x) for a, b, x, _ in sited])
    if found is None:
        found = _side_throughout(ctx, d, item_sites, rationale, base)
    if found is None and named_topics:
        # guideline prose names treatments for other regions: only a sentence about the
        # request itself counts here, so a surgery item ("arthroscopy") is compared too
        strong = [
            (a, b, x)
            for a, b, x, points in sited
            if points or _ABOUT_PATIENT.search(ctx.text, a, b)
        ]
        found = _part_conflict(ctx, d, item_sites, named_topics, strong)
    if found is None:
        found = _condition_conflict(
            ctx, d, item_sites, [(a, b, x) for a, b, x, points in sited if points]
        )
    if found is None:
        return []
    message, (a, b) = found
    evidence = item_evidence(ctx, d) + [ctx.evidence(a, b)]
    if len(evidence) < 2:
        return []
    return [finding("treatment-mismatch", Severity.medium, message, evidence, d.index)]


def _side_throughout(
    ctx, d, item_sites: list[Site], rationale: str, base: int
) -> tuple[str, tuple[int, int]] | None:
    """The item names a side of a paired part; every mention of that part with a side in its
    rationale (two or more) names the other side, none the item's side or both."""
    for s in item_sites:
        if s.region not in LATERAL or s.side not in _OTHER_SIDE:
            continue
        other = _OTHER_SIDE[s.side]
        if any(x.side not in (s.side, None) and compatible(x.region, s.region) for x in item_sites):
            continue
        sided = [
            x
            for x in _sites_in(rationale, base, base, base + len(rationale))
            if x.region in LATERAL and compatible(x.region, s.region) and x.side is not None
        ]
        if len(sided) < 2 or any(x.side != other for x in sided):
            continue
        if _bilateral_in_letter(ctx, d, s):
            continue
        a, b = sentence_around(ctx.text, sided[0].start, base, base + len(rationale))
        return (
            f"The item is for the {s.side} {region_name(s.region)}, but its rationale names "
            f"the {region_name(sided[0].region)} only on the {other} side.",
            (a, b),
        )
    return None


def _side_conflict(ctx, d, item_sites: list[Site], deciding) -> tuple[str, tuple[int, int]] | None:
    """The item names a side of a paired part; the deciding sentences that name that part
    name it only on the other side (and none names it on the item's side, or both)."""
    text = ctx.text
    for s in item_sites:
        if s.region not in LATERAL or s.side not in _OTHER_SIDE:
            continue
        other = _OTHER_SIDE[s.side]
        if any(x.side not in (s.side, None) and compatible(x.region, s.region) for x in item_sites):
            continue  # the item names both sides
        hit = None
        for a, b, sites in deciding:
            same = [x for x in sites if x.region in LATERAL and compatible(x.region, s.region)]
            if any(x.side in (s.side, "bilateral") for x in same):
                hit = None
                break
            if (
                hit is None
                and same
                and all(x.side == other for x in same)
                and not _names_unrelated_treatment(d.item, text[a:b])
            ):
                hit = (a, b, same[0])
        if hit is None or _bilateral_in_letter(ctx, d, s):
            continue
        a, b, x = hit
        return (
            f"The item is for the {s.side} {region_name(s.region)}, but the rationale's "
            f"deciding sentence names only the {other} {region_name(x.region)}.",
            (a, b),
        )
    return None


def _names_unrelated_treatment(item: str, sentence: str) -> bool:
    item_topics = treatment_topics(item)
    if not item_topics:
        return False
    named = {i for m in find_topics(sentence) for i in m.ids} - _LINKED
    return bool(named) and not topics_related(item_topics, named)


def _bilateral_in_letter(ctx, d, s: Site) -> bool:
    """Whether the letter's injury or another of its items concerns both sides of ``s``'s
    part: another item names it on the other side (or both), or the case summary says it is
    bilateral."""
    for o in ctx.record.decisions:
        if o.index == d.index:
            continue
        if any(
            compatible(x.region, s.region) and x.side not in (s.side, None) for x in _sites(o.item)
        ):
            return True
    span = ctx.sections.summary
    if span:
        for x in _find_sites(ctx.text, *span):
            if x.side == "bilateral" and compatible(x.region, s.region):
                return True
    return False


# What joins a treatment to the site it is for: "MRI of the left elbow", "elbow MRI",
# "injection to the right knee", "x-rays for both wrists".
_JOIN_AFTER = re.compile(
    r"(?:[\s,()/#:\-]+|\d+|(?:of|to|for|on|at|in|into|the|a|an|left|right|bilateral|both|"
    r"sided|with|without|contrast|testing|tests?|study|studies|scans?|imaging|injections?|"
    r"therapy|sessions?|visits?|treatments?|times?|weekly|weeks?|per|x|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|eleven|twelve|months?|days?|additional|initial|"
    r"remaining|requested)\b)*",
    re.I,
)
_JOIN_BEFORE = re.compile(r"[\s\-]*(?:(?:joint|region|area|spine|s)[\s\-]+)?", re.I)


def _part_conflict(
    ctx, d, item_sites: list[Site], item_topics: set[str], deciding
) -> tuple[str, tuple[int, int]] | None:
    """The item is a treatment for a body site; a deciding sentence names that treatment for
    another site and no site the item's could be."""
    regions = {x.region for x in item_sites}
    text = ctx.text
    for a, b, sites in deciding:
        if not sites or any(compatible(x.region, r) for x in sites for r in regions):
            continue
        sentence = text[a:b]
        for m in find_topics(sentence):
            if not topics_related(set(m.ids), item_topics):
                continue
            site = _attached(text, a + m.start, a + m.end, sites)
            if site is not None:
                return (
                    f"The item is for the {_region_names(regions)}, but the rationale's "
                    f"deciding sentence is about {m.text} of the {region_name(site.region)}.",
                    (a, b),
                )
    return None


# A sentence about this patient, not guideline prose (which speaks of "the patient" in
# general): "based on the patient's age, ...", "this claimant", "her".
_ABOUT_PATIENT = re.compile(
    r"\b(?:the (?:patient|claimant|injured worker|employee|applicant)['’]s|"
    r"this (?:patient|claimant|injured worker|employee|applicant)|his|her)\b",
    re.I,
)
# The patient's condition named by its body site: "the patient's hip condition", "her knee
# pain", "the claimant's shoulder complaints".
_PATIENTS = re.compile(
    r"\b(?:(?:the )?(?:patient|claimant|injured worker|worker|employee|applicant)['’]s|his|her|their)"
    r"\s+(?:(?:left|right|bilateral|chronic|ongoing|persistent|current)\s+)*$",
    re.I,
)
_CONDITION = re.compile(
    r"\s*(?:joint\s+|region\s+)?(?:condition|pain|symptoms?|complaints?|injury|injuries|problems?|"
    r"diagnosis|pathology)\b",
    re.I,
)


def _condition_conflict(
    ctx, d, item_sites: list[Site], deciding
) -> tuple[str, tuple[int, int]] | None:
    """A sentence deciding the request rests on the patient's condition of a body site the
    item's could not be ("...the patient's hip condition..., therefore this request is not
    medically necessary" for a knee item), and names no site the item's could be."""
    regions = {x.region for x in item_sites}
    text = ctx.text
    for a, b, sites in deciding:
        if not sites or any(compatible(x.region, r) for x in sites for r in regions):
            continue
        for x in sites:
            if _PATIENTS.search(text, max(a, x.start - 60), x.start) and _CONDITION.match(
                text, x.end
            ):
                return (
                    f"The item is for the {_region_names(regions)}, but the rationale's "
                    f"deciding sentence rests on the patient's {region_name(x.region)} condition.",
                    (a, b),
                )
    return None


def _attached(text: str, start: int, end: int, sites: list[Site]) -> Site | None:
    """The site a treatment mention at ``text[start:end]`` is for: right after it ("MRI of
    the elbow") or right before it ("elbow MRI")."""
    for x in sites:
        if x.start >= end and x.start - end <= 80:
            gap = _JOIN_AFTER.match(text, end, x.start)
            if gap is not None and gap.end() == x.start:
                return x
        if x.end <= start and start - x.end <= 20:
            gap = _JOIN_BEFORE.match(text, x.end, start)
            if gap is not None and gap.end() == start:
                return x
    return None
