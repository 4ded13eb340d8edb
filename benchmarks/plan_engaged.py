"""Planner objectives ``engaged`` and ``loyal``: quality against the exact optimum, and speed.

    python -m benchmarks.plan_engaged [--instances 40] [--seed 1] [--rounds 5]

Quality: ``tests/data/interactions-hershey`` (drawn interactions on a real follow graph,
20 creators), lognormal prices, a budget of 15-50% of the total price, a random window
of 4-12 weeks and a random kind selection per instance. The engaged (loyal) sets come
from the plain-Python oracle (``tests/naive_interactions.py``) and the optimum from
``scipy.optimize.milp`` (``tests/plan_oracle.py``). Prints one markdown row per objective:
instances, worst / median / mean plan-to-optimum ratio, the share solved optimally, and the
worst certified ratio (value over the plan's own upper bound).

Speed: a synthetic store with planted interactions (``synth_store(accounts=20_000,
creators=300, edges=150_000, seed=1, interactions=True)``, the service tests' store), every
priced creator a candidate, a budget of a tenth of their total price; the whole
``g.plan`` call for ``unique``, ``engaged`` and ``loyal``, medians of ``--rounds`` after
one warm-up call (JIT compile kept out), with the ``prepare`` share (where the engaged
audiences are built).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
T0, DAY = 1_704_067_200, 86_400


def _events(path: Path) -> list:
    return [(int(r["account"]), int(r["creator"]), int(r["time"]), r["kind"], r["post"] or None,
             int(r["reply_to"]) if r["reply_to"] else None) for r in csv.DictReader(open(path))]


def quality(n: int, seed: int, tmp: Path) -> None:
    import naive_interactions as naive
    from plan_oracle import optimum

    from kolgraph.ingest import ingest

    folder = DATA / "interactions-hershey"
    g = ingest(DATA / "twitter-brand-follower-graphs" / "hersheycareers.json", tmp / "h.kg",
               interactions=folder / "interactions.csv", posts=folder / "posts.csv")
    events = _events(folder / "interactions.csv")
    creators = sorted({e[1] for e in events})
    followers = {c: set(g.followers(c)) for c in creators}
    rng = np.random.default_rng(seed)
    print("| objective | instances | worst | median | mean | optimal | worst certified |")
    print("|---|---|---|---|---|---|---|")
    for objective in ("engaged", "loyal"):
        ratios, certified = [], []
        for _ in range(n):
            price = np.round(rng.lognormal(3, 0.8, len(creators)), 2) + 1
            cost = dict(zip(creators, price.tolist(), strict=True))
            budget = float(price.sum() * rng.uniform(0.15, 0.5))
            start = int(rng.integers(0, 4))
            since, until = T0 + start * 7 * DAY, T0 + (start + int(rng.integers(4, 13))) * 7 * DAY
            kinds = [None, ["comment"], ["like", "share"]][int(rng.integers(0, 3))]
            p = g.plan(cost, budget=budget, objective=objective, since=since, until=until,
                       kinds=kinds, loyal_k=2)
            sets = []
            for c in creators:
                units = naive.engaged_units(events, c, since, until, kinds, "posts")
                sets.append(set(units) if objective == "engaged" else
                            naive.loyal_set(units, c, followers[c], None, 2, 30.0, until))
            chosen = [creators.index(c) for c in p.ids]
            assert p.value == len(set().union(*(sets[i] for i in chosen)))
            best = optimum(sets, price.tolist(), budget)
            ratios.append(p.value / best if best else 1.0)
            up = p.to_dict()["guarantee"]["upper_bound"]
            certified.append(p.value / up if up else 1.0)
        r = np.array(ratios)
        print(f"| {objective} | {n} | {r.min():.4f} | {np.median(r):.4f} | {r.mean():.4f} | "
              f"{np.mean(r > 1 - 1e-9):.0%} | {min(certified):.3f} |")


def speed(rounds: int, tmp: Path) -> None:
    import kolgraph
    from kolgraph.synth import synth_store

    g = kolgraph.open(synth_store(tmp / "alpha.kg", accounts=20_000, creators=300,
                                  edges=150_000, seed=1, interactions=True))
    c = g.creators
    prices = {i: float(p) for i, p in zip(c.column("id").to_pylist(),
                                          c.column("price").to_pylist(), strict=True)
              if p and p > 0}
    budget = sum(prices.values()) / 10
    print(f"\n{len(prices)} candidates, {g.interactions.n_events:,} events, budget {budget:,.0f}")
    print("| objective | whole call (median) | prepare | creators | value | follower reach |")
    print("|---|---|---|---|---|---|")
    for objective in ("unique", "engaged", "loyal"):
        g.plan(prices, budget=budget, objective=objective)  # JIT compile out of the timings
        times, prep = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            p = g.plan(prices, budget=budget, objective=objective)
            times.append(time.perf_counter() - t0)
            prep.append(p.seconds["prepare"])
        d = p.to_dict()
        print(f"| {objective} | {statistics.median(times) * 1e3:.1f} ms | "
              f"{statistics.median(prep) * 1e3:.1f} ms | {len(p.ids)} | {p.value:,.0f} | "
              f"{d['measures']['follower_reach']:,} |")
    print(f"load average {os.getloadavg()[0]:.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", type=int, default=40, help="quality instances per objective")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5, help="timed calls per objective")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    with tempfile.TemporaryDirectory() as d:
        quality(args.instances, args.seed, Path(d))
        speed(args.rounds, Path(d))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
