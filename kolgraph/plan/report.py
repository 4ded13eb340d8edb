"""The result: :class:`Plan`, and what the report adds to the solver's plan: the replay
(per-step gains, exact Shapley values of reach and R_k), the guarantee, Shapley values,
the naive plan, the Sainsbury estimate, the chosen rows, the curve and the tier table."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from kolgraph import _parallel
from kolgraph._parallel import Job
from kolgraph.kernels import plan as _k
from kolgraph.plan.candidates import _Candidates, _fill_view_rates
from kolgraph.plan.greedy import _upper_bound
from kolgraph.plan.instance import _Instance, _Problem, _State, _value
from kolgraph.plan.options import EXACT_MAX
from kolgraph.tiers import TIER_NAMES

GREEDY_BOUND = 0.5 * (1.0 - 1.0 / math.e)
ENUMERATE_BOUND = 1.0 - 1.0 / math.e


@dataclass
class Plan:
    """A creator plan; :meth:`to_dict` gives the stable JSON form (README, "Planner")."""

    objective: str
    k: int
    budget: float
    method: str
    chosen: list  # rows: id, tier, price, posts, cost, view_rate, audience, marginal_gain
    cost: float
    value: float
    curve: list
    measures: dict
    shapley: dict
    naive: dict
    sainsbury: float
    guarantee: dict
    tiers: dict
    constraints: dict
    candidates: int
    population: int
    filters: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)

    @property
    def ids(self) -> list:
        return [c["id"] for c in self.chosen]

    def to_dict(self) -> dict:
        return {
            "objective": self.objective, "k": self.k, "budget": self.budget,
            "method": self.method, "chosen": [dict(c) for c in self.chosen],
            "cost": self.cost, "value": self.value, "curve": [dict(p) for p in self.curve],
            "measures": dict(self.measures), "shapley": dict(self.shapley),
            "naive": dict(self.naive), "sainsbury": self.sainsbury,
            "guarantee": dict(self.guarantee), "tiers": dict(self.tiers),
            "constraints": dict(self.constraints), "candidates": self.candidates,
            "population": self.population, "filters": dict(self.filters),
            "warnings": list(self.warnings), "seconds": dict(self.seconds),
        }

    def to_frame(self):
        """Per-creator pandas table in the order the plan adds them (with Shapley values)."""
        import pandas as pd

        df = pd.DataFrame(self.chosen)
        if len(df):
            df["shapley"] = [s["value"] for s in self.shapley["values"]]
        return df



# --- the report --------------------------------------------------------------------------------
def _report(prob: _Problem, final: _State, chosen_by: str, effective: dict | None,
            naive_job: Job, seconds: dict, t_start: float) -> Plan:
    """The solver's plan ``final`` and what is reported beside it: the curve, the guarantee
    and upper bound, Shapley values, the naive plan (from ``naive_job``), the Sainsbury
    estimate. ``seconds``: the timings so far, ``t_start``: when the call began."""
    inst, cands, o = prob.inst, prob.cands, prob.options
    t0 = time.perf_counter()
    value = _value(inst, final)
    sel = np.asarray(final.chosen, dtype=np.int64)
    started = _replay(inst, sel, _threaded(int(inst.degree[sel].sum())))
    t1 = time.perf_counter()
    upper = effective["upper_bound"] if effective else _upper_bound(inst, final, value)
    t_upper = time.perf_counter() - t1
    g_cover, g_rk, phi1, phik = _replayed(inst, started)
    guarantee = _guarantee(inst, o.method, prob.quotas, upper, value, chosen_by, effective)
    shap = _shapley(inst, cands, sel, phik if inst.kind == _k.EFFECTIVE else phi1, value,
                    o.shapley, o.permutations, o.seed)
    naive = naive_job.result()
    t_report = time.perf_counter() - t0

    _fill_view_rates(inst.graph, cands, sel)
    chosen_rows, curve, cum = _steps(prob, final, g_cover, g_rk)
    expected = inst.kind == _k.EXPECTED
    return Plan(
        objective=prob.objective, k=inst.k, budget=o.budget, method=o.method,
        chosen=chosen_rows, cost=float(final.spent), value=float(value), curve=curve,
        measures={"unique_reach": int(cum[1]), "expected_reach": float(cum[3]) if expected else None,
                  "effective_reach": int(cum[2]), "k": inst.k,
                  "gross_reach": int(inst.degree[sel].sum()),
                  "follower_reach": _follower_reach(prob, sel, int(cum[1]))},
        shapley=shap, naive=naive, sainsbury=_sainsbury(inst, sel, prob.population),
        guarantee=guarantee, tiers=_tiers(final, prob.quotas),
        constraints={"tier_quota": prob.quotas,
                     "must_include": [cands.ids[i] for i in prob.include],
                     "must_exclude": [cands.ids[i] for i in prob.exclude],
                     "max_creators": o.max_creators, "max_overlap": o.max_overlap,
                     "overlap_by": o.overlap_by},
        candidates=inst.m, population=prob.population, filters=prob.filters,
        warnings=prob.warnings,
        seconds={**seconds, "report": t_report, "upper_bound": t_upper,
                 "naive": naive_job.seconds, "total": time.perf_counter() - t_start})


def _steps(prob: _Problem, final: _State, g_cover: np.ndarray,
           g_rk: np.ndarray) -> tuple[list, list, list]:
    """The chosen creators' rows and the curve, in the order the plan adds them, and the
    totals ``[spend, unique reach, R_k, expected reach]``."""
    inst, cands, kind = prob.inst, prob.cands, prob.inst.kind
    chosen_rows, curve = [], [{"step": 0, "id": None, "spend": 0.0, "value": 0.0,
                               "unique_reach": 0, "effective_reach": 0,
                               "expected_reach": 0.0 if kind == _k.EXPECTED else None}]
    cum = [0.0, 0, 0, 0.0]
    deg = inst.degree
    g_exp = [gains[2] for gains in final.gains]
    for step, (c, cover, rk, ex) in enumerate(zip(final.chosen, g_cover.tolist(), g_rk.tolist(),
                                                  g_exp, strict=True), 1):
        gain = {_k.EXPECTED: ex, _k.EFFECTIVE: rk}.get(kind, cover)
        cum[0] += inst.cost[c]
        cum[1] += cover
        cum[2] += rk
        cum[3] += ex
        chosen_rows.append({"id": cands.ids[c], "tier": TIER_NAMES[cands.tier[c]],
                            "price": float(cands.price[c]), "posts": int(cands.posts[c]),
                            "cost": float(inst.cost[c]), "view_rate": float(cands.view_rate[c]),
                            "audience": int(deg[c]), "marginal_gain": float(gain),
                            "included": c in prob.include})
        curve.append({"step": step, "id": cands.ids[c], "spend": float(cum[0]),
                      "value": float({_k.EXPECTED: cum[3], _k.EFFECTIVE: cum[2]}.get(kind, cum[1])),
                      "unique_reach": int(cum[1]), "effective_reach": int(cum[2]),
                      "expected_reach": float(cum[3]) if kind == _k.EXPECTED else None})
    return chosen_rows, curve, cum


def _follower_reach(prob: _Problem, sel: np.ndarray, unique: int) -> int:
    """Unique reach of the plan's creators among their (counted) followers: the plan's own
    unique reach, or beside an engaged or loyal plan the followers it reaches."""
    if prob.audience == "followers":
        return unique
    g, idx = prob.inst.graph, prob.cands.idx[sel]
    if prob.mask is None:
        starts, ends, indices = g.in_indptr[idx], g.in_indptr[idx + 1], g.in_indices
    else:
        indptr, indices = _k.filtered_rows(g.in_indptr, g.in_indices, idx, prob.mask)
        starts, ends = indptr[:-1], indptr[1:]
    return int(_k.evaluate(np.ascontiguousarray(starts, dtype=np.int64),
                           np.ascontiguousarray(ends, dtype=np.int64), indices,
                           np.arange(len(idx), dtype=np.int64), np.zeros(len(idx)), 1,
                           prob.inst.n, False)[0])


def _tiers(final: _State, quotas: dict) -> dict:
    """Per tier with creators in the plan or a quota: count, spend and quota."""
    tiers = {}
    for t, name in enumerate(TIER_NAMES):
        q = quotas.get(name)
        if final.tcount[t] or q:
            tiers[name] = {"count": int(final.tcount[t]), "spend": float(final.tspend[t]),
                           "quota": q}
    return tiers


# --- the report's threads -------------------------------------------------------------------
THREADED_WORK = 1_000_000  # follower entries above which report work goes to a second thread


def _threaded(work: int) -> bool:
    """Whether report work goes to the worker thread: enough follower entries, and numba
    allowed two threads (``numba.set_num_threads(1)`` keeps the whole call on one)."""
    return work >= THREADED_WORK and _parallel.threads() >= 2


REPLAY_PARTS = 8  # account ranges of the replay, shared out between the two threads


def _replay(inst: _Instance, sel: np.ndarray, threaded: bool) -> tuple:
    """Start replaying the plan ``sel`` (:func:`kolgraph.kernels.plan.replay`): per step
    reach and R_k gains, per creator the Shapley values of reach and of R_k. When
    ``threaded``, the worker thread takes account ranges one by one; :func:`_replayed`
    has the calling thread take the rest once it is free."""
    parts = REPLAY_PARTS if threaded else 1
    edges = np.linspace(0, inst.n, parts + 1).astype(np.int64)
    done: list = [None] * parts
    ticket = itertools.count()

    def work():
        while (i := next(ticket)) < parts:  # next() on a count is atomic under the GIL
            done[i] = _k.replay(inst.starts, inst.ends, inst.indices, sel, edges[i],
                                edges[i + 1], inst.k)

    return Job(work, (), threaded), work, done


def _replayed(inst: _Instance, started: tuple) -> tuple:
    job, work, done = started
    work()
    job.result()
    return tuple(sum(x) for x in zip(*done, strict=True))


def _guarantee(inst, method, quotas, upper, value, chosen_by, effective=None) -> dict:
    side = []
    if quotas:
        side.append("tier quotas")
    if inst.max_creators <= inst.m:
        side.append("max_creators")
    if inst.max_overlap is not None:
        side.append("max_overlap")
    if method == "greedy":
        bound, name = GREEDY_BOUND, ("lazy (CELF) cost-benefit greedy + best single creator: "
                                     "½(1−1/e) of the optimum (Khuller, Moss & Naor 1999)")
    else:
        bound, name = ENUMERATE_BOUND, ("partial enumeration of 3-creator seeds + greedy: 1−1/e of "
                                        "the optimum (Khuller, Moss & Naor 1999; Sviridenko 2004)")
    out = {}
    if inst.kind == _k.EFFECTIVE and inst.k > 1:
        bound, name = None, ("best by R_k of the greedy on each surrogate Σ min(frequency, j), "
                             "j = 1..k, and the best single creator, then swap local search "
                             f"on R_k; exact (scipy.optimize.milp) up to {EXACT_MAX} candidates")
        applies, why = False, ("R_k for k >= 2 is not submodular: no approximation bound holds in "
                               "general; the upper bound is the surrogate's (OPT(R_k) <= "
                               "OPT(Σ min(frequency, k)) / k) or the MILP's")
        out = {k: v for k, v in effective.items() if k != "upper_bound"}
        if effective.get("exact", {}).get("status") == "optimal":
            applies, why = True, "solved exactly (scipy.optimize.milp, optimal)"
    elif inst.kind == _k.EFFECTIVE:
        applies, why = True, "R_1 is unique reach (submodular)"
    elif side:
        applies, why = False, (f"the bound is proven for the budget alone; {', '.join(side)} "
                               "void it (the upper bound below still holds)")
    else:
        applies, why = True, "monotone submodular objective under a budget"
    return {"algorithm": name, "bound": bound, "applies": applies, "why": why,
            "chosen_by": chosen_by, "upper_bound": upper,
            "certified_ratio": (value / upper if upper else (1.0 if upper == 0 else None)),
            **out}


def _naive(inst: _Instance, cands: _Candidates) -> dict:
    """Top followers per unit price until the budget runs out (overlap, quotas ignored)."""
    deg = inst.degree.astype(float)
    with np.errstate(over="ignore"):  # a price near 0 ranks first as inf: intended
        per = deg * (inst.p if inst.kind == _k.EXPECTED else 1.0) / inst.cost
    order = np.argsort(-per, kind="stable")
    sel, spent = _k.naive_fill(order, inst.cost, inst.excluded, inst.budget)
    expected = inst.kind == _k.EXPECTED
    cover, rk, ex = _k.evaluate(inst.starts, inst.ends, inst.indices, sel, inst.q, inst.k, inst.n,
                                expected)
    value = {_k.EXPECTED: ex, _k.EFFECTIVE: rk}.get(inst.kind, cover)
    return {"chosen": [cands.ids[c] for c in sel], "cost": float(spent), "value": float(value),
            "unique_reach": int(cover), "expected_reach": float(ex) if expected else None,
            "effective_reach": int(rk)}


def _sainsbury(inst: _Instance, sel: np.ndarray, n: int) -> float:
    """Independence estimate of the plan's objective (Sainsbury for reach; Poisson-binomial
    tail for R_k)."""
    if n == 0 or len(sel) == 0:
        return 0.0
    frac = np.minimum(inst.degree[sel] / n, 1.0)
    if inst.kind == _k.EXPECTED:
        return float(n * (1.0 - np.prod(1.0 - inst.p[sel] * frac)))
    if inst.kind == _k.EFFECTIVE:
        dist = np.zeros(len(sel) + 1)
        dist[0] = 1.0
        for f in frac:  # Poisson-binomial distribution of the frequency
            dist[1:] = dist[1:] * (1 - f) + dist[:-1] * f
            dist[0] *= 1 - f
        return float(n * dist[inst.k:].sum())
    return float(n * (1.0 - np.prod(1.0 - frac)))


def _gauss_legendre(n_max: int):
    ptr = [0, 0]
    xs, ws = [], []
    for n in range(1, n_max + 1):
        x, w = np.polynomial.legendre.leggauss(n)
        xs.append((x + 1) / 2)
        ws.append(w / 2)
        ptr.append(ptr[-1] + n)
    return (np.asarray(ptr, dtype=np.int64), np.concatenate(xs) if xs else np.zeros(0),
            np.concatenate(ws) if ws else np.zeros(0))


def _shapley(inst: _Instance, cands: _Candidates, sel: np.ndarray, split: np.ndarray,
             value: float, method: str, permutations: int, seed: int) -> dict:
    """``split``: the replay's exact Shapley values of reach or R_k (:func:`_replay`)."""
    n = len(sel)
    kind = inst.kind
    if n == 0:
        return {"method": method, "values": []}
    if method == "exact" and kind != _k.EXPECTED and n < 255:  # counts do not saturate
        phi = split
        return {"method": "exact", "values": [
            {"id": cands.ids[c], "value": float(phi[i]),
             "share": float(phi[i] / value) if value else 0.0, "ci_low": float(phi[i]),
             "ci_high": float(phi[i])} for i, c in enumerate(sel)]}
    fptr, members = _k.follower_members(inst.starts, inst.ends, inst.indices, sel, inst.n)
    q = inst.q[sel]
    if method == "exact":
        gl = _gauss_legendre((n + 1) // 2) if kind == _k.EXPECTED else _gauss_legendre(0)
        phi = _k.shapley_exact(fptr, members, n, kind, q, inst.k, *gl)
        lo = hi = phi
        out = {"method": "exact"}
    else:
        rng = np.random.default_rng(seed)
        orders = np.argsort(rng.random((permutations, n)), axis=1).astype(np.int64)
        contrib = _k.shapley_permutations(fptr, members, kind, q, inst.k, orders)
        phi = contrib.mean(axis=0)
        half = 1.96 * contrib.std(axis=0, ddof=1) / math.sqrt(permutations)
        lo, hi = phi - half, phi + half
        out = {"method": "montecarlo", "permutations": permutations, "confidence": 0.95}
    out["values"] = [{"id": cands.ids[c], "value": float(phi[i]),
                      "share": float(phi[i] / value) if value else 0.0,
                      "ci_low": float(lo[i]), "ci_high": float(hi[i])}
                     for i, c in enumerate(sel)]
    return out
