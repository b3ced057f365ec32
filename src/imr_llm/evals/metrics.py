"""Score produced AuditRecords against gold labels: case fields, items, finding codes, cost.

Finding matching, per letter and code (produced findings are first deduplicated on
``(code, decision_index)``, since a label lists a code at most once per item):

1. a gold finding with a ``decision_index`` matches a produced finding with the same index;
2. a gold finding with ``decision_index`` null matches on the code alone, and covers every
   produced finding of that code the indexed gold findings left over (one true positive);
3. a produced letter-level finding (index null) matches one remaining indexed gold finding.

What is left over is a false alarm (produced) or a miss (gold). Codes of severity ``info`` are
scored like the others but kept out of the overall totals.

Size: the gold-label model, the matching rules and the scorecard model are one contract:
what a label says and how it is scored change together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from imr_llm.codes import CODE_SEVERITY
from imr_llm.evals.summaries import SummaryScore
from imr_llm.schemas import AuditRecord, Finding, Severity

CASE_FIELDS = (
    "case_number",
    "date_assigned",
    "date_of_injury",
    "decision_date",
    "ur_denial_date",
    "patient_age",
    "patient_sex",
    "reviewer_specialty",
)

_TRAILING_PUNCT = re.compile(r"[\s.,;:!?]+$")
_WS = re.compile(r"\s+")


def normalize_item(text: str | None) -> str:
    """Item text for comparison: casefolded, whitespace collapsed, trailing punctuation removed."""
    if not text:
        return ""
    return _TRAILING_PUNCT.sub("", _WS.sub(" ", text).strip().casefold())


def _norm_value(value: Any) -> Any:
    if isinstance(value, str):
        return _WS.sub(" ", value).strip().casefold() or None
    return value


# ---------------------------------------------------------------- labels


class GoldCase(BaseModel):
    model_config = ConfigDict(extra="allow")

    case_number: str | None = None
    date_assigned: str | None = None
    date_of_injury: str | None = None
    decision_date: str | None = None
    ur_denial_date: str | None = None
    patient_age: int | None = None
    patient_sex: Literal["male", "female"] | None = None
    reviewer_specialty: str | None = None


class GoldDecision(BaseModel):
    model_config = ConfigDict(extra="allow")

    item: str
    outcome: Literal["upheld", "overturned", "unknown"]
    conclusion: Literal["medically_necessary", "not_medically_necessary", "unclear"]
    original_request: str | None = None


class GoldFinding(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    decision_index: int | None = None
    note: str = ""


class GoldLabel(BaseModel):
    """One letter's gold label (evals/README.md describes the format)."""

    model_config = ConfigDict(extra="allow")

    letter_id: str
    file: str
    layout: Literal["dwc-2013", "dwc-2014", "dwc-2015", "dwc-2016", "unknown"]
    case: GoldCase = Field(default_factory=GoldCase)
    decisions: list[GoldDecision] = Field(default_factory=list)
    findings: list[GoldFinding] = Field(default_factory=list)
    notes: str = ""

    @property
    def is_clean(self) -> bool:
        """No expected findings other than info-severity ones."""
        return not any(not is_info(f.code) for f in self.findings)


def load_label(path: Path | str) -> GoldLabel:
    return GoldLabel.model_validate_json(Path(path).read_text(encoding="utf-8"))


_MEDIUM = Severity.medium.rank


def _gold_rank(g: GoldFinding) -> int:
    """The severity a gold finding is expected at: its label's, else the code's default."""
    sev = getattr(g, "severity", None) or CODE_SEVERITY.get(g.code, "medium")
    return Severity(sev).rank


def is_info(code: str, severity: str | None = None) -> bool:
    return CODE_SEVERITY.get(code, severity or "") == "info"


# ---------------------------------------------------------------- scorecard model


class FieldScore(BaseModel):
    total: int = 0
    correct: int = 0
    missing: int = 0
    wrong: int = 0
    spurious: int = 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


class ItemScore(BaseModel):
    letters: int = 0
    count_match: int = 0
    gold_items: int = 0
    produced_items: int = 0
    text_match: int = 0
    outcome_correct: int = 0
    conclusion_correct: int = 0

    def rate(self, name: str) -> float | None:
        denom = self.letters if name == "count_match" else self.gold_items
        return getattr(self, name) / denom if denom else None

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def rates(self) -> dict[str, float | None]:
        return {
            n: self.rate(n)
            for n in ("count_match", "text_match", "outcome_correct", "conclusion_correct")
        }


