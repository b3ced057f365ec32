"""LLM orchestration throughput: the audit's async LLM stage against a scripted
OpenAI-compatible server (tests/fake_openai.py, its own process) answering every call after a
fixed latency. Ideal throughput at concurrency C is C / latency calls per second.

    python benchmarks/llm_orchestration.py [--latency 0.2] [--letters 64] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import sys, time, threading
sys.path.insert(0, {tests!r})
from fake_openai import FakeOpenAI, fill_schema
latency = float(sys.argv[1])
def responder(body, schema, quotes):
    time.sleep(latency)
    return fill_schema(schema, quotes)
fake = FakeOpenAI(responder=responder).start()
print(fake.base_url, flush=True)
sys.stdin.read()
print(len(fake.chat_requests), fake.max_in_flight, flush=True)
"""


def run(letters: list[Path], concurrency: int, latency: float, tmp: Path) -> dict:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(tests=str(ROOT / "tests")), str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = server.stdout.readline().strip()
    env = dict(os.environ, OPENAI_BASE_URL=base_url, IMR_LLM_MODEL="fake-model")
    env["IMR_LLM_CACHE_DIR"] = str(tmp / f"cache-{concurrency}")
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from imr_llm.audit import AuditOptions, run_audit\n"
        "from imr_llm.ingest import expand_paths\n"
        "from imr_llm.llm.client import LLMConfig\n"
        "c = int(sys.argv[1])\n"
        "cfg = LLMConfig.from_cli(backend='openai').model_copy(update={'concurrency': c})\n"
        "inputs, _ = expand_paths(sys.argv[3:])\n"
        "t = time.perf_counter()\n"
        "r = run_audit(inputs, AuditOptions(out=Path(sys.argv[2]), llm=cfg, concurrency=c, html=False, workers=1))\n"
        "print(time.perf_counter() - t, sum(x['status'] == 'ok' for x in r.records))\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(concurrency),
            str(tmp / f"out-{concurrency}"),
            *map(str, letters),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, ok = proc.stdout.split()
    calls, peak = server.communicate("", timeout=60)[0].split()
    seconds, calls = float(seconds), int(calls)
    ideal = concurrency / latency
    return {
        "concurrency": concurrency,
        "letters": len(letters),
        "ok": int(ok),
        "calls": calls,
        "calls_per_letter": round(calls / len(letters), 2),
        "seconds": round(seconds, 2),
        "calls_per_s": round(calls / seconds, 1),
        "ideal_calls_per_s": round(ideal, 1),
        "fraction_of_ideal": round(calls / seconds / ideal, 3),
        "letters_per_s": round(len(letters) / seconds, 2),
        "peak_in_flight": int(peak),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--letters", type=int, default=64)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dwc-2016")
    args = ap.parse_args()
    corpus = sorted(args.corpus.glob("*.pdf"))
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            n = min(args.letters, 8) if c == 1 else args.letters
            print(json.dumps(run(corpus[:n], c, args.latency, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
