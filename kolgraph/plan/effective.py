"""Effective reach R_k (k >= 2), which is not submodular: greedy starts on the truncated
surrogates, a swap local search on R_k itself, and the exact solution by
``scipy.optimize.milp`` when the instance is small."""

from __future__ import annotations

import math
import time

import numpy as np

from kolgraph._parallel import check_deadline
from kolgraph.kernels import plan as _k
from kolgraph.plan.greedy import _best_single, _greedy, _upper_bound
from kolgraph.plan.instance import (
    EPS,
    PARALLEL_GAINS,
    _complete,
    _gains,
    _Instance,
    _overlap,
    _replace,
    _State,
    _value,
)
from kolgraph.plan.options import EXACT_MAX
from kolgraph.tiers import TIER_NAMES

EXACT_REGIONS = 20_000  # Venn regions (distinct follower memberships) the MILP may hold
EXACT_SECONDS = 10.0
LOCAL_SEARCH_WORK = 1_000_000_000  # follower entries the swap search may read


def _rk_of(inst: _Instance, sel) -> float:
    sel = np.asarray(sel, dtype=np.int64)
    return float(_k.evaluate(inst.starts, inst.ends, inst.indices, sel, inst.q, inst.k, inst.n,
                             False)[1])


def _rebuild(inst: _Instance, include: list, members) -> _State:
    """The plan holding ``members`` (must-include creators first), the rest added in
    the order a greedy on R_k (ties: the surrogate, then cost) would add them."""
    state = _State(inst)
    for c in include:
        state.add(c)
    rest = [c for c in members if c not in set(include)]
    while rest:
        check_deadline()
        arr = np.asarray(rest, dtype=np.int64)
        rk = _gains(inst, arr, _k.RK, state)
        sur = _gains(inst, arr, _k.EFFECTIVE, state)
        best = int(np.lexsort((arr, inst.cost[arr], -sur / inst.cost[arr],
                               -rk / inst.cost[arr]))[0])
        state.add(rest.pop(best))
    return state


def _feasible_set(inst: _Instance, members: list, include: list) -> bool:
    """Every constraint of a complete plan (overlap pairs through the transposed rows)."""
    sel = np.asarray(members, dtype=np.int64)
    if len(sel) > inst.max_creators or inst.excluded[sel].any():
        return False
    if not set(include) <= set(members) or inst.cost[sel].sum() > inst.budget + EPS:
        return False
    tcount = np.bincount(inst.tier[sel], minlength=len(TIER_NAMES))
    tspend = np.bincount(inst.tier[sel], weights=inst.cost[sel], minlength=len(TIER_NAMES))
    if (np.any(tcount < inst.tmin) or np.any(tcount > inst.tmax)
            or np.any(tspend < inst.smin - EPS) or np.any(tspend > inst.smax + EPS)):
        return False
    if inst.max_overlap is not None:
        common = np.zeros(inst.m, np.int64)
        for c in sel:
            _k.common_with(inst.starts, inst.ends, inst.indices, inst.tptr, inst.tind, c, common)
            if np.any(_overlap(inst, int(c), common)[sel] > inst.max_overlap + EPS):
                return False
    return True


