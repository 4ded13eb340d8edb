"""Seeds that maximise expected spread: IMM (budgeted or not) and OPIM-C over RR sets."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from kolgraph import _parallel
from kolgraph._check import resolve_ids
from kolgraph.exceptions import InputError
from kolgraph.graph import graph_method
from kolgraph.kernels import rrsets as _rr
from kolgraph.progress import SILENT, Progress
from kolgraph.propagation.model import _Model, _resolve_model
from kolgraph.propagation.options import SeedsOptions
from kolgraph.propagation.results import SeedsResult, SpreadResult
from kolgraph.propagation.rr import RRSampler, _RRSets
from kolgraph.propagation.simulate import spread

# OPIM-C's first round draws this many times the paper's theta_0 RR sets: drawing them is cheap
# here, and more sets give better seeds for the same certified ratio (about 3% more spread on
# the medium benchmark graph); i_max and the bounds follow from the start actually used.
OPIMC_START_FACTOR = 8


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def imm_sample_sizes(n: int, m: int, k: int, epsilon: float, ell: float) -> dict:
    """IMM's constants: ``lambda_prime`` (sampling phase) and ``lambda_star`` (final phase).

    ``n`` accounts (RR roots are uniform over all of them), ``m`` candidates, ``k``
    seeds; ``ell`` is raised to ``ell (1 + log 2 / log n)`` so the guarantee holds with
    probability at least ``1 - 1/n^ell`` overall (IMM, section 3.2).
    """
    logn = math.log(max(n, 2))
    ell = ell * (1 + math.log(2) / logn)
    logc = _log_comb(m, k)
    eps1 = math.sqrt(2) * epsilon
    lam1 = (2 + 2 / 3 * eps1) * (logc + ell * logn + math.log(max(math.log2(max(n, 2)), 1.0))) \
        * n / eps1**2
    e1 = 1 - 1 / math.e
    alpha = math.sqrt(ell * logn + math.log(2))
    beta = math.sqrt(e1 * (logc + ell * logn + math.log(2)))
    lam_star = 2 * n * (e1 * alpha + beta) ** 2 / epsilon**2
    return {"lambda_prime": lam1, "lambda_star": lam_star, "eps_prime": eps1, "ell": ell}


def _candidates(g, candidates: Any) -> np.ndarray:
    """Internal ids of the candidate seeds: the creator table's accounts by default."""
    if candidates is None or (isinstance(candidates, str) and candidates == "creators"):
        c = g.creators
        if c is not None and c.num_rows:
            return np.unique(c.column("idx").to_numpy().astype(np.int64))
        return np.arange(g.n_accounts, dtype=np.int64)
    if isinstance(candidates, str) and candidates == "accounts":
        return np.arange(g.n_accounts, dtype=np.int64)
    _, idx, _ = resolve_ids(g, candidates)
    return np.unique(idx)


def _costs(g, costs: Any, cand: np.ndarray) -> np.ndarray:
    """Cost per candidate: ``"price"`` from the creator table, a dict by id, or an array."""
    ext = g.external(cand)
    if isinstance(costs, str):
        c = g.creators
        if c is None or costs not in c.column_names:
            raise InputError(f"costs={costs!r} needs a creator table with a {costs!r} column")
        col = dict(zip(c.column("idx").to_numpy().tolist(),
                       c.column(costs).to_numpy(zero_copy_only=False).tolist(), strict=True))
        out = np.array([col.get(int(i), np.nan) for i in cand], dtype=np.float64)
    elif isinstance(costs, dict):
        conv = {str(kk): v for kk, v in costs.items()}
        out = np.array([conv.get(str(e), np.nan) for e in ext], dtype=np.float64)
    else:
        out = np.asarray(costs, dtype=np.float64)
        if out.shape != cand.shape:
            raise InputError(f"costs needs one value per candidate ({len(cand)}), got {out.shape}")
    bad = np.flatnonzero(~(np.isfinite(out) & (out >= 0)))
    if len(bad):
        raise InputError(f"{len(bad)} candidate(s) have no valid cost (missing, negative or not "
                         f"finite), e.g. {ext[int(bad[0])]!r}")
    return out


