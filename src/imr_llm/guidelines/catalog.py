"""The guideline catalog (``catalog.json``) and the text lookups built on it.

Topic and region names are matched on word boundaries with their aliases and common
misspellings; all-capital abbreviations ("PT", "TENS", "EMG") match case-sensitively.

Size: the catalog's model, loader and every lookup on it (topics, regions, pages,
relations) share its compiled alias tables; split, each part would reach into the others.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import accumulate, compress

from pydantic import BaseModel, Field

from imr_llm.text.spans import FOLD_UNSAFE


class Limit(BaseModel):
    """A numeric limit a guideline sets for a topic (e.g. at most 6 massage visits)."""

    value: float
    low: float | None = None
    unit: str
    kind: str = "max"
    scope: str | None = None
    verified: str


class Topic(BaseModel):
    id: str
    name: str
    kind: str
    groups: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    misspellings: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    related_kinds: list[str] = Field(default_factory=list)
    limits: list[Limit] = Field(default_factory=list)
    verified: str


class Family(BaseModel):
    id: str
    name: str
    mtus: bool
    general: bool
    versions: dict[str, str] = Field(default_factory=dict)
    default_version: str | None = None
    aliases: list[str] = Field(default_factory=list)
    default_topics: list[str] = Field(default_factory=list)
    verified: str


class Chapter(BaseModel):
    id: str
    family: str
    number: int | None = None
    name: str
    year: int | None = None
    aliases: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    general: bool = False
    verified: str
    note: str | None = None


class Section(BaseModel):
    family: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    general: bool = False
    regions: list[str] | None = None
    verified: str


class PageEntry(BaseModel):
    family: str
    version: str | None = None
    chapter: int | str | None = None
    pages: list[int]
    topics: list[str] = Field(default_factory=list)
    general: bool = False
    verified: str
    note: str | None = None


class Region(BaseModel):
    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    verified: str = "reference catalog, unverified"


class RegionGroup(BaseModel):
    aliases: list[str]
    regions: list[str]
    verified: str = "reference catalog, unverified"


class CatalogData(BaseModel):
    schema_: int = Field(alias="schema")
    about: str = ""
    families: list[Family]
    chapters: list[Chapter]
    sections: list[Section]
    pages: list[PageEntry]
    topics: list[Topic]
    regions: list[Region]
    region_groups: list[RegionGroup]


@dataclass(frozen=True)
class Mention:
    """A topic or region name found in a text: ``ids`` it names, span, the matched text."""

    ids: frozenset[str]
    start: int
    end: int
    text: str
    side: str | None = None


def _is_abbreviation(alias: str) -> bool:
    return bool(re.fullmatch(r"[A-Z0-9/&'#]{2,7}s?", alias)) and any(c.isalpha() for c in alias)


def alias_pattern(alias: str, plural: bool = True) -> str:
    """Regex source for one alias: flexible whitespace and hyphens, word boundaries."""
    parts: list[str] = []
    for ch in alias:
        if ch.isspace():
            if not parts or parts[-1] != r"\s+":
                parts.append(r"\s+")
        elif ch == "-":
            parts.append(r"[-\s]?")
        elif ch == "/":
            parts.append(r"\s*/\s*")
        else:
            parts.append(re.escape(ch))
    body = "".join(parts)
    if plural and alias[-1:].isalpha() and not _is_abbreviation(alias):
        body += "(?:e?s)?"
    lead = r"(?<![A-Za-z0-9])" if alias[:1].isalnum() else ""
    return lead + body + r"(?![A-Za-z0-9])"


_TOKEN = re.compile(r"[A-Za-z0-9#'\u2019]+")
_SEPARATOR = re.compile(r"[\s\-\u2010\u2013/&(),]{1,5}")
# _TOKEN's class, capturing: ``split`` alternates separators and tokens.
_SPLIT = re.compile(r"([A-Za-z0-9#'\u2019]+)")
# The only characters whose ``lower()`` changes length or moves in or out of _TOKEN's class;
# without them ``text.lower()`` tokenizes exactly like ``text``.
_LOWER_UNSAFE = ("\u0130", "\u212a")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _last_forms(tok: str) -> tuple[str, ...]:
    return (tok, tok + "s", tok + "es") if tok[-1:].isalpha() else (tok,)


class AliasMatcher:
    """Finds non-overlapping alias mentions (longest first) and maps them to ids.

    Matching is token-based: an alias matches the same word sequence separated by
    whitespace, hyphens, slashes or brackets; a final ``s``/``es`` is allowed except on
    abbreviations, which also match case-sensitively.
    """

    def __init__(self, entries: list[tuple[str, str]], patterns: Sequence[tuple[str, str]] = ()):
        merged: dict[tuple[tuple[str, ...], bool], set[str]] = {}
        for alias, ident in entries:
            toks = _tokens(alias)
            if not toks:
                continue
            exact = _is_abbreviation(alias)
            key = (tuple(toks) if exact else tuple(t.lower() for t in toks), exact)
            merged.setdefault(key, set()).add(ident)
        self._first: dict[str, list[tuple[tuple[str, ...], bool, frozenset[str]]]] = {}
        for (key_toks, exact), ids in merged.items():
            self._first.setdefault(key_toks[0].lower(), []).append(
                (key_toks, exact, frozenset(ids))
            )
        for cands in self._first.values():
            cands.sort(key=lambda c: -len(c[0]))
        # per first token: (tokens, exact, ids, length, what the last token may read
        # lower-cased: itself, or with "s"/"es" when it ends in a letter; unused when exact)
        self._cands = {
            first: [
                (toks, exact, ids, len(toks), _last_forms(toks[-1])) for toks, exact, ids in cands
            ]
            for first, cands in self._first.items()
        }
        # Every lower-case token that can start a match: a first token, plus the plural
        # forms ``find`` tries (a superset; ``find`` re-checks each hit exactly).
        self._starts = frozenset(k + suffix for k in self._first for suffix in ("", "s", "es"))
        self._patterns = [(re.compile(p), ident) for p, ident in patterns]
        # Every position where some pattern matches, in one scan (zero-width lookahead);
        # only plain patterns (no groups, no inline flags) can share one regex exactly.
        self._pattern_starts = None
        plain = [r for r, _ in self._patterns if r.groups == 0 and r.flags == re.UNICODE]
        if plain and len(plain) == len(self._patterns):
            self._pattern_starts = re.compile(
                "(?=" + "|".join(f"(?:{r.pattern})" for r in plain) + ")"
            )

    def find(self, text: str) -> list[Mention]:
        found: list[Mention] = []
        if self._first:
            self._find_aliases(text, found)
        if self._patterns:
            self._find_patterns(text, found)
        found.sort(key=lambda x: (x.start, -(x.end - x.start)))
        kept: list[Mention] = []
        for m in found:
            if kept and m.start < kept[-1].end:
                prev = kept[-1]
                if (m.start, m.end) == (prev.start, prev.end):
                    kept[-1] = Mention(prev.ids | m.ids, prev.start, prev.end, prev.text)
                continue
            kept.append(m)
        return kept

    def _find_patterns(self, text: str, found: list[Mention]) -> None:
        """What ``regex.finditer(text)`` finds for each pattern, trying only the positions
        where some pattern matches."""
        if self._pattern_starts is None:
            for regex, ident in self._patterns:
                for m in regex.finditer(text):
                    found.append(Mention(frozenset({ident}), m.start(), m.end(), m.group()))
            return
        starts = [m.start() for m in self._pattern_starts.finditer(text)]
        if not starts:
            return
        for regex, ident in self._patterns:
            ids = frozenset({ident})
            hits: list[re.Match[str]] = []
            pos = 0
            for p in starts:
                if p < pos:
                    continue
                hit = regex.match(text, p)
                if hit is None:
                    continue
                if hit.end() == hit.start():  # empty matches: let finditer handle them
                    hits = list(regex.finditer(text))
                    break
                hits.append(hit)
                pos = hit.end()
            found.extend(Mention(ids, m.start(), m.end(), m.group()) for m in hits)

    def _find_aliases(self, text: str, found: list[Mention]) -> None:
        """Alias mentions starting at each token of ``text`` (longest alias first), in order.

        The text is split into tokens and separators in C (``_SPLIT``); only tokens in
        ``_starts`` are then checked word by word in Python.
        """
        safe = _LOWER_UNSAFE[0] not in text and _LOWER_UNSAFE[1] not in text
        parts = _SPLIT.split(text.lower() if safe else text)
        lows = parts[1::2] if safe else list(map(str.lower, parts[1::2]))
        hits = list(compress(range(len(lows)), map(self._starts.__contains__, lows)))
        if not hits:
            return
        # bounds[2 * j] / bounds[2 * j + 1]: start / end of token j
        bounds = list(accumulate(map(len, parts)))
        count = len(lows)
        cand_map = self._cands
        for i in hits:
            first = lows[i]
            cands = cand_map.get(first)
            if cands is None and first.endswith("s"):
                cands = cand_map.get(first[:-1]) or cand_map.get(first[:-2])
            for toks, exact, ids, n, last_forms in cands or ():
                if i + n > count:
                    continue
                last = i + n - 1
                ok = True
                for k in range(n):
                    j = i + k
                    if k and not _SEPARATOR.fullmatch(text, bounds[2 * j - 1], bounds[2 * j]):
                        ok = False
                        break
                    if exact:
                        same = text[bounds[2 * j] : bounds[2 * j + 1]] == toks[k]
                    elif j == last:
                        same = lows[j] in last_forms
                    else:
                        same = lows[j] == toks[k]
                    if not same:
                        ok = False
                        break
                if ok:
                    a, b = bounds[2 * i], bounds[2 * last + 1]
                    found.append(Mention(ids, a, b, text[a:b]))
                    break


_SIDE_BEFORE = re.compile(
    r"(?:\b(?P<both>(?:right|left)\s+and\s+(?:right|left)|both|bilateral(?:ly)?)"
    r"|\b(?P<side>left|right))\s*(?:-?\s*sided\s+)?(?:(?:upper|lower|distal|proximal|anterior|posterior|"
    r"medial|lateral|mid|index|ring|small|middle|long|great|big)\s+)*$",
    re.IGNORECASE,
)
_SIDE_ABBREV = {"R": "right", "L": "left", "B": "bilateral"}
_LIMB_ABBREV = re.compile(r"[RLB](?:UE|LE)s?")


# _SIDE_BEFORE cannot match without one of these (searched lower-cased where ``lower`` keeps
# every letter in place: no dotted or dotless i, long s or Kelvin sign).
_SIDE_WORDS = ("left", "right", "both", "bilateral")


def _side(text: str, m: Mention) -> str | None:
    if _LIMB_ABBREV.fullmatch(m.text):
        return _SIDE_ABBREV[m.text[0]]
    before = text[max(0, m.start - 40) : m.start]
    low = before.lower()
    if not any(w in low for w in _SIDE_WORDS) and not any(c in before for c in FOLD_UNSAFE):
        return None
    sm = _SIDE_BEFORE.search(before)
    if not sm:
        return None
    return "bilateral" if sm.group("both") else sm.group("side").lower()


class Catalog:
    """The loaded catalog with its indexes."""

    def __init__(self, data: CatalogData):
        self.data = data
        self.families = {f.id: f for f in data.families}
        self.chapters = {c.id: c for c in data.chapters}
        self.topics = {t.id: t for t in data.topics}
        self.regions = {r.id: r for r in data.regions}
        self.topic_matcher = AliasMatcher(
            [(a, t.id) for t in data.topics for a in (*t.aliases, *t.misspellings)]
        )
        region_entries = [(a, r.id) for r in data.regions for a in r.aliases]
        region_patterns = [(p, r.id) for r in data.regions for p in r.patterns]
        all_regions = sorted(self.regions)
        for i, g in enumerate(data.region_groups):
            for a in g.aliases:
                region_entries.append((a, f"group:{i}"))
        self._groups = {
            f"group:{i}": set(all_regions) if g.regions == ["*"] else set(g.regions)
            for i, g in enumerate(data.region_groups)
        }
        self.region_matcher = AliasMatcher(region_entries, region_patterns)
        self._expanded_ids: dict[frozenset[str], frozenset[str]] = {}

    def _expanded(self, ids: frozenset[str]) -> frozenset[str]:
        got = self._expanded_ids.get(ids)
        if got is None:
            got = self._expanded_ids[ids] = frozenset(self.expand_regions(ids))
        return got

    def expand_regions(self, ids: frozenset[str] | set[str]) -> set[str]:
        out: set[str] = set()
        for i in ids:
            out |= self._groups.get(i, {i})
        return out


@functools.cache
def catalog() -> Catalog:
    """The packaged catalog, loaded once."""
    raw = resources.files("imr_llm.guidelines").joinpath("catalog.json").read_text(encoding="utf-8")
    return Catalog(CatalogData.model_validate(json.loads(raw)))


SOFT_HYPHENS = "\ufffe\u00ad"


def strip_soft_hyphens(text: str) -> tuple[str, list[int] | None]:
    """``text`` without PDFium's soft-hyphen marks, and a map from its offsets back to ``text``."""
    if not any(c in text for c in SOFT_HYPHENS):
        return text, None
    keep = [i for i, c in enumerate(text) if c not in SOFT_HYPHENS]
    return "".join(text[i] for i in keep), [*keep, len(text)]


