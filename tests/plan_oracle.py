"""Slow, obviously-correct references for the planner (Python sets, scipy.optimize.milp,
brute force), shared by ``test_plan.py`` and ``benchmarks/plan_quality.py``."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from kolgraph import FollowerGraph


# --- instances -------------------------------------------------------------------------------
def random_graph(rng, n_accounts=200, n_creators=12, m=1500):
    """Follows onto creators 0..n_creators-1 (skewed sizes) plus follower-to-follower edges;
    accounts have a country and a 'flagged' column."""
    w = rng.pareto(1.0, n_creators) + 0.1
    dst = rng.choice(n_creators, m, p=w / w.sum())
    src = rng.integers(n_creators, n_creators + n_accounts, m)
    extra = rng.integers(0, n_creators + n_accounts, (m // 5, 2))
    g = FollowerGraph.from_edges(np.concatenate([src, extra[:, 0]]).tolist(),
                                 np.concatenate([dst, extra[:, 1]]).tolist(),
                                 nodes=list(range(n_creators + n_accounts)))
    n = g.n_accounts
    g.set_accounts(pa.table({"id": list(range(n)),
                             "country": rng.choice(["NL", "DE", "FR"], n).tolist(),
                             "flagged": (rng.random(n) < 0.15).tolist()}))
    return g


def audiences(g, ids, allowed=None):
    """Python sets: the counted followers of each candidate."""
    out = []
    for c in ids:
        f = set(g.followers(c))
        if allowed is not None:
            f = {u for u in f if u in allowed}
        out.append(f)
    return out


def value_of(sets, chosen, kind, k=3, p=None):
    """Objective value of a subset (positions), from Python sets."""
    if kind == "unique":
        return float(len(set().union(*[sets[i] for i in chosen]))) if chosen else 0.0
    freq: dict = {}
    for i in chosen:
        for u in sets[i]:
            freq.setdefault(u, []).append(i)
    if kind == "effective":
        return float(sum(1 for v in freq.values() if len(v) >= k))
    return float(sum(1 - math.prod(1 - p[i] for i in v) for v in freq.values()))


def regions(sets):
    """{membership mask: followers} over the candidates."""
    mask: dict = {}
    for i, s in enumerate(sets):
        for u in s:
            mask[u] = mask.get(u, 0) | (1 << i)
    out: dict = {}
    for v in mask.values():
        out[v] = out.get(v, 0) + 1
    return out


def optimum(sets, cost, budget, kind="unique", k=3, p=None, tiers=None, quota=None,
            max_creators=None):
    """Exact optimum: scipy.optimize.milp for reach and R_k (a variable per Venn region),
    brute force for expected reach."""
    m = len(sets)
    if kind == "expected":
        best = 0.0
        for r in range(m + 1):
            for sub in itertools.combinations(range(m), r):
                if sum(cost[i] for i in sub) <= budget + 1e-9:
                    best = max(best, value_of(sets, sub, kind, k, p))
        return best
    from scipy.optimize import Bounds, LinearConstraint, milp

    reg = regions(sets)
    masks = list(reg)
    R = len(masks)
    c = np.concatenate([np.zeros(m), -np.array([reg[x] for x in masks], float)])
    rows, lo, hi = [], [], []
    for r, x in enumerate(masks):  # need * y_r <= Σ_{c in r} x_c
        row = np.zeros(m + R)
        row[m + r] = k if kind == "effective" else 1
        for i in range(m):
            if x >> i & 1:
                row[i] = -1
        rows.append(row)
        lo.append(-np.inf)
        hi.append(0)
    row = np.zeros(m + R)
    row[:m] = cost
    rows.append(row)
    lo.append(-np.inf)
    hi.append(budget)
    if max_creators is not None:
        row = np.zeros(m + R)
        row[:m] = 1
        rows.append(row)
        lo.append(-np.inf)
        hi.append(max_creators)
    for t, (tmin, tmax) in (quota or {}).items():
        row = np.zeros(m + R)
        row[:m] = [1.0 if tiers[i] == t else 0.0 for i in range(m)]
        rows.append(row)
        lo.append(tmin)
        hi.append(tmax)
    integrality = np.concatenate([np.ones(m), np.ones(R) if kind == "effective" else np.zeros(R)])
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=integrality,
               bounds=Bounds(0, 1), options={"mip_rel_gap": 1e-9})
    if res.status == 2:
        return None  # infeasible
    assert res.success, res.message
    return -res.fun


def instance(rng, g, n_cand, ids=None):
    ids = list(range(n_cand)) if ids is None else ids
    price = np.round(rng.lognormal(3, 0.8, len(ids)), 2) + 1
    return {c: float(v) for c, v in zip(ids, price, strict=True)}


DATA = Path(__file__).parent / "data"


def quality_cases(rng, n_random=30, n_real=5, n_candidates=25):
    """Random graphs (8-20 candidates) and real graphs from tests/data (the 120 accounts
    with most followers, ``n_candidates`` drawn at random), lognormal prices."""
    for i in range(n_random):
        g = random_graph(rng, n_accounts=int(rng.integers(80, 400)), n_creators=20,
                         m=int(rng.integers(600, 3000)))
        m = int(rng.integers(8, 21))
        yield f"random-{i}", g, instance(rng, g, m)
    from kolgraph.ingest import read_graph

    for name, path in (("wiki-Vote", "wiki-Vote/wiki-Vote.txt"),
                       ("email-Eu-core", "email-Eu-core/email-Eu-core.txt")):
        g = read_graph(DATA / path)
        top = np.argsort(-g.in_degree, kind="stable")[:120]
        for j in range(n_real):
            ids = g.external(rng.choice(top, n_candidates, replace=False))
            yield f"{name}-{j}", g, instance(rng, g, n_candidates, ids)
