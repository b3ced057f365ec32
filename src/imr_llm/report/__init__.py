"""Writers: results.jsonl, findings.csv, report.html, and the terminal view."""
