"""Creator-mix planner: the best set of creators for a budget, with tier quotas.

The front-end of :mod:`kolgraph.kernels.plan`. Candidates come with a price per
post (cost = price x posts booked); the planner picks a set within the budget
that maximises one objective (definitions as in DESIGN.md and
:mod:`kolgraph.reach`):

- ``unique``: unique reach ``|∪ F(c)|``;
- ``expected``: expected reach ``Σ_u 1 − Π_{c∋u} (1 − r_c)^{n_c}`` (view rates, posts);
- ``effective<k>`` (``effective`` = ``effective3``): R_k, followers reached by at
  least k chosen creators;
- ``target``: unique reach among the accounts passing ``where``;
- ``real``: unique reach without the accounts flagged as bots (account column
  ``flagged``).

``where`` filters the counted followers of any objective.

Method: lazy (CELF) greedy on marginal gain per unit of cost, started from the
must-include creators, compared with the best single-creator plan (method
``greedy``), or greedy completions of every feasible 3-creator seed plus every
plan of at most 2 creators (method ``enumerate``, partial enumeration). For a
monotone submodular objective (all but R_k) under the budget alone these carry
the known guarantees ½(1 − 1/e) ≈ 0.316 and 1 − 1/e ≈ 0.632 of the optimum
(Khuller, Moss & Naor 1999; Leskovec et al. 2007 for the lazy evaluation;
Sviridenko 2004 for submodular functions). Side constraints (tier quotas, a
maximum number of creators, a maximum pairwise overlap) void the proof, so the
plan says when the bound applies; it always reports a data-dependent upper
bound on the optimum of any submodular objective (the plan's value plus the best
fractional knapsack of the remaining marginal gains), valid under every constraint.

Constraints are kept, never silently dropped: an admissibility test reserves the
budget and the slots that the unmet tier minimums still need (the cheapest
eligible creators of each short tier), so the greedy never spends what a quota
needs; a request that cannot be met raises :class:`InputError` naming the
constraint.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph import _parallel
from kolgraph import reach as _reach
from kolgraph._check import default_view_rates
from kolgraph._parallel import Job
from kolgraph.exceptions import InputError, UnknownAccountError
from kolgraph.filters import account_filter
from kolgraph.graph import graph_method
from kolgraph.kernels import plan as _k
from kolgraph.plots import plot_curve  # noqa: F401  (public name, kept)
from kolgraph.tiers import TIER_NAMES, tier_index

GREEDY_BOUND = 0.5 * (1.0 - 1.0 / math.e)
ENUMERATE_BOUND = 1.0 - 1.0 / math.e
ENUMERATE_MAX = 40  # partial enumeration runs O(m^3) greedy completions
EPS = 1e-9
SHAPLEY_PERMUTATIONS = 1000


# --- the result ---------------------------------------------------------------------------
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


# --- candidates ----------------------------------------------------------------------------
def _coerce_id(g, x):
    if isinstance(x, np.generic):
        x = x.item()
    if g.ids.kind == "int":
        if isinstance(x, str):
            try:
                return int(x.strip())
            except ValueError:
                return x
        if isinstance(x, float) and x.is_integer():
            return int(x)
        return x
    return x if isinstance(x, str) else str(x)


def _candidate_table(g, candidates) -> tuple[pa.Table, str]:
    """Candidates as a table with ``id``, ``price`` and optional ``posts``, ``view_rate``."""
    if isinstance(candidates, str | Path):
        path = Path(candidates)
        if not path.is_file():
            raise InputError(f"candidates file {str(path)!r} does not exist")
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pacsv

            try:
                table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                    column_types={"id": pa.string()}))
            except pa.ArrowInvalid as exc:
                raise InputError(f"{path}: cannot read the candidates CSV ({exc})") from None
        return table, str(path)
    if isinstance(candidates, pa.Table):
        return candidates, "candidates"
    if hasattr(candidates, "to_dict") and hasattr(candidates, "columns"):  # pandas
        return pa.Table.from_pandas(candidates, preserve_index=False), "candidates"
    if isinstance(candidates, Mapping):
        return pa.table({"id": list(candidates.keys()),
                         "price": [float(v) for v in candidates.values()]}), "candidates"
    rows = list(candidates)
    if rows and all(isinstance(r, Mapping) for r in rows):
        return pa.Table.from_pylist(rows), "candidates"
    # bare ids: prices from the creator table
    c = g.creators
    if c is None or "price" not in c.column_names:
        raise InputError("candidates given as ids need prices: pass {id: price}, a table with "
                         "id,price, or a store whose creator table has a 'price' column")
    ids = [_coerce_id(g, x) for x in rows]
    idx = np.asarray(g.index(ids, strict=False), dtype=np.int64)
    if np.any(idx < 0):
        raise UnknownAccountError([ids[i] for i in np.flatnonzero(idx < 0)])
    cidx = np.asarray(c.column("idx").to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.argsort(cidx, kind="stable")
    pos = np.minimum(np.searchsorted(cidx[order], idx), len(cidx) - 1) if len(cidx) else idx * 0
    found = (cidx[order][pos] == idx) if len(cidx) else np.zeros(len(idx), bool)
    prices = np.full(len(idx), np.nan)
    price_col = c.column("price").to_numpy(zero_copy_only=False).astype(float)
    prices[found] = price_col[order][pos[found]]
    if np.any(~np.isfinite(prices)):
        missing = [ids[i] for i in np.flatnonzero(~np.isfinite(prices))][:10]
        raise InputError(f"no price in the creator table for candidate(s) {missing}; "
                         "pass prices explicitly")
    return pa.table({"id": ids, "price": prices}), "candidates"


def _ids_of(g, col) -> tuple[list, Any]:
    """External ids of the candidate column typed as the graph's ids, and the same ids in
    the form the id map looks up fastest (an int64 array or an Arrow string column)."""
    want_int = g.ids.kind == "int"
    if want_int and not pa.types.is_integer(col.type):
        try:
            col = pc.cast(pc.utf8_trim_whitespace(pc.cast(col, pa.string())), pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ids = [_coerce_id(g, x) for x in col.to_pylist()]
            return ids, ids
    elif not want_int and not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    if want_int:
        try:
            keys = np.asarray(pc.cast(col, pa.int64()).to_numpy(), dtype=np.int64)
        except pa.ArrowInvalid:  # e.g. uint64 past int64: looked up one by one, reported unknown
            ids = col.to_pylist()
            return ids, ids
        return keys.tolist(), keys
    return col.to_pylist(), col


def _column(table: pa.Table, name: str, source: str, default: float | None):
    if name not in table.column_names:
        if default is None:
            raise InputError(f"{source}: no column {name!r} (columns: "
                             f"{', '.join(table.column_names)}); expected id,price[,posts,view_rate]")
        return np.full(table.num_rows, default, dtype=float)
    col = table.column(name)
    try:
        vals = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
    except (ValueError, TypeError, pa.ArrowInvalid):
        raise InputError(f"{source}: column {name!r} must be numeric") from None
    bad = np.flatnonzero(~np.isfinite(vals))
    if len(bad):
        rows = ", ".join(str(r + 2) for r in bad[:5])  # +2: header line, 1-based
        raise InputError(f"{source}: column {name!r} is empty or not a number on line(s) {rows}")
    return vals


@dataclass
class _Candidates:
    ids: list
    idx: np.ndarray
    price: np.ndarray
    posts: np.ndarray
    view_rate: np.ndarray
    cost: np.ndarray
    tier: np.ndarray  # tier number 0..4


def read_candidates(g, candidates) -> _Candidates:
    """Check and resolve the candidates (ids, prices, posts, view rates)."""
    table, source = _candidate_table(g, candidates)
    if "id" not in table.column_names:
        raise InputError(f"{source}: no column 'id' (columns: {', '.join(table.column_names)}); "
                         "expected id,price[,posts,view_rate]")
    col = table.column("id")
    if col.null_count:
        rows = [str(i + 2) for i, x in enumerate(col.to_pylist()) if x is None][:5]
        raise InputError(f"{source}: empty id on line(s) {', '.join(rows)}")
    ids, keys = _ids_of(g, col)
    if not ids:
        raise InputError(f"{source}: no candidates")
    price = _column(table, "price", source, None)
    neg = np.flatnonzero(price <= 0)
    if len(neg):
        shown = ", ".join(f"{ids[i]!r} ({price[i]:g}, line {i + 2})" for i in neg[:5])
        raise InputError(f"{source}: prices must be positive; got {shown}")
    posts = _column(table, "posts", source, 1.0)
    if np.any(posts < 1) or np.any(posts != np.round(posts)):
        i = int(np.flatnonzero((posts < 1) | (posts != np.round(posts)))[0])
        raise InputError(f"{source}: posts must be whole numbers >= 1; got {posts[i]:g} for "
                         f"{ids[i]!r} (line {i + 2})")
    idx = np.asarray(g.index(keys, strict=False), dtype=np.int64)
    if np.any(idx < 0):
        raise UnknownAccountError([ids[i] for i in np.flatnonzero(idx < 0)])
    uniq, first, counts = np.unique(idx, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dups = [ids[first[i]] for i in np.flatnonzero(counts > 1)]
        raise InputError(f"{source}: duplicate candidate id(s): {', '.join(map(repr, dups[:10]))}")
    rates = np.full(len(ids), np.nan)  # NaN: the default, filled where needed
    if "view_rate" in table.column_names:
        given = np.asarray(pc.fill_null(pc.cast(table.column("view_rate"), pa.float64()),
                                        np.nan).to_numpy(zero_copy_only=False), dtype=float)
        rates = given
        bad = np.flatnonzero((rates < 0) | (rates > 1))
        if len(bad):
            i = int(bad[0])
            raise InputError(f"{source}: view_rate must be between 0 and 1; got {rates[i]:g} "
                             f"for {ids[i]!r} (line {i + 2})")
    tier = tier_index(g.in_degree[idx]).astype(np.int64)
    if "tier" in table.column_names:  # the planner's own tiers override the follower counts
        for i, name in enumerate(table.column("tier").to_pylist()):
            if name is None or name == "":
                continue
            if str(name).lower() not in TIER_NAMES:
                raise InputError(f"{source}: unknown tier {name!r} for {ids[i]!r} (line {i + 2}); "
                                 f"tiers: {', '.join(TIER_NAMES)}")
            tier[i] = TIER_NAMES.index(str(name).lower())
    return _Candidates(ids, idx, price, posts.astype(np.int64), rates, price * posts, tier)


# --- objectives and quotas -----------------------------------------------------------------
def parse_objective(objective: str, k: int | None = None) -> tuple[int, int]:
    """``(kernel kind, k)`` of an objective name."""
    name = str(objective).strip().lower()
    if name in ("unique", "target", "real"):
        return _k.COVER, k or 3
    if name == "expected":
        return _k.EXPECTED, k or 3
    m = re.fullmatch(r"effective_?(\d*)", name)
    if m:
        kk = int(m.group(1)) if m.group(1) else (k or 3)
        if not 1 <= kk <= 100:
            raise InputError(f"effective reach needs 1 <= k <= 100, e.g. effective3; got {kk}")
        return _k.EFFECTIVE, kk
    raise InputError(f"unknown objective {objective!r}; choose unique, expected, effective3 "
                     "(any k), target or real")


_QUOTA = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(>=|<=|==|=)\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$")


def parse_tier_quota(tier_quota) -> dict[str, dict]:
    """Normalise quotas to ``{tier: {"min", "max", "min_share", "max_share"}}``.

    Accepts strings such as ``"micro:>=5"``, ``"mega:<=1"``, ``"micro:>=20%"``
    (share of the budget), ``"mid:==2"``, a list of them, or a dict
    ``{"micro": {"min": 5, "max_share": 0.4}}`` (or ``{"micro": ">=5"}``).
    """
    out: dict[str, dict] = {}
    if tier_quota is None:
        return out
    items: list[tuple[str, Any]] = []
    if isinstance(tier_quota, str):
        tier_quota = [tier_quota]
    if isinstance(tier_quota, Mapping):
        for tier, spec in tier_quota.items():
            if isinstance(spec, str):
                items.append((str(tier), spec))
            elif isinstance(spec, Mapping):
                for key, v in spec.items():
                    if key not in ("min", "max", "min_share", "max_share"):
                        raise InputError(f"tier quota {tier!r}: unknown key {key!r} "
                                         "(min, max, min_share, max_share)")
                    items.append((str(tier), (key, v)))
            else:
                raise InputError(f"tier quota {tier!r}: give a dict such as {{'min': 5}} or a "
                                 "string such as '>=5'")
    else:
        for s in tier_quota:
            m = _QUOTA.match(str(s))
            if not m:
                raise InputError(f"tier quota {s!r}: expected TIER:>=N, TIER:<=N, TIER:==N or "
                                 "a share of the budget such as micro:>=20%")
            items.append((m.group(1), f"{m.group(2)}{m.group(3)}{m.group(4)}"))
    for tier, spec in items:
        t = tier.lower()
        if t not in TIER_NAMES:
            raise InputError(f"tier quota: unknown tier {tier!r} (tiers: {', '.join(TIER_NAMES)})")
        q = out.setdefault(t, {"min": None, "max": None, "min_share": None, "max_share": None})
        if isinstance(spec, tuple):
            key, v = spec
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise InputError(f"tier quota {t}: {key} must be a number") from None
            q[key] = v
        else:
            m = re.fullmatch(r"(>=|<=|==|=)([0-9]*\.?[0-9]+)(%?)", spec.replace(" ", ""))
            if not m:
                raise InputError(f"tier quota {t}: cannot read {spec!r}")
            op, num, pct = m.groups()
            v = float(num) / 100.0 if pct else float(num)
            lo, hi = ("min_share", "max_share") if pct else ("min", "max")
            if op in (">=", "==", "="):
                q[lo] = v
            if op in ("<=", "==", "="):
                q[hi] = v
    for t, q in out.items():
        for key in ("min", "max"):
            if q[key] is not None and (q[key] < 0 or q[key] != int(q[key])):
                raise InputError(f"tier quota {t}: {key} must be a whole number >= 0, got {q[key]:g}")
            if q[key] is not None:
                q[key] = int(q[key])
        for key in ("min_share", "max_share"):
            if q[key] is not None and not 0 <= q[key] <= 1:
                raise InputError(f"tier quota {t}: {key} must be between 0 and 1 "
                                 f"(0% and 100%), got {q[key]:g}")
        if q["min"] is not None and q["max"] is not None and q["min"] > q["max"]:
            raise InputError(f"tier quota {t}: at least {q['min']} and at most {q['max']} "
                             "creators cannot both hold")
        if (q["min_share"] is not None and q["max_share"] is not None
                and q["min_share"] > q["max_share"]):
            raise InputError(f"tier quota {t}: min share {q['min_share']:.0%} is above max share "
                             f"{q['max_share']:.0%}")
    return out


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
    filtered: bool = False  # rows filtered by an account filter (not the store's own)
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
        reserve = state.reserve()
        short = (state.tcount < inst.tmin) | (state.tspend < inst.smin - EPS)
        cand = np.flatnonzero(short[inst.tier] & ~state.in_plan & ~inst.excluded & ~state.blocked)
        cand = cand[state.admissible_mask(cand, reserve)]
        if len(cand) == 0:
            return
        g = _gains(inst, cand, kind, state)
        order = np.lexsort((cand, inst.cost[cand], -(g / inst.cost[cand])))
        state.add(int(cand[order[0]]))


def _value(inst: _Instance, state: _State) -> float:
    cover = sum(g[0] for g in state.gains)
    if inst.kind == _k.EXPECTED:
        return float(sum(g[2] for g in state.gains))
    if inst.kind == _k.EFFECTIVE:
        return float(sum(g[1] for g in state.gains))
    return float(cover)


def _complete(inst: _Instance, state: _State) -> bool:
    return state.quotas_met() and state.spent <= inst.budget + EPS


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


# --- effective reach R_k: no submodularity, so several starts, local search, exact when small
EXACT_MAX = 30  # free candidates up to which R_k is solved exactly (scipy.optimize.milp)
EXACT_REGIONS = 20_000  # Venn regions (distinct follower memberships) the MILP may hold
EXACT_SECONDS = 10.0
LOCAL_SEARCH_WORK = 1_000_000_000  # follower entries the swap search may read


def _rk_of(inst: _Instance, sel) -> float:
    sel = np.asarray(sel, dtype=np.int64)
    return float(_k.evaluate(inst.starts, inst.ends, inst.indices, sel, inst.q, inst.k, inst.n,
                             False)[1])


def _replace(inst: _Instance, **changes) -> _Instance:
    new = _Instance.__new__(_Instance)
    new.__dict__.update(inst.__dict__)
    new.__dict__.update(changes)
    return new


def _rebuild(inst: _Instance, include: list, members) -> _State:
    """The plan holding ``members`` (must-include creators first), the rest added in
    the order a greedy on R_k (ties: the surrogate, then cost) would add them."""
    state = _State(inst)
    for c in include:
        state.add(c)
    rest = [c for c in members if c not in set(include)]
    while rest:
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


# --- public entry point ---------------------------------------------------------------------
@graph_method
def plan(g, candidates, budget: float, objective: str = "unique", *, k: int | None = None,
         tier_quota=None, must_include: Iterable = (), must_exclude: Iterable = (),
         max_creators: int | None = None, max_overlap: float | None = None,
         overlap_by: str = "overlap_coefficient", where: str | Mapping | None = None,
         exclude_flagged: bool = False, method: str = "greedy", shapley: str = "exact",
         permutations: int = SHAPLEY_PERMUTATIONS, seed: int = 0, lazy: bool = True,
         exact: bool = True) -> Plan:
    """The best creator mix for a budget.

    Parameters
    ----------
    g : FollowerGraph
    candidates : prices of the candidates: a CSV/Parquet path or a table (pandas or
        pyarrow) with columns ``id, price`` and optionally ``posts`` (default 1),
        ``view_rate`` (default avg_views/followers, else 1) and ``tier`` (default from
        the follower count); a dict ``{id: price}``;
        or a list of ids priced from the creator table's ``price`` column.
        The cost of a candidate is ``price x posts``.
    budget : total spend allowed.
    objective : ``unique``, ``expected``, ``effective3`` (``effective<k>``), ``target``
        (needs ``where``) or ``real`` (followers flagged as bots removed).
    tier_quota : e.g. ``["micro:>=5", "mega:<=1", "nano:>=20%"]`` (counts, or shares of
        the budget) or ``{"micro": {"min": 5, "max_share": 0.5}}``.
    must_include, must_exclude : candidate ids that must / must not be in the plan.
    max_creators : at most this many creators.
    max_overlap : no two chosen creators share more than this fraction of audience,
        by ``overlap_by`` (``overlap_coefficient`` |A∩B|/min(|A|,|B|), or ``jaccard``),
        measured on the counted followers.
    where, exclude_flagged : account filter of the counted followers (see
        :func:`kolgraph.reach.account_filter`).
    method : ``greedy`` (lazy greedy + best single creator, ½(1−1/e)) or
        ``enumerate`` (partial enumeration, 1−1/e; at most 40 candidates).
    shapley : ``exact`` (follower by follower, any plan size) or ``montecarlo``
        (``permutations`` random orders, 95% confidence intervals).
    lazy : False recomputes every gain at every step (plain greedy: the same plan, slower).
    exact : effective reach R_k (k >= 2) only: solve exactly with ``scipy.optimize.milp``
        when at most 30 candidates are open (False: the heuristic alone).

    Returns
    -------
    Plan

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4, 5], [10, 10, 10, 11, 11, 12])
    >>> p = plan(g, {10: 300.0, 11: 100.0, 12: 100.0}, budget=250)
    >>> p.ids, p.cost, p.value
    ([11, 12], 200.0, 3.0)
    """
    t_start = time.perf_counter()
    kind, k = parse_objective(objective, k)
    obj = str(objective).strip().lower()
    if obj == "target" and (where is None or (isinstance(where, str) and not where.strip())):
        raise InputError("objective 'target' needs an account filter: pass where=... "
                         "(--where \"country == 'NL'\")")
    if obj == "real":
        table = g.accounts
        if table is None or "flagged" not in table.column_names:
            raise InputError("objective 'real' needs the boolean account column 'flagged' "
                             "(ingest it with --accounts, or run bot scoring first)")
        exclude_flagged = True
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise InputError(f"budget must be a number, got {budget!r}") from None
    if not math.isfinite(budget) or budget <= 0:
        raise InputError(f"budget must be a positive number, got {budget:g}")
    if method not in ("greedy", "enumerate"):
        raise InputError(f"method must be 'greedy' or 'enumerate', got {method!r}")
    if shapley not in ("exact", "montecarlo"):
        raise InputError(f"shapley must be 'exact' or 'montecarlo', got {shapley!r}")
    if overlap_by not in ("overlap_coefficient", "jaccard"):
        raise InputError(f"overlap_by must be 'overlap_coefficient' or 'jaccard', got {overlap_by!r}")
    if max_overlap is not None and not 0 <= float(max_overlap) <= 1:
        raise InputError(f"max_overlap must be between 0 and 1, got {max_overlap}")
    if max_creators is not None and int(max_creators) < 1:
        raise InputError(f"max_creators must be at least 1, got {max_creators}")

    cands = read_candidates(g, candidates)
    m = len(cands.ids)
    if method == "enumerate" and m > ENUMERATE_MAX:
        raise InputError(f"method 'enumerate' tries every 3-creator seed: at most {ENUMERATE_MAX} "
                         f"candidates, got {m}; use method 'greedy'")
    pos_of: dict = {}

    def positions(ids, what: str) -> list[int]:
        if isinstance(ids, str | bytes | int | np.integer):
            ids = [ids]
        ids = list(ids)
        if ids and not pos_of:
            pos_of.update((x, i) for i, x in enumerate(cands.ids))
        out, stray = [], []
        for x in ids:
            x = _coerce_id(g, x)
            (out.append(pos_of[x]) if x in pos_of else stray.append(x))
        if stray:
            raise InputError(f"{what}: {len(stray)} id(s) not among the candidates: "
                             f"{', '.join(map(repr, stray[:10]))}")
        return list(dict.fromkeys(out))

    include = positions(must_include, "must_include")
    exclude = positions(must_exclude, "must_exclude")
    both = set(include) & set(exclude)
    if both:
        raise InputError(f"must_include and must_exclude both name {[cands.ids[i] for i in both]}")
    excluded = np.zeros(m, dtype=bool)
    excluded[exclude] = True
    if excluded.all():
        raise InputError("every candidate is excluded")
    open_cost = cands.cost[~excluded]
    cheapest = int(np.flatnonzero(~excluded)[np.argmin(open_cost)])
    if budget < cands.cost[cheapest] - EPS:
        raise InputError(f"budget {budget:,.2f} is below the cheapest candidate "
                         f"({cands.ids[cheapest]!r} costs {cands.cost[cheapest]:,.2f})")

    if kind == _k.EXPECTED:  # elsewhere view rates are only reported, for the chosen
        _fill_view_rates(g, cands, np.arange(m))
    mask, filters, warnings = account_filter(g, where, exclude_flagged=exclude_flagged)
    if mask is None:  # the store's own rows
        starts, ends = g.in_indptr[cands.idx], g.in_indptr[cands.idx + 1]
        indices = g.in_indices
    else:
        indptr, indices = _k.filtered_rows(g.in_indptr, g.in_indices, cands.idx, mask)
        starts, ends = indptr[:-1], indptr[1:]
    population = int(mask.sum()) if mask is not None else int(g.n_accounts)
    p = (1.0 - (1.0 - cands.view_rate) ** cands.posts if kind == _k.EXPECTED
         else np.ones(m))
    quotas = parse_tier_quota(tier_quota)
    n_t = len(TIER_NAMES)
    tmin = np.zeros(n_t, dtype=np.int64)
    tmax = np.full(n_t, np.iinfo(np.int64).max // 4, dtype=np.int64)
    smin = np.zeros(n_t)
    smax = np.full(n_t, math.inf)
    for name, q in quotas.items():
        t = TIER_NAMES.index(name)
        if q["min"] is not None:
            tmin[t] = q["min"]
        if q["max"] is not None:
            tmax[t] = q["max"]
        if q["min_share"] is not None:
            smin[t] = q["min_share"] * budget
        if q["max_share"] is not None:
            smax[t] = q["max_share"] * budget
    inst = _Instance(np.ascontiguousarray(starts, dtype=np.int64),
                     np.ascontiguousarray(ends, dtype=np.int64), indices, int(g.n_accounts),
                     cands.cost.astype(float), cands.tier, p, 1.0 - p,
                     kind, k, budget, excluded,
                     int(max_creators) if max_creators is not None else m + 1,
                     tmin, tmax, smin, smax,
                     float(max_overlap) if max_overlap is not None else None, overlap_by,
                     graph=g, idx=cands.idx, filtered=mask is not None)
    # the cheapest of each tier, for the budget the tier minimums reserve
    inst.by_tier = [[int(c) for c in np.flatnonzero(cands.tier == t)[
        np.argsort(cands.cost[cands.tier == t], kind="stable")]] if tmin[t] > 0 else []
        for t in range(n_t)]
    if inst.max_overlap is not None:
        inst.tptr, inst.tind = _k.transpose(inst.starts, inst.ends, indices, inst.n)
    _check_feasible(inst, cands, quotas)
    t_prep = time.perf_counter() - t_start

    # the naive plan needs nothing from the solver: on a second thread meanwhile
    naive_job = Job(_naive, (inst, cands), _threaded(int(inst.degree.sum())))
    t0 = time.perf_counter()
    base = _State(inst)
    for c in include:
        _admit_included(inst, base, c, cands)
    effective = None
    if kind == _k.EFFECTIVE and inst.k > 1:
        final, chosen_by, effective = _effective(inst, base, include, lazy, exact)
    elif method == "enumerate":
        final = _enumerate(inst, base, lazy)
        chosen_by = "enumeration"
    else:
        single, single_value = _best_single(inst, base)
        final = _greedy(inst, base, lazy=lazy)
        chosen_by = "greedy"
        if single >= 0 and (not _complete(inst, final)
                            or single_value > _value(inst, final) + EPS):
            final, chosen_by = _State(inst), "best single creator"
            for c in include + [single]:
                final.add(c)
    if not _complete(inst, final):
        raise InputError(_unmet(inst, final, quotas))
    t_solve = time.perf_counter() - t0

    t0 = time.perf_counter()
    value = _value(inst, final)
    sel = np.asarray(final.chosen, dtype=np.int64)
    started = _replay(inst, sel, _threaded(int(inst.degree[sel].sum())))
    t1 = time.perf_counter()
    upper = effective["upper_bound"] if effective else _upper_bound(inst, final, value)
    t_upper = time.perf_counter() - t1
    g_cover, g_rk, phi1, phik = _replayed(inst, started)
    guarantee = _guarantee(inst, method, quotas, upper, value, chosen_by, effective)
    shap = _shapley(inst, cands, sel, phik if kind == _k.EFFECTIVE else phi1, value, shapley,
                    permutations, seed)
    naive = naive_job.result()
    t_report = time.perf_counter() - t0

    _fill_view_rates(g, cands, sel)
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
                            "included": c in include})
        curve.append({"step": step, "id": cands.ids[c], "spend": float(cum[0]),
                      "value": float({_k.EXPECTED: cum[3], _k.EFFECTIVE: cum[2]}.get(kind, cum[1])),
                      "unique_reach": int(cum[1]), "effective_reach": int(cum[2]),
                      "expected_reach": float(cum[3]) if kind == _k.EXPECTED else None})
    tiers = {}
    for t, name in enumerate(TIER_NAMES):
        q = quotas.get(name)
        if final.tcount[t] or q:
            tiers[name] = {"count": int(final.tcount[t]), "spend": float(final.tspend[t]),
                           "quota": q}
    return Plan(
        objective=obj, k=k, budget=budget, method=method, chosen=chosen_rows,
        cost=float(final.spent), value=float(value), curve=curve,
        measures={"unique_reach": int(cum[1]),
                  "expected_reach": float(cum[3]) if kind == _k.EXPECTED else None,
                  "effective_reach": int(cum[2]), "k": k, "gross_reach": int(deg[sel].sum())},
        shapley=shap, naive=naive, sainsbury=_sainsbury(inst, sel, population),
        guarantee=guarantee, tiers=tiers,
        constraints={"tier_quota": quotas, "must_include": [cands.ids[i] for i in include],
                     "must_exclude": [cands.ids[i] for i in exclude],
                     "max_creators": max_creators, "max_overlap": max_overlap,
                     "overlap_by": overlap_by},
        candidates=m, population=population, filters=filters, warnings=warnings,
        seconds={"prepare": t_prep, "solve": t_solve, "report": t_report,
                 "upper_bound": t_upper, "naive": naive_job.seconds,
                 "total": time.perf_counter() - t_start})


def _fill_view_rates(g, cands: _Candidates, which: np.ndarray) -> None:
    """Default view rates (avg_views / followers, else 1) where the candidates gave none."""
    which = np.asarray(which, dtype=np.int64)
    unset = which[np.isnan(cands.view_rate[which])]
    if len(unset):
        cands.view_rate[unset] = default_view_rates(g, cands.idx[unset])


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


def _admit_included(inst: _Instance, state: _State, c: int, cands: _Candidates) -> None:
    name = cands.ids[c]
    t = inst.tier[c]
    if state.blocked[c]:
        raise InputError(f"must_include {name!r} overlaps another must-include creator above "
                         f"max_overlap {inst.max_overlap}")
    if state.tcount[t] + 1 > inst.tmax[t]:
        raise InputError(f"must_include puts more {TIER_NAMES[t]} creators in the plan than the "
                         f"tier quota allows (at most {inst.tmax[t]})")
    if state.tspend[t] + inst.cost[c] > inst.smax[t] + EPS:
        raise InputError(f"must_include spends more on {TIER_NAMES[t]} creators than the tier "
                         f"quota allows ({inst.smax[t]:,.2f})")
    if state.spent + inst.cost[c] > inst.budget + EPS:
        raise InputError(f"the must-include creators cost more than the budget {inst.budget:,.2f}")
    if len(state.chosen) + 1 > inst.max_creators:
        raise InputError(f"more must-include creators than max_creators {inst.max_creators}")
    state.add(c)
    total, slots, _, _ = state.reserve()
    if state.spent + total > inst.budget + EPS:
        raise InputError(f"the must-include creators ({state.spent:,.2f}) leave too little of the "
                         f"budget {inst.budget:,.2f} for the tier minimums (at least {total:,.2f} more)")
    if len(state.chosen) + slots > inst.max_creators:
        raise InputError(f"the must-include creators leave too few of max_creators "
                         f"{inst.max_creators} for the tier minimums ({slots} more needed)")


def _check_feasible(inst: _Instance, cands: _Candidates, quotas: dict) -> None:
    """Necessary conditions of the constraints, each failure named."""
    open_ = ~inst.excluded
    total_share = sum((q["min_share"] or 0.0) for q in quotas.values())
    if total_share > 1 + EPS:
        raise InputError(f"tier quotas: the minimum shares add up to {total_share:.0%} of the budget")
    need_cost, need_slots = 0.0, 0
    for t, name in enumerate(TIER_NAMES):
        pool = inst.cost[open_ & (inst.tier == t)]
        d = int(inst.tmin[t])
        if d > len(pool):
            raise InputError(f"tier quota {name}: at least {d} {name} creators required, but only "
                             f"{len(pool)} candidate(s) are {name}")
        if inst.smin[t] > pool.sum() + EPS:
            raise InputError(f"tier quota {name}: a spend of at least {inst.smin[t]:,.2f} required, "
                             f"but all {name} candidates together cost {pool.sum():,.2f}")
        if inst.smin[t] > inst.smax[t] + EPS:
            raise InputError(f"tier quota {name}: minimum spend above maximum spend")
        if d > 0:
            cheapest = np.sort(pool)[:d].sum()
            if cheapest > inst.smax[t] + EPS:
                raise InputError(f"tier quota {name}: the {d} cheapest {name} creators cost "
                                 f"{cheapest:,.2f}, above the tier's maximum spend "
                                 f"{inst.smax[t]:,.2f}")
            need_cost += max(cheapest, inst.smin[t])
        else:
            need_cost += inst.smin[t]
        need_slots += d
    if need_cost > inst.budget + EPS:
        raise InputError(f"tier quotas: the tier minimums need at least {need_cost:,.2f} but the "
                         f"budget is {inst.budget:,.2f}")
    if need_slots > inst.max_creators:
        raise InputError(f"tier quotas: the tier minimums need at least {need_slots} creators but "
                         f"max_creators is {inst.max_creators}")


def _unmet(inst: _Instance, state: _State, quotas: dict) -> str:
    why = (" (max_overlap blocks the creators it would need)" if inst.max_overlap is not None
           else "")
    for t, name in enumerate(TIER_NAMES):
        if state.tcount[t] < inst.tmin[t]:
            return (f"tier quota {name}: no plan found with at least {inst.tmin[t]} {name} "
                    f"creators within the budget {inst.budget:,.2f} and the other constraints"
                    f"{why}; the plan reached {state.tcount[t]}")
        if state.tspend[t] < inst.smin[t] - EPS:
            return (f"tier quota {name}: no plan found spending at least {inst.smin[t]:,.2f} on "
                    f"{name} creators within the budget and the other constraints{why}; the "
                    f"plan reached {state.tspend[t]:,.2f}")
    return f"no plan meets the constraints within the budget {inst.budget:,.2f}"


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
        if permutations < 2:
            raise InputError("Monte Carlo Shapley values need at least 2 permutations")
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
