"""The greedy solvers: the lazy (CELF) cost-benefit greedy (whole in the kernel when only
permanent constraints apply), the plain greedy, the fill-up of unmet tier minimums, the
best single creator, partial enumeration, and the data-dependent upper bound."""

from __future__ import annotations

import heapq
import math
from itertools import combinations

import numpy as np

from kolgraph._parallel import check_deadline
from kolgraph.kernels import plan as _k
from kolgraph.plan.instance import (
    EPS,
    _complete,
    _covered,
    _dense,
    _gains,
    _Instance,
    _left,
    _State,
    _value,
)


def _greedy(inst: _Instance, state: _State, *, lazy: bool = True) -> _State:
    """Cost-benefit greedy from ``state`` (modified in place and returned)."""
    kind = inst.kind  # for R_k: the submodular surrogate Σ min(frequency, k)
    if lazy and not inst.has_quota_min and inst.max_overlap is None:
        # permanent constraints only: the whole lazy greedy runs in the kernel
        cand = np.flatnonzero(~state.in_plan & ~inst.excluded)
        bound = np.zeros(inst.m)
        slots = inst.max_creators - len(state.chosen)
        if kind == _k.COVER:  # reach: a covered bitset is the whole state
            bits, slot = _dense(inst)
            covered = _covered(inst, state)
            state.left = _left(inst, cand, slot)
            chosen, g_cover, spent = _k.cover_greedy(
                inst.starts, inst.ends, inst.indices, cand,
                _k.Limits(inst.cost, inst.tier, inst.budget, inst.tmax, inst.smax, slots),
                _k.Spent(state.spent, state.tcount, state.tspend),
                _k.Cover(covered, bits, slot, state.left), not state.chosen, bound)
            state.covered = covered
            state.count = None  # not kept: the report replays the plan (_replay)
            g_rk = np.zeros(len(chosen), np.int64)
            g_exp = np.zeros(len(chosen))
        else:
            chosen, g_cover, g_rk, g_exp, spent = _k.lazy_greedy(
                inst.starts, inst.ends, inst.indices, cand,
                _k.Limits(inst.cost, inst.tier, inst.budget, inst.tmax, inst.smax, slots),
                _k.Spent(state.spent, state.tcount, state.tspend),
                _k.Counts(kind, inst.k, state.count, state.hit, inst.p, inst.q),
                not state.chosen, bound)
        if kind != _k.EFFECTIVE:
            state.bound = bound
        state.chosen += chosen.tolist()
        state.in_plan[chosen] = True
        state.spent = float(spent)
        state.gains += list(zip(g_cover.tolist(), g_rk.tolist(), g_exp.tolist(), strict=True))
        return state
    reserve = state.reserve()
    if lazy:
        cand = np.flatnonzero(~state.in_plan & ~inst.excluded & ~state.blocked)
        g0 = _gains(inst, cand, kind, state)
        heap = [(float(-g / inst.cost[c]), int(c), 0) for c, g in zip(cand, g0, strict=True)]
        heapq.heapify(heap)
        step = 0
        while heap:
            check_deadline()
            neg, c, stamp = heap[0]
            if not state.admissible(c, reserve):
                heapq.heappop(heap)
                continue
            if stamp != step:
                g = _k.gain(inst.starts, inst.ends, inst.indices, c, kind, state.count, state.hit,
                            inst.k, inst.p[c])
                heapq.heapreplace(heap, (float(-g / inst.cost[c]), c, step))
                continue
            if neg >= 0:  # the best remaining gain is zero
                break
            heapq.heappop(heap)
            state.add(c)
            step += 1
            reserve = state.reserve()
    else:
        while True:
            check_deadline()
            cand = np.flatnonzero(~state.in_plan & ~inst.excluded & ~state.blocked)
            cand = cand[state.admissible_mask(cand, reserve)]
            if len(cand) == 0:
                break
            g = _gains(inst, cand, kind, state)
            ratio = g / inst.cost[cand]
            best = int(np.argmax(ratio))
            if ratio[best] <= 0:
                break
            state.add(int(cand[best]))
            reserve = state.reserve()
    _fill_minimums(inst, state)
    return state


def _fill_minimums(inst: _Instance, state: _State) -> None:
    """Once nothing adds value, creators for the tier minimums still unmet: best gain per
    cost first, then the cheapest."""
    kind = inst.kind
    while not state.quotas_met():
        check_deadline()
        reserve = state.reserve()
        short = (state.tcount < inst.tmin) | (state.tspend < inst.smin - EPS)
        cand = np.flatnonzero(short[inst.tier] & ~state.in_plan & ~inst.excluded & ~state.blocked)
        cand = cand[state.admissible_mask(cand, reserve)]
        if len(cand) == 0:
            return
        g = _gains(inst, cand, kind, state)
        order = np.lexsort((cand, inst.cost[cand], -(g / inst.cost[cand])))
        state.add(int(cand[order[0]]))


