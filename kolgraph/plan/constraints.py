"""Objectives and constraints: parsing the objective and the tier quotas, checking what
needs the graph or the candidates (the objective's data, the must-include and must-exclude
ids, the budget against the cheapest candidate, the method's size limit), turning quotas
into per-tier limits, and the feasibility checks that name the constraint that fails."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from kolgraph.engagement import WindowOptions
from kolgraph.exceptions import InputError
from kolgraph.kernels import plan as _k
from kolgraph.plan.candidates import _Candidates, _positions
from kolgraph.plan.instance import EPS, _Instance, _State
from kolgraph.plan.options import ENUMERATE_MAX
from kolgraph.tiers import TIER_NAMES


# --- objectives and quotas ---------------------------------------------------------------
def parse_objective(objective: str, k: int | None = None) -> tuple[int, int]:
    """``(kernel kind, k)`` of an objective name."""
    name = str(objective).strip().lower()
    if name in ("unique", "target", "real", "engaged", "loyal"):
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
                     "(any k), target, real, engaged or loyal")


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


# --- checks that need the graph or the candidates ------------------------------------------
def _audience(g, objective: str, o) -> str:
    """Whose people the objective counts: ``engaged`` and ``loyal`` are unique reach over
    those audiences; ``audience`` carries them to the other objectives. The window options
    apply only to them, and they need the store's interactions."""
    audience = objective if objective in ("engaged", "loyal") else o.audience
    if objective in ("engaged", "loyal") and o.audience not in ("followers", objective):
        raise InputError(f"objective {objective!r} counts {objective} people; it cannot take "
                         f"audience={o.audience!r} (use objective 'unique' with that audience)")
    if audience == "followers":
        window_set = [n for n, f in WindowOptions.model_fields.items()
                      if getattr(o, n) != f.default]
        if window_set:
            raise InputError(f"{', '.join(window_set)}: only with objective 'engaged' or "
                             "'loyal' (or audience='engaged' or 'loyal')")
        return audience
    if objective == "expected":
        raise InputError("objective 'expected' weighs followers by the chance they see a post; "
                         f"it does not take audience={audience!r} (use unique, effective<k>, "
                         "target, real, engaged or loyal)")
    if g.interactions is None:
        raise InputError(f"{audience} people need the store's interactions part, and this store "
                         "has none; add them with `kolgraph add-interactions STORE FILE` (or "
                         "`kolgraph ingest ... --interactions FILE`)")
    return audience


def _check_objective(g, objective: str, where) -> bool:
    """The data the objective needs: ``target`` an account filter, ``real`` the account
    column ``flagged``. True when the objective drops the flagged followers (``real``)."""
    if objective == "target" and (where is None or (isinstance(where, str) and not where.strip())):
        raise InputError("objective 'target' needs an account filter: pass where=... "
                         "(--where \"country == 'NL'\")")
    if objective == "real":
        table = g.accounts
        if table is None or "flagged" not in table.column_names:
            raise InputError("objective 'real' needs the boolean account column 'flagged' "
                             "(ingest it with --accounts, or run bot scoring first)")
        return True
    return False


def _check_method(method: str, m: int) -> None:
    if method == "enumerate" and m > ENUMERATE_MAX:
        raise InputError(f"method 'enumerate' tries every 3-creator seed: at most {ENUMERATE_MAX} "
                         f"candidates, got {m}; use method 'greedy'")


def _must(g, cands: _Candidates, must_include, must_exclude,
          budget: float) -> tuple[list[int], list[int], np.ndarray]:
    """Positions of the must-include and must-exclude creators and the excluded mask; some
    candidate must stay open and affordable."""
    include = _positions(g, cands, must_include, "must_include")
    exclude = _positions(g, cands, must_exclude, "must_exclude")
    both = set(include) & set(exclude)
    if both:
        raise InputError(f"must_include and must_exclude both name {[cands.ids[i] for i in both]}")
    excluded = np.zeros(len(cands.ids), dtype=bool)
    excluded[exclude] = True
    if excluded.all():
        raise InputError("every candidate is excluded")
    open_cost = cands.cost[~excluded]
    cheapest = int(np.flatnonzero(~excluded)[np.argmin(open_cost)])
    if budget < cands.cost[cheapest] - EPS:
        raise InputError(f"budget {budget:,.2f} is below the cheapest candidate "
                         f"({cands.ids[cheapest]!r} costs {cands.cost[cheapest]:,.2f})")
    return include, exclude, excluded


def _quota_limits(quotas: dict, budget: float) -> tuple[np.ndarray, ...]:
    """Per-tier arrays ``(tmin, tmax, smin, smax)``: creator counts and spend; no quota is
    0 / a large count / 0 / infinity."""
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
    return tmin, tmax, smin, smax


# --- feasibility ------------------------------------------------------------------------------
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
