"""Run the benchmark suite and write a shareable report.

    python -m benchmarks.run --size small|medium|large [--out bench-report] [-k EXPR]

Runs pytest on ``benchmarks/`` with ``--benchmark-json``, then writes into the
out directory: ``report.md`` (machine, per-group tables of medians, IQR, rounds
and ratios to every peer, targets with PASS/MISS), ``report.json``,
``group-*.png`` plots and the raw ``pytest-benchmark.json``. Exits with pytest's
exit code when pytest fails (and 1 on a missed target with ``--strict-targets``).
Arguments after ``--`` go to pytest unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from benchmarks.data import REPO_ROOT, SIZE_ENV, resolve_size
from benchmarks.report import fmt_measured, fmt_target, write_report


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    original = list(argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=os.environ.get(SIZE_ENV, "small"),
                        help="small (~200k edges, CI smoke), medium (10M), large (100M); "
                             "comma-separated for several (default $KOLGRAPH_BENCH_SIZE or small)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-report",
                        help="report directory (default: bench-report/ in the repo root)")
    parser.add_argument("-k", dest="keyword", default=None,
                        help="only benchmarks matching this pytest -k expression")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds for every workload (default: by size and workload speed)")
    parser.add_argument("--no-rss", action="store_true",
                        help="skip the peak-RSS child runs (faster, no memory column)")
    parser.add_argument("--strict-targets", action="store_true",
                        help="exit 1 when a declared target is missed")
    args = parser.parse_args(argv)
    try:
        sizes = resolve_size(args.size)
    except ValueError as exc:
        parser.error(str(exc))

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    raw_path, skips_path = out / "pytest-benchmark.json", out / "skipped.json"
    for stale in (raw_path, skips_path):
        stale.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider",
           f"--size={','.join(s.name for s in sizes)}", f"--benchmark-json={raw_path}",
           f"--bench-skips={skips_path}", "--benchmark-columns=median,iqr,min,max,rounds",
           "--benchmark-sort=name"]
    if args.keyword:
        cmd += ["-k", args.keyword]
    if args.rounds:
        cmd.append(f"--bench-rounds={args.rounds}")
    if args.no_rss:
        cmd.append("--bench-no-rss")
    cmd += passthrough
    print("+", shlex.join(cmd), flush=True)
    load_before = os.getloadavg()
    rc = subprocess.run(cmd, cwd=REPO_ROOT).returncode
    load_after = os.getloadavg()

    if not raw_path.is_file():
        print(f"benchmarks.run: pytest wrote no benchmark JSON (exit code {rc}); no report",
              file=sys.stderr)
        return rc or 1
    raw = json.loads(raw_path.read_text())
    skipped = json.loads(skips_path.read_text()) if skips_path.is_file() else []
    command = "python -m benchmarks.run " + shlex.join(original)
    report = write_report(raw, out, command=command,
                          size_description="; ".join(s.describe() for s in sizes),
                          pytest_exit_code=rc, skipped=skipped,
                          load_average={"before": load_before, "after": load_after})
    print(f"\nreport: {out / 'report.md'}")
    for t in report["targets"]:
        why = f" ({t['why']})" if t["result"] == "n/a" else ""
        print(f"  {t['result']:4s}  {t['workload']}: {fmt_target(t)}; measured {fmt_measured(t)}{why}")
    if rc != 0:
        print(f"benchmarks.run: pytest failed (exit code {rc})", file=sys.stderr)
        return rc
    if args.strict_targets and any(t["result"] == "MISS" for t in report["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
