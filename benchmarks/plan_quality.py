"""Planner quality: plans against the exact optimum on many small instances.

    python -m benchmarks.plan_quality [--random 150] [--real 20] [--seed 1]

Instances: random follower graphs (8-20 candidates) and the real graphs of
``tests/data`` (wiki-Vote, email-Eu-core: 25 candidates drawn from the 120
accounts with most followers), lognormal prices, a budget of 15-50% of the total
price. The optimum comes from ``scipy.optimize.milp`` (a variable per Venn region;
reach, target reach, R_3, tier quotas) or brute force (expected reach, at most 12
candidates). Effective reach R_3 is shown twice: the heuristic alone (``exact=False``:
greedy on each surrogate Σ min(frequency, j), best single creator, swap local search)
and the default, which solves instances of at most 30 candidates with the planner's
own MILP (so its ratio checks that MILP against the independent oracle here). Prints one markdown row per objective: instances, worst / median /
mean plan-to-optimum ratio, the share solved optimally, the proven bound, and the
worst certified ratio (value over the plan's own upper bound on the optimum).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--random", type=int, default=150, help="random instances per objective")
    ap.add_argument("--real", type=int, default=20, help="instances per real graph")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from plan_oracle import audiences, instance, optimum, quality_cases, random_graph

    from kolgraph import InputError
    from kolgraph.plan import ENUMERATE_BOUND, GREEDY_BOUND, plan

    rng = np.random.default_rng(args.seed)
    rows: dict[str, dict] = {}

    def record(name, value, opt, bound, certified):
        r = rows.setdefault(name, {"ratios": [], "certified": [], "bound": bound})
        r["ratios"].append(1.0 if opt == 0 else value / opt)
        if certified is not None:
            r["certified"].append(certified)

    for _name, g, prices in quality_cases(rng, n_random=args.random, n_real=args.real):
        ids = list(prices)
        cost = np.array(list(prices.values()))
        budget = max(float(rng.uniform(0.15, 0.5) * cost.sum()), cost.min())
        sets = audiences(g, ids)
        p = plan(g, prices, budget=budget)
        record("unique (greedy)", p.value, optimum(sets, cost, budget), GREEDY_BOUND,
               p.guarantee["certified_ratio"])
        opt_e = optimum(sets, cost, budget, "effective", k=3)
        e = plan(g, prices, budget=budget, objective="effective3", exact=False)
        record("effective3 (surrogate greedies + swap local search, no MILP)", e.value, opt_e,
               None, e.guarantee["certified_ratio"])
        x = plan(g, prices, budget=budget, objective="effective3")
        record("effective3 (default: exact MILP up to 30 candidates)", x.value, opt_e, None,
               x.guarantee["certified_ratio"])
        tiers = rng.choice(["nano", "micro", "mid"], len(ids)).tolist()
        quota = {"micro": (1, len(ids)), "mid": (0, 2)}
        cand = pa.table({"id": ids, "price": cost, "tier": tiers})
        opt = optimum(sets, cost, budget, tiers=tiers, quota=quota)
        if opt is not None:
            try:
                q = plan(g, cand, budget=budget, tier_quota=["micro:>=1", "mid:<=2"])
                record("unique, tier quotas micro>=1, mid<=2", q.value, opt, None,
                       q.guarantee["certified_ratio"])
            except InputError as exc:  # a feasible request the planner missed is counted
                rows.setdefault("quota requests the planner could not meet",
                                {"ratios": [], "certified": [], "bound": None})["ratios"].append(0.0)
                print(f"planner failed a feasible quota request: {exc}", file=sys.stderr)
        if g.accounts is not None and "country" in g.accounts.column_names:
            ctry = g.accounts.column("country").to_pylist()
            allowed = {x for x, c in zip(g.external(np.arange(g.n_accounts)), ctry, strict=True)
                       if c == "NL"}
            t = plan(g, prices, budget=budget, objective="target", where="country == 'NL'")
            record("target (country == 'NL')", t.value,
                   optimum(audiences(g, ids, allowed), cost, budget), GREEDY_BOUND,
                   t.guarantee["certified_ratio"])
    for _ in range(args.random // 3):
        g = random_graph(rng, n_accounts=int(rng.integers(80, 300)), n_creators=12,
                         m=int(rng.integers(600, 2000)))
        prices = instance(rng, g, 12)
        cost = np.array(list(prices.values()))
        budget = float(rng.uniform(0.15, 0.5) * cost.sum())
        rates = rng.uniform(0.05, 0.6, 12)
        sets = audiences(g, list(prices))
        p = plan(g, pa.table({"id": list(prices), "price": cost, "view_rate": rates}),
                 budget=budget, objective="expected")
        record("expected (greedy)", p.value, optimum(sets, cost, budget, "expected", p=rates),
               GREEDY_BOUND, p.guarantee["certified_ratio"])
        en = plan(g, prices, budget=budget, method="enumerate")
        record("unique (partial enumeration)", en.value, optimum(sets, cost, budget),
               ENUMERATE_BOUND, en.guarantee["certified_ratio"])

    print("| objective | instances | worst | median | mean | optimal | proven bound | "
          "worst certified |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        x = np.array(r["ratios"])
        bound = f"{r['bound']:.3f}" if r["bound"] else "none"
        cert = f"{min(r['certified']):.3f}" if r["certified"] else "—"
        print(f"| {name} | {len(x)} | {x.min():.4f} | {np.median(x):.4f} | {x.mean():.4f} | "
              f"{np.mean(x > 1 - 1e-9):.0%} | {bound} | {cert} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