def _remap(text: str, mentions: list[Mention], index: list[int] | None) -> list[Mention]:
    if index is None:
        return mentions
    out = []
    for m in mentions:
        start, end = index[m.start], index[m.end - 1] + 1
        out.append(Mention(m.ids, start, end, text[start:end], m.side))
    return out


# The checks look up the same few texts (an item, a rationale, the case summary) several
# times per letter; a small cache keeps those repeats. Mentions are frozen, so sharing the
# cached tuples is safe; the public functions hand out fresh lists and sets.
_CACHE_SIZE = 64


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _topic_mentions(text: str) -> tuple[Mention, ...]:
    clean, index = strip_soft_hyphens(text)
    return tuple(_remap(text, catalog().topic_matcher.find(clean), index))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _region_mentions(text: str) -> tuple[Mention, ...]:
    cat = catalog()
    clean, index = strip_soft_hyphens(text)
    out = []
    for m in cat.region_matcher.find(clean):
        out.append(Mention(cat._expanded(m.ids), m.start, m.end, m.text, _side(clean, m)))
    return tuple(_remap(text, out, index))


def find_topics(text: str) -> list[Mention]:
    """Every treatment-topic mention in ``text``, with offsets into ``text``."""
    return list(_topic_mentions(text))


def treatment_topics(text: str) -> set[str]:
    """The treatment topics ``text`` names (by catalog aliases and misspellings)."""
    return {i for m in _topic_mentions(text) for i in m.ids}


