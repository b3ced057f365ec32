"""Rules-path throughput against PDF text extraction alone, measured in the same run.

Replicates the corpus to N letters (hard links in a temp dir), then times on all cores:
  1. extraction only: PDFium text of every file, same process pool shape as the audit;
  2. `imr-llm audit --llm none` (results.jsonl + findings.csv), and again with report.html;
and reports peak memory (max RSS over the audit process and its workers) at 200 and N letters,
and their ratio (the target: peak memory does not grow with the batch, ratio <= 1.2). The load
average at the start is printed too: timings on a busy machine are not comparable.

    python benchmarks/rules_throughput.py [--letters 2000] [--corpus ../shared/corpus/dwc-2016]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _cpu_children() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def extraction_only(paths: list[Path], workers: int) -> tuple[float, float]:
    """(seconds, CPU seconds of the pool's workers)."""
    cpu = _cpu_children()
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        chars = sum(pool.map(_extract, [str(p) for p in paths], chunksize=32))
    assert chars > 0
    return time.perf_counter() - t, _cpu_children() - cpu


def audit(batch: Path, out: Path, html: bool) -> dict:
    """Seconds, CPU seconds (process and workers) and peak RSS in KiB (the larger of the
    process's and its workers'; both also apart) of one ``run_audit`` in a fresh process."""
    code = (
        "import json, resource, sys, time\n"
        "from imr_llm.audit import AuditOptions, run_audit\n"
        "from imr_llm.ingest import expand_paths\n"
        "inputs, _ = expand_paths([sys.argv[1]])\n"
        "t = time.perf_counter()\n"
        f"r = run_audit(inputs, AuditOptions(out=__import__('pathlib').Path(sys.argv[2]), html={html}, progress=False))\n"
        "dt = time.perf_counter() - t\n"
        "me = resource.getrusage(resource.RUSAGE_SELF)\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime\n"
        "print(json.dumps({'s': dt, 'cpu': cpu, 'rss': max(me.ru_maxrss, kids.ru_maxrss),\n"
        "    'parent_rss': me.ru_maxrss, 'worker_rss': kids.ru_maxrss, 'n': len(r.records)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(batch), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout)
    assert result["n"] == len(list(batch.iterdir())), proc.stdout
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--letters", type=int, default=2000)
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dwc-2016")
    args = ap.parse_args()
    workers = os.cpu_count() or 1
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big, small = tmp / "big", tmp / "small"
        big.mkdir()
        small.mkdir()
        paths = replicate(args.corpus, args.letters, big)
        replicate(args.corpus, args.small, small)
        extraction_only(paths[:50], workers)  # warm the page cache and the imports
        t_extract, cpu_extract = extraction_only(paths, workers)
        big_run = audit(big, tmp / "out-big", html=False)
        html_run = audit(big, tmp / "out-html", html=True)
        small_run = audit(small, tmp / "out-small", html=False)
        n, m = args.letters, args.small
        mb = lambda kib: round(kib / 1024, 1)  # noqa: E731
        result = {
            "letters": n,
            "cores": workers,
            "loadavg_1m_at_start": round(load, 2),
            "extract_only_s": round(t_extract, 2),
            "extract_letters_per_s": round(n / t_extract, 1),
            "audit_s": round(big_run["s"], 2),
            "audit_letters_per_s": round(n / big_run["s"], 1),
            "audit_over_extract": round(big_run["s"] / t_extract, 2),
            "audit_with_html_s": round(html_run["s"], 2),
            "audit_with_html_over_extract": round(html_run["s"] / t_extract, 2),
            # CPU seconds are what a loaded machine does not distort as much as wall time.
            "extract_cpu_s": round(cpu_extract, 2),
            "audit_cpu_s": round(big_run["cpu"], 2),
            "audit_cpu_over_extract_cpu": round(big_run["cpu"] / cpu_extract, 2),
            f"peak_rss_mb_{m}": mb(small_run["rss"]),
            f"peak_rss_mb_{n}": mb(big_run["rss"]),
            "rss_ratio": round(big_run["rss"] / small_run["rss"], 2),
            f"parent_rss_mb_{m}_{n}": [mb(small_run["parent_rss"]), mb(big_run["parent_rss"])],
            f"worker_rss_mb_{m}_{n}": [mb(small_run["worker_rss"]), mb(big_run["worker_rss"])],
            f"peak_rss_mb_{n}_with_html": mb(html_run["rss"]),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
