"""Parse the "Claims Administrator guideline:" / "MAXIMUS guideline:" citation text.

Handles the forms the letters use, e.g.

- ``Decision based on MTUS Chronic Pain Treatment Guidelines Trigger Point Injections Page(s): 122.``
- ``Decision based on MTUS ACOEM Chapter 12 Low Back Complaints, Chapter 14 Ankle and Foot Complaints.``
- ``Decision based on MTUS Shoulder Complaints 2004, Section(s): Special Studies.``
- ``... MTUS Acupuncture Treatment 2007, and Chronic Pain Medical Treatment 2016, Section(s): ...``
- ``Decision based on Non-MTUS Citation Official Disability Guidelines (ODG), Low Back, ...``
- ``The Claims Administrator did not cite any medical evidence for its decision.``

Size: one parser for one grammar (the citation line's many real forms), kept whole so a
new form is one change in one place.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pydantic import BaseModel, Field

from imr_llm.guidelines.catalog import (
    AliasMatcher,
    Section,
    alias_pattern,
    catalog,
    strip_soft_hyphens,
    treatment_topics,
)


class GuidelineRef(BaseModel):
    """One guideline named in a citation; ``start``/``end`` index the parsed citation text."""

    family: str = Field(
        description="catalog family id: cpmtg, acoem, acoem-current, acupuncture, ..."
    )
    mtus: bool
    version: str | None = None
    chapter: int | None = None
    chapter_id: str | None = None
    chapter_name: str | None = None
    sections: list[str] = Field(default_factory=list)
    pages: list[int] = Field(default_factory=list)
    raw: str
    start: int
    end: int

    def same_guideline(self, other: GuidelineRef) -> bool:
        """Same family and chapter, and overlapping pages when both cite pages."""
        if self.family != other.family:
            return False
        if self.chapter_id != other.chapter_id and not (
            self.family == "odg" and (self.chapter_id is None or other.chapter_id is None)
        ):
            return False
        return not (self.pages and other.pages and not set(self.pages) & set(other.pages))


_LEAD = re.compile(r"Decision\s+based\s+on\s*:?\s*", re.IGNORECASE)
_NONE = re.compile(r"did\s+not\s+cite\s+any\s+(?:medical\s+)?evidence", re.IGNORECASE)
_PREAMBLE = re.compile(
    r"The\s+(?:Claims\s+Administrator|Expert\s+Reviewer|reviewer)\s+based\s+(?:their|its|his|her)\s+decision\s+on\s+"
    r"recommendation\(?s?\)?\s+outside\s+of\s+the\s+MTUS(?:\s+Guidelines)?\.?",
    re.IGNORECASE,
)
_NON_MTUS = re.compile(
    r"\s*Non\s*[-\u2010\u2011\u2013]?\s*MTUS\b\s*(?:Citation\b)?\s*[:,\-]?\s*", re.IGNORECASE
)
_MTUS_PREFIX = re.compile(
    r"\s*(?:CA\s+)?MTUS\b\s*(?:\(\s*ACOEM\s+Practice\s+Guidelines\s*\))?\s*[:,\-]?\s*"
    r"|\s*(?:the\s+)?(?=ACOEM\b)",
    re.IGNORECASE,
)
_ACOEM_PREFIX = re.compile(
    r"ACOEM\b\s*(?:Practice\s+Guidelines\b)?\s*(?:,?\s*2nd\s+Ed(?:ition|\.)?\s*(?:\(\s*2004\s*\))?)?\s*[:,]?\s*",
    re.IGNORECASE,
)
_JOINER = re.compile(r"(?:,\s*and|\band|,|;)\s+", re.IGNORECASE)
_SECTIONS = re.compile(r"Section\s*\(?s?\)?\s*:\s*", re.IGNORECASE)
_PAGES = re.compile(
    r"\b(?:Page\s*\(?s?\)?|pages?|pg\.?|pp\.?|p\.)\s*:?\s*(\d{1,4}(?:\s*[-\u2013]\s*\d{1,4})?(?:\s*(?:,|and)\s*\d{1,4}(?:\s*[-\u2013]\s*\d{1,4})?)*)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\s*,?\s*\(?\s*((?:19|20)\d{2})\s*\)?(?![\d.])")
_GUIDELINES_WORD = re.compile(r"\s*Guidelines?\b", re.IGNORECASE)
_ODG = re.compile(r"Official\s+Disability\s+Guidelines(?:\s*\(\s*ODG\s*\))?|\bODG\b", re.IGNORECASE)
_ACOEM_ANY = re.compile(r"\bACOEM\b|American\s+College\s+of\s+Occupational", re.IGNORECASE)
_ACOEM_CURRENT = re.compile(r"\b3rd\s+ed|\bthird\s+edition|\b4th\s+ed|\bDisorders\b", re.IGNORECASE)
_CHAPTER_NUM = re.compile(r"\bChapter\s+(\d{1,2})\b", re.IGNORECASE)
_OTHER_SPLIT = re.compile(r"\s+and\s+(?=Other\s+Medical\s+Treatment\s+Guidelines)", re.IGNORECASE)
_ODG_NOISE = re.compile(
    r"Official\s+Disability\s+Guidelines|\(\s*ODG\s*\)|\bODG\b|\((?:Acute\s*(?:&|and)\s*Chronic|Online\s+Version|updated[^)]*)\)"
    r"|\bOnline\s+Version\b|\bWeb\s+Version\b|\bChapter\b|\bsection\b|\bTopic\b|\b(?:19|20)\d{2}\b|\(updated[^)]*\)",
    re.IGNORECASE,
)

_ALNUM = re.compile(r"[a-z0-9]+")
_PAGE_LIST_SPLIT = re.compile(r"\s*(?:,|and)\s*")
_PAGE_RANGE_SPLIT = re.compile(r"\s*[-\u2013]\s*")
_NUMBERED_SPLIT = re.compile(r",\s+(?=\d+(?:\.\d+)*\.?\s)")
_COMMA_GOES_ON = re.compile(r",\s*(?:[a-z]|\d+\s*mg)")
_LIST_COMMA = re.compile(r"\s*,\s*(?:and\s+)?")
_CAPITAL = re.compile(r"\b[A-Z]")
_FILLER = re.compile(r"(?:Guidelines?|MTUS|and|\W)*", re.IGNORECASE)
_NUMERIC_SECTION = re.compile(r"\d{1,4}(?:\s*-\s*\d{1,4})?")
_ODG_MARK = re.compile(r"Official\s+Disability\s+Guidelines|\bODG\b(?!\s*\))", re.I)
_LEADING_PUNCT = re.compile(r"^(?:[,.;:\-/\u2013]\s*)+")
_OTHER_SOURCE = re.compile(r"\s*(?:Other|Centers|Medicare|http|www)", re.I)
_MARKS = re.compile(r"[\u00ae\u2122]")


class _Heads:
    """Regex for the start of one MTUS guideline inside a citation, and its alias table."""

    def __init__(self) -> None:
        cat = catalog()
        self.by_alias: dict[str, tuple[str, str | None]] = {}
        names: list[str] = []
        for fam in ("cpmtg", "acupuncture", "postsurgical", "opioids"):
            for a in cat.families[fam].aliases:
                names.append(a)
                self.by_alias[_key(a)] = (fam, None)
        for chap in cat.data.chapters:
            if chap.family in ("acoem", "acoem-current"):
                for a in chap.aliases:
                    names.append(a)
                    self.by_alias.setdefault(_key(a), (chap.family, chap.id))
        names.sort(key=len, reverse=True)
        alts = "|".join(alias_pattern(n, plural=False) for n in names)
        self.regex = re.compile(
            rf"(?:(?:ACOEM\s+)?Chapter\s+(?P<num>\d{{1,2}})\s*[,:\-]?\s*)?(?P<name>{alts})?",
            re.IGNORECASE,
        )

    def match(self, text: str, pos: int) -> re.Match | None:
        m = self.regex.match(text, pos)
        if m and (m.group("num") or m.group("name")):
            return m
        return None

    def resolve(self, m: re.Match) -> tuple[str, str | None]:
        name = m.group("name")
        if name:
            fam, chap = self.by_alias.get(_key(name), ("acoem", None))
            if chap is None and fam == "acoem" and m.group("num"):
                chap = _chapter_by_number(int(m.group("num")))
            return fam, chap
        return "acoem", _chapter_by_number(int(m.group("num")))


def _key(name: str) -> str:
    return " ".join(_ALNUM.findall(name.lower()))


@functools.cache
def _heads() -> _Heads:
    return _Heads()


@functools.cache
def _odg_chapters() -> AliasMatcher:
    return AliasMatcher(
        [(a, c.id) for c in catalog().data.chapters if c.family == "odg" for a in c.aliases]
    )


@functools.cache
def _acoem_names() -> AliasMatcher:
    return AliasMatcher(
        [
            (a, c.id)
            for c in catalog().data.chapters
            if c.family in ("acoem", "acoem-current")
            for a in c.aliases
        ]
    )


def _chapter_by_number(num: int) -> str | None:
    return next(
        (c.id for c in catalog().data.chapters if c.family == "acoem" and c.number == num), None
    )


def _pages(text: str) -> list[int]:
    out: list[int] = []
    for m in _PAGES.finditer(text):
        for part in _PAGE_LIST_SPLIT.split(m.group(1)):
            bounds = [int(x) for x in _PAGE_RANGE_SPLIT.split(part) if x]
            if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= 60:
                out.extend(range(bounds[0], bounds[1] + 1))
            elif bounds:
                out.append(bounds[0])
    return sorted(set(out))


@functools.cache
def _known_sections() -> re.Pattern:
    names = sorted(
        {n for s in catalog().data.sections for n in (s.name, *s.aliases)}, key=len, reverse=True
    )
    return re.compile(
        "(?:" + "|".join(alias_pattern(n, False) for n in names) + r")(?=\s*(?:,|$))", re.IGNORECASE
    )


def _split_sections(text: str, family: str) -> list[str]:
    """Split a "Section(s):" list at commas, keeping known multi-part names whole."""
    text = text.strip().rstrip(".").strip()
    if family == "opioids":
        parts = _NUMBERED_SPLIT.split(text)
        return [" ".join(p.split()) for p in parts if p.strip()]
    known = _known_sections()
    out: list[str] = []
    pos = 0
    while pos < len(text):
        hit = known.match(text, pos)
        if hit:
            piece, step = hit.group(), hit.end() - pos
        else:
            rest = text[pos:]
            depth, step = 0, len(rest)
            for i, ch in enumerate(rest):
                depth += ch == "("
                depth -= ch == ")"
                if ch == "," and depth <= 0 and not _COMMA_GOES_ON.match(rest, i):
                    step = i
                    break
            piece = rest[:step]
        if piece.strip():
            out.append(" ".join(piece.split()))
        pos += step
        m = _LIST_COMMA.match(text, pos)
        pos = m.end() if m else pos
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in ",;:"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:."):
        end -= 1
    return start, end


def _ref(text: str, family: str, start: int, end: int, **kw) -> GuidelineRef:
    start, end = _trim(text, start, end)
    fam = catalog().families.get(family)
    return GuidelineRef(
        family=family,
        mtus=kw.pop("mtus", fam.mtus if fam else False),
        raw=text[start:end],
        start=start,
        end=end,
        **kw,
    )


def _parse_mtus(text: str, start: int, end: int) -> list[GuidelineRef]:
    heads = _heads()
    pos = start
    m = _MTUS_PREFIX.match(text, pos, end)
    if m:
        pos = m.end()
    m = _ACOEM_PREFIX.match(text, pos, end)
    if m and heads.match(text, m.end()):
        pos = m.end()
    parts: list[tuple[int, re.Match]] = []
    head = heads.match(text, pos)
    if head is None:
        head = next(
            (
                h
                for w in _CAPITAL.finditer(text[pos:end])
                if (h := heads.match(text, pos + w.start()))
            ),
            None,
        )
    if head and head.end() <= end:
        parts.append((head.start(), head))
    scan = head.end() if head else pos
    for j in _JOINER.finditer(text, scan, end):
        if parts and j.start() < parts[-1][1].end():
            continue
        h = heads.match(text, j.end())
        if not h or h.end() > end:
            continue
        year = _YEAR.match(text, h.end(), end)
        if h.group("num") or (h.group("name") and year):
            parts.append((j.start(), h))
    if not parts:
        return [_ref(text, "mtus", start, end, pages=_pages(text[start:end]))]
    refs = []
    for i, (_, h) in enumerate(parts):
        part_end = parts[i + 1][0] if i + 1 < len(parts) else end
        family, chapter_id = heads.resolve(h)
        rest_start = h.end()
        version = None
        g = _GUIDELINES_WORD.match(text, rest_start, part_end)
        if g:
            rest_start = g.end()
        y = _YEAR.match(text, rest_start, part_end)
        if y:
            version, rest_start = y.group(1), y.end()
        g = _GUIDELINES_WORD.match(text, rest_start, part_end)
        if g:
            rest_start = g.end()
        refs.append(_build(text, family, chapter_id, version, h.start(), rest_start, part_end))
    return refs


def _build(text, family, chapter_id, version, start, rest_start, end) -> GuidelineRef:
    cat = catalog()
    rest = text[rest_start:end]
    pages = _pages(rest)
    sections: list[str] = []
    sm = _SECTIONS.search(rest)
    if sm:
        sec_text = rest[sm.end() :]
        pm = _PAGES.search(sec_text)
        sections = _split_sections(sec_text[: pm.start()] if pm else sec_text, family)
    else:
        pm = _PAGES.search(rest)
        leftover = (rest[: pm.start()] if pm else rest).strip(" ,.;:-")
        if leftover and not _FILLER.fullmatch(leftover):
            sections = [" ".join(leftover.split())]
    numeric = [s for s in sections if _NUMERIC_SECTION.fullmatch(s)]
    if numeric:
        pages = sorted(set(pages) | set(_pages("p. " + ", ".join(numeric))))
        sections = [s for s in sections if s not in numeric]
    chapter = cat.chapters.get(chapter_id) if chapter_id else None
    if version is None:
        version = (
            str(chapter.year) if chapter and chapter.year else cat.families[family].default_version
        )
    return _ref(
        text,
        family,
        start,
        end,
        version=version,
        chapter=chapter.number if chapter else None,
        chapter_id=chapter_id,
        chapter_name=chapter.name if chapter else None,
        sections=sections,
        pages=pages,
    )


def _parse_non_mtus(text: str, start: int, end: int) -> list[GuidelineRef]:
    pieces: list[tuple[int, int]] = []
    cut = _OTHER_SPLIT.search(text, start, end)
    main_end = cut.start() if cut else end
    marks = [m.start() for m in _ODG_MARK.finditer(text[start:main_end])]
    bounds = (
        [start]
        + [start + p for p in marks if p > 0 and text[start : start + p].strip(" ,.;:-")]
        + [main_end]
    )
    pieces = list(zip(bounds, bounds[1:], strict=False))
    if cut:
        pieces.append((cut.end(), end))
    refs = []
    for a, b in pieces:
        a, b = _trim(text, a, b)
        if a < b:
            refs.append(_classify_non_mtus(text, a, b))
    return refs


def _classify_non_mtus(text: str, start: int, end: int) -> GuidelineRef:
    piece = text[start:end]
    if _ACOEM_ANY.search(piece):
        pages = _pages(piece)
        names = _acoem_names().find(piece)
        current = bool(_ACOEM_CURRENT.search(piece))
        chapter_id = None
        for m in names:
            ids = sorted(m.ids)
            pick = (
                [i for i in ids if i.startswith("acoem3-")]
                if current
                else [i for i in ids if not i.startswith("acoem3-")]
            )
            if pick:
                chapter_id = pick[0]
                break
        num = _CHAPTER_NUM.search(piece)
        if chapter_id is None and num and not current:
            chapter_id = _chapter_by_number(int(num.group(1)))
        family = "acoem-current" if current else "acoem"
        chapter = catalog().chapters.get(chapter_id) if chapter_id else None
        return _ref(
            text,
            family,
            start,
            end,
            mtus=False,
            version="3rd ed." if current else "2004",
            chapter=chapter.number if chapter else None,
            chapter_id=chapter_id,
            chapter_name=chapter.name if chapter else None,
            pages=pages,
        )
    odg_named = _ODG.search(piece)
    chapters = _odg_chapters().find(piece)
    if odg_named or (chapters and not piece[: chapters[0].start].strip(" ,.;:-")):
        chapter_id = sorted(chapters[0].ids)[0] if chapters else None
        rest = piece
        for m in reversed(chapters[:1]):
            rest = rest[: m.start] + " " + rest[m.end :]
        rest = " ".join(_ODG_NOISE.sub(" ", rest).split()).strip(" ,.;:-/\u2013")
        rest = _LEADING_PUNCT.sub("", rest)
        chapter = catalog().chapters.get(chapter_id) if chapter_id else None
        return _ref(
            text,
            "odg",
            start,
            end,
            chapter_id=chapter_id,
            chapter_name=chapter.name if chapter else None,
            sections=[rest] if rest else [],
        )
    return _ref(text, "other", start, end)


def _statements(text: str) -> list[tuple[int, int]]:
    """Spans of the citation statements: one per "Decision based on", plus any leading text
    that is not the "based their decision on recommendation(s) outside of the MTUS" preamble."""
    leads = list(_LEAD.finditer(text))
    first = leads[0].start() if leads else len(text)
    preamble = _PREAMBLE.search(text, 0, first)
    pre_start = preamble.end() if preamble else 0
    spans = []
    if text[pre_start:first].strip(" \n\t.,;:") and not _NONE.search(text, pre_start, first):
        spans.append((pre_start, first))
    for i, m in enumerate(leads):
        stop = leads[i + 1].start() if i + 1 < len(leads) else len(text)
        spans.append((m.end(), stop))
    return spans


def parse_citations(text: str | None) -> list[GuidelineRef]:
    """The guidelines a citation names, in order; ``[]`` when it cites nothing.

    ``text`` may keep or drop the leading "Decision based on"; offsets index ``text``.
    """
    if cites_nothing(text):
        return []
    return [r.model_copy() for r in _parse(text)]


def shared_citations(text: str) -> tuple[GuidelineRef, ...]:
    """``parse_citations`` without the copies: the cached refs themselves, for callers that
    only read them (``text`` must not cite nothing)."""
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[GuidelineRef, ...]:
    clean, index = strip_soft_hyphens(text)
    refs: list[GuidelineRef] = []
    for start, end in _statements(clean):
        start, end = _trim(clean, start, end)
        if start >= end:
            continue
        non = _NON_MTUS.match(clean, start, end)
        if non:
            refs.extend(_parse_non_mtus(clean, non.end(), end))
        elif _ODG.match(clean, start, end) or _OTHER_SOURCE.match(clean[start:end]):
            refs.extend(_parse_non_mtus(clean, start, end))
        else:
            refs.extend(_parse_mtus(clean, start, end))
    if index is None:
        return tuple(refs)
    out = []
    for r in refs:
        s, e = index[r.start], index[r.end - 1] + 1
        out.append(r.model_copy(update={"start": s, "end": e, "raw": text[s:e]}))
    return tuple(out)


def cites_nothing(text: str | None) -> bool:
    """True when the citation says no medical evidence was cited (or is empty)."""
    return not text or not text.strip() or (bool(_NONE.search(text)) and not _LEAD.search(text))


def _norm(name: str) -> str:
    return " ".join(_MARKS.sub("", name).lower().replace("&", "and").split()).strip(" .,;:")


@functools.cache
def _section_index() -> dict[tuple[str, str], Section]:
    idx: dict[tuple[str, str], Section] = {}
    for s in catalog().data.sections:
        for n in (s.name, *s.aliases):
            idx[(s.family, _norm(n))] = s
    return idx


@functools.lru_cache(maxsize=1024)
def _section_entry(family: str, name: str):
    idx = _section_index()
    key = _norm(name)
    hit = idx.get((family, key))
    if hit is not None:
        return hit
    for (fam, n), entry in idx.items():
        if fam == family and len(n) >= 10 and n in key:
            return entry
    return None


@dataclass(frozen=True)
class Coverage:
    """What a cited guideline covers: ``topics``, or the whole chapter (``general``), or
    nothing known (``unspecified``: no page or section named; ``unknown``: not in the catalog)."""

    topics: frozenset[str] = frozenset()
    general: bool = False
    unknown: bool = False

    @property
    def specific(self) -> bool:
        return bool(self.topics) and not self.general and not self.unknown

    @property
    def unspecified(self) -> bool:
        return not self.topics and not self.general and not self.unknown


def ref_coverage(ref: GuidelineRef) -> Coverage:
    """Classify what ``ref`` covers from its family, page(s) and section(s)."""
    return _coverage(
        ref.family,
        ref.version,
        ref.chapter,
        ref.chapter_name,
        tuple(ref.pages),
        tuple(ref.sections),
    )


@functools.lru_cache(maxsize=1024)
def _coverage(
    family: str,
    ref_version: str | None,
    chapter: int | None,
    chapter_name: str | None,
    pages: tuple[int, ...],
    sections: tuple[str, ...],
) -> Coverage:
    """``ref_coverage`` on the fields it reads (the same citations recur across letters)."""
    cat = catalog()
    fam = cat.families.get(family)
    if fam is None or family == "other":
        return Coverage(unknown=True)
    topics = set(fam.default_topics)
    if pages:
        version = ref_version or fam.default_version
        matched = False
        for entry in cat.data.pages:
            if entry.family != family or not set(pages) & set(entry.pages):
                continue
            if entry.version and entry.version != version:
                continue
            if entry.chapter is not None and entry.chapter not in (chapter, chapter_name):
                continue
            if entry.general:
                return Coverage(general=True)
            matched = True
            topics |= set(entry.topics)
        if not matched:
            return Coverage(unknown=True)
    for section in sections:
        entry = _section_entry(family, section)
        if entry is not None:
            if entry.general:
                return Coverage(general=True)
            topics |= set(entry.topics)
            continue
        named = treatment_topics(section)
        if not named:
            return Coverage(unknown=True)
        topics |= named
    if not pages and not sections and not fam.default_topics:
        return Coverage()
    return Coverage(topics=frozenset(topics))


def topics_for_ref(ref: GuidelineRef) -> set[str]:
    """Treatment topics the cited page(s)/section(s) cover; empty when unknown or general."""
    cov = ref_coverage(ref)
    return set(cov.topics) if cov.specific else set()


def regions_for_ref(ref: GuidelineRef) -> set[str]:
    """Body regions the cited chapter (or postsurgical section) is about; empty for general ones."""
    cat = catalog()
    regions: set[str] = set()
    if ref.family == "odg":
        for m in _odg_chapters().find(ref.raw):
            for cid in m.ids:
                regions |= set(cat.chapters[cid].regions)
        return regions
    if ref.chapter_id and ref.chapter_id in cat.chapters:
        regions |= set(cat.chapters[ref.chapter_id].regions)
    for section in ref.sections:
        entry = _section_entry(ref.family, section)
        if entry is not None and entry.regions:
            regions |= set(entry.regions)
    return regions


def is_regional(ref: GuidelineRef) -> bool:
    """True when the ref cites a body-region chapter (ACOEM, postsurgical section), not a general one."""
    cat = catalog()
    if ref.family == "postsurgical":
        return bool(regions_for_ref(ref))
    if ref.family not in ("acoem", "acoem-current") or not ref.chapter_id:
        return False
    chapter = cat.chapters.get(ref.chapter_id)
    return bool(chapter and not chapter.general and chapter.regions)