class CodeScore(BaseModel):
    code: str
    severity: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def info(self) -> bool:
        return self.severity == "info"

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def f1(self) -> float | None:
        return f1(self.tp, self.fp, self.fn)


class CleanScore(BaseModel):
    letters: int = 0
    false_positives: int = 0
    letters_with_fp: int = 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def fp_per_letter(self) -> float | None:
        return self.false_positives / self.letters if self.letters else None


class CostScore(BaseModel):
    letters: int = 0
    seconds: float = 0.0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0

    def per_letter(self, name: str) -> float | None:
        if not self.letters:
            return None
        value = (
            self.prompt_tokens + self.completion_tokens if name == "tokens" else getattr(self, name)
        )
        return value / self.letters

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def per_letter_means(self) -> dict[str, float | None]:
        return {n: self.per_letter(n) for n in ("seconds", "calls", "tokens")}


class Issue(BaseModel):
    """One scoring disagreement, for the miss / false-alarm list."""

    kind: Literal["miss", "false_alarm", "field", "item", "error"]
    letter: str
    item: str | None = None
    decision_index: int | None = None
    code: str
    message: str


class LetterScore(BaseModel):
    letter_id: str
    status: str
    clean: bool
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float | None = None


class Scorecard(BaseModel):
    """Everything ``score`` measures; serialised to scorecard.json."""

    set_name: str = ""
    created: str = ""
    letters: int = 0
    errors: int = 0
    fields: dict[str, FieldScore] = Field(default_factory=dict)
    items: ItemScore = Field(default_factory=ItemScore)
    codes: dict[str, CodeScore] = Field(default_factory=dict)
    # What an auditor is shown: produced findings at medium or high against the gold findings
    # expected at medium or high (a true finding given only at low counts as missed here).
    flags: CodeScore = Field(
        default_factory=lambda: CodeScore(code="medium/high flags", severity="")
    )
    clean: CleanScore = Field(default_factory=CleanScore)
    summary: SummaryScore | None = None
    cost: CostScore = Field(default_factory=CostScore)
    issues: list[Issue] = Field(default_factory=list)
    per_letter: list[LetterScore] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def overall(self) -> CodeScore:
        """Micro-averaged finding counts over the non-info codes."""
        return self.totals()

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def info_overall(self) -> CodeScore:
        """Micro-averaged finding counts over the info codes."""
        return self.totals(info=True)

    def totals(self, info: bool = False) -> CodeScore:
        """Micro-averaged counts over the non-info codes (or over the info codes)."""
        out = CodeScore(code="info" if info else "overall", severity="info" if info else "")
        for c in self.codes.values():
            if c.info == info:
                out.tp += c.tp
                out.fp += c.fp
                out.fn += c.fn
        return out

    def metrics(self) -> dict[str, float | None]:
        """Flat name -> value view used by ``compare`` and the reports."""
        m: dict[str, float | None] = {}
        overall = self.totals()
        m["findings.precision"] = overall.precision
        m["findings.recall"] = overall.recall
        m["findings.f1"] = overall.f1
        m["flags.precision"] = self.flags.precision
        m["flags.recall"] = self.flags.recall
        for code, c in sorted(self.codes.items()):
            m[f"code.{code}.precision"] = c.precision
            m[f"code.{code}.recall"] = c.recall
            m[f"code.{code}.f1"] = c.f1
        for name, fs in self.fields.items():
            m[f"field.{name}"] = fs.accuracy
        for name in ("count_match", "text_match", "outcome_correct", "conclusion_correct"):
            m[f"items.{name}"] = self.items.rate(name)
        m["clean.fp_per_letter"] = self.clean.fp_per_letter
        for name in ("seconds", "calls", "tokens"):
            m[f"cost.{name}_per_letter"] = self.cost.per_letter(name)
        m["errors"] = float(self.errors)
        return m


def f1(tp: int, fp: int, fn: int) -> float | None:
    """F1 = 2TP / (2TP + FP + FN); None when there is nothing to score."""
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else None