def find_regions(text: str) -> list[Mention]:
    """Every body-region mention in ``text``; ``ids`` are region ids, ``side`` left/right/bilateral."""
    return list(_region_mentions(text))


def body_regions(text: str) -> set[str]:
    """The body regions ``text`` names (low_back, neck, thoracic, shoulder, elbow, wrist_hand, ...)."""
    return {i for m in _region_mentions(text) for i in m.ids}


def limit_for(topic: str) -> list[Limit]:
    """The numeric limits the catalog records for ``topic`` (empty when none or unknown)."""
    t = catalog().topics.get(topic)
    return list(t.limits) if t else []


def related(a: str, b: str) -> bool:
    """Whether topics ``a`` and ``b`` are the same or overlap (shared group or declared relation)."""
    if a == b:
        return True
    topics = catalog().topics
    ta, tb = topics.get(a), topics.get(b)
    if ta is None or tb is None:
        return False
    return bool(
        set(ta.groups) & set(tb.groups)
        or b in ta.related
        or a in tb.related
        or tb.kind in ta.related_kinds
        or ta.kind in tb.related_kinds
    )


def topics_related(first: set[str], second: set[str]) -> bool:
    """Whether any topic of ``first`` is related to any topic of ``second``."""
    return any(related(a, b) for a in first for b in second)


