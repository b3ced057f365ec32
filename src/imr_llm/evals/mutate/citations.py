"""Citation operators: the reviewer's guideline swapped for another chapter or topic.

Chapter titles and numbers, treatment sections and their pages come from the guideline
catalog (``imr_llm.guidelines.catalog``); ``AS_GENERATED`` keeps the few values where the
catalog now says otherwise, so ``evals/mutations`` regenerates byte for byte.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from imr_llm.codes import Code
from imr_llm.evals.mutate.base import (
    CannotApply,
    Edit,
    Operator,
    Planted,
    flex,
    planted_finding,
    register,
)
from imr_llm.guidelines import catalog
from imr_llm.segment import Segmentation, case_regions

# ---------------------------------------------------------------- body-region chapters


@dataclass(frozen=True)
class RegionChapter:
    """An ACOEM (2004) body-region chapter: ``title`` as letters cite it, every such title,
    its body region in the segmenter's words, and its page span when known."""

    number: int
    title: str
    titles: tuple[str, ...]
    region: str
    pages: tuple[int, int] | None


# ACOEM chapters 8 (neck) to 14 (ankle and foot) are the body-region chapters the MTUS adopted.
_REGION_CHAPTER_NUMBERS = range(8, 15)
# The page span of each 2004 chapter. The catalog lists the pages of sections, not a chapter's
# span; the revised (2007) elbow chapter has its own page numbers and is left out.
CHAPTER_PAGES = {
    8: (165, 194),
    9: (195, 224),
    11: (253, 285),
    12: (287, 326),
    13: (329, 360),
    14: (361, 386),
}


@functools.cache
def region_chapters() -> tuple[RegionChapter, ...]:
    """The catalog's ACOEM body-region chapters, by number."""
    by_number = {
        c.number: c
        for c in catalog().chapters.values()
        if c.family == "acoem" and c.number in _REGION_CHAPTER_NUMBERS
    }
    out = []
    for n in _REGION_CHAPTER_NUMBERS:
        c = by_number[n]
        # the 2004 titles ("Elbow Complaints"); the catalog names chapter 10 by its revision
        titles = tuple(a for a in dict.fromkeys([c.name, *c.aliases]) if a.endswith("Complaints"))
        out.append(
            RegionChapter(n, titles[0], titles, case_regions(titles[0])[0], CHAPTER_PAGES.get(n))
        )
    return tuple(out)


_PAGES_RX = re.compile(
    r"\b(?:Page\(s\):|pages?)\s*(?P<pages>\d{1,3}(?:\s*-\s*(?P<to>\d{1,3}))?)", re.I
)


@functools.cache
def _chapter_rx() -> re.Pattern[str]:
    return re.compile(
        "|".join(
            f"(?P<c{k}>{'|'.join(flex(t) for t in c.titles)})"
            for k, c in enumerate(region_chapters())
        ),
        re.I,
    )


@register
class SwapRegionChapter(Operator):
    name = "swap-region-chapter"
    code = Code.guideline_region_mismatch
    description = (
        "swap the reviewer's body-region chapter for one that fits neither the item nor the injury"
    )

    def candidates(self, src, rng):
        summary = src.span_text(src.summary_span)
        out = []
        for d in src.decisions():
            if src.flagged(d.index) or not d.reviewer_guideline_span:
                continue
            a, b = d.reviewer_guideline_span
            m = _chapter_rx().search(src.text, a, b)
            if not m:
                continue
            k = int(next(n for n, v in m.groupdict().items() if v)[1:])
            chapters = region_chapters()
            old = chapters[k]
            regions = set(case_regions(summary + "\n" + d.item + "\n" + (d.rationale or "")))
            regions.add(old.region)
            pages = list(_PAGES_RX.finditer(src.text, a, b))
            options = [c for c in chapters if c.region not in regions and (not pages or c.pages)]
            if not options:
                continue
            new = rng.choice(options)
            new_name = new.title
            edits = [Edit(m.start(), m.end(), new_name)]
            num = re.compile(r"(?:Chapter|Ch\.)\s*(\d{1,2})\b", re.I)
            for nm in num.finditer(src.text, max(a, m.start() - 30), min(b, m.end() + 30)):
                if int(nm.group(1)) == old.number:
                    edits.append(Edit(nm.start(1), nm.end(1), str(new.number)))
            lo, hi = new.pages or (0, 0)
            for pm in pages:
                first = rng.randint(lo, hi - 3)
                new_pages = f"{first}-{first + 2}" if pm.group("to") else str(first)
                edits.append(Edit(pm.start("pages"), pm.end("pages"), new_pages))
            out.append(
                Planted(
                    edits=edits,
                    findings=[
                        planted_finding(
                            self.code,
                            d.index,
                            f"Reviewer citation changed from {old.title} to {new_name} "
                            f"({new.region}), which fits neither the item nor the injury.",
                        )
                    ],
                    description=f"item {d.index} reviewer chapter {old.title} -> {new_name}",
                    expect={"index": d.index, "needle": new_name},
                )
            )
        if not out:
            raise CannotApply("no reviewer citation names an MTUS body-region chapter")
        rng.shuffle(out)
        return out

    def verify(self, src, planted, text, seg):
        return super().verify(src, planted, text, seg) or _citation_problems(planted, seg)


