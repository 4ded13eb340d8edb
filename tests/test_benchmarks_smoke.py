"""The benchmark suite runs end to end and its report pairs kolgraph with every peer.

Runs ``python -m benchmarks.run --size small`` (two rounds, data cached in a
temporary directory) and reads the report back; plus fast checks of the ratio
and target arithmetic on a hand-made pytest-benchmark JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RATIO = re.compile(r"^(\d+(?:\.\d+)?(?:e[+-]?\d+)?)× (faster|slower)$")
INGEST_WORKLOADS = {"kolgraph.read_graph", "kolgraph.ingest", "pyarrow.read_csv",
                    "pandas+igraph", "pandas+networkx"}


def _tables(md: str) -> list[list[list[str]]]:
    """Markdown tables whose header starts with ``workload``, as rows of cells."""
    tables, current = [], None
    for line in md.splitlines():
        if line.startswith("| workload |"):
            current = [[c.strip() for c in line.strip("|").split("|")]]
            tables.append(current)
        elif current is not None and line.startswith("|"):
            if not line.startswith("|---"):
                current.append([c.strip() for c in line.strip("|").split("|")])
        else:
            current = None
    return tables


@pytest.mark.slow
def test_benchmark_run_small_writes_a_paired_report(tmp_path):
    out = tmp_path / "report"
    env = {**os.environ, "KOLGRAPH_BENCH_DATA": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--size", "small", "--out",
                           str(out), "--rounds", "2"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("report.md", "report.json", "pytest-benchmark.json",
                 "group-ingest-csv-200k-edges.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name

    md = (out / "report.md").read_text()
    for needle in ("## Machine", "| CPU |", "| RAM |", "numba", "pyarrow", "networkx", "igraph"):
        assert needle in md, needle
    assert "## fraud-peel-200k-edges" in md and "vs rgmining-fraudar" in md  # Fraudar vs reference
    assert "## fraud-planted-wiki-Vote" in md
    assert "## botscore-200k-edges" in md and "vs pandas row-apply" in md  # profile bot score
    tables = _tables(md)  # one per group: ingest, reach-top20, similar-top10, ...
    ingest = [t for t in tables if {r[0].strip("*") for r in t[1:]} & INGEST_WORKLOADS]
    assert len(ingest) == 1, md
    header, rows = ingest[0][0], ingest[0][1:]
    peers = [h.removeprefix("vs ") for h in header if h.startswith("vs ")]
    assert set(peers) == {"pyarrow.read_csv", "pandas+igraph", "pandas+networkx"}
    listed = {r[0].strip("*") for r in rows}
    assert listed == INGEST_WORKLOADS
    for row in rows:
        name = row[0].strip("*")
        for peer, cell in zip(peers, row[len(header) - len(peers):], strict=True):
            if peer == name:
                assert cell == "—"
            else:
                assert RATIO.match(cell), (name, peer, cell)
        assert re.match(r"^\d", row[2]), row  # a median time
        assert re.match(r"^\d.* (KiB|MiB|GiB)$", row[6]), row  # peak RSS measured

    report = json.loads((out / "report.json").read_text())
    for extra_group in ("sketch-build-200k-edges", "dask-reach-top20-200k-edges"):
        assert len(report["groups"][extra_group]["workloads"]) == 3, extra_group
    service = report["groups"]["service-reach-200k-edges"]  # the service load test (issue 8)
    assert {w["name"] for w in service["workloads"]} == {
        "library, sequential", "library, 16 threads", "service, 1 client", "service, 16 clients"}
    group = report["groups"]["ingest-csv-200k-edges"]
    by_name = {w["name"]: w for w in group["workloads"]}
    kg = by_name["kolgraph.read_graph"]
    for peer in peers:  # the ratio is the peers' median over ours, from the same run
        assert kg["speedup_vs"][peer] == pytest.approx(by_name[peer]["median_s"] / kg["median_s"])
    assert {"read_seconds", "build_seconds"} <= set(kg["phases"])
    assert {(t["peer"], t["kind"]) for t in report["targets"]
            if t["group"] == "ingest-csv-200k-edges"} == {
        ("pandas+networkx", "min_speedup"), ("pyarrow.read_csv", "max_slowdown")}
    for t in report["targets"]:
        assert t["result"] in ("PASS", "MISS") and t["measured"] > 0, t
        assert f"**{t['result']}**" in md
    plan = [g for g in report["groups"] if g.startswith("plan-")]  # the planner's group
    assert len(plan) == 1, list(report["groups"])
    assert {w["name"] for w in report["groups"][plan[0]]["workloads"]} >= {
        "kolgraph.plan", "kolgraph plain greedy", "pyroaring lazy greedy"}
    propagation = {"ic-simulations-200k-edges": {"kolgraph.spread 1 thread", "kolgraph.spread 2 threads",
                                                 "cynetdiff"},
                   "ic-simulations-ndlib-200k-edges": {"kolgraph.spread (ndlib-sized)", "ndlib"},
                   "seeds-wc-k10-200k-edges": {"kolgraph.seeds", "kolgraph.seeds 1 thread",
                                               "kolgraph.seeds OPIM-C", "pynetim IMM",
                                               "pynetim OPIM-C"}}
    for tag, group in (("k=50", "seeds-wc-k50-200k-edges"), ("eps=0.1", "seeds-wc-k10-eps0.1-200k-edges")):
        propagation[group] = {f"{w} [{tag}]" for w in propagation["seeds-wc-k10-200k-edges"]}
    for name, workloads in propagation.items():
        measured = {w["name"] for w in report["groups"][name]["workloads"]}
        assert measured == workloads, (name, measured)
    seeds = {w["name"]: w for w in report["groups"]["seeds-wc-k10-200k-edges"]["workloads"]}
    assert all(w["summary"]["spread"] >= 10 for w in seeds.values())  # same simulator for all


def _bench(name, group, role, median, targets=(), peer=None):
    return {"name": f"test[{name}]", "fullname": f"test[{name}]", "group": group,
            "stats": {"median": median, "iqr": 0.1 * median, "q1": 0.95 * median,
                      "q3": 1.05 * median, "min": 0.9 * median, "max": 1.1 * median,
                      "mean": median, "stddev": 0.0, "rounds": 3},
            "extra_info": {"group": group, "peer": peer or name, "role": role,
                           "targets": list(targets), "edges": 1000, "code": name}}


def test_report_ratios_and_targets(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a repo folder, not installed
    from benchmarks.report import analyse, fmt_ratio, write_report

    raw = {"benchmarks": [
        _bench("ours", "g", "kolgraph", 2.0, targets=[
            {"peer": "slow", "min_speedup": 20}, {"peer": "floor", "max_slowdown": 4},
            {"peer": "gone", "min_speedup": 2}]),
        _bench("slow", "g", "peer", 30.0),
        _bench("floor", "g", "peer", 0.4),
    ]}
    skipped = [{"group": "g", "peer": "gone", "role": "peer", "reason": "too big"}]
    got = analyse(raw, skipped)
    ours = next(w for w in got["groups"]["g"]["workloads"] if w["name"] == "ours")
    assert ours["speedup_vs"] == {"slow": 15.0, "floor": 0.2}
    res = {t["peer"]: t for t in got["targets"]}
    assert res["slow"]["result"] == "MISS" and res["slow"]["measured"] == 15.0
    assert res["floor"]["result"] == "MISS" and res["floor"]["measured"] == 5.0
    assert res["gone"]["result"] == "n/a" and "too big" in res["gone"]["why"]
    assert fmt_ratio(15.0) == "15× faster" and fmt_ratio(0.2) == "5× slower"

    raw["benchmarks"][1]["stats"]["median"] = 50.0  # now 25x faster than "slow": PASS
    report = write_report(raw, tmp_path, command="test", size_description="toy",
                          pytest_exit_code=0, skipped=skipped)
    assert {t["peer"]: t["result"] for t in report["targets"]}["slow"] == "PASS"
    md = (tmp_path / "report.md").read_text()
    assert "| gone | peer | skipped |" in md and "too big" in md
    assert (tmp_path / "group-g.png").stat().st_size > 0


# --- planted-farm benchmark (benchmarks/fraud_farms.py) -----------------------------------------
def test_fraud_farms_harness_end_to_end(tmp_path, monkeypatch):
    """One development graph (email-Eu-core, from tests/data), one shape, one farm setting."""
    from benchmarks import fraud_farms as ff

    monkeypatch.setenv(ff.SHARED_ENV, str(tmp_path / "no-shared-data"))
    out = tmp_path / "out"
    assert ff.main(["--graphs", "email-Eu-core", "--shapes", "followee", "--settings", "small",
                    "--out", str(out)]) == 0
    md = (out / "fraud-farms-email-Eu-core.md").read_text()
    data = json.loads((out / "fraud-farms-email-Eu-core.json").read_text())
    assert md.startswith("| graph | shape | setting | fakes | customers | kolgraph followers")
    assert "| email-Eu-core | followee | small |" in md and "share of accounts |" in md
    (c,) = data["cells"]
    (z,) = data["clean"]
    assert c["fakes"] > 0 and c["customers"] > 0 and c["rows"] < c["columns"]
    for tool in ("kolgraph", "fraudar"):
        if tool in c:
            for part in ("followers", "creators"):
                for k in ("precision", "recall", "f1"):
                    assert 0.0 <= c[tool][part][k] <= 1.0
    assert 0.0 <= z["flag_rate"] <= 1.0


def test_fraud_farms_refuses_validation_graphs_without_the_flag(tmp_path):
    from benchmarks import fraud_farms as ff

    assert set(ff.DEVELOPMENT).isdisjoint(ff.VALIDATION)
    with pytest.raises(PermissionError, match="validation"):
        ff.run(["email-Eu-core", "ego-twitter"], roots=[ROOT / "tests" / "data"])
    with pytest.raises(SystemExit):
        ff.main(["--graphs", "validation", "--out", str(tmp_path)])


def test_fraud_farms_crawl_shapes():
    from benchmarks import fraud_farms as ff

    src, dst = ff.load_graph("email-Eu-core", [ROOT / "tests" / "data"])
    p = ff.plant_farms(src, dst, ff.SETTINGS["issue"], farms=2, seed=1)
    s, d = ff.derive("followee", p.src, p.dst, p.customer_ids, 2)
    assert len(np.unique(s)) < 0.35 * len(np.unique(p.src))  # a sample of the following accounts
    rows = np.unique(s)
    assert np.array_equal(np.sort(p.dst[np.isin(p.src, rows)]), np.sort(d))  # all their follows
    s, d = ff.derive("follower", p.src, p.dst, p.customer_ids, 2)
    cols = np.unique(d)
    assert np.isin(p.customer_ids, cols).all() and len(cols) <= ff.CANDIDATES + len(p.customer_ids)
    assert np.isin(p.fake_ids, s).all() and len(np.unique(s)) > 2 * len(cols)
