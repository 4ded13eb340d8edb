"""Influence propagation: expected campaign spread through reshares, and the seeds that maximise it.

Information flows from followee to follower (the reverse of a follow edge), so
an account's out-neighbours in propagation are its followers
(``g.in_indptr``/``g.in_indices``).

Models (DESIGN.md):

- **independent cascade** (``model="ic"``): each newly active account gets one
  chance to activate each follower, with probability ``p`` (uniform), ``1/d``
  where ``d`` is the number of accounts the follower follows (*weighted
  cascade*), or a per-edge probability. With ``view_rates``, the seeds' own
  followers see the post at the seed's view rate (the first hop) and later
  hops happen at the reshare probability ``p``.
- **linear threshold** (``model="lt"``): an account activates once the summed
  weights of its active followees reach its threshold, uniform on (0, 1];
  weights are weighted-cascade ``1/d`` by default, or uniform ``p``, or per edge,
  and must sum to at most 1 per account.

:func:`spread` estimates the expected spread by Monte Carlo (simulations run in
chunks on threads; simulation ``j`` draws from its own random stream keyed by
the seed, so results do not depend on the thread count), with a 95% confidence
interval, the spread distribution and each seed's incremental spread in the
order given. Ctrl-C returns the simulations finished so far (with its wider
interval). :func:`seeds` picks seeds by IMM (Tang, Shi, Xiao, SIGMOD 2015).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.kernels import propagation as _k
from kolgraph.kernels import rrsets as _rr
from kolgraph.progress import SILENT, Progress
from kolgraph.reach import _per_creator, default_view_rates, resolve_ids

Z95 = 1.959963984540054
MODELS = ("ic", "lt")
DEFAULT_P = 0.01
# OPIM-C's first round draws this many times the paper's theta_0 RR sets: drawing them is cheap
# here, and more sets give better seeds for the same certified ratio (about 3% more spread on
# the medium benchmark graph); i_max and the bounds follow from the start actually used.
OPIMC_START_FACTOR = 8
# Work runs on the calling thread until it has used this much CPU time and as much again
# is left (by the rate so far): smaller jobs never pay for starting threads. CPU time, not
# wall time, so a loaded machine does not push small jobs onto threads.
SERIAL_SECONDS = 0.02


# --- results ----------------------------------------------------------------------------------
@dataclass
class SpreadResult:
    """Monte Carlo estimate of the expected spread of a seed set.

    ``samples[j]`` is the number of accounts active at the end of simulation j
    (seeds included); ``inc_sum``/``inc_sq`` sum, per seed, the accounts it newly
    activated and their squares.
    """

    seeds: list
    model: str
    params: dict
    samples: np.ndarray
    inc_sum: np.ndarray
    inc_sq: np.ndarray
    runs_requested: int
    seed: int
    threads: int
    seconds: float
    interrupted: bool = False
    warnings: list = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def mean(self) -> float:
        return float(self.samples.mean()) if self.runs else 0.0

    @property
    def std(self) -> float:
        return float(self.samples.std(ddof=1)) if self.runs > 1 else 0.0

    @property
    def stderr(self) -> float:
        return self.std / math.sqrt(self.runs) if self.runs else math.inf

    @property
    def ci(self) -> tuple[float, float]:
        """95% confidence interval of the mean (normal approximation)."""
        if not self.runs:
            return (0.0, math.inf)
        h = Z95 * self.stderr
        return (self.mean - h, self.mean + h)

    @property
    def incremental(self) -> np.ndarray:
        """Mean number of accounts each seed newly activates, in the order given."""
        return self.inc_sum / max(self.runs, 1)

    @property
    def incremental_ci(self) -> np.ndarray:
        """95% intervals of the incremental spreads, shape (k, 2)."""
        r = max(self.runs, 1)
        mean = self.inc_sum / r
        var = np.maximum(self.inc_sq / r - mean**2, 0.0) * (r / max(r - 1, 1))
        h = Z95 * np.sqrt(var / r)
        return np.column_stack([mean - h, mean + h])

    def quantiles(self) -> dict:
        qs = (5, 25, 50, 75, 95)
        if not self.runs:
            return {str(q): 0.0 for q in qs}
        vals = np.percentile(self.samples, qs)
        return {str(q): float(v) for q, v in zip(qs, vals, strict=True)}

    def histogram(self, bins: int = 20) -> dict:
        if not self.runs:
            return {"edges": [], "counts": []}
        lo, hi = int(self.samples.min()), int(self.samples.max())
        nb = max(1, min(bins, hi - lo + 1))
        counts, edges = np.histogram(self.samples, bins=nb, range=(lo, hi + 1))
        return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}

    def to_dict(self) -> dict:
        low, high = self.ci
        inc, inc_ci = self.incremental, self.incremental_ci
        return {
            "model": self.model, "params": self.params, "seeds": list(self.seeds),
            "runs": self.runs, "runs_requested": self.runs_requested,
            "interrupted": self.interrupted,
            "mean": self.mean, "ci_low": low, "ci_high": high, "std": self.std,
            "stderr": self.stderr if self.runs else None,
            "min": int(self.samples.min()) if self.runs else 0,
            "max": int(self.samples.max()) if self.runs else 0,
            "quantiles": self.quantiles(), "histogram": self.histogram(),
            "incremental": [{"id": s, "mean": float(inc[i]), "ci_low": float(inc_ci[i, 0]),
                             "ci_high": float(inc_ci[i, 1])} for i, s in enumerate(self.seeds)],
            "seed": self.seed, "threads": self.threads, "seconds": self.seconds,
            "simulations_per_second": self.runs / self.seconds if self.seconds > 0 else None,
            "warnings": list(self.warnings),
        }


@dataclass
class SeedsResult:
    """Seeds chosen by IMM or OPIM-C, with their RR-set estimate of spread."""

    seeds: list
    incremental: np.ndarray
    spread: float
    rr_sets: int
    epsilon: float
    ell: float
    lower_bound: float
    model: str
    params: dict
    candidates: int
    approximation: str
    seconds: float
    phases: dict
    budget: float | None = None
    costs: list | None = None
    method: str = "imm"
    interrupted: bool = False
    evaluation: SpreadResult | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {
            "seeds": list(self.seeds), "spread": self.spread, "method": self.method,
            "incremental": [{"id": s, "spread": float(g)} for s, g in
                            zip(self.seeds, self.incremental, strict=True)],
            "model": self.model, "params": self.params, "epsilon": self.epsilon, "ell": self.ell,
            "rr_sets": self.rr_sets, "lower_bound": self.lower_bound,
            "candidates": self.candidates, "approximation": self.approximation,
            "budget": self.budget, "cost": None if self.costs is None else float(sum(self.costs)),
            "costs": self.costs, "interrupted": self.interrupted,
            "seconds": self.seconds, "phases": self.phases, "warnings": list(self.warnings),
        }
        if self.evaluation is not None:
            ev = self.evaluation
            low, high = ev.ci
            out["evaluation"] = {"mean": ev.mean, "ci_low": low, "ci_high": high, "runs": ev.runs}
        return out


# --- model resolution -------------------------------------------------------------------------
@dataclass
class _Model:
    """Resolved probabilities, in the layouts the kernels want."""

    name: str
    params: dict
    p: float  # uniform probability / weight (when edge arrays are empty)
    wc: bool
    edge_p: np.ndarray  # aligned with in_indices (propagation out-edges), or empty
    seed_rates: np.ndarray | None  # first-hop probability per seed (ic only)


def _check_prob(x: float, what: str) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number in [0, 1], got {x!r}") from None
    if not (0.0 <= x <= 1.0):
        raise InputError(f"{what} must be in [0, 1], got {x}")
    return x


def _resolve_model(g, model: str, p: float | None, weighted_cascade: bool, edge_probs: Any,
                   view_rates: Any, seed_idx: np.ndarray | None, seed_ids: list | None) -> _Model:
    model = str(model).lower()
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose 'ic' (independent cascade) or 'lt' "
                         "(linear threshold)")
    given = [name for name, v in (("p", p), ("weighted_cascade", weighted_cascade or None),
                                  ("edge_probs", edge_probs)) if v is not None]
    if len(given) > 1:
        raise InputError(f"give one of p, weighted_cascade and edge_probs, not {' and '.join(given)}")
    if view_rates is not None and model != "ic":
        raise InputError("view rates (the first hop) apply to the independent cascade model only")
    if view_rates is not None and given and given[0] != "p":
        raise InputError("view rates (first hop) combine with a uniform reshare probability p, "
                         f"not with {given[0]}")
    empty = np.empty(0, np.float32)
    if edge_probs is not None:
        arr = np.asarray(edge_probs, dtype=np.float64)
        if arr.shape != (g.n_edges,):
            raise InputError(f"edge_probs needs one value per edge aligned with g.in_indices "
                             f"({g.n_edges}), got shape {arr.shape}")
        bad = np.flatnonzero(~((arr >= 0) & (arr <= 1)))
        if len(bad):
            raise InputError(f"edge_probs must be in [0, 1]; {len(bad)} value(s) are not, e.g. "
                             f"{arr[bad[0]]} at edge {int(bad[0])}")
        m = _Model(model, {"edge_probs": True}, 0.0, False, arr.astype(np.float32), None)
    elif weighted_cascade or (p is None and model == "lt"):
        m = _Model(model, {"weighted_cascade": True}, 0.0, True, empty, None)
    else:
        q = _check_prob(DEFAULT_P if p is None else p, "p" if view_rates is None else
                        "p (the reshare probability)")
        m = _Model(model, {"p": q}, q, False, empty, None)
    if model == "lt":
        _check_lt_weights(g, m)
    if view_rates is not None and seed_idx is not None:
        rates = _view_rates(g, view_rates, seed_idx, seed_ids)
        low = np.flatnonzero(rates < m.p)
        if len(low):
            i = int(low[0])
            raise InputError(f"view rate of seed {seed_ids[i]!r} ({rates[i]:g}) is below the reshare "
                             f"probability p ({m.p:g}); the first-hop model needs view rates >= p")
        m.seed_rates = rates
        m.params = {**m.params, "view_rates": [float(r) for r in rates]}
    return m


def _view_rates(g, view_rates: Any, idx: np.ndarray, ids: list) -> np.ndarray:
    default = default_view_rates(g, idx)
    if view_rates is True or (isinstance(view_rates, str) and view_rates == "auto"):
        return default
    rates = _per_creator(view_rates, len(idx), default, "view_rates", ids)
    for r, s in zip(rates, ids, strict=True):
        _check_prob(r, f"view rate of {s!r}")
    return np.asarray(rates, dtype=np.float64)


def _check_lt_weights(g, m: _Model) -> None:
    """Linear threshold needs every account's incoming weights to sum to at most 1."""
    if m.wc:
        return
    if len(m.edge_p):
        total = np.bincount(np.asarray(g.in_indices), weights=m.edge_p.astype(np.float64),
                            minlength=g.n_accounts)
    else:
        total = m.p * g.out_degree
    bad = np.flatnonzero(total > 1.0 + 1e-6)
    if len(bad):
        i = int(bad[np.argmax(total[bad])])
        raise InputError(f"linear threshold weights into an account must sum to at most 1; "
                         f"{len(bad)} account(s) exceed it, e.g. {g.external([i])[0]!r} "
                         f"({total[i]:.3g}); use weighted_cascade or a smaller p")


