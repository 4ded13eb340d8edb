"""Out-of-core ingest (issue 18) against pyarrow reading the same Parquet file, and the
in-memory ingest, in the same run: medians of ``--rounds`` rounds after a warm-up (JIT
compile kept out). Peak memory: run the CLI under ``/usr/bin/time -v``.

Run: ``python -m benchmarks.ingest_outofcore EDGES.parquet [--memory 1G] [--rounds 3]``
(make one with ``kolgraph export STORE --out EDGES.parquet``). Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq


def main(argv=None) -> int:
    from kolgraph.cli._flags import parse_size
    from kolgraph.ingest import ingest

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("edges", help="a Parquet edge list (follower, followee[, followed_at])")
    ap.add_argument("--memory", default="1G", help="the out-of-core budget (default 1G)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--time-col", default=None, help="the followed_at column, if any")
    args = ap.parse_args(argv)
    memory = parse_size(args.memory, "--memory")
    opts = {"time_col": args.time_col} if args.time_col else {}
    times: dict[str, list[float]] = {"pyarrow_read": [], "out_of_core": [], "in_memory": []}
    with tempfile.TemporaryDirectory(prefix="kolgraph-ooc-", dir=Path(args.edges).parent) as tmp:
        out = Path(tmp) / "g.kg"
        g = ingest(args.edges, out, memory=memory, overwrite=True, **opts)  # warm-up
        for _ in range(args.rounds):
            t = time.perf_counter()
            pq.read_table(args.edges)
            times["pyarrow_read"].append(time.perf_counter() - t)
            t = time.perf_counter()
            g = ingest(args.edges, out, memory=memory, overwrite=True, **opts)
            times["out_of_core"].append(time.perf_counter() - t)
            t = time.perf_counter()
            ingest(args.edges, out, overwrite=True, **opts)
            times["in_memory"].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"edges": g.report["input_edges"], "memory": memory,
                      "passes": g.report["out_of_core"],
                      **{f"{k}_s": round(v, 3) for k, v in med.items()},
                      "out_of_core_vs_pyarrow": round(med["out_of_core"] / med["pyarrow_read"], 2),
                      "in_memory_vs_pyarrow": round(med["in_memory"] / med["pyarrow_read"], 2)},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