# Groups of distinct treatments that share a guideline family rather than a section: the
# group's general topic (the MTUS "Physical Medicine" section) covers every member, but a
# member's own section (Massage therapy, Biofeedback) covers neither the general topic nor
# another member; injections have no general section at all (an ESI is not judged under
# trigger point injection criteria).
UMBRELLA_GROUPS: dict[str, str | None] = {
    "physical-medicine": "physical-therapy",
    "injections": None,
}


def covers(cited: str, item: str) -> bool:
    """Whether a citation of topic ``cited`` can be about a request for topic ``item``.

    Like ``related``, except that membership of an umbrella group counts only when the
    cited topic is the group's general one.
    """
    if cited == item:
        return True
    topics = catalog().topics
    tc, ti = topics.get(cited), topics.get(item)
    if tc is None or ti is None:
        return False
    if (
        item in tc.related
        or cited in ti.related
        or ti.kind in tc.related_kinds
        or tc.kind in ti.related_kinds
    ):
        return True
    for group in set(tc.groups) & set(ti.groups):
        if group not in UMBRELLA_GROUPS or UMBRELLA_GROUPS[group] == cited:
            return True
    return False


def topics_covered(item_topics: set[str], cited_topics: set[str]) -> bool:
    """Whether any cited topic covers any of the item's topics (see ``covers``)."""
    return any(covers(c, i) for i in item_topics for c in cited_topics)