def _citation_problems(planted: Planted, seg: Segmentation) -> list[str]:
    i = planted.expect["index"]
    cited = " ".join((seg.decisions[i].reviewer_guideline or "").split())
    if planted.expect["needle"].casefold() not in cited.casefold():
        return [f"item {i} reviewer citation reads {cited!r}"]
    return []


# ---------------------------------------------------------------- treatment sections


@dataclass(frozen=True)
class Decoy:
    """A Chronic Pain Guidelines (2009) section put in place of the reviewer's citation."""

    topic: str
    section: str
    pages: str


# Treatments whose section replaces a citation, with the words (matched anywhere, case-folded)
# that show a letter already discusses the treatment: then its section is not a decoy there.
DECOY_TOPICS: dict[str, tuple[str, ...]] = {
    "massage": ("massage", "message therapy"),
    "trigger-point-injections": ("trigger point", "tpi"),
    "tens": ("tens", "transcutaneous"),
    "drug-testing": ("urine", "drug screen", "drug test", "uds", "toxicology"),
    "biofeedback": ("biofeedback",),
    "aquatic-therapy": ("aquatic", "pool therapy", "aqua"),
    "h-wave": ("h-wave", "h wave", "hwave"),
    "work-conditioning": ("work conditioning", "work hardening"),
    "spinal-cord-stimulator": ("spinal cord stimulat", "scs"),
}
# Where the catalog names a section or its pages otherwise than when evals/mutations was
# generated. The catalog has "Trigger Point Injections"; TENS as "TENS, chronic pain (...)"
# on pages 113-116; drug testing on 43, 77-78 and 94; spinal cord stimulators on 38, 101
# and 105-107.
AS_GENERATED: dict[str, dict[str, str]] = {
    "trigger-point-injections": {"section": "Trigger point injections"},
    "tens": {"section": "Transcutaneous electrotherapy", "pages": "114-116"},
    "drug-testing": {"pages": "43"},
    "spinal-cord-stimulator": {"pages": "105-107"},
}


def catalog_section(topic: str) -> tuple[str | None, str | None]:
    """The catalog's Chronic Pain Guidelines section for ``topic`` alone, and its 2009 pages
    ("24-25") when they are one run."""
    data = catalog().data
    names = [s.name for s in data.sections if s.family == "cpmtg" and s.topics == [topic]]
    pages = sorted(
        {
            n
            for p in data.pages
            if p.family == "cpmtg" and p.version == "2009" and topic in p.topics
            for n in p.pages
        }
    )
    run = None
    if pages and pages[-1] - pages[0] == len(pages) - 1:
        run = str(pages[0]) if len(pages) == 1 else f"{pages[0]}-{pages[-1]}"
    return (names[0] if len(names) == 1 else None), run


@functools.cache
def decoys() -> tuple[Decoy, ...]:
    out = []
    for topic in DECOY_TOPICS:
        section, pages = catalog_section(topic)
        kept = AS_GENERATED.get(topic, {})
        section, pages = kept.get("section", section), kept.get("pages", pages)
        if section is None or pages is None:
            raise ValueError(f"the guideline catalog has no single 2009 section for {topic}")
        out.append(Decoy(topic, section, pages))
    return tuple(out)


def _decoys_discussed(text: str) -> set[str]:
    low = " " + " ".join(text.casefold().split()) + " "
    return {t for t, words in DECOY_TOPICS.items() if any(k in low for k in words)}


@register
class SwapTopicCitation(Operator):
    name = "swap-topic-citation"
    code = Code.guideline_topic_mismatch
    description = "replace the reviewer's cited section/page with another treatment's"

    def candidates(self, src, rng):
        out = []
        for d in src.decisions():
            if src.flagged(d.index) or not d.reviewer_guideline_span:
                continue
            a, b = d.reviewer_guideline_span
            cite = src.text[a:b]
            used = _decoys_discussed(d.item + " " + (d.rationale or "") + " " + cite)
            options = [t for t in decoys() if t.topic not in used]
            if not options:
                continue
            topic = rng.choice(options)
            lead = re.match(r"\s*Decision based on\s+", cite, re.I)
            start = a + (lead.end() if lead else 0)
            if src.seg.layout == "dwc-2013":
                new = f"the MTUS Chronic Pain Medical Treatment Guidelines (2009), {topic.section}, page(s) {topic.pages}."
            elif re.search(r"Section\(s\)", cite):
                new = f"MTUS Chronic Pain Medical Treatment 2009, Section(s): {topic.section}."
            else:
                new = f"MTUS Chronic Pain Medical Treatment Guidelines {topic.section} Page(s): {topic.pages}."
            out.append(
                Planted(
                    edits=[Edit(start, b, new)],
                    findings=[
                        planted_finding(
                            self.code,
                            d.index,
                            f"Reviewer citation replaced with the {topic.section} section "
                            f"(p. {topic.pages}), which covers a different treatment than '{d.item}'.",
                        )
                    ],
                    description=f"item {d.index} reviewer citation -> {topic.section}",
                    expect={"index": d.index, "needle": topic.section},
                )
            )
        if not out:
            raise CannotApply("no unflagged item with a reviewer citation to replace")
        rng.shuffle(out)
        return out

    def verify(self, src, planted, text, seg):
        return super().verify(src, planted, text, seg) or _citation_problems(planted, seg)
