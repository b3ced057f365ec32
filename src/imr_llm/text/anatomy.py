"""Typed body-site mentions: where a text names a body region, and on which side.

``find_sites(text, start, end)`` returns every whole-phrase mention of a body site in
``text[start:end]`` as a :class:`Site` with its region (the guideline catalog's region ids:
``neck``, ``thoracic``, ``low_back``, ``shoulder``, ``elbow``, ``wrist_hand``, ``hip``,
``knee``, ``ankle_foot``, ``head``, ``abdomen``, ``eye``, plus the limb and spine groups
``upper_extremity``, ``lower_extremity`` and ``spine``) and its side (``left``, ``right``,
``bilateral`` or None).

Sides are read from the words before the site ("left knee", "L knee", "Rt. shoulder",
"bilateral wrists", "right and left hands", "left-sided hip"), after it ("knee, left",
"shoulder (right)", "knees bilaterally"), from limb abbreviations ("RUE", "BLE"), from a
coordinated site before it ("left shoulder and elbow": both left), and from a paired part in
the plural with no side ("the knees": bilateral). Negation is not looked at (see
``text.negation``). "back" alone names nothing: only "low back", "lower back", "back pain"
and the like do.

Everything is compiled once at import; a call is one regex scan plus a few anchored matches
per site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "GROUPS",
    "LATERAL",
    "REGION_NAMES",
    "Site",
    "compatible",
    "most_specific",
    "find_sites",
    "region_name",
]


@dataclass(frozen=True, slots=True)
class Site:
    """A body-site mention: ``text[start:end]`` names ``region`` on ``side``."""

    start: int
    end: int
    region: str
    side: str | None
    text: str


REGION_NAMES = {
    "neck": "cervical spine",
    "thoracic": "thoracic spine",
    "low_back": "lumbar spine",
    "spine": "spine",
    "shoulder": "shoulder",
    "elbow": "elbow",
    "wrist_hand": "wrist/hand",
    "upper_extremity": "upper extremity",
    "hip": "hip",
    "knee": "knee",
    "ankle_foot": "ankle/foot",
    "lower_extremity": "lower extremity",
    "head": "head",
    "abdomen": "abdomen",
    "eye": "eye",
    "chest": "chest",
    "jaw": "jaw",
}

# Group sites stand for any of their member regions (as in the catalog's region groups).
GROUPS = {
    "upper_extremity": frozenset({"shoulder", "elbow", "wrist_hand", "neck"}),
    "lower_extremity": frozenset({"hip", "knee", "ankle_foot", "low_back"}),
    "spine": frozenset({"neck", "thoracic", "low_back"}),
}

# Regions that come in a left and a right.
LATERAL = frozenset(
    {
        "shoulder",
        "elbow",
        "wrist_hand",
        "upper_extremity",
        "hip",
        "knee",
        "ankle_foot",
        "lower_extremity",
        "eye",
    }
)


def region_name(region: str) -> str:
    return REGION_NAMES.get(region, region.replace("_", " "))


def compatible(a: str, b: str) -> bool:
    """Whether sites of regions ``a`` and ``b`` can be the same body part (a group and one of
    its members, or the same region)."""
    if a == b:
        return True
    return (
        a in GROUPS.get(b, ())
        or b in GROUPS.get(a, ())
        or bool(GROUPS.get(a, frozenset()) & GROUPS.get(b, frozenset()))
    )


def most_specific(sites: list[Site] | tuple[Site, ...]) -> list[Site]:
    """``sites`` without a group's site when a member region is named too: "cervical
    paraspinal muscles" is the neck, not the whole spine."""
    named = {x.region for x in sites}
    return [x for x in sites if not (GROUPS.get(x.region, frozenset()) & named)]


# ---------------------------------------------------------------- vocabulary

