"""Scorecard output (JSON, Markdown, self-contained HTML with an inline-SVG chart) and compare."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from imr_llm.evals.metrics import CodeScore, Scorecard
from imr_llm.evals.summaries import to_markdown as summary_markdown
from imr_llm.ingest import owner_only_open

LOWER_IS_BETTER = ("clean.fp_per_letter", "cost.", "errors")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def load_scorecard(source: Scorecard | dict | Path | str) -> Scorecard:
    """A Scorecard from itself, a dict, a scorecard.json path or the directory holding one."""
    if isinstance(source, Scorecard):
        return source
    if isinstance(source, dict):
        return Scorecard.model_validate(source)
    path = Path(source)
    if path.is_dir():
        path = path / "scorecard.json"
    return Scorecard.model_validate_json(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- markdown


def _code_rows(codes: list[CodeScore]) -> list[str]:
    rows = []
    for c in codes:
        rows.append(
            f"| {c.code} | {c.severity} | {c.tp} | {c.fp} | {c.fn} | "
            f"{_fmt(c.precision)} | {_fmt(c.recall)} | {_fmt(c.f1)} |"
        )
    return rows


def to_markdown(card: Scorecard, max_issues: int = 200) -> str:
    """The scorecard as Markdown tables."""
    overall = card.totals()
    flags = card.flags
    head = "| code | severity | TP | FP | FN | precision | recall | F1 |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    out = [
        f"# Scorecard: {card.set_name or 'unnamed set'}",
        "",
        f"{card.letters} letters, {card.errors} errors, created {card.created}.",
        "",
        "## Findings",
        "",
        head,
        rule,
        *_code_rows([c for c in card.codes.values() if not c.info]),
        f"| **overall** | | {overall.tp} | {overall.fp} | {overall.fn} | "
        f"{_fmt(overall.precision)} | {_fmt(overall.recall)} | {_fmt(overall.f1)} |",
        f"| **medium/high flags** | | {flags.tp} | {flags.fp} | {flags.fn} | "
        f"{_fmt(flags.precision)} | {_fmt(flags.recall)} | {_fmt(flags.f1)} |",
        "",
    ]
    info = [c for c in card.codes.values() if c.info]
    if info:
        out += ["### Info codes (not in the overall totals)", "", head, rule, *_code_rows(info), ""]
    if card.summary is not None and card.summary.letters:
        out += summary_markdown(card.summary)
    cl = card.clean
    out += [
        f"Clean letters: {cl.letters}; false positives on them: {cl.false_positives} "
        f"({_fmt(cl.fp_per_letter, 2)} per letter; {cl.letters_with_fp} letters with any).",
        "",
        "## Case fields",
        "",
        "| field | correct | total | accuracy | missing | wrong | spurious |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in card.fields.items():
        out.append(
            f"| {name} | {f.correct} | {f.total} | {_fmt(f.accuracy)} | {f.missing} | {f.wrong} | {f.spurious} |"
        )
    it = card.items
    out += [
        "",
        "## Items",
        "",
        "| measure | count | of | rate |",
        "|---|---:|---:|---:|",
        f"| letters with the right item count | {it.count_match} | {it.letters} | {_fmt(it.rate('count_match'))} |",
        f"| item text matches | {it.text_match} | {it.gold_items} | {_fmt(it.rate('text_match'))} |",
        f"| outcome correct | {it.outcome_correct} | {it.gold_items} | {_fmt(it.rate('outcome_correct'))} |",
        f"| conclusion correct | {it.conclusion_correct} | {it.gold_items} | {_fmt(it.rate('conclusion_correct'))} |",
        "",
        "## Cost per letter",
        "",
        "| seconds | LLM calls | tokens | cache hits (total) |",
        "|---:|---:|---:|---:|",
        f"| {_fmt(card.cost.per_letter('seconds'))} | {_fmt(card.cost.per_letter('calls'), 2)} | "
        f"{_fmt(card.cost.per_letter('tokens'), 1)} | {card.cost.cache_hits} |",
        "",
    ]
    listed = [i for i in card.issues if i.kind in ("miss", "false_alarm", "error")]
    out += ["## Misses and false alarms", ""]
    if not listed:
        out.append("None.")
    else:
        out += ["| kind | letter | item | code | message |", "|---|---|---|---|---|"]
        for i in listed[:max_issues]:
            out.append(
                f"| {i.kind} | {i.letter} | {_md(i.item or '')} | {i.code} | {_md(i.message)} |"
            )
        if len(listed) > max_issues:
            out.append(f"\n… {len(listed) - max_issues} more in scorecard.json.")
    return "\n".join(out) + "\n"


def _md(s: str) -> str:
    return " ".join(s.split()).replace("|", "\\|")[:300]


# ---------------------------------------------------------------- html


def bar_chart_svg(card: Scorecard) -> str:
    """Grouped horizontal bars (precision, recall, F1) per code, as inline SVG."""
    codes = list(card.codes.values())
    colors = {"precision": "#4e79a7", "recall": "#f28e2b", "F1": "#59a14f"}
    label_w, bar_w, row_h, bar_h = 240, 420, 46, 12
    height = 40 + row_h * max(len(codes), 1)
    width = label_w + bar_w + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="precision, recall and F1 per finding code">',
        "<style>text{font:12px sans-serif}</style>",
    ]
    x = label_w
    for name, color in colors.items():
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="16">{name}</text>')
        x += 90
    for k, c in enumerate(codes):
        y0 = 30 + k * row_h
        tag = " (info)" if c.info else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + 22}" text-anchor="end">{html.escape(c.code + tag)}</text>'
        )
        for j, (name, value) in enumerate(
            (("precision", c.precision), ("recall", c.recall), ("F1", c.f1))
        ):
            y = y0 + j * (bar_h + 1)
            w = 0 if value is None else round(bar_w * value, 1)
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{colors[name]}">'
                f"<title>{html.escape(c.code)} {name}: {_fmt(value)}</title></rect>"
            )
            parts.append(f'<text x="{label_w + w + 4}" y="{y + bar_h - 2}">{_fmt(value, 2)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def to_html(card: Scorecard) -> str:
    """A self-contained HTML page (no scripts, no network) with the chart and the tables."""
    body = _markdown_tables_to_html(to_markdown(card))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Scorecard: {html.escape(card.set_name)}</title>"
        "<style>body{font:14px sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:left;vertical-align:top}h1,h2,h3{margin-top:1.2em}</style>"
        "</head><body>\n" + bar_chart_svg(card) + "\n" + body + "\n</body></html>\n"
    )


def _markdown_tables_to_html(md: str) -> str:
    out: list[str] = []
    in_table = False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if set("".join(cells)) <= set("-:|"):
                continue
            if not in_table:
                out.append("<table>")
                in_table = True
                out.append("<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells) + "</tr>")
            else:
                out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        out.append("</table>")
    return "\n".join(out)


def _inline(cell: str) -> str:
    cell = cell.replace("\\|", "|")
    if cell.startswith("**") and cell.endswith("**"):
        return f"<b>{html.escape(cell[2:-2])}</b>"
    return html.escape(cell)


def write_scorecard(card: Scorecard, out: Path | str) -> dict[str, Path]:
    """Write scorecard.json, scorecard.md and scorecard.html (owner-only) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "json": (out / "scorecard.json", json.dumps(card.model_dump(mode="json"), indent=2) + "\n"),
        "md": (out / "scorecard.md", to_markdown(card)),
        "html": (out / "scorecard.html", to_html(card)),
    }
    for path, text in files.values():
        with owner_only_open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return {k: v[0] for k, v in files.items()}