# ---------------------------------------------------------------- matching


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, int | None]] = set()
    out = []
    for f in findings:
        key = (f.code, f.decision_index)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def match_findings(
    gold: Sequence[GoldFinding], produced: Sequence[Finding]
) -> tuple[list[tuple[GoldFinding, Finding]], list[GoldFinding], list[Finding]]:
    """Pair gold with produced findings; returns (matches, misses, false alarms)."""
    produced = dedupe(produced)
    gold_seen: set[tuple[str, int | None]] = set()
    gold_list = []
    for g in gold:
        if (g.code, g.decision_index) not in gold_seen:
            gold_seen.add((g.code, g.decision_index))
            gold_list.append(g)
    matches: list[tuple[GoldFinding, Finding]] = []
    free_p = list(produced)
    free_g: list[GoldFinding] = []
    for g in gold_list:
        if g.decision_index is None:
            free_g.append(g)
            continue
        hit = next(
            (p for p in free_p if p.code == g.code and p.decision_index == g.decision_index), None
        )
        if hit is None:
            free_g.append(g)
        else:
            matches.append((g, hit))
            free_p.remove(hit)
    misses: list[GoldFinding] = []
    for g in free_g:
        if g.decision_index is None:
            same = [p for p in free_p if p.code == g.code]
            if same:
                matches.append((g, same[0]))
                free_p = [p for p in free_p if p.code != g.code]
            else:
                misses.append(g)
            continue
        hit = next((p for p in free_p if p.code == g.code and p.decision_index is None), None)
        if hit is None:
            misses.append(g)
        else:
            matches.append((g, hit))
            free_p.remove(hit)
    return matches, misses, free_p


def _align_items(gold: Sequence[GoldDecision], produced: Sequence) -> list[int | None]:
    """For each gold item the index of its produced item (same text first, else same position)."""
    used: set[int] = set()
    out: list[int | None] = [None] * len(gold)
    norm_p = [normalize_item(d.item) for d in produced]
    for i, g in enumerate(gold):
        key = normalize_item(g.item)
        if i < len(produced) and norm_p[i] == key:
            out[i] = i
            used.add(i)
    for i, g in enumerate(gold):
        if out[i] is not None:
            continue
        key = normalize_item(g.item)
        j = next((j for j, k in enumerate(norm_p) if k == key and j not in used), None)
        if j is not None:
            out[i] = j
            used.add(j)
    for i in range(len(gold)):
        if out[i] is None and i < len(produced) and i not in used:
            out[i] = i
            used.add(i)
    return out


# ---------------------------------------------------------------- scoring


def score(
    golds: Sequence[GoldLabel],
    records: Sequence[AuditRecord | None] | Mapping[str, AuditRecord],
    set_name: str = "",
) -> Scorecard:
    """Score ``records`` (aligned with ``golds``, or keyed by letter_id) against ``golds``."""
    if isinstance(records, Mapping):
        recs = [records.get(g.letter_id) for g in golds]
    else:
        recs = list(records)
        if len(recs) != len(golds):
            raise ValueError(f"{len(golds)} labels but {len(recs)} records")
    card = Scorecard(
        set_name=set_name,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        fields={name: FieldScore() for name in CASE_FIELDS},
    )
    for gold, rec in zip(golds, recs, strict=True):
        _score_letter(card, gold, rec)
    card.codes = dict(sorted(card.codes.items()))
    return card


def _code(card: Scorecard, code: str, severity: str | None = None) -> CodeScore:
    if code not in card.codes:
        card.codes[code] = CodeScore(
            code=code, severity=CODE_SEVERITY.get(code, severity or "medium")
        )
    return card.codes[code]


def _score_letter(card: Scorecard, gold: GoldLabel, rec: AuditRecord | None) -> None:
    lid = gold.letter_id
    card.letters += 1
    usable = rec if rec is not None and rec.status == "ok" else None  # a record to score
    if usable is None:
        card.errors += 1
        msg = "no record" if rec is None else (rec.error.message if rec.error else "status error")
        card.issues.append(Issue(kind="error", letter=lid, code="error", message=msg))
    _score_fields(card, gold, usable.case.model_dump(mode="json") if usable is not None else {})
    decisions = usable.decisions if usable is not None else []
    _score_items(card, gold, decisions)
    matches, misses, alarms = match_findings(
        gold.findings, usable.findings if usable is not None else []
    )
    _score_findings(card, gold, decisions, matches, misses, alarms)
    _score_cost(card, rec)
    real_alarms = [p for p in alarms if not is_info(p.code, p.severity.value)]
    card.per_letter.append(
        LetterScore(
            letter_id=lid,
            status=rec.status if rec is not None else "missing",
            clean=gold.is_clean,
            tp=sum(1 for g, _ in matches if not is_info(g.code)),
            fp=len(real_alarms),
            fn=sum(1 for g in misses if not is_info(g.code)),
            seconds=rec.seconds if rec is not None else None,
        )
    )