def _wc_edge_p(g) -> np.ndarray:
    """Weighted-cascade probability of every propagation edge: 1 / (accounts the follower follows)."""
    d = np.asarray(g.out_degree, dtype=np.float64)
    per_account = (1.0 / np.maximum(d, 1.0)).astype(np.float32)  # gathered as float32: 4 B/edge
    return per_account[np.asarray(g.in_indices)]


# --- parallel chunks --------------------------------------------------------------------------
def _threads(threads: int | None) -> int:
    if threads is not None:
        if int(threads) < 1:
            raise InputError(f"threads must be at least 1, got {threads}")
        return int(threads)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_chunks(total: int, threads: int, make_state: Callable[[], Any],
                work: Callable[[Any, int, int], Any], task, target_seconds: float = 0.05
                ) -> tuple[dict[int, Any], bool]:
    """Run ``work(state, start, count)`` over ``0..total-1`` in chunks on ``threads`` threads.

    Each thread owns one ``make_state()`` (its scratch buffers). Chunk sizes adapt so
    each takes about ``target_seconds`` (progress stays live and Ctrl-C is answered
    quickly); results do not depend on them. Returns ``({start: result}, interrupted)``:
    on KeyboardInterrupt the finished chunks are kept and the running ones completed.
    """
    lock = threading.Lock()
    nxt = [0]
    stop = threading.Event()
    done: dict[int, Any] = {}
    errors: list[BaseException] = []

    def worker(serial: bool = False):
        try:
            state = make_state()
            size = 1
            cpu0, ran = time.thread_time(), 0
            while not stop.is_set():
                if serial:
                    cpu = time.thread_time() - cpu0
                    if cpu >= SERIAL_SECONDS and (total - nxt[0]) * cpu / max(ran, 1) >= SERIAL_SECONDS:
                        return
                with lock:
                    start = nxt[0]
                    left = total - start
                    # guided: near the end chunks shrink, so threads finish together
                    count = min(size, left, left if threads == 1 else max(1, left // (2 * threads)))
                    nxt[0] += max(count, 0)
                if count <= 0:
                    return
                t0 = time.perf_counter()
                out = work(state, start, count)
                dt = time.perf_counter() - t0
                with lock:
                    done[start] = (count, out)
                ran += count
                task.advance(count)
                size = max(1, min(1 << 20, int(count * target_seconds / max(dt, 1e-6)),
                                  4 * count))
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the caller
            errors.append(exc)
            stop.set()

    interrupted = False
    if threads > 1:  # short jobs stay on the calling thread: starting threads costs more
        worker(serial=True)
    if threads == 1:  # on the calling thread, where Ctrl-C arrives (the worker catches it)
        worker()
    elif nxt[0] < total and not stop.is_set():
        pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for t in pool:
            t.start()
        try:
            for t in pool:
                while t.is_alive():
                    t.join(0.1)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for t in pool:
                t.join()
    if errors and not isinstance(errors[0], KeyboardInterrupt):
        raise errors[0]
    return done, interrupted or bool(errors)


# --- spread -----------------------------------------------------------------------------------
def spread(g, seeds: Iterable, *, model: str = "ic", p: float | None = None,
           weighted_cascade: bool = False, edge_probs: Any = None, view_rates: Any = None,
           runs: int = 10_000, seed: int = 1, threads: int | None = None,
           skip_unknown: bool = False, progress: Progress = SILENT) -> SpreadResult:
    """Expected spread of ``seeds`` by Monte Carlo simulation.

    Parameters
    ----------
    g : FollowerGraph
    seeds : external account ids; duplicates are dropped (with a warning); the order
        gives the incremental spread of each seed.
    model : ``"ic"`` (independent cascade) or ``"lt"`` (linear threshold).
    p : uniform edge probability (IC, default 0.01) or weight (LT); with ``view_rates``
        the reshare probability of every hop after the first.
    weighted_cascade : probability (IC) or weight (LT) ``1/d`` on every edge into an
        account following ``d`` accounts; the default for LT.
    edge_probs : one probability per propagation edge, aligned with ``g.in_indices``.
    view_rates : first hop (IC): the probability that a seed's follower sees its post.
        ``True`` takes ``avg_views / followers`` from the creator table; a number, a
        list (one per seed) or ``{id: rate}``. Must be at least ``p``.
    runs : simulations; seed : random seed (results are reproducible for a seed,
        whatever the thread count); threads : default, every available core.
    skip_unknown : drop unknown seeds with a warning instead of raising.
    progress : a :class:`kolgraph.progress.Progress` for a bar.

    Returns
    -------
    SpreadResult
        ``mean``, ``ci`` (95%), ``samples`` (the distribution), ``incremental``.
        Interrupted with Ctrl-C, the simulations finished so far (``interrupted``).

    Examples
    --------
    >>> import kolgraph
    >>> g = kolgraph.FollowerGraph.from_edges(["b", "c", "d"], ["a", "a", "b"])
    >>> r = spread(g, ["a"], p=1.0, runs=10)
    >>> r.mean, r.ci
    (4.0, (4.0, 4.0))
    """
    if int(runs) < 1:
        raise InputError(f"runs must be at least 1, got {runs}")
    runs = int(runs)
    ext, idx, warnings = resolve_ids(g, seeds, skip_unknown=skip_unknown)
    m = _resolve_model(g, model, p, weighted_cascade, edge_probs, view_rates, idx, ext)
    n = g.n_accounts
    k = len(idx)
    seeds_arr = idx.astype(np.int64)
    indptr, indices = np.asarray(g.in_indptr), np.asarray(g.in_indices)
    edge_p = _wc_edge_p(g) if m.wc else m.edge_p
    key = int(seed)
    nthreads = _threads(threads)

    if m.name == "ic":
        mode = (_k.MODE_FIRST_HOP if m.seed_rates is not None else
                _k.MODE_EDGE if len(edge_p) else _k.MODE_UNIFORM)
        seed_p = m.seed_rates if m.seed_rates is not None else np.empty(0)

        def make_state():
            return np.zeros(n, np.uint8), np.empty(n + k, np.int32)

        def work(state, start, count):
            mark, queue = state
            inc_sum, inc_sq, out = np.zeros(k), np.zeros(k), np.empty(count, np.int64)
            _k.ic_runs(indptr, indices, mode, m.p, edge_p, seeds_arr, seed_p, key, start, count,
                       mark, queue, out, inc_sum, inc_sq)
            return out, inc_sum, inc_sq
    else:
        def make_state():
            return (np.zeros(n, np.int32), np.empty(max(n, 1), np.int32), np.zeros(n, np.int32),
                    np.empty(n), np.empty(n))

        def work(state, start, count):
            mark, queue, tmark, theta, acc = state
            inc_sum, inc_sq, out = np.zeros(k), np.zeros(k), np.empty(count, np.int64)
            _k.lt_runs(indptr, indices, m.p, edge_p, seeds_arr, key, start, count, mark, queue,
                       tmark, theta, acc, out, inc_sum, inc_sq)
            return out, inc_sum, inc_sq

    t0 = time.perf_counter()
    with progress.task(f"simulating {m.name.upper()} cascades", total=runs) as task:
        done, interrupted = _run_chunks(runs, nthreads, make_state, work, task)
    seconds = time.perf_counter() - t0
    inc_sum, inc_sq = np.zeros(k), np.zeros(k)
    parts = [np.empty(0, np.int64)]
    for start in sorted(done):  # simulation order, whatever thread ran each chunk
        out, s1, s2 = done[start][1]
        parts.append(out)
        inc_sum += s1
        inc_sq += s2
    kept = np.concatenate(parts)
    if interrupted:
        warnings.append(f"interrupted: {len(kept):,} of {runs:,} simulations finished")
    return SpreadResult(seeds=ext, model=m.name, params=m.params, samples=kept, inc_sum=inc_sum,
                        inc_sq=inc_sq, runs_requested=runs, seed=key, threads=nthreads,
                        seconds=seconds, interrupted=interrupted, warnings=warnings)


# --- seeds (IMM) ------------------------------------------------------------------------------
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


def seeds(g, k: int, *, model: str = "ic", p: float | None = None,
          weighted_cascade: bool = False, edge_probs: Any = None, view_rates: Any = None,
          epsilon: float = 0.5, ell: float = 1.0, candidates: Any = None, costs: Any = None,
          budget: float | None = None, method: str = "imm", seed: int = 1,
          threads: int | None = None, evaluate: int = 0,
          progress: Progress = SILENT) -> SeedsResult:
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
    model, p, weighted_cascade, edge_probs, view_rates : as :func:`spread` (view rates
        here are per candidate: ``True`` from the creator table, a number, or a dict).
    epsilon, ell : the approximation and failure-probability parameters.
    candidates : ``None``/``"creators"`` (the creator table; every account without
        one), ``"accounts"``, or a list of ids.
    costs, budget : budgeted variant: a cost per candidate (``"price"`` for the creator
        table's column, a dict by id or an array aligned with the candidates) and a total
        budget; selection is the cost-effective greedy, compared with the best single
        affordable candidate ((1 - 1/e)/2 of the best within budget on the RR sets).
    method : ``"imm"`` (default) or ``"opim-c"`` (Tang, Tang, Xiao, Yuan, SIGMOD 2018:
        RR sets doubled until the greedy seeds' lower bound, from a second independent
        collection, over an upper bound of the optimum reaches ``1 - 1/e - epsilon``;
        the same guarantee with probability ``1 - 1/n``, usually from far fewer RR sets).
        Not with costs.
    evaluate : if > 0, also estimate the chosen seeds' spread with that many
        Monte Carlo simulations (``evaluation``).

    Examples
    --------
    >>> import kolgraph
    >>> g = kolgraph.FollowerGraph.from_edges(["b", "c", "d", "e"], ["a", "a", "a", "d"])
    >>> seeds(g, 1, p=1.0, candidates="accounts").seeds
    ['a']
    """
    if not (0.0 < float(epsilon) < 1.0):
        raise InputError(f"epsilon must be in (0, 1), got {epsilon}")
    if float(ell) <= 0:
        raise InputError(f"ell must be positive, got {ell}")
    method = str(method).lower().replace("_", "-")
    if method not in ("imm", "opim-c"):
        raise InputError(f"unknown method {method!r}; choose 'imm' or 'opim-c'")
    if method == "opim-c" and (costs is not None or budget is not None):
        raise InputError("the budgeted variant runs with method='imm'")
    t_start = time.perf_counter()
    cand = _candidates(g, candidates)
    m_c = len(cand)
    budgeted = costs is not None or budget is not None
    if budgeted:
        if costs is None or budget is None:
            raise InputError("the budgeted variant needs both costs and budget")
        cost = _costs(g, costs, cand)
        budget = float(budget)
        if not (budget >= 0 and math.isfinite(budget)):
            raise InputError(f"budget must be a non-negative number, got {budget}")
        k_eff = int(np.searchsorted(np.cumsum(np.sort(cost)), budget, side="right"))
        if k_eff == 0:
            raise InputError(f"the budget ({budget:g}) buys no candidate (cheapest costs "
                             f"{cost.min():g})" if m_c else "no candidates")
    else:
        cost = np.empty(0)
        if int(k) < 1:
            raise InputError(f"k must be at least 1, got {k}")
        if int(k) > m_c:
            raise InputError(f"k ({k}) is larger than the number of candidates ({m_c})")
        k_eff = int(k)
    n = g.n_accounts
    cand_ids = g.external(cand) if view_rates is not None else None  # for messages only
    mdl = _resolve_model(g, model, p, weighted_cascade, edge_probs, view_rates, cand, cand_ids)
    if view_rates is not None and model == "ic":
        seed_p = np.zeros(n)
        seed_p[cand] = mdl.seed_rates
    else:
        seed_p = np.empty(0)
    rev_indptr, rev_indices = np.asarray(g.out_indptr), np.asarray(g.out_indices)
    edge_rev = _to_following_order(g, mdl.edge_p) if len(mdl.edge_p) else np.empty(0, np.float32)
    if m_c == n:  # every account is a candidate (cand is sorted and unique): stored as itself
        cand_of = np.empty(0, np.int32)
    else:
        cand_of = np.full(n, -1, np.int32)
        cand_of[cand] = np.arange(m_c, dtype=np.int32)
    nthreads = _threads(threads)
    key = int(seed)
    const = imm_sample_sizes(n, m_c, k_eff, float(epsilon), float(ell))
    model_args = (rev_indptr, rev_indices, 1 if mdl.name == "lt" else 0, mdl.p, mdl.wc, edge_rev,
                  seed_p, cand_of, n)
    pool: list = []  # per-thread scratch, reused by every draw of this call

    def draw(into: _RRSets, first: int, count: int, label: str, key: int = key) -> bool:
        """Add RR sets ``first .. first + count - 1`` to ``into``; returns whether interrupted.

        The calling thread writes straight into ``into``; other threads fill their own
        buffers, appended afterwards (coverage does not depend on the order of the sets).
        """
        hint = into.size / into.n if into.n else 8.0
        held: list = []

        def make_state():
            st = pool.pop() if pool else _RRScratch(n, len(seed_p) > 0)
            held.append(st)
            return st, into if len(held) == 1 else st.sets

        def work(state, start, cnt):
            st, buf = state
            _rr_fill(buf, model_args, key, first + start, cnt, st, hint)

        with progress.task(label, total=count) as task:
            _, stopped = _run_chunks(count, nthreads, make_state, work, task)
        for st in held:
            into.extend(st.sets)
            st.sets.clear()
            pool.append(st)
        return stopped

    loc = np.full(m_c, -1, np.int32)  # greedy_cover's scratch, shared by every selection

    def select(ptr, items):
        picks, gains, _ = _rr.greedy_cover(ptr, items, m_c, k_eff, cost, budget or 0.0, loc)
        return picks, gains

    if method == "opim-c":
        return _opimc(g, cand, k_eff, float(epsilon), mdl, draw, key, view_rates, evaluate, seed,
                      threads, progress, t_start)

    # sampling phase: a lower bound LB of the optimum
    phases = {}
    t0 = time.perf_counter()
    rr = _RRSets()
    lb = 1.0
    interrupted = False
    eps1 = const["eps_prime"]
    rounds = max(1, math.ceil(math.log2(max(n, 2))) - 1)
    for i in range(1, rounds + 1):
        x = n / 2**i
        theta_i = math.ceil(const["lambda_prime"] / x)
        if theta_i > rr.n:
            interrupted = draw(rr, rr.n, theta_i - rr.n, f"IMM sampling, round {i}")
        if interrupted:
            break
        picks, gains = select(*rr.arrays)
        est = n * gains.sum() / rr.n
        if est >= (1 + eps1) * x:
            lb = est / (1 + eps1)
            break
    phases["sampling_seconds"] = time.perf_counter() - t0
    theta = math.ceil(const["lambda_star"] / lb)
    t0 = time.perf_counter()
    if not interrupted:
        # fresh RR sets for the final selection, numbered after the sampling phase's
        first = rr.n
        rr.clear(reserve_sets=theta)
        interrupted = draw(rr, first, theta, "IMM final RR sets")
    phases["final_rr_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    picks, gains = select(*rr.arrays)
    phases["selection_seconds"] = time.perf_counter() - t0
    n_rr = rr.n
    scale = n / max(n_rr, 1)
    chosen = cand[picks]
    chosen_ids = g.external(chosen)
    warnings = []
    if interrupted:
        warnings.append(f"interrupted: seeds chosen from {n_rr:,} RR sets; the approximation "
                        "guarantee does not hold")
    approx = ("(1-1/e)/2 of the best within budget on the RR sets (cost-effective greedy or best "
              "single candidate)" if budgeted else f"1-1/e-{float(epsilon):g}")
    res = SeedsResult(
        seeds=chosen_ids, incremental=gains * scale, spread=float(gains.sum() * scale),
        rr_sets=n_rr, epsilon=float(epsilon), ell=float(ell), lower_bound=float(lb),
        model=mdl.name, params={kk: v for kk, v in mdl.params.items() if kk != "view_rates"},
        candidates=m_c, approximation=approx, seconds=0.0, phases=phases,
        budget=budget if budgeted else None,
        costs=[float(cost[i]) for i in picks] if budgeted else None,
        interrupted=interrupted, warnings=warnings)
    if evaluate and not interrupted:
        vr = None
        if view_rates is not None:
            vr = dict(zip(chosen_ids, mdl.seed_rates[picks].tolist(), strict=True))
        res.evaluation = spread(g, chosen_ids, model=mdl.name, p=p, weighted_cascade=weighted_cascade,
                                edge_probs=edge_probs, view_rates=vr, runs=evaluate, seed=seed,
                                threads=threads, progress=progress)
    res.seconds = time.perf_counter() - t_start
    return res


def _opimc(g, cand, k, epsilon, mdl, draw, key, view_rates, evaluate, seed, threads, progress,
           t_start) -> SeedsResult:
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
    key2 = key ^ 0x5DEECE66D  # the validation collection R2 is independent of R1
    r1, r2 = _RRSets(), _RRSets()
    interrupted = False
    loc = np.full(m_c, -1, np.int32)
    t0 = time.perf_counter()
    target, alpha, lower, upper_s = theta0, 0.0, 0.0, math.inf
    for i in range(1, i_max + 1):
        for rr, kk in ((r1, key), (r2, key2)):
            interrupted |= draw(rr, rr.n, target - rr.n, f"OPIM-C RR sets, round {i}", key=kk)
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
    chosen_ids = g.external(cand[picks])
    scale = n / max(t1, 1)
    warnings = []
    if interrupted:
        warnings.append("interrupted: seeds chosen from the RR sets drawn so far; the "
                        "approximation guarantee does not hold")
    res = SeedsResult(
        seeds=chosen_ids, incremental=gains * scale, spread=float(gains.sum() * scale),
        rr_sets=t1 + t2, epsilon=epsilon, ell=1.0, lower_bound=float(lower), model=mdl.name,
        params={kk: v for kk, v in mdl.params.items() if kk != "view_rates"}, candidates=m_c,
        approximation=f"1-1/e-{epsilon:g} (OPIM-C; certified ratio {alpha:.3f})", seconds=0.0,
        phases={"sampling_seconds": seconds, "upper_bound": float(upper_s)}, method="opim-c",
        interrupted=interrupted, warnings=warnings)
    if evaluate and not interrupted:
        vr = None
        if view_rates is not None:
            vr = dict(zip(chosen_ids, mdl.seed_rates[picks].tolist(), strict=True))
        res.evaluation = spread(g, chosen_ids, model=mdl.name, p=mdl.params.get("p"),
                                weighted_cascade=mdl.wc,
                                edge_probs=mdl.edge_p if len(mdl.edge_p) else None,
                                view_rates=vr, runs=evaluate, seed=seed, threads=threads,
                                progress=progress)
    res.seconds = time.perf_counter() - t_start
    return res


class _RRSets:
    """A growing collection of RR sets as flat arrays: set ``s`` is ``items[ptr[s]:ptr[s+1]]``.

    Capacity grows by doubling, so appending costs amortised O(1) per item and the
    kernel writes in place; the order of the sets is irrelevant to coverage.
    """

    def __init__(self):
        self.ptr = np.zeros(1025, np.int64)
        self.items = np.empty(8192, np.int32)
        self.n = 0
        self.size = 0

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.ptr[:self.n + 1], self.items[:self.size]

    def reserve(self, sets: int, items: int) -> None:
        """Room for ``sets`` more sets and ``items`` more items."""
        if self.n + sets + 1 > len(self.ptr):
            grown = np.empty(max(self.n + sets + 1, 2 * len(self.ptr)), np.int64)
            grown[:self.n + 1] = self.ptr[:self.n + 1]
            self.ptr = grown
        if self.size + items > len(self.items):
            grown = np.empty(max(self.size + items, 2 * len(self.items)), np.int32)
            grown[:self.size] = self.items[:self.size]
            self.items = grown

    def extend(self, other: _RRSets) -> None:
        if not other.n:
            return
        self.reserve(other.n, other.size)
        self.ptr[self.n + 1:self.n + other.n + 1] = other.ptr[1:other.n + 1] + self.size
        self.items[self.size:self.size + other.size] = other.items[:other.size]
        self.n += other.n
        self.size += other.size

    def clear(self, reserve_sets: int = 0) -> None:
        """Empty, keeping the buffers (and room for ``reserve_sets`` sets of the current mean size)."""
        mean = self.size / self.n if self.n else 0.0
        self.n = self.size = 0
        self.reserve(reserve_sets, int(reserve_sets * mean))


class _RRScratch:
    """One thread's scratch for drawing RR sets, and its own output buffer."""

    def __init__(self, n: int, first_hop: bool):
        self.mark = np.zeros(n, np.uint8)
        self.queue = np.empty(max(n, 1), np.int32)
        self.aux = np.empty(n if first_hop else 0, np.int32)
        self.sets = _RRSets()


def _rr_fill(sets: _RRSets, model_args: tuple, key: int, j0: int, count: int, st: _RRScratch,
             mean_size: float) -> None:
    """Append RR sets ``j0 .. j0 + count - 1`` to ``sets``, growing its buffers as needed."""
    done = 0
    while done < count:
        left = count - done
        sets.reserve(left, int(left * mean_size * 1.25) + 64)
        got, size = _rr.rr_fill(*model_args, key, j0 + done, left, st.mark, st.queue, st.aux,
                               sets.ptr, sets.items, sets.n, sets.size)
        sets.n += got
        sets.size = size
        done += got
        if done < count:  # the next set did not fit
            sets.reserve(0, len(sets.items))


def _to_following_order(g, edge_p: np.ndarray) -> np.ndarray:
    """Re-align per-edge values from followers-of order (``in_indices``) to following-of order.

    Edge ``e`` of the followers-of CSR is ``in_indices[e] -> v`` (follower -> followee)
    with v its row; in the following-of CSR that edge sits in row ``in_indices[e]`` at
    the position of ``v``; both CSRs have sorted rows, so a stable sort by follower
    lists the edges in following-of order.
    """
    order = np.argsort(np.asarray(g.in_indices), kind="stable")
    return np.ascontiguousarray(edge_p[order])


# --- plot -------------------------------------------------------------------------------------
def spread_plot(result: SpreadResult, path: str | Path) -> Path:
    """Histogram of the simulated spreads with the mean and its 95% interval; returns the path."""
    from kolgraph.plots import _pyplot

    plt = _pyplot()
    path = Path(path)
    h = result.histogram(bins=40)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if h["counts"]:
        edges = np.asarray(h["edges"])
        ax.bar(edges[:-1], h["counts"], width=np.diff(edges), align="edge", color="#4c72b0",
               alpha=0.8, label=f"{result.runs:,} simulations")
        low, high = result.ci
        ax.axvline(result.mean, color="black", lw=1.5, label=f"mean {result.mean:,.1f}")
        ax.axvspan(low, high, color="orange", alpha=0.35,
                   label=f"95% CI [{low:,.1f}, {high:,.1f}]")
    ax.set_xlabel("accounts activated (seeds included)")
    ax.set_ylabel("simulations")
    ax.set_title(f"spread of {len(result.seeds)} seed(s), {result.model.upper()} {result.params}"[:90])
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