@graph_method
def seeds(g, k: int, *, progress: Progress = SILENT, **options) -> SeedsResult:
    """Pick ``k`` seeds maximising expected spread by IMM (Tang, Shi, Xiao, SIGMOD 2015).

    Reverse-reachable (RR) sets are drawn until, with probability at least
    ``1 - 1/n^ell``, the greedy cover of them is a ``(1 - 1/e - epsilon)``
    approximation of the best ``k`` candidates. The final selection uses freshly
    drawn RR sets, not those of the sampling phase (the fix of Chen, 2018, "An issue
    in the martingale analysis of the influence maximization algorithm IMM").
    RR sets are flat arrays holding only the candidates they contain.

    Parameters
    ----------
    k : number of seeds (with ``costs``/``budget``: the most seeds the budget can buy
        is used instead).
    **options : the fields of :class:`~kolgraph.propagation.options.SeedsOptions`:

        - ``model``, ``p``, ``weighted_cascade``, ``edge_probs``, ``view_rates``, ``seed``,
          ``threads``: as :func:`spread` (view rates here are per candidate: ``True`` from
          the creator table, a number, or a dict).
        - ``epsilon``, ``ell``: the approximation and failure-probability parameters.
        - ``candidates``: ``None``/``"creators"`` (the creator table; every account without
          one), ``"accounts"``, or a list of ids.
        - ``costs``, ``budget``: budgeted variant: a cost per candidate (``"price"`` for the
          creator table's column, a dict by id or an array aligned with the candidates) and
          a total budget; selection is the cost-effective greedy, compared with the best
          single affordable candidate ((1 - 1/e)/2 of the best within budget on the RR sets).
        - ``method``: ``"imm"`` (default) or ``"opim-c"`` (Tang, Tang, Xiao, Yuan, SIGMOD
          2018: RR sets doubled until the greedy seeds' lower bound, from a second
          independent collection, over an upper bound of the optimum reaches
          ``1 - 1/e - epsilon``; the same guarantee with probability ``1 - 1/n``, usually
          from far fewer RR sets). Not with costs.
        - ``evaluate``: if > 0, also estimate the chosen seeds' spread with that many
          Monte Carlo simulations (``evaluation``).
    progress : a :class:`kolgraph.progress.Progress` for a bar.

    Examples
    --------
    >>> import kolgraph
    >>> g = kolgraph.FollowerGraph.from_edges(["b", "c", "d", "e"], ["a", "a", "a", "d"])
    >>> seeds(g, 1, p=1.0, candidates="accounts").seeds
    ['a']
    """
    o = SeedsOptions.check({"k": k, **options})
    t_start = time.perf_counter()
    cand = _candidates(g, o.candidates)
    cost, budget, k = _budget(g, o.k, cand, o.costs, o.budget)
    cand_ids = g.external(cand) if o.view_rates is not None else None  # for messages only
    mdl = _resolve_model(g, o, cand, cand_ids)
    sampler = RRSampler(g, cand, mdl, o.seed, _parallel.threads(o.threads), progress)
    if o.method == "opim-c":
        res, picks = _opimc(g, cand, k, o.epsilon, mdl, sampler)
    else:
        res, picks = _imm(g, cand, k, o.epsilon, o.ell, mdl, sampler, cost, budget)
    if o.evaluate and not res.interrupted:
        res.evaluation = _evaluate(g, res, mdl, picks, o.evaluate, o.seed, o.threads, progress)
    res.seconds = time.perf_counter() - t_start
    return res


def _budget(g, k: int, cand: np.ndarray, costs: Any,
            budget: Any) -> tuple[np.ndarray, float | None, int]:
    """``(cost per candidate, budget, seeds to pick)``; without costs, ``(empty, None, k)``.

    With a budget, ``k`` becomes the most seeds the budget can buy (the cheapest first).
    """
    m_c = len(cand)
    if budget is None:  # the options' check: costs and budget come together, k >= 1 without
        if k > m_c:
            raise InputError(f"k ({k}) is larger than the number of candidates ({m_c})")
        return np.empty(0), None, k
    cost = _costs(g, costs, cand)
    k_eff = int(np.searchsorted(np.cumsum(np.sort(cost)), budget, side="right"))
    if k_eff == 0:
        raise InputError(f"the budget ({budget:g}) buys no candidate (cheapest costs "
                         f"{cost.min():g})" if m_c else "no candidates")
    return cost, budget, k_eff


