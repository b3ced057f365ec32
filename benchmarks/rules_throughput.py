"""Rules-path throughput against PDF text extraction alone, measured in the same run.

Replicates the corpus to N letters (hard links in a temp dir), then times on all cores:
  1. extraction only: PDFium text of every file, same process pool shape as the audit;
  2. `imr-llm audit --llm none` (results.jsonl + findings.csv), and again with report.html;
and reports peak memory (max RSS over the audit process and its workers) at 200 and N letters.

    python benchmarks/rules_throughput.py [--letters 2000] [--corpus ../shared/corpus/dwc-2016]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _extract(path: str) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    n = 0
    for i in range(len(pdf)):
        n += len(pdf[i].get_textpage().get_text_range())
    pdf.close()
    return n


def replicate(corpus: Path, n: int, dest: Path) -> list[Path]:
    src = sorted(corpus.glob("*.pdf"))
    out = []
    for i in range(n):
        p = src[i % len(src)]
        q = dest / f"{i:06d}-{p.name}"
        try:
            os.link(p, q)
        except OSError:
            shutil.copy(p, q)
        out.append(q)
    return out


def extraction_only(paths: list[Path], workers: int) -> float:
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        chars = sum(pool.map(_extract, [str(p) for p in paths], chunksize=32))
    assert chars > 0
    return time.perf_counter() - t


def audit(batch: Path, out: Path, html: bool) -> tuple[float, int]:
    code = (
        "import resource, sys, time\n"
        "from imr_llm.audit import AuditOptions, run_audit\n"
        "from imr_llm.ingest import expand_paths\n"
        "inputs, _ = expand_paths([sys.argv[1]])\n"
        "t = time.perf_counter()\n"
        f"r = run_audit(inputs, AuditOptions(out=__import__('pathlib').Path(sys.argv[2]), html={html}, progress=False))\n"
        "dt = time.perf_counter() - t\n"
        "rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(dt, rss, len(r.records))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(batch), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    dt, rss, n = proc.stdout.split()
    return float(dt), int(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letters", type=int, default=2000)
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dwc-2016")
    args = ap.parse_args()
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big, small = tmp / "big", tmp / "small"
        big.mkdir()
        small.mkdir()
        paths = replicate(args.corpus, args.letters, big)
        replicate(args.corpus, args.small, small)
        extraction_only(paths[:50], workers)  # warm the page cache and the imports
        t_extract = extraction_only(paths, workers)
        t_audit, rss_big = audit(big, tmp / "out-big", html=False)
        t_html, _ = audit(big, tmp / "out-html", html=True)
        _, rss_small = audit(small, tmp / "out-small", html=False)
        n = args.letters
        result = {
            "letters": n,
            "cores": workers,
            "extract_only_s": round(t_extract, 2),
            "extract_letters_per_s": round(n / t_extract, 1),
            "audit_s": round(t_audit, 2),
            "audit_letters_per_s": round(n / t_audit, 1),
            "audit_over_extract": round(t_audit / t_extract, 2),
            "audit_with_html_s": round(t_html, 2),
            "audit_with_html_over_extract": round(t_html / t_extract, 2),
            f"peak_rss_mb_{args.small}": round(rss_small / 1024, 1),
            f"peak_rss_mb_{n}": round(rss_big / 1024, 1),
            "rss_ratio": round(rss_big / rss_small, 2),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
