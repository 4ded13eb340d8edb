"""Admission by estimated work: a request whose engine call would need more than the
service's ``max_work`` is refused with 422 ``too_much_work`` before that call starts.

Work is counted in edge visits: a cascade (or a reverse-reachable set) that reaches
``s`` accounts visits about ``s * (1 + E/n)`` edges (a linear-threshold simulation
counts :data:`LT_COST` times that). The size of one cascade is
measured on a small pilot (a few simulations of the same model, seeds and random
seed; bounded, and under the request's deadline like the call itself), so the
estimate does not depend on how busy the machine is:

- ``/v1/spread``: ``runs`` x the pilot's mean cascade;
- ``/v1/seeds``: IMM's final RR-set count (``lambda*`` over a lower bound of the best
  spread: the pilot spread of the ``k`` largest candidates) x twice (the sampling
  phase) x the mean RR set (the mean cascade of single random accounts), plus
  ``evaluate`` x the pilot cascade;
- ``/v1/plan``: the candidates' audiences (the instance) x the greedy's rounds
  (``log2`` of the candidates, lazy evaluation) plus the effective-reach search; for
  engaged or loyal people, the candidates' interaction events (a bound on those
  audiences) x one more round, the pass that finds them.

Reach, overlap and similar read at most every edge once (at most 64 creators): the
deadline alone bounds them.
"""

from __future__ import annotations

import math

import numpy as np
from kolgraph.api.errors import ApiError

from kolgraph._check import resolve_ids
from kolgraph.propagation.seeding import imm_sample_sizes

PILOT_RUNS = 4  # simulations of the pilot
LT_COST = 10.0  # a linear-threshold simulation costs about 10x an IC one per edge (measured)
PILOT_ACCOUNTS = 8  # random single accounts whose cascades give the mean RR set


def _per_account(g) -> float:
    return 1.0 + g.n_edges / max(g.n_accounts, 1)


def _simulation_cost(opts: dict) -> float:
    return LT_COST if opts.get("model") == "lt" else 1.0


def _refuse(work: float, limit: int, what: str, advice: str) -> None:
    if work > limit:
        raise ApiError(422, "too_much_work",
                       f"this request needs about {work:.3g} edge visits ({what}); this "
                       f"service allows {limit:.3g} per request: {advice}",
                       estimate=float(f"{work:.3g}"), limit=limit)


def _pilot_options(opts: dict) -> dict:
    """The diffusion options of a pilot: the model, its probabilities and the random seed."""
    out = {name: opts[name] for name in ("model", "p", "weighted_cascade", "seed")
           if name in opts}
    vr = opts.get("view_rates")
    if vr is True or isinstance(vr, float | int) and not isinstance(vr, bool):
        out["view_rates"] = vr  # a rate for every seed; otherwise p on the first hop too
    return out


def check_spread(g, seeds: list, opts: dict, limit: int) -> None:
    """Refuse a spread of ``opts["runs"]`` simulations over ``limit`` edge visits."""
    runs = int(opts["runs"])
    pilot = g.spread(seeds, threads=1, **{**opts, "runs": min(runs, PILOT_RUNS)})
    per_run = max(pilot.mean, 1.0) * _per_account(g) * _simulation_cost(opts)
    _refuse(runs * per_run, limit, f"{runs:,} simulations x about {pilot.mean:,.0f} accounts "
            "reached each, measured on a pilot", "ask for fewer runs or a smaller p")


def _candidates(g, candidates) -> np.ndarray:
    if isinstance(candidates, list):
        return np.unique(resolve_ids(g, candidates, skip_unknown=True)[1]).astype(np.int64)
    c = g.creators
    if c is not None and c.num_rows:
        return np.unique(c.column("idx").to_numpy().astype(np.int64))
    return np.arange(g.n_accounts, dtype=np.int64)


def check_seeds(g, opts: dict, limit: int) -> None:
    """Refuse seed selection (and its evaluation) estimated above ``limit`` edge visits."""
    cand = _candidates(g, opts["candidates"])
    k = min(int(opts["k"]), len(cand))
    if k < 1 or g.n_accounts == 0:
        return  # the library's own check answers
    pilot_opts = _pilot_options(opts)
    top = cand[np.argsort(-g.in_degree[cand], kind="stable")[:k]]
    best = g.spread(g.external(top), threads=1, runs=PILOT_RUNS, **pilot_opts).mean
    rng = np.random.default_rng(int(opts.get("seed", 1)))
    single = [g.spread(g.external([int(a)]), threads=1, runs=1,
                       **{**pilot_opts, "view_rates": None}).mean
              for a in rng.integers(0, g.n_accounts, PILOT_ACCOUNTS)]
    per_set = max(float(np.mean(single)), 1.0) * _per_account(g)
    lam = imm_sample_sizes(g.n_accounts, len(cand), k, float(opts["epsilon"]), 1.0)["lambda_star"]
    sets = 2.0 * lam / max(best, float(k))
    evaluate = int(opts.get("evaluate") or 0)
    work = sets * per_set + evaluate * max(best, 1.0) * _per_account(g) * _simulation_cost(opts)
    _refuse(work, limit, f"about {sets:,.0f} RR sets of about {per_set:,.0f} edge visits each"
            + (f", and {evaluate:,} simulations of the chosen seeds" if evaluate else ""),
            "ask for a larger epsilon, a smaller p, fewer seeds or fewer evaluation runs")


def check_plan(g, ids: list, limit: int, engaged: bool = False) -> None:
    """Refuse a plan over candidates whose audiences times the greedy's rounds exceed
    ``limit``. ``engaged``: the audiences are engaged (or loyal) people, at most one per
    interaction event, and the events are read once more to find them."""
    idx = resolve_ids(g, ids, skip_unknown=True)[1].astype(np.int64)
    rounds = 2.0 * math.log2(len(idx) + 1) + 1.0
    if engaged and g.interactions is not None:
        ptr = g.interactions.c_indptr
        audiences = float((ptr[idx + 1] - ptr[idx]).sum()) if len(idx) else 0.0
        _refuse(audiences * (rounds + 1.0), limit, f"{len(idx):,} candidates with "
                f"{audiences:,.0f} interaction events in all, read once and x about "
                f"{rounds:.0f} greedy rounds", "send fewer or smaller candidates")
        return
    audiences = float(g.in_degree[idx].sum()) if len(idx) else 0.0
    _refuse(audiences * rounds, limit, f"{len(idx):,} candidates with {audiences:,.0f} "
            f"followers in all, x about {rounds:.0f} greedy rounds",
            "send fewer or smaller candidates")
