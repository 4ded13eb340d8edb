"""Shared benchmark machinery: workloads, timing with pytest-benchmark, peak RSS in a child.

A :class:`Workload` is one thing a user can run on the benchmark data: kolgraph's
code or a peer's. :func:`measure` times it with ``benchmark.pedantic`` (one untimed
warm-up call first, explicit rounds, results dropped outside the timed region)
and fills ``benchmark.extra_info`` with what the report needs: the group, the
workload name (``peer``), its role, the declared targets, a result summary and
the peak resident memory of one run in a fresh child process.

Peak RSS is measured in a child (``python -m benchmarks._harness rss ...``) so it
is the workload's own peak, not that of a pytest process that has already held
other workloads' data.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchmarks.data import REPO_ROOT

# Skips are collected here and written to --bench-skips, so the report can list them.
SKIPPED: list[dict] = []


@dataclass(frozen=True)
class Workload:
    """One timed workload.

    Parameters
    ----------
    name : the name shown in reports and used by other workloads' targets (``"pandas+networkx"``)
    role : ``"kolgraph"`` for our code, ``"peer"`` for what a user would otherwise run
    code : one line saying exactly what is timed
    run : ``run(data_path, scratch_dir) -> object``; the object is dropped outside the timing
    summarize : ``summarize(object) -> dict`` of small JSON facts (sizes, phase timings), untimed
    slow : a slow pure-Python peer: fewer rounds, no warm-up at medium size and above
    max_edges : skip (with ``skip_reason``) when the input has more edges than this
    targets : e.g. ``[{"peer": "pandas+networkx", "min_speedup": 20},
        {"peer": "pyarrow.read_csv", "max_slowdown": 4}]``: ratios against another
        workload of the same group, checked by the report (PASS/MISS)
    setup : called before every round, untimed (e.g. remove the previous output)
    jit_warm : ``python`` callable name ``module:function`` the RSS child calls first, so
        JIT compilation is not the measured peak
    rss : measure peak RSS in a child process
    """

    name: str
    role: str
    code: str
    run: Callable[[Path, Path], Any]
    summarize: Callable[[Any], dict] = lambda obj: {}
    slow: bool = False
    max_edges: int | None = None
    skip_reason: str = ""
    targets: list[dict] = field(default_factory=list)
    setup: Callable[[Path], None] | None = None
    jit_warm: str | None = None
    rss: bool = True

    @property
    def id(self) -> str:
        return self.name


ROUNDS = {  # (fast, slow) rounds per size
    "small": (7, 3),
    "medium": (5, 3),
    "large": (3, 1),
}


def rounds_for(workload: Workload, size_name: str, override: int | None) -> int:
    if override:
        return override
    fast, slow = ROUNDS[size_name]
    return slow if workload.slow else fast


def skip_workload(group: str, workload: Workload, reason: str) -> None:
    """Skip a workload and remember why, so the report lists it beside the measured ones."""
    SKIPPED.append({"group": group, "peer": workload.name, "role": workload.role, "reason": reason})
    pytest.skip(reason)


def measure(benchmark, request, *, group: str, workload: Workload, module: str, data_path: Path,
            scratch: Path, size, edges: int, extra: dict | None = None) -> dict:
    """Time ``workload`` on ``data_path`` with pytest-benchmark and fill ``extra_info``.

    Returns the extra_info dict.
    """
    config = request.config
    if workload.max_edges is not None and edges > workload.max_edges:
        skip_workload(group, workload, workload.skip_reason or
                      f"{workload.name} is skipped above {workload.max_edges:,} edges")
    benchmark.group = group
    info = benchmark.extra_info
    info.update(group=group, peer=workload.name, role=workload.role, code=workload.code,
                size=size.name, edges=edges, targets=list(workload.targets),
                data=data_path.name, data_bytes=data_path.stat().st_size, **(extra or {}))
    scratch.mkdir(parents=True, exist_ok=True)
    n_rounds = rounds_for(workload, size.name, config.getoption("--bench-rounds"))
    warm = not (workload.slow and size.name != "small")
    info["rounds_requested"] = n_rounds
    info["warmup"] = warm

    holder: dict[str, Any] = {}
    summaries: list[dict] = []

    def setup():
        holder.clear()
        if workload.setup is not None:
            workload.setup(scratch)

    def target():
        holder["result"] = workload.run(data_path, scratch)

    def teardown():  # untimed: summarise, then free the result outside the timing
        summaries.append(workload.summarize(holder.pop("result")))

    if warm:  # one untimed call: numba JIT compiles (or loads its cache) here, not in round 1
        setup()
        target()
        teardown()
        summaries.clear()
    benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=n_rounds, iterations=1,
                       warmup_rounds=0)
    info["summary"] = summaries[-1] if summaries else {}
    phases = {k for s in summaries for k, v in s.items() if k.endswith("_seconds")
              and isinstance(v, int | float)}
    if phases:  # median of each phase over the timed rounds (kolgraph's own report)
        info["phases"] = {k: statistics.median(s[k] for s in summaries if k in s) for k in sorted(phases)}
    if workload.rss and not config.getoption("--bench-no-rss"):
        info.update(peak_rss(module, workload, data_path, scratch))
    return info


def peak_rss(module: str, workload: Workload, data_path: Path, scratch: Path) -> dict:
    """Run ``workload`` once in a fresh interpreter; its peak RSS and the baseline after imports."""
    if workload.setup is not None:
        workload.setup(scratch)
    cmd = [sys.executable, "-m", "benchmarks._harness", "rss", module, workload.name,
           str(data_path), str(scratch)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": _pythonpath()})
    if proc.returncode != 0:
        raise RuntimeError(f"peak-RSS child for {workload.name} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"peak_rss_bytes": got["peak_rss_bytes"], "rss_baseline_bytes": got["baseline_rss_bytes"],
            "rss_run_seconds": got["seconds"]}


def _pythonpath() -> str:
    old = os.environ.get("PYTHONPATH")
    return str(REPO_ROOT) + (os.pathsep + old if old else "")


def _proc_status_bytes(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def _current_rss_bytes() -> int:
    return _proc_status_bytes("VmRSS") or 0


def _peak_rss_bytes() -> int:
    """This process's peak RSS since exec.

    Linux: ``VmHWM``. Not ``getrusage(...).ru_maxrss``: that survives fork + exec,
    so a child of a large pytest process would report the parent's size.
    """
    hwm = _proc_status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def _rss_child(module: str, name: str, data_path: str, scratch: str) -> dict:
    mod = importlib.import_module(module)
    workload = {w.name: w for w in mod.WORKLOADS}[name]
    if workload.jit_warm:
        wmod, wfun = workload.jit_warm.split(":")
        getattr(importlib.import_module(wmod), wfun)()
    baseline = _current_rss_bytes()
    t0 = time.perf_counter()
    result = workload.run(Path(data_path), Path(scratch))
    seconds = time.perf_counter() - t0
    summary = workload.summarize(result)
    return {"peak_rss_bytes": _peak_rss_bytes(), "baseline_rss_bytes": baseline,
            "seconds": round(seconds, 3), "summary": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._harness")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rss = sub.add_parser("rss", help="run one workload once and print its peak RSS as JSON")
    rss.add_argument("module")
    rss.add_argument("workload")
    rss.add_argument("data")
    rss.add_argument("scratch")
    args = parser.parse_args(argv)
    out = _rss_child(args.module, args.workload, args.data, args.scratch)
    print(json.dumps(out, default=str))
    return 0


def generator_digest() -> str:
    """A hash of every source file the synthetic generator runs (its module, its table
    builders and its kernels)."""
    from kolgraph.kernels import _rng, synth_strings
    from kolgraph.kernels import synth as k_synth

    from kolgraph import synth, synth_tables

    h = hashlib.sha256()
    for mod in (synth, synth_tables, k_synth, synth_strings, _rng):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:10]

if __name__ == "__main__":
    raise SystemExit(main())