# ---------------------------------------------------------------- an item's class


# An item's class comes from the head of its phrase, the way a noun phrase's head decides what
# it is: "cervical spine surgery consultation" is a consultation (about surgery), "home health
# aide daily for 3 weeks" is home health care, "physical therapy evaluation" an evaluation (of
# therapy). The words before the head and the phrases after it ("for the lumbar spine", "with
# a psychiatrist") give the item's subject, never its class.
#
# Head words that make an item a visit (an office visit, consultation or referral) whatever
# it is about, and words that make it home health services.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CONJUNCTIONS = frozenset({"and", "or", "&", "/", "+", "plus"})
_PUNCTUATION = frozenset("#(),;:")


VISIT_HEADS = _words(
    "consultation consultations consult consults evaluation evaluations eval evals "
    "re-evaluation re-evaluations reevaluation reevaluations referral referrals follow-up "
    "follow-ups followup followups appointment appointments assessment assessments exam exams "
    "examination examinations re-exam reexam re-examination opinion opinions visit visits "
    "management"
)
HOME_HEALTH_HEADS = _words("aide aides caregiver caregivers homemaker attendant")
_HEAD_TOPIC = {
    **{w: "office-visits" for w in VISIT_HEADS},
    **{w: "home-health" for w in HOME_HEALTH_HEADS},
}
# Words that carry no class of their own: counts, units, forms and request words ("sessions",
# "unit", "purchase", "patches", "ER"). When one is last, the head is the word before it
# ("TENS unit purchase", "Lidoderm patches"), or, with none before, the phrase after "of" or
# "for" ("twelve sessions of physical therapy", "retrospective request for an MRI").
# "visit(s)" counts here after a treatment ("chiropractic visits"); alone it is a visit.
LIGHT_HEADS = _words(
    "session sessions visit visits treatment treatments unit units purchase purchases rental "
    "rentals rent trial trials refill refills supply supplies kit kits device devices machine "
    "machines prescription prescriptions request requests course courses order orders "
    "additional initial repeat continued continuation retrospective retro prospective "
    "outpatient inpatient quantity qty times x patch patches tablet tablets tab tabs capsule "
    "capsules cap caps pill pills solution spray lotion ointment gel cream creams dose doses "
    "mg mcg ml gm g er xr cr sr xl la ir dr ds hcl extended release sustained immediate "
    "delayed one two three four five six seven eight nine ten eleven twelve fifteen sixteen "
    "eighteen twenty thirty sixty ninety the a an container containers bottle bottles tube "
    "tubes jar jars box boxes pack packs sodium potassium hydrochloride bath baths"
)
# Words that end the phrase's head part: prepositions and frequencies; what follows them is a
# post-modifier (subject only). Numbers, "#", brackets and commas end it too.
_AFTER_HEAD = _words(
    "for of to with at in on by from per including via under into between as after before "
    "during over until daily weekly monthly nightly hourly once twice bid tid qid qd qhs prn "
    "every each q x times"
)
# Words that may follow the head without a preposition ("MRI right knee", "physical therapy
# lumbar spine", "facet injections L4-5"): body regions, sides and spinal levels end the head
# part once it has content, and are only modifiers before it.
_WHERE = "@where"
_SIDES = _words(
    "left right bilateral both lateral medial anterior posterior proximal distal upper lower mid"
)
# Generic procedure and service nouns: after a named treatment they are its form ("PRP
# injection", "acupuncture therapy"), alone they name no known class ("injection").
GENERIC_HEADS = _words(
    "injection injections block blocks procedure procedures therapy therapies testing test "
    "tests study studies scan scans program programs service services care medication "
    "medications treatment treatments"
)
_NO_CLASS = LIGHT_HEADS | _PUNCTUATION
_ITEM_TOKEN = re.compile(
    r"(?P<level>\b[CTLS]\d{1,2}(?:\s*-\s*[CTLS]?\d{1,2})?\b)"
    r"|[A-Za-z][A-Za-z'\u2019]*(?:-[A-Za-z]+)*|\d+(?:[.,/]\d+)*%?|[#(),;:&/+]"
)