def _local_search(inst: _Instance, state: _State, include: list,
                  budget_left: list) -> tuple[_State, dict]:
    """Best-improvement local search on R_k itself: add one creator, swap one out and one
    in, or (while affordable) one out and two in, while R_k grows and the constraints
    hold. Stops at a local optimum or when ``budget_left[0]`` follower entries (shared
    between calls) are read."""
    members = list(state.chosen)
    count = np.zeros(inst.n, np.uint8)
    hit = np.zeros(1)
    rows = (inst.starts, inst.ends, inst.indices)
    for c in members:
        _k.add(*rows, c, count, hit, inst.k, 1.0, False)
    total = int(inst.degree[~inst.excluded].sum())
    f = _k.gains if total >= PARALLEL_GAINS else _k.gains_serial
    free = np.flatnonzero(~inst.excluded)
    moves, passes = 0, 0
    stopped = "local optimum"

    def gains_now(cand):
        budget_left[0] -= total
        return f(*rows, cand, _k.RK, count, hit, inst.k, inst.p)

    def best_feasible(base, cand, g, floor):
        """The best addition to ``base`` (gain above ``floor``) keeping every constraint."""
        for i in np.argsort(-g, kind="stable"):
            if g[i] <= floor + EPS:
                return None
            if _feasible_set(inst, base + [int(cand[i])], include):
                return int(cand[i])
        return None

    while True:
        if len(members) >= 254:
            stopped = "plan too large for the swap search"
            break
        outs = [None] + [c for c in members if c not in include]
        if budget_left[0] < len(outs) * total:
            stopped = "work limit"
            break
        pairs = budget_left[0] >= len(outs) * (len(free) + 1) * total
        passes += 1
        best = (0.0, None, ())  # (gain, out, ins)
        for out in outs:
            check_deadline()
            loss = 0.0
            if out is not None:
                loss = float(_k.remove(*rows, out, count, inst.k))
            kept = [c for c in members if c != out]
            room = inst.budget - inst.cost[kept].sum()
            cand = free[~np.isin(free, members) & (inst.cost[free] <= room + EPS)]
            g = gains_now(cand)
            d = best_feasible(kept, cand, g, best[0] + loss)
            if d is not None:
                best = (float(g[cand == d][0]) - loss, out, (d,))
            if pairs:
                for i in np.argsort(-g, kind="stable"):
                    d1 = int(cand[i])
                    rest = cand[(cand != d1) & (inst.cost[cand] <= room - inst.cost[d1] + EPS)]
                    if len(rest) == 0:
                        continue
                    _k.add(*rows, d1, count, hit, inst.k, 1.0, False)
                    g2 = gains_now(rest)
                    _k.remove(*rows, d1, count, inst.k)
                    d2 = best_feasible(kept + [d1], rest, g2, best[0] + loss - float(g[i]))
                    if d2 is not None:
                        best = (float(g[i]) + float(g2[rest == d2][0]) - loss, out, (d1, d2))
            if out is not None:
                _k.add(*rows, out, count, hit, inst.k, 1.0, False)
        if not best[2]:
            break
        _, out, ins = best
        if out is not None:
            _k.remove(*rows, out, count, inst.k)
            members.remove(out)
        for d in ins:
            _k.add(*rows, d, count, hit, inst.k, 1.0, False)
            members.append(d)
        moves += 1
    return _rebuild(inst, include, members), {"passes": passes, "moves": moves,
                                              "stopped": stopped}