def _imm(g, cand: np.ndarray, k: int, epsilon: float, ell: float, mdl: _Model,
         sampler: RRSampler, cost: np.ndarray, budget: float | None) -> tuple[SeedsResult, np.ndarray]:
    """IMM: a lower bound of the optimum from doubling samples, then the greedy cover of
    fresh RR sets; with ``budget``, the cost-effective greedy."""
    n, m_c = g.n_accounts, len(cand)
    const = imm_sample_sizes(n, m_c, k, epsilon, ell)
    loc = np.full(m_c, -1, np.int32)  # greedy_cover's scratch, shared by every selection

    def select(rr: _RRSets):
        picks, gains, _ = _rr.greedy_cover(*rr.arrays, m_c, k, cost, budget or 0.0, loc)
        return picks, gains

    phases = {}
    t0 = time.perf_counter()
    rr, lb, interrupted = _imm_lower_bound(n, const, sampler, select)
    phases["sampling_seconds"] = time.perf_counter() - t0
    theta = math.ceil(const["lambda_star"] / lb)
    t0 = time.perf_counter()
    if not interrupted:
        # fresh RR sets for the final selection, numbered after the sampling phase's
        first = rr.n
        rr.clear(reserve_sets=theta)
        interrupted = sampler.draw(rr, first, theta, "IMM final RR sets")
    phases["final_rr_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    picks, gains = select(rr)
    phases["selection_seconds"] = time.perf_counter() - t0
    warnings = []
    if interrupted:
        warnings.append(f"interrupted: seeds chosen from {rr.n:,} RR sets; the approximation "
                        "guarantee does not hold")
    budgeted = budget is not None
    approx = ("(1-1/e)/2 of the best within budget on the RR sets (cost-effective greedy or best "
              "single candidate)" if budgeted else f"1-1/e-{epsilon:g}")
    res = _seeds_result(
        g, cand, picks, gains, rr.n, mdl, rr_sets=rr.n, epsilon=epsilon, ell=ell,
        lower_bound=float(lb), approximation=approx, phases=phases, budget=budget,
        costs=[float(cost[i]) for i in picks] if budgeted else None,
        interrupted=interrupted, warnings=warnings)
    return res, picks


def _imm_lower_bound(n: int, const: dict, sampler: RRSampler, select):
    """IMM's sampling phase: ``(RR sets, lower bound LB of the optimum, interrupted)``."""
    rr = _RRSets()
    lb = 1.0
    interrupted = False
    eps1 = const["eps_prime"]
    rounds = max(1, math.ceil(math.log2(max(n, 2))) - 1)
    for i in range(1, rounds + 1):
        x = n / 2**i
        theta_i = math.ceil(const["lambda_prime"] / x)
        if theta_i > rr.n:
            interrupted = sampler.draw(rr, rr.n, theta_i - rr.n, f"IMM sampling, round {i}")
        if interrupted:
            break
        _, gains = select(rr)
        est = n * gains.sum() / rr.n
        if est >= (1 + eps1) * x:
            lb = est / (1 + eps1)
            break
    return rr, lb, interrupted


def _opimc(g, cand: np.ndarray, k: int, epsilon: float, mdl: _Model,
           sampler: RRSampler) -> tuple[SeedsResult, np.ndarray]:
    """OPIM-C (Tang, Tang, Xiao, Yuan, SIGMOD 2018, Algorithm 2) with failure probability 1/n."""
    n, m_c = g.n_accounts, len(cand)
    delta = 1.0 / max(n, 2)
    e1 = 1 - 1 / math.e
    logc = _log_comb(m_c, k)
    l6 = math.log(6 / delta)
    theta_max = 2 * n * (e1 * math.sqrt(l6) + math.sqrt(e1 * (logc + l6))) ** 2 / (epsilon**2 * k)
    theta0 = max(1, math.ceil(OPIMC_START_FACTOR * theta_max * epsilon**2 * k / n))
    i_max = max(1, math.ceil(math.log2(max(theta_max / theta0, 2))))
    a1 = math.log(3 * i_max / delta) + logc
    a2 = math.log(3 * i_max / delta)
    key, key2 = sampler.key, sampler.key ^ 0x5DEECE66D  # validation collection R2 is independent of R1
    r1, r2 = _RRSets(), _RRSets()
    interrupted = False
    loc = np.full(m_c, -1, np.int32)
    t0 = time.perf_counter()
    target, alpha, lower, upper_s = theta0, 0.0, 0.0, math.inf
    for i in range(1, i_max + 1):
        for rr, kk in ((r1, key), (r2, key2)):
            interrupted |= sampler.draw(rr, rr.n, target - rr.n, f"OPIM-C RR sets, round {i}",
                                        key=kk)
        picks, gains, upper = _rr.greedy_cover(*r1.arrays, m_c, k, np.empty(0), 0.0, loc)
        chosen = np.zeros(m_c, np.bool_)
        chosen[picks] = True
        t1, t2 = r1.n, r2.n
        cov2 = _rr.coverage(*r2.arrays, chosen)
        lower = max(((math.sqrt(cov2 + 2 * a2 / 9) - math.sqrt(a2 / 2)) ** 2 - a2 / 18), 0.0) * n / t2
        upper_s = (math.sqrt(upper + a1 / 2) + math.sqrt(a1 / 2)) ** 2 * n / t1
        alpha = lower / upper_s if upper_s > 0 else 1.0
        if alpha >= e1 - epsilon or interrupted:
            break
        target *= 2
    seconds = time.perf_counter() - t0
    warnings = []
    if interrupted:
        warnings.append("interrupted: seeds chosen from the RR sets drawn so far; the "
                        "approximation guarantee does not hold")
    res = _seeds_result(
        g, cand, picks, gains, t1, mdl, rr_sets=t1 + t2, epsilon=epsilon, ell=1.0,
        lower_bound=float(lower),
        approximation=f"1-1/e-{epsilon:g} (OPIM-C; certified ratio {alpha:.3f})",
        phases={"sampling_seconds": seconds, "upper_bound": float(upper_s)}, method="opim-c",
        interrupted=interrupted, warnings=warnings)
    return res, picks


def _seeds_result(g, cand: np.ndarray, picks: np.ndarray, gains: np.ndarray, n_rr: int,
                  mdl: _Model, **fields) -> SeedsResult:
    """The chosen seeds, their coverage of ``n_rr`` RR sets scaled to accounts."""
    scale = g.n_accounts / max(n_rr, 1)
    return SeedsResult(
        seeds=g.external(cand[picks]), incremental=gains * scale,
        spread=float(gains.sum() * scale), model=mdl.name,
        params={kk: v for kk, v in mdl.params.items() if kk != "view_rates"},
        candidates=len(cand), seconds=0.0, **fields)


def _evaluate(g, res: SeedsResult, mdl: _Model, picks: np.ndarray, runs: int, seed: int,
              threads: int | None, progress: Progress) -> SpreadResult:
    """Monte Carlo spread of the chosen seeds under the same model (and their view rates)."""
    vr = None
    if mdl.seed_rates is not None:
        vr = dict(zip(res.seeds, mdl.seed_rates[picks].tolist(), strict=True))
    observed = mdl.params.get("weighted_cascade") == "observed"  # the same, cached estimate
    return spread(g, res.seeds, model=mdl.name, p=mdl.params.get("p"),
                  weighted_cascade="observed" if observed else mdl.wc,
                  edge_probs=mdl.edge_p if len(mdl.edge_p) and not observed else None,
                  view_rates=vr, runs=runs,
                  seed=seed, threads=threads, progress=progress)