# Phrases per region, case-insensitive; a space matches any run of whitespace or a hyphen,
# ``(s)`` an optional plural. Entries starting with ``=`` are matched case-sensitively
# (abbreviations and spinal levels).
_PHRASES: dict[str, tuple[str, ...]] = {
    "neck": (
        "cervical spine", "cervical", "cervicothoracic", "cervicalgia", "neck", "trapezius", "c spine",
        "=C/S", r"=C[1-7]\s*[-/]\s*C?[1-7]", r"=C[1-7]\s*-\s*T1",
    ),
    "thoracic": (
        "thoracic spine", "thoracolumbar", "thoracic", "t spine", "mid back", "middle back",
        "upper back", r"=T(?:1[0-2]|[1-9])\s*[-/]\s*T?(?:1[0-2]|[1-9])",
    ),
    "low_back": (
        "lumbosacral spine", "lumbosacral", "lumbar spine", "lumbar", "low back", "lower back",
        "back pain", "back injury", "back complaints", "backache", "l spine", "=LS spine",
        "=L/S", "sacrum", "sacral spine", "coccyx",
        r"=L[1-5]\s*[-/]\s*(?:L?[1-5]|S1)", r"=L[1-5]", r"=S1",
    ),
    "spine": ("spine", "spinal", "paraspinal(s)", "paravertebral"),
    "shoulder": (
        "shoulder(s)", "rotator cuff", "acromioclavicular", "=AC joint", "glenohumeral",
        "subacromial", "acromion", "clavicle", "scapula", "scapular", "labrum", "labral",
    ),
    "elbow": (
        "elbow(s)", "lateral epicondylitis", "medial epicondylitis", "epicondylitis",
        "epicondyle", "cubital tunnel", "olecranon",
    ),
    "wrist_hand": (
        "wrist(s)", "hand(s)", "finger(s)", "thumb(s)", "carpal tunnel", "carpal", "forearm(s)",
        "metacarpal(s)", "de quervain(s)", "trigger finger(s)", "distal radius", "palm(s)",
        "ulna", "digit(s)",
    ),
    "upper_extremity": (
        "upper extremity", "upper extremities", "upper limb(s)", "arm(s)", "=RUE", "=LUE",
        "=BUE(s)",
    ),
    "hip": (
        "hip(s)", "pelvis", "pelvic", "groin", "sacroiliac", "=SI joint(s)", "acetabulum",
        "acetabular", "trochanteric", "femoral head", "femoral neck", "buttock(s)", "thigh(s)",
        "piriformis",
    ),
    "knee": (
        "knee(s)", "patella", "patellar", "patellofemoral", "meniscus", "meniscal", "menisci",
        "=ACL", "=MCL", "tibial plateau",
    ),
    "ankle_foot": (
        "ankle(s)", "foot", "feet", "toe(s)", "heel(s)", "plantar fascia", "plantar",
        "achilles", "calcaneus", "calcaneal", "metatarsal(s)", "tarsal",
    ),
    "lower_extremity": (
        "lower extremity", "lower extremities", "lower limb(s)", "lower leg(s)", "leg(s)",
        "femur", "femoral shaft", "tibia", "tibial shaft", "fibula", "fibular", "iliotibial",
        "=IT band",
        "=RLE", "=LLE", "=BLE(s)",
    ),
    "head": ("head", "skull", "cranial", "brain"),
    "abdomen": ("abdomen", "abdominal", "inguinal", "umbilical", "hernia(s)"),
    "eye": ("eye(s)",),
    "chest": ("chest", "rib(s)", "sternum"),
    "jaw": ("jaw", "temporomandibular", "=TMJ"),
}  # fmt: skip

# Paired parts whose plural, with no side given, means both sides.
_PAIRED_PLURALS = frozenset({
    "shoulders", "elbows", "wrists", "hands", "forearms", "hips", "knees", "ankles", "feet",
    "heels", "eyes", "arms", "legs", "thighs", "buttocks", "extremities", "limbs",
})  # fmt: skip