def _exact_rk(inst: _Instance, include: list) -> tuple[list | None, float | None, str]:
    """R_k by ``scipy.optimize.milp``: a binary x per candidate, a binary y per Venn region
    (followers with the same candidates) that at least k candidates reach, ``k·y_r <= Σ_{c
    in r} x_c``, every constraint as rows. Returns ``(members or None, bound on the
    optimum or None, status)``."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    free = np.flatnonzero(~inst.excluded)
    if len(free) > EXACT_MAX:
        return None, None, f"more than {EXACT_MAX} candidates"
    m = inst.m
    rows_ = [inst.indices[inst.starts[c]:inst.ends[c]] for c in free]
    users = np.concatenate(rows_) if rows_ else np.zeros(0, np.int64)
    bit = np.repeat(np.int64(1) << np.arange(len(free), dtype=np.int64),
                    [len(x) for x in rows_])
    order = np.argsort(users, kind="stable")
    users, bit = users[order], bit[order]
    first = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]])) if len(users) else []
    mask = np.bitwise_or.reduceat(bit, first) if len(users) else np.zeros(0, np.int64)
    regions, weight = np.unique(mask, return_counts=True)
    size = np.array([bin(x).count("1") for x in regions.tolist()], dtype=np.int64)
    keep = size >= inst.k
    regions, weight = regions[keep], weight[keep]
    r = len(regions)
    if r > EXACT_REGIONS:
        return None, None, f"more than {EXACT_REGIONS} Venn regions"
    f = len(free)
    nv = f + r
    rows, lo, hi = [], [], []
    member = ((regions[:, None] >> np.arange(f)[None, :]) & 1).astype(float)  # r x f
    block = np.zeros((r, nv))
    block[:, :f] = -member
    block[np.arange(r), f + np.arange(r)] = inst.k
    rows.append(block)
    lo += [-np.inf] * r
    hi += [0.0] * r

    def row(coef_free, low, high):
        x = np.zeros((1, nv))
        x[0, :f] = coef_free
        rows.append(x)
        lo.append(low)
        hi.append(high)

    cost = inst.cost[free]
    row(cost, -np.inf, inst.budget)
    if inst.max_creators <= m:
        row(np.ones(f), -np.inf, inst.max_creators)
    for t in range(len(TIER_NAMES)):
        in_t = (inst.tier[free] == t).astype(float)
        if inst.tmin[t] > 0 or inst.tmax[t] < m:
            row(in_t, inst.tmin[t], min(inst.tmax[t], m))
        if inst.smin[t] > 0 or math.isfinite(inst.smax[t]):
            row(in_t * cost, inst.smin[t] - EPS, inst.smax[t] + EPS)
    if inst.max_overlap is not None:
        common = np.zeros(m, np.int64)
        for i, c in enumerate(free):
            _k.common_with(inst.starts, inst.ends, inst.indices, inst.tptr, inst.tind, c, common)
            over = _overlap(inst, int(c), common)[free] > inst.max_overlap + EPS
            for j in np.flatnonzero(over):
                if j > i:
                    x = np.zeros(f)
                    x[[i, j]] = 1
                    row(x, -np.inf, 1)
    low = np.zeros(nv)
    low[np.searchsorted(free, include)] = 1
    res = milp(np.concatenate([np.zeros(f), -weight.astype(float)]),
               constraints=LinearConstraint(np.vstack(rows), lo, hi), integrality=np.ones(nv),
               bounds=Bounds(low, np.ones(nv)),
               options={"time_limit": EXACT_SECONDS, "mip_rel_gap": 0.0})
    bound = getattr(res, "mip_dual_bound", None)
    bound = -float(bound) if bound is not None and np.isfinite(bound) else None
    if res.x is None:
        return None, bound, "no solution within the time limit" if res.status == 1 else "infeasible"
    members = [int(c) for c in free[np.round(res.x[:f]) == 1]]
    if res.status == 0:
        return members, -float(res.fun), "optimal"
    return members, bound, "time limit"


def _effective(inst: _Instance, base: _State, include: list, lazy: bool,
               exact: bool) -> tuple[_State, str, dict]:
    """R_k (k >= 2), which is not submodular: the plain greedy can pick creators none of whose
    followers reach k. Starts: the greedy on each truncated surrogate ``Σ min(frequency, j)``,
    j = 1..k (submodular; j = k is the standard one), and the best single creator; the
    best of them by R_k itself goes through a swap local search on R_k; with few
    candidates, ``scipy.optimize.milp`` solves R_k exactly. Upper bound on the optimum:
    ``1[f >= k] <= min(f, k) / k`` for every follower, so OPT(R_k) <= OPT(surrogate) / k,
    bounded by the surrogate's submodular bound at its greedy plan; or the MILP's bound."""
    starts = []
    surrogate_state = None
    for j in range(1, inst.k + 1):
        s = _greedy(_replace(inst, k=j), _copy_for(base, inst, j), lazy=lazy)
        if j == inst.k:
            surrogate_state = s
        if _complete(inst, s):
            starts.append((_rk_of(inst, s.chosen), -j, f"greedy on Σ min(frequency, {j})",
                           list(s.chosen)))
    single, single_value = _best_single(inst, base)
    if single >= 0:
        starts.append((single_value, -inst.k - 1, "best single creator", include + [single]))
    info: dict = {"starts": len(starts)}
    if not starts:
        return surrogate_state if surrogate_state is not None else base, "greedy", {
            **info, "upper_bound": None}
    work = [LOCAL_SEARCH_WORK]
    state, chosen_by, seen = None, "", set()
    for value, _, name, members in sorted(starts, key=lambda x: (-x[0], x[1])):
        if frozenset(members) in seen or (state is not None and work[0] <= 0):
            continue
        seen.add(frozenset(members))
        s, search = _local_search(inst, _rebuild(inst, include, members), include, work)
        if state is None or _value(inst, s) > _value(inst, state) + EPS:
            state, info["local_search"] = s, search
            chosen_by = name + (" + swap local search" if _value(inst, s) > value + EPS else "")
    sur = surrogate_state if surrogate_state is not None else base
    sur_value = float(np.minimum(sur.count, inst.k).sum())
    upper = math.floor(_upper_bound(inst, sur, sur_value) / inst.k + EPS)
    info["surrogate_bound"] = upper
    if exact:
        t0 = time.perf_counter()
        exact_members, bound, status = _exact_rk(inst, include)
        info["exact"] = {"status": status, "seconds": time.perf_counter() - t0}
        if exact_members is not None:
            exact_state = _rebuild(inst, include, exact_members)
            if _value(inst, exact_state) > _value(inst, state) + EPS:
                state, chosen_by = exact_state, "exact (scipy.optimize.milp)"
            elif status == "optimal":
                chosen_by += " (optimal: the MILP finds no better plan)"
        if bound is not None:
            upper = min(upper, math.floor(bound + EPS))
    info["upper_bound"] = max(float(upper), _value(inst, state))
    return state, chosen_by, info


def _copy_for(base: _State, inst: _Instance, j: int) -> _State:
    """A copy of the base plan for the greedy on the surrogate with threshold j."""
    s = base.copy()
    s.inst = _replace(inst, k=j)
    return s