def _score_fields(card: Scorecard, gold: GoldLabel, produced_case: dict) -> None:
    for name in CASE_FIELDS:
        want = _norm_value(getattr(gold.case, name))
        got = _norm_value(produced_case.get(name))
        fs = card.fields[name]
        fs.total += 1
        if want == got:
            fs.correct += 1
            continue
        if got is None:
            fs.missing += 1
        elif want is None:
            fs.spurious += 1
        else:
            fs.wrong += 1
        card.issues.append(
            Issue(
                kind="field",
                letter=gold.letter_id,
                code=f"field:{name}",
                message=f"expected {getattr(gold.case, name)!r}, got {produced_case.get(name)!r}",
            )
        )


def _score_items(card: Scorecard, gold: GoldLabel, decisions: Sequence) -> None:
    lid = gold.letter_id
    items = card.items
    items.letters += 1
    items.gold_items += len(gold.decisions)
    items.produced_items += len(decisions)
    if len(decisions) == len(gold.decisions):
        items.count_match += 1
    else:
        card.issues.append(
            Issue(
                kind="item",
                letter=lid,
                code="item:count",
                message=f"expected {len(gold.decisions)} items, got {len(decisions)}",
            )
        )
    for i, (g, j) in enumerate(
        zip(gold.decisions, _align_items(gold.decisions, decisions), strict=True)
    ):
        p = decisions[j] if j is not None else None
        checks = {
            "text": p is not None and normalize_item(p.item) == normalize_item(g.item),
            "outcome": p is not None and p.outcome == g.outcome,
            "conclusion": p is not None and p.conclusion == g.conclusion,
        }
        items.text_match += checks["text"]
        items.outcome_correct += checks["outcome"]
        items.conclusion_correct += checks["conclusion"]
        for name, good in checks.items():
            if good:
                continue
            got = (
                None
                if p is None
                else {"text": p.item, "outcome": p.outcome, "conclusion": p.conclusion}[name]
            )
            want = {"text": g.item, "outcome": g.outcome, "conclusion": g.conclusion}[name]
            card.issues.append(
                Issue(
                    kind="item",
                    letter=lid,
                    item=g.item,
                    decision_index=i,
                    code=f"item:{name}",
                    message=f"expected {want!r}, got {got!r}",
                )
            )


def _score_findings(card: Scorecard, gold: GoldLabel, decisions: Sequence, matches, misses, alarms):
    lid = gold.letter_id
    for gf, _ in matches:
        _code(card, gf.code).tp += 1
    for gf in misses:
        _code(card, gf.code).fn += 1
        card.issues.append(
            Issue(
                kind="miss",
                letter=lid,
                item=_item_name(gold, decisions, gf.decision_index, prefer_gold=True),
                decision_index=gf.decision_index,
                code=gf.code,
                message=gf.note or "(no note)",
            )
        )
    for gf, pf in matches:
        if pf.severity.rank >= _MEDIUM:
            card.flags.tp += 1
        elif _gold_rank(gf) >= _MEDIUM:
            card.flags.fn += 1
    card.flags.fn += sum(1 for gf in misses if _gold_rank(gf) >= _MEDIUM)
    card.flags.fp += sum(1 for pf in alarms if pf.severity.rank >= _MEDIUM)
    for pf in alarms:
        _code(card, pf.code, pf.severity.value).fp += 1
        card.issues.append(
            Issue(
                kind="false_alarm",
                letter=lid,
                item=_item_name(gold, decisions, pf.decision_index, prefer_gold=False),
                decision_index=pf.decision_index,
                code=pf.code,
                message=pf.message,
            )
        )
    for gf in gold.findings:
        _code(card, gf.code)
    if gold.is_clean:
        real_alarms = [p for p in alarms if not is_info(p.code, p.severity.value)]
        card.clean.letters += 1
        card.clean.false_positives += len(real_alarms)
        card.clean.letters_with_fp += bool(real_alarms)


def _score_cost(card: Scorecard, rec: AuditRecord | None) -> None:
    if rec is None:
        return
    card.cost.letters += 1
    card.cost.seconds += rec.seconds or 0.0
    card.cost.calls += rec.llm.calls
    card.cost.prompt_tokens += rec.llm.prompt_tokens
    card.cost.completion_tokens += rec.llm.completion_tokens
    card.cost.cache_hits += rec.llm.cache_hits


def _item_name(
    gold: GoldLabel, decisions: Sequence, index: int | None, prefer_gold: bool
) -> str | None:
    if index is None:
        return None
    sources = [gold.decisions, decisions] if prefer_gold else [decisions, gold.decisions]
    for src in sources:
        if 0 <= index < len(src):
            return src[index].item
    return None