# Phrases holding a site word that do not name a body site; looked for only around the
# words in _AMBIGUOUS.
_NOT_SITES = re.compile(
    r"\b(?:(?:on\s+the\s+)?(?:other|one)\s+hand|first[\s-]hand|hand[\s-]?(?:written|held|"
    r"delivered|outs?)\b|hands[\s-]on|head\s+of\b|heads?[\s-]up|at\s+hand|in\s+hand|"
    r"arm'?s[\s-]length)",
    re.I,
)
_AMBIGUOUS = frozenset({"hand", "hands", "head", "heads", "arm", "arms"})


def _phrase_source(phrase: str) -> str:
    exact = phrase.startswith("=")
    if exact:
        phrase = phrase[1:]
    if not exact and re.fullmatch(r"[a-z ()']+", phrase):
        plural = phrase.endswith("(s)")
        words = phrase.removesuffix("(s)").split()
        body = r"[\s\-]+".join(re.escape(w) for w in words) + ("s?" if plural else "")
    elif exact and re.fullmatch(r"[A-Za-z/ ()]+", phrase):
        plural = phrase.endswith("(s)")
        words = phrase.removesuffix("(s)").split()
        body = r"\s+".join(re.escape(w) for w in words) + ("s?" if plural else "")
    else:
        body = phrase
    return f"(?-i:{body})" if exact else body


def _build() -> re.Pattern:
    alts = []
    for region, phrases in _PHRASES.items():
        # longest first, so "cervical spine" wins over "cervical"
        srcs = [_phrase_source(p) for p in sorted(phrases, key=len, reverse=True)]
        alts.append(f"(?P<{region}>{'|'.join(srcs)})")
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alts) + r")(?![A-Za-z0-9])", re.I)


_SITE = _build()

# Every lower-case word a site mention can start with: find_sites tries _SITE only at those
# words (re would try its lookbehind and long alternation at every character).
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_LEVEL_WORDS = frozenset(
    [f"c{i}" for i in range(1, 8)] + [f"t{i}" for i in range(1, 13)]
    + [f"l{i}" for i in range(1, 6)] + ["s1"]
)  # fmt: skip


def _first_words() -> frozenset[str]:
    out = set(_LEVEL_WORDS)
    for phrases in _PHRASES.values():
        for phrase in phrases:
            body = phrase.lstrip("=")
            if body.startswith(("C[", "T(", "L[", "S1")):
                continue  # spinal levels: _LEVEL_WORDS
            plural = body.endswith("(s)")
            word = _WORD.match(body.removesuffix("(s)"))
            assert word is not None, phrase  # every catalog phrase starts with a word
            first = word.group().lower()
            out.add(first)
            if plural and " " not in body:
                out.add(first + "s")
    return frozenset(out)


_FIRST_WORDS = _first_words()

_MODIFIER = (
    r"(?:upper|lower|distal|proximal|anterior|posterior|medial|lateral|mid|middle|index|ring|"
    r"small|little|long|great|big|dorsal|volar|radial|ulnar|total|entire|affected|injured|"
    r"painful|symptomatic|whole)"
)
# The side written before a site, read backwards from the site: "left ", "left-sided ",
# "L ", "right and left ", "bilateral ", "both ", with up to two modifiers in between.
_SIDE_BEFORE = re.compile(
    r"(?:(?P<pair>\b(?:right|left)\s*(?:and|&|/|or)\s*(?:right|left))|(?P<both>\bboth|"
    r"\bbilateral(?:ly)?)|(?P<side>\b(?:right|left))|(?P<abbr>(?-i:\b(?:Lt|Rt|LT|RT|L|R))\.?))"
    r"(?:\s*-?\s*sided)?[\s\-]+(?:" + _MODIFIER + r"[\s\-]+){0,2}(?:the\s+)?$",
    re.I,
)
_SIDE_AFTER = re.compile(
    r"(?:\s*[,(:\-]\s*(?:on\s+the\s+)?|\s+on\s+the\s+|\s+(?=bilateral))(?:(?P<pair>(?:right|left)"
    r"\s*(?:and|&|/|or)\s*(?:right|left))|(?P<side>left|right|bilateral(?:ly)?|both\s+sides))\b"
    r"(?:\s+sides?)?\s*\)?",
    re.I,
)
_COORDINATED = re.compile(r"(?:\s*,\s*|\s+)(?:(?:and|or|&|/)\s+)?(?:the\s+)?$", re.I)
_GAP = re.compile(r"[\s\-]*(?:" + _MODIFIER + r"[\s\-]+){0,2}(?:the\s+)?", re.I)
_LIMB = re.compile(r"[RLB](?:UE|LE)s?")
_LOOKBACK = 48