def _best_single(inst: _Instance, base: _State) -> tuple[int, float]:
    """The best complete plan of the base (must-include creators) plus one more creator:
    ``(candidate, value)``, or ``(-1, -inf)`` when none is feasible."""
    kind = _k.RK if inst.kind == _k.EFFECTIVE else inst.kind
    cand = np.flatnonzero(~base.in_plan & ~inst.excluded & ~base.blocked)
    cand = cand[base.admissible_mask(cand, base.reserve())]
    if len(cand) == 0:
        return -1, -math.inf
    g = _gains(inst, cand, kind, base)
    for i in np.lexsort((cand, -g)):
        c = int(cand[i])
        t = inst.tier[c]
        count = base.tcount.copy()
        count[t] += 1
        spend = base.tspend.copy()
        spend[t] += inst.cost[c]
        if np.all(count >= inst.tmin) and np.all(spend >= inst.smin - EPS):
            return c, _value(inst, base) + float(g[i])
    return -1, -math.inf


def _enumerate(inst: _Instance, base: _State, lazy: bool) -> _State:
    """Partial enumeration: every feasible plan of at most 2 creators beyond the base, and
    the greedy completion of every feasible 3-creator seed; the best one."""
    free = [int(c) for c in np.flatnonzero(~base.in_plan & ~inst.excluded & ~base.blocked)]
    best, best_value = None, -math.inf

    def consider(s: _State):
        nonlocal best, best_value
        if _complete(inst, s):
            v = _value(inst, s)
            if v > best_value + EPS or (abs(v - best_value) <= EPS and best is not None
                                        and s.spent < best.spent - EPS):
                best, best_value = s, v

    for size in (0, 1, 2, 3):
        for seed in combinations(free, size):
            check_deadline()
            s = base.copy()
            ok = True
            for c in seed:
                if not s.admissible(c, s.reserve()):
                    ok = False
                    break
                s.add(c)
            if not ok:
                continue
            consider(s)
            if size == 3:
                consider(_greedy(inst, s.copy(), lazy=lazy))
    if best is None:
        best = _greedy(inst, base.copy(), lazy=lazy)
    return best


def _upper_bound(inst: _Instance, state: _State, value: float) -> float:
    """Data-dependent bound on the optimum of a submodular objective (Leskovec et al. 2007):
    ``f(A) + max Σ δ_c x_c, Σ cost_c x_c <= budget, 0 <= x <= 1`` over the marginal gains
    δ_c at the plan A (any A: ``f(OPT) <= f(A ∪ OPT) <= f(A) + Σ_{c ∈ OPT} δ_c``). Valid
    under any side constraint (they only shrink the optimum). For R_k the objective is
    the surrogate ``Σ min(frequency, k)`` and ``value`` its value at A."""
    cand = np.flatnonzero(~inst.excluded & (inst.cost <= inst.budget + EPS) & ~state.in_plan)
    if len(cand) == 0:
        return value
    if inst.kind == _k.COVER:  # lazily, on the reach bitset: gains known to be stale bound them
        bits, slot = _dense(inst)
        bound = state.bound if state.bound is not None else inst.degree.astype(float)
        left = state.left if state.left is not None else _left(inst, cand, slot)
        return value + _k.cover_upper_bound(inst.starts, inst.ends, inst.indices, cand,
                                            inst.cost, inst.budget, bound,
                                            _k.Cover(_covered(inst, state), bits, slot, left))
    cost = inst.cost[cand]
    if state.bound is None:
        g = _gains(inst, cand, inst.kind, state)
        exact = np.ones(len(cand), dtype=bool)
    else:  # the lazy greedy's last gains bound the true ones: refine only those the knapsack takes
        g = state.bound[cand].copy()
        exact = np.zeros(len(cand), dtype=bool)
    while True:
        check_deadline()
        order = np.argsort(-(g / cost), kind="stable")
        room = inst.budget
        extra = 0.0
        taken = []
        for i in order:
            if g[i] <= 0 or room <= 0:
                break
            take = min(1.0, room / cost[i])
            extra += take * g[i]
            room -= take * cost[i]
            taken.append(i)
        stale = np.asarray([i for i in taken if not exact[i]], dtype=np.int64)
        if len(stale) == 0:
            return value + extra
        g[stale] = _gains(inst, cand[stale], inst.kind, state)
        exact[stale] = True