# ---------------------------------------------------------------- compare


@dataclass(frozen=True)
class Delta:
    metric: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def better(self) -> bool | None:
        """True when the change is an improvement, False when worse, None when equal or unknown."""
        d = self.delta
        if d is None or abs(d) < 1e-12:
            return None
        lower = self.metric.startswith(LOWER_IS_BETTER)
        return (d < 0) if lower else (d > 0)


def compare(
    old: Scorecard | dict | Path | str,
    new: Scorecard | dict | Path | str,
    changed_only: bool = False,
) -> list[Delta]:
    """Per-metric deltas between two scorecards (new minus old), in a stable order."""
    a, b = load_scorecard(old).metrics(), load_scorecard(new).metrics()
    names = list(a) + [n for n in b if n not in a]
    deltas = [Delta(n, a.get(n), b.get(n)) for n in names]
    if changed_only:
        deltas = [d for d in deltas if d.old != d.new]
    return deltas


def format_deltas(deltas: list[Delta]) -> str:
    """A fixed-width text table of deltas, marking improvements (+) and regressions (-)."""
    width = max([len(d.metric) for d in deltas] + [6])
    lines = [f"{'metric':<{width}}  {'old':>8}  {'new':>8}  {'delta':>8}", "-" * (width + 32)]
    for d in deltas:
        mark = {True: " +", False: " -", None: ""}[d.better]
        delta = "–" if d.delta is None else f"{d.delta:+.3f}"
        lines.append(f"{d.metric:<{width}}  {_fmt(d.old):>8}  {_fmt(d.new):>8}  {delta:>8}{mark}")
    return "\n".join(lines)
