"""One letter's findings, readable in a terminal: each quoted with the item it belongs to."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from imr_llm.schemas import AuditRecord

_COLORS = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def render_findings(console: Console, rec: AuditRecord) -> None:
    if rec.status == "error":
        err = rec.error
        kind, message = (err.kind, err.message) if err is not None else ("error", "status error")
        console.print(f"[red]{escape(rec.letter_id)}: {kind}[/red] — {escape(message)}")
        return
    c = rec.case
    who = ", ".join(
        x
        for x in (
            f"{c.patient_age} y/o" if c.patient_age else "",
            c.patient_sex or "",
            f"injured {c.date_of_injury}" if c.date_of_injury else "",
        )
        if x
    )
    console.print(f"[bold]{escape(rec.letter_id)}[/bold]  layout {rec.layout}  {escape(who)}")
    t = Table("#", "item", "outcome", "conclusion", box=None, pad_edge=False)
    for d in rec.decisions:
        t.add_row(str(d.index + 1), escape(d.item), d.outcome, d.conclusion.replace("_", " "))
    console.print(t)
    if rec.summary:
        console.print(f"[dim]{escape(rec.summary)}[/dim]")
    if not rec.findings:
        console.print("[green]No findings.[/green]")
        return
    items = {d.index: d.item for d in rec.decisions}
    for f in rec.findings:
        where = (
            f"item {f.decision_index + 1}: {items.get(f.decision_index, '?')}"
            if f.decision_index is not None
            else "letter"
        )
        style = _COLORS.get(f.severity.value, "")
        console.print(
            f"\n[{style}]{f.severity.value.upper()}[/{style}] {f.code} ({escape(where)}) [{f.detector}]"
        )
        console.print(f"  {escape(f.message)}")
        for e in f.evidence:
            quote = " ".join(e.quote.split())
            console.print(f'  [italic]"{escape(quote)}"[/italic] [dim]@{e.start}-{e.end}[/dim]')
