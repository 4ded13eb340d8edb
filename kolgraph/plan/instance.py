"""The solver's instance and partial plans: :class:`_Instance` (the candidates' follower
rows, costs, exposure and constraints as arrays), :class:`_State` (a partial plan and its
admissibility test), the marginal gains, and :class:`_Problem` (a checked request)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kolgraph import reach as _reach
from kolgraph.kernels import plan as _k
from kolgraph.tiers import TIER_NAMES

EPS = 1e-9


# --- the instance and its greedy ------------------------------------------------------------
@dataclass
class _Instance:
    starts: np.ndarray  # candidate i's followers: indices[starts[i]:ends[i]]
    ends: np.ndarray
    indices: np.ndarray
    n: int  # accounts (size of the per-account state)
    cost: np.ndarray
    tier: np.ndarray
    p: np.ndarray  # chance a follower sees at least one post
    q: np.ndarray  # 1 - p
    kind: int
    k: int
    budget: float
    # constraints
    excluded: np.ndarray  # bool
    max_creators: int
    tmin: np.ndarray  # per tier, int (0 = none)
    tmax: np.ndarray  # per tier, int (large = none)
    smin: np.ndarray  # per tier, minimum spend
    smax: np.ndarray  # per tier, maximum spend
    max_overlap: float | None = None
    overlap_by: str = "overlap_coefficient"
    tptr: np.ndarray | None = None
    tind: np.ndarray | None = None
    by_tier: list = field(default_factory=list)  # per tier: positions sorted by cost
    graph: Any = None  # the FollowerGraph (its per-graph audience bitsets)
    idx: np.ndarray | None = None  # the candidates' account ids
    filtered: bool = False  # rows not the store's own (an account filter, engaged people)
    dense: tuple | None = None  # (bitsets of the largest audiences, slot of each candidate)

    @property
    def m(self) -> int:
        return len(self.cost)

    @property
    def degree(self) -> np.ndarray:
        return self.ends - self.starts

    @property
    def has_quota_min(self) -> bool:
        return bool(np.any(self.tmin > 0) or np.any(self.smin > 0))


class _State:
    """A partial plan: per-follower state, spend, tier counts, blocked candidates."""

    def __init__(self, inst: _Instance):
        self.inst = inst
        self.count = np.zeros(inst.n, dtype=np.uint8)
        self.hit = np.zeros(inst.n if inst.kind == _k.EXPECTED else 1)
        self.bound: np.ndarray | None = None  # upper bounds of the gains, from the lazy kernel
        self.covered: np.ndarray | None = None  # reach bitset when the counts were not kept
        self.left: tuple | None = None  # the reach greedy's uncovered followers per candidate
        self.chosen: list[int] = []
        self.in_plan = np.zeros(inst.m, dtype=bool)
        self.spent = 0.0
        self.tcount = np.zeros(len(TIER_NAMES), dtype=np.int64)
        self.tspend = np.zeros(len(TIER_NAMES))
        self.blocked = np.zeros(inst.m, dtype=bool)
        self.gains: list[tuple[int, int, float]] = []
        self._common = np.zeros(inst.m, dtype=np.int64) if inst.max_overlap is not None else None

    def copy(self) -> _State:
        new = _State.__new__(_State)
        new.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray | list) else v)
                             for k, v in self.__dict__.items()})
        return new

    def add(self, c: int) -> None:
        inst = self.inst
        self.gains.append(_k.add(inst.starts, inst.ends, inst.indices, c, self.count, self.hit,
                                 inst.k, inst.q[c], inst.kind == _k.EXPECTED))
        self.chosen.append(c)
        self.in_plan[c] = True
        self.spent += inst.cost[c]
        self.tcount[inst.tier[c]] += 1
        self.tspend[inst.tier[c]] += inst.cost[c]
        if inst.max_overlap is not None:
            self.blocked |= self._blocks(c)

    # --- admissibility: budget and slots reserved for the unmet tier minimums ---------------
    def _tier_reserve(self, t: int, extra: int = -1) -> tuple[float, int]:
        """(budget, slots) the minimums of tier t still need, with ``extra`` added."""
        inst = self.inst
        d = inst.tmin[t] - self.tcount[t] - (1 if extra >= 0 else 0)
        s = inst.smin[t] - self.tspend[t] - (inst.cost[extra] if extra >= 0 else 0.0)
        if d <= 0 and s <= EPS:
            return 0.0, 0
        d = max(d, 0)
        total = 0.0
        taken = 0
        if d > 0:
            for c in inst.by_tier[t]:
                if taken == d:
                    break
                if c == extra or self.in_plan[c] or self.blocked[c] or inst.excluded[c]:
                    continue
                total += inst.cost[c]
                taken += 1
            if taken < d:
                return math.inf, d
        return max(total, s), d

    def reserve(self) -> tuple[float, int, np.ndarray, np.ndarray]:
        res = np.zeros(len(TIER_NAMES))
        slots = np.zeros(len(TIER_NAMES), dtype=np.int64)
        for t in range(len(TIER_NAMES)):
            res[t], slots[t] = self._tier_reserve(t)
        return float(res.sum()), int(slots.sum()), res, slots

    def admissible(self, c: int, reserve) -> bool:
        inst = self.inst
        if self.in_plan[c] or self.blocked[c] or inst.excluded[c]:
            return False
        t = inst.tier[c]
        cost = inst.cost[c]
        if self.tcount[t] + 1 > inst.tmax[t] or self.tspend[t] + cost > inst.smax[t] + EPS:
            return False
        total, slots, res, tslots = reserve
        if res[t] > 0 or tslots[t] > 0:
            rt, st = self._tier_reserve(t, c)
            total, slots = total - res[t] + rt, slots - tslots[t] + st
        if (self.spent + cost + total > inst.budget + EPS
                or len(self.chosen) + 1 + slots > inst.max_creators):
            return False
        if inst.max_overlap is not None and (res.any() or tslots.any()):
            # c must not block the creators the unmet minimums still need
            newly = self._blocks(c) & ~self.blocked
            if newly.any():
                saved = self.blocked
                self.blocked = saved | newly
                try:
                    after = [self._tier_reserve(u, c if u == t else -1)
                             for u in range(len(TIER_NAMES))]
                finally:
                    self.blocked = saved
                total = sum(r for r, _ in after)
                slots = sum(n for _, n in after)
                return (self.spent + cost + total <= inst.budget + EPS
                        and len(self.chosen) + 1 + slots <= inst.max_creators)
        return True

    def _blocks(self, c: int) -> np.ndarray:
        """Candidates that would overlap c above max_overlap."""
        inst = self.inst
        common = _k.common_with(inst.starts, inst.ends, inst.indices, inst.tptr, inst.tind, c,
                                self._common)
        return _overlap(inst, c, common) > inst.max_overlap + EPS

    def admissible_mask(self, cand: np.ndarray, reserve) -> np.ndarray:
        """:meth:`admissible` of many candidates at once."""
        inst = self.inst
        t = inst.tier[cand]
        cost = inst.cost[cand]
        total, slots, res, tslots = reserve
        base = ~self.in_plan[cand] & ~self.blocked[cand] & ~inst.excluded[cand]
        base &= (self.tcount[t] + 1 <= inst.tmax[t]) & (self.tspend[t] + cost <= inst.smax[t] + EPS)
        ok = base & (self.spent + cost + total <= inst.budget + EPS)
        ok &= len(self.chosen) + 1 + slots <= inst.max_creators
        short = ((res > 0) | (tslots > 0))[t]  # their own tier's reserve shrinks if they join
        if inst.max_overlap is not None and (res.any() or tslots.any()):
            short[:] = True  # any of them may block what the minimums need
        for i in np.flatnonzero(short & base):
            ok[i] = self.admissible(int(cand[i]), reserve)
        return ok

    def quotas_met(self) -> bool:
        inst = self.inst
        return bool(np.all(self.tcount >= inst.tmin) and np.all(self.tspend >= inst.smin - EPS))


def _overlap(inst: _Instance, c: int, common: np.ndarray) -> np.ndarray:
    deg = inst.degree.astype(float)
    if inst.overlap_by == "jaccard":
        den = deg[c] + deg - common
    else:
        den = np.minimum(deg[c], deg)
    out = np.zeros(len(common))
    np.divide(common, den, out=out, where=den > 0)
    out[c] = 0.0
    return out


PARALLEL_GAINS = 4_000_000  # follower entries above which gains are computed on threads


def _gains(inst: _Instance, cand: np.ndarray, kind: int, state: _State) -> np.ndarray:
    """Marginal gains of ``cand`` over ``state`` (threads only for large inputs; on an empty
    state, from the audience sizes)."""
    deg = inst.ends[cand] - inst.starts[cand]
    if not state.chosen:
        if kind == _k.EXPECTED:
            return deg * inst.p[cand]
        return deg.astype(float) if kind != _k.RK or inst.k == 1 else np.zeros(len(cand))
    f = _k.gains if int(deg.sum()) >= PARALLEL_GAINS else _k.gains_serial
    return f(inst.starts, inst.ends, inst.indices, cand, kind, state.count, state.hit, inst.k,
             inst.p)


def _dense(inst: _Instance) -> tuple[np.ndarray, np.ndarray]:
    """``(bits, slot)``: bitsets of the largest audiences (``bits[slot[c]]``, slot -1: none)
    for reach gains by popcount. Unfiltered, they are the reach engine's audience bitsets,
    built once per opened graph (:func:`kolgraph.reach.dense_rows`, audiences of at least
    1/32 of the accounts, where a bitset is no bigger than the row); filtered rows get
    their own, built per plan with the same threshold."""
    if inst.dense is None:
        if not inst.filtered:
            slot, bits = _reach.dense_rows(inst.graph, inst.idx, False)
        else:
            deg = inst.degree
            big = np.flatnonzero(deg * _reach.DENSE_FRACTION >= max(inst.n, 1)).astype(np.int64)
            slot = np.full(inst.m, -1, np.int64)
            slot[big] = np.arange(len(big))
            bits = _k.dense_rows(inst.starts, inst.ends, inst.indices, big, (inst.n + 63) // 64)
        inst.dense = (bits, np.ascontiguousarray(slot, dtype=np.int64))
    return inst.dense


def _covered(inst: _Instance, state: _State) -> np.ndarray:
    """The reach bitset of ``state`` (kept by the reach greedy, else from the counts)."""
    if state.covered is not None:
        return state.covered
    covered = np.zeros((inst.n + 63) // 64, np.uint64)
    if state.chosen:
        bits = np.packbits(state.count > 0, bitorder="little")
        covered.view(np.uint8)[:len(bits)] = bits
    return covered


def _left(inst: _Instance, cand: np.ndarray, slot: np.ndarray) -> tuple:
    """Room for the followers each candidate read row by row still leaves uncovered
    (:func:`kolgraph.kernels.plan._cover_gain`); pages are touched only as it fills."""
    size = int(inst.degree[cand[slot[cand] < 0]].sum())
    return (np.full(inst.m, -1, np.int64), np.zeros(inst.m, np.int64),
            np.empty(size, dtype=inst.indices.dtype), np.zeros(1, np.int64))


def _value(inst: _Instance, state: _State) -> float:
    cover = sum(g[0] for g in state.gains)
    if inst.kind == _k.EXPECTED:
        return float(sum(g[2] for g in state.gains))
    if inst.kind == _k.EFFECTIVE:
        return float(sum(g[1] for g in state.gains))
    return float(cover)


def _complete(inst: _Instance, state: _State) -> bool:
    return state.quotas_met() and state.spent <= inst.budget + EPS


def _replace(inst: _Instance, **changes) -> _Instance:
    new = _Instance.__new__(_Instance)
    new.__dict__.update(inst.__dict__)
    new.__dict__.update(changes)
    return new


def _instance(g, cands, mask, kind: int, k: int, options, excluded: np.ndarray,
              limits: tuple, rows: tuple | None = None) -> _Instance:
    """The solver's instance: the candidates' follower rows (only the accounts passing
    ``mask``, when given), exposure probabilities, costs and constraints (``limits``: the
    tier quotas as per-tier arrays ``tmin, tmax, smin, smax``). ``rows``: another audience
    of each candidate instead of its followers (engaged or loyal people), a CSR
    ``(indptr, indices)`` with row i that of candidate i."""
    m = len(cands.ids)
    if rows is not None:
        indptr, indices = rows
        if mask is not None:
            indptr, indices = _k.filtered_rows(indptr, indices, np.arange(m, dtype=np.int64), mask)
        starts, ends = indptr[:-1], indptr[1:]
    elif mask is None:  # the store's own rows
        starts, ends = g.in_indptr[cands.idx], g.in_indptr[cands.idx + 1]
        indices = g.in_indices
    else:
        indptr, indices = _k.filtered_rows(g.in_indptr, g.in_indices, cands.idx, mask)
        starts, ends = indptr[:-1], indptr[1:]
    p = (1.0 - (1.0 - cands.view_rate) ** cands.posts if kind == _k.EXPECTED
         else np.ones(m))
    tmin, tmax, smin, smax = limits
    max_creators = options.max_creators
    inst = _Instance(np.ascontiguousarray(starts, dtype=np.int64),
                     np.ascontiguousarray(ends, dtype=np.int64), indices, int(g.n_accounts),
                     cands.cost.astype(float), cands.tier, p, 1.0 - p,
                     kind, k, options.budget, excluded,
                     int(max_creators) if max_creators is not None else m + 1,
                     tmin, tmax, smin, smax, options.max_overlap, options.overlap_by,
                     graph=g, idx=cands.idx, filtered=mask is not None or rows is not None)
    # the cheapest of each tier, for the budget the tier minimums reserve
    inst.by_tier = [[int(c) for c in np.flatnonzero(cands.tier == t)[
        np.argsort(cands.cost[cands.tier == t], kind="stable")]] if tmin[t] > 0 else []
        for t in range(len(TIER_NAMES))]
    if inst.max_overlap is not None:
        inst.tptr, inst.tind = _k.transpose(inst.starts, inst.ends, indices, inst.n)
    return inst


@dataclass
class _Problem:
    """A checked request, ready to solve: the instance and the candidates, the options, and
    what the report repeats (the objective's name, the quotas, the must-include and
    must-exclude positions, the account filter's population, filters and warnings)."""

    inst: _Instance
    cands: Any  # kolgraph.plan.candidates._Candidates
    options: Any  # kolgraph.plan.options.PlanOptions
    objective: str
    quotas: dict
    include: list
    exclude: list
    population: int
    filters: dict
    warnings: list
    audience: str = "followers"  # whose people the objective counts (followers, engaged, loyal)
    mask: np.ndarray | None = None  # the account filter of the counted people