@dataclass(frozen=True)
class ItemClass:
    """What a disputed item is: ``head`` (the topics of its phrase's head; empty when the head
    names nothing the catalog knows) and ``subject`` (the topics its modifiers name)."""

    head: frozenset[str]
    subject: frozenset[str]
    head_text: str = ""

    @property
    def topics(self) -> frozenset[str]:
        return self.head | self.subject


@functools.lru_cache(maxsize=512)
def item_class(item: str) -> ItemClass:
    """The class of a disputed item's phrase, from its head (see ``VISIT_HEADS``)."""
    mentions = _topic_mentions(item)
    everything = frozenset(i for m in mentions for i in m.ids)
    # units: a catalog alias mention is one unit (it may hold "and", "/" or "-"), other words
    # one each; each unit is (text, lower-cased word or None, topic ids, is a word)
    units: list[tuple[str, str, frozenset[str]]] = []
    pos = 0
    spans = [(m.start, m.end, m.ids) for m in mentions]
    where = [(m.start, m.end) for m in _region_mentions(item)]
    k = 0
    for t in _ITEM_TOKEN.finditer(item):
        if t.start() < pos:
            continue
        while k < len(spans) and spans[k][1] <= t.start():
            k += 1
        if k < len(spans) and spans[k][0] <= t.start() < spans[k][1]:
            a, b, ids = spans[k]
            units.append((item[a:b], "", ids))
            pos = b
            continue
        word = t.group().lower()
        if t.group("level") or word in _SIDES or any(a <= t.start() < b for a, b in where):
            word = _WHERE
        units.append((t.group(), word, frozenset()))
        pos = t.end()
    head, head_text = _head_of(units, 0)
    return ItemClass(head, everything - head if head else everything, head_text)


def _head_of(
    units: list[tuple[str, str, frozenset[str]]], start: int
) -> tuple[frozenset[str], str]:
    """Head topics (and text) of the phrase starting at ``units[start]``: its last unit with
    content before the first post-modifier, one per conjunct."""
    heads: set[str] = set()
    texts: list[str] = []
    content: list[tuple[str, str, frozenset[str]]] = []  # this conjunct's units with content

    def close() -> None:
        if not content:
            return
        text, word, ids = content[-1]
        before = content[-2][0].lower() if len(content) > 1 else ""
        if ids:
            heads.update(ids)
        elif word in ("aid", "aids") and before.endswith(("health", "care", "home")):
            heads.add("home-health")
        elif word in _HEAD_TOPIC:
            heads.add(_HEAD_TOPIC[word])
        texts.append(text)
        content.clear()

    for i in range(start, len(units)):
        text, word, ids = units[i]
        if word in _CONJUNCTIONS:
            close()
            continue
        counted = word[:1].isdigit() or word in ("#", _WHERE)
        if word in _AFTER_HEAD or (content and (counted or word in _PUNCTUATION)):
            generic = all(not c[2] and c[1] in GENERIC_HEADS for c in content)
            if generic and not heads and word in ("of", "for", "to", "with"):
                # "sessions of physical therapy", "request for MRI": the head comes after
                return _head_of(units, i + 1)
            break
        if word in GENERIC_HEADS and content and content[-1][2]:
            continue  # the form of the treatment before it
        if ids or (word and not counted and word not in _NO_CLASS):
            content.append(units[i])
        elif word in ("visit", "visits") and not (content and content[-1][2]):
            content.append(units[i])  # a visit by itself, not a count of a treatment
    close()
    return frozenset(heads), " / ".join(texts)
