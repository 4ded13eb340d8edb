"""The whole fraud review ``g.fraud()`` on a synthetic store: wall seconds, per-stage seconds
and peak RSS (issue 14, part 6: at 100M edges, at most 2 minutes and 6 GiB).

    python -m benchmarks.fraud_review --size large [--rounds 1] [--out DIR]

Each round runs in a fresh interpreter (so every round's peak RSS is its own): numba's
JIT is warmed on a tiny graph first (compile time stays out of the figures), then the
store is opened and ``g.fraud()`` timed. Peak RSS is the child's ``VmHWM`` (memory-mapped
store pages it touched included). The store is the benchmark suite's synthetic store of
that size (``benchmarks/conftest.py:synth_store``, built on first use under
``$KOLGRAPH_BENCH_DATA``). Writes ``fraud-review-<size>.json`` and ``.md`` with every
round and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._harness import _peak_rss_bytes, generator_digest
from benchmarks.data import REPO_ROOT, data_dir, resolve_size

SEED = 20_240_521
TARGET_SECONDS = 120.0
TARGET_RSS_GIB = 6.0


def store_path(size) -> Path:
    """The suite's synthetic store of ``size`` (built when missing)."""
    from kolgraph import synth

    path = data_dir() / f"synth-{size.name}-seed{SEED}-{generator_digest()}.kg"
    if not path.exists():
        synth.synth_store(path, accounts=size.accounts, creators=size.creators, edges=size.edges,
                          seed=SEED, overwrite=True)
    return path


def one_round(path: str) -> dict:
    """In this process: warm the JIT, open the store, time ``g.fraud()``."""
    import kolgraph
    from benchmarks.test_fraud import warm_jit

    warm_jit()
    g = kolgraph.open(path)
    load = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    rep = g.fraud()
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"seconds": seconds, "cpu_seconds": cpu, "load_before": load,
            "peak_rss_bytes": _peak_rss_bytes(), "edges": int(g.n_edges),
            "clusters": len(rep.clusters), "flagged": int(rep.flagged.sum()),
            "kinds": {k: int(v.sum()) for k, v in rep.kinds.items()},
            "timings": {k: round(v, 2) for k, v in rep.timings.items()},
            "skipped": rep.skipped}


def _child(path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.fraud_review", "--child", str(path)],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    if proc.returncode:
        raise RuntimeError(f"review child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(rounds: list[dict]) -> dict:
    med = {"seconds": statistics.median(r["seconds"] for r in rounds),
           "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rounds),
           "peak_rss_gib": statistics.median(r["peak_rss_bytes"] for r in rounds) / 2**30}
    for k in rounds[0]["timings"]:
        med[k] = statistics.median(r["timings"][k] for r in rounds)
    med["seconds_target_met"] = med["seconds"] <= TARGET_SECONDS
    med["rss_target_met"] = med["peak_rss_gib"] <= TARGET_RSS_GIB
    return med


def markdown(size, path: Path, rounds: list[dict], med: dict) -> str:
    stages = list(rounds[0]["timings"])
    lines = [f"# Whole fraud review, {size.describe()}", "",
             f"Store `{path.name}`, {rounds[0]['edges']:,} edges; {len(rounds)} round(s), "
             f"each in a fresh interpreter after a JIT warm-up; medians.", "",
             "Stage seconds overlap: lockstep and spikes run beside the dense blocks.",
             "The blocks_co_following_rho* columns are the co-following stage's two passes (and",
             "their seeded-block kernels): parts of blocks_co_following_seconds.",
             "CPU seconds: the process's user + system time during the review (2 cores); load: the",
             "machine's 1-minute load average when the round started (other work on the machine).", "",
             "| round | seconds | CPU s | load | peak RSS GiB | " + " | ".join(stages) + " |",
             "|---|---|---|---|---|" + "---|" * len(stages)]
    for i, r in enumerate(rounds):
        lines.append(f"| {i + 1} | {r['seconds']:.1f} | {r['cpu_seconds']:.0f} | {r['load_before']:.1f} | "
                     f"{r['peak_rss_bytes'] / 2**30:.2f} | "
                     + " | ".join(f"{r['timings'][k]:.1f}" for k in stages) + " |")
    lines.append(f"| median | {med['seconds']:.1f} | {med['cpu_seconds']:.0f} | | {med['peak_rss_gib']:.2f} | "
                 + " | ".join(f"{med[k]:.1f}" for k in stages) + " |")
    lines += ["", f"Target <= {TARGET_SECONDS:.0f} s: {'met' if med['seconds_target_met'] else 'MISSED'}; "
              f"peak RSS <= {TARGET_RSS_GIB:.0f} GiB: {'met' if med['rss_target_met'] else 'MISSED'}.",
              f"Clusters {rounds[0]['clusters']}, flagged accounts {rounds[0]['flagged']:,}; "
              f"by kind {rounds[0]['kinds']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fraud_review",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="large", help="small, medium or large (default large)")
    parser.add_argument("--store", type=Path, default=None, help="a store instead of the suite's")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-report")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(one_round(args.child)))
        return 0
    (size,) = resolve_size(args.size)
    path = args.store or store_path(size)
    rounds = []
    for i in range(args.rounds):
        rounds.append(_child(path))
        print(f"round {i + 1}: {rounds[-1]['seconds']:.1f} s ({rounds[-1]['cpu_seconds']:.0f} s CPU, "
              f"load {rounds[-1]['load_before']:.1f} before), "
              f"{rounds[-1]['peak_rss_bytes'] / 2**30:.2f} GiB, {rounds[-1]['timings']}", flush=True)
    med = summarise(rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"fraud-review-{size.name}"
    stem.with_suffix(".json").write_text(json.dumps(
        {"size": size.name, "store": str(path), "rounds": rounds, "median": med}, indent=2))
    stem.with_suffix(".md").write_text(markdown(size, path, rounds, med))
    print(markdown(size, path, rounds, med))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