def _side_before(text: str, lo: int, pos: int) -> str | None:
    window = text[max(lo, pos - _LOOKBACK) : pos]
    if not window or not window[-1].isspace() and window[-1] != "-":
        return None
    m = _SIDE_BEFORE.search(window)
    if m is None:
        return None
    if m.group("pair") or m.group("both"):
        return "bilateral"
    if m.group("side"):
        return m.group("side").lower()
    return "left" if m.group("abbr")[0] == "L" else "right"


def _limb_abbreviation(word: str) -> str | None:
    if _LIMB.fullmatch(word):
        return {"R": "right", "L": "left", "B": "bilateral"}[word[0]]
    return None


def find_sites(text: str, start: int = 0, end: int | None = None) -> list[Site]:
    """Every body-site mention in ``text[start:end]``, in order, with offsets into ``text``."""
    end = len(text) if end is None else end
    raw: list[tuple[re.Match, str]] = []
    blocked: list[tuple[int, int]] | None = None
    for m in _candidates(text, start, end):
        if m.group().lower() in _AMBIGUOUS:
            if blocked is None:
                blocked = [n.span() for n in _NOT_SITES.finditer(text, start, end)]
            if any(a <= m.start() and m.end() <= b for a, b in blocked):
                continue
        raw.append((m, m.lastgroup or ""))
    sites: list[Site] = []
    for k, (m, region) in enumerate(raw):
        word = m.group()
        side = _limb_abbreviation(word) or _side_before(text, start, m.start())
        if side is None:
            nxt = raw[k + 1][0].start() if k + 1 < len(raw) else None
            a = _SIDE_AFTER.match(text, m.end(), end)
            if a is not None and not (nxt is not None and _starts_site(text, a.end(), nxt)):
                s = (a.group("side") or "both").lower()
                side = s if s in ("left", "right") else "bilateral"
        if side is None and sites and region in LATERAL:
            prev = sites[-1]
            if (
                prev.side is not None
                and prev.region in LATERAL
                and prev.end <= m.start()
                and m.start() - prev.end < 24
                and _COORDINATED.fullmatch(text, prev.end, m.start())
            ):
                side = prev.side
        if side is None and word.lower().split()[-1] in _PAIRED_PLURALS:
            side = "bilateral"
        sites.append(Site(m.start(), m.end(), region, side, word))
    return sites


def _candidates(text: str, start: int, end: int):
    """What ``_SITE.finditer(text, start, end)`` finds, trying only words in _FIRST_WORDS."""
    first = _FIRST_WORDS
    pos = start
    for w in _WORD.finditer(text, start, end):
        a = w.start()
        if a < pos or w.group().lower() not in first:
            continue
        m = _SITE.match(text, a, end)
        if m is not None:
            yield m
            pos = m.end()


def _starts_site(text: str, pos: int, nxt: int) -> bool:
    """Whether the next site starts right at ``pos`` (only blanks and modifiers between):
    "shoulder, left knee" gives "left" to the knee."""
    if nxt - pos > 40:
        return False
    return _GAP.fullmatch(text, pos, nxt) is not None
