"""LLM orchestration throughput: the audit's async LLM stage against a scripted
OpenAI-compatible server (tests/fake_openai.py, run as its own process, as a real server would
be) that answers every call a fixed latency after the request arrives. Ideal throughput at
concurrency C is C / latency calls per second.

    python benchmarks/llm_orchestration.py [--latency 0.2] [--letters 64] [--concurrency 1 8 32]

Per concurrency it prints one JSON line:
  fraction_of_ideal   calls/s over the whole ``run_audit`` (start-up included) / ideal;
  steady_fraction     requests the server had in flight on average, between the first request
                      arriving and the last answer, / C (start-up excluded);
  client_cpu_s        CPU seconds of the audit process, client_cpu_ms_per_call the same per call;
  server_latency_s    mean seconds from a request's arrival to its answer (should be the latency).
The load average at the start is printed first: on a busy machine the client gets less than a
core, and the fractions drop with it.
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

CLIENT = """
import json, resource, sys, time
from pathlib import Path
from imr_llm.audit import AuditOptions, run_audit
from imr_llm.ingest import expand_paths
from imr_llm.llm.client import LLMConfig
c = int(sys.argv[1])
cfg = LLMConfig.from_cli(backend="openai").model_copy(update={"concurrency": c})
inputs, _ = expand_paths(sys.argv[3:])
t = time.perf_counter()
r = run_audit(inputs, AuditOptions(out=Path(sys.argv[2]), llm=cfg, concurrency=c, html=False, workers=1))
seconds = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_SELF)
ok = sum(x["status"] == "ok" for x in r.records)
print(json.dumps({"seconds": seconds, "ok": ok, "cpu": u.ru_utime + u.ru_stime}))
"""


def run(letters: list[Path], concurrency: int, latency: float, tmp: Path) -> dict:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        env = dict(os.environ, OPENAI_BASE_URL=base_url, IMR_LLM_MODEL="fake-model")
        env["IMR_LLM_CACHE_DIR"] = str(tmp / f"cache-{concurrency}")
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                CLIENT,
                str(concurrency),
                str(tmp / f"out-{concurrency}"),
                *map(str, letters),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        stats = json.loads(server.communicate("", timeout=60)[0].splitlines()[-1])
    finally:
        if server.poll() is None:
            server.kill()
    client = json.loads(proc.stdout.splitlines()[-1])
    seconds, calls = client["seconds"], stats["chat_requests"]
    ideal = concurrency / latency
    return {
        "concurrency": concurrency,
        "letters": len(letters),
        "ok": client["ok"],
        "calls": calls,
        "calls_per_letter": round(calls / len(letters), 2),
        "seconds": round(seconds, 2),
        "calls_per_s": round(calls / seconds, 1),
        "ideal_calls_per_s": round(ideal, 1),
        "fraction_of_ideal": round(calls / seconds / ideal, 3),
        "steady_fraction": round(stats["mean_in_flight"] / concurrency, 3),
        "letters_per_s": round(len(letters) / seconds, 2),
        "peak_in_flight": stats["max_in_flight"],
        "client_cpu_s": round(client["cpu"], 2),
        "client_cpu_ms_per_call": round(1000 * client["cpu"] / max(calls, 1), 2),
        "server_latency_s": stats["service_s_mean"],
        "server_cpu_s": stats["cpu_s"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--letters", type=int, default=64)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dwc-2016")
    args = ap.parse_args()
    corpus = sorted(args.corpus.glob("*.pdf"))
    print(json.dumps({"loadavg_1m_at_start": round(os.getloadavg()[0], 2)}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            n = min(args.letters, 8) if c == 1 else args.letters
            print(json.dumps(run(corpus[:n], c, args.latency, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
