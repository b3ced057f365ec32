"""The auditor's workbench (DESIGN §7b): a review store beside an audit's results, a local web
app to record verdicts, and export (CSV/JSONL, or an `evals/` labeled set)."""
