"""Expected spread of a seed set by Monte Carlo simulation, and its histogram plot."""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np

from kolgraph import _parallel
from kolgraph._check import resolve_ids
from kolgraph.graph import graph_method
from kolgraph.kernels import propagation as _k
from kolgraph.progress import SILENT, Progress
from kolgraph.propagation.model import _Model, _resolve_model, _wc_edge_p
from kolgraph.propagation.options import SpreadOptions
from kolgraph.propagation.results import SpreadResult


@graph_method
def spread(g, seeds: Iterable, model: str = "ic", *, progress: Progress = SILENT,
           **options) -> SpreadResult:
    """Expected spread of ``seeds`` by Monte Carlo simulation.

    Parameters
    ----------
    g : FollowerGraph
    seeds : external account ids; duplicates are dropped (with a warning); the order
        gives the incremental spread of each seed.
    model : ``"ic"`` (independent cascade) or ``"lt"`` (linear threshold).
    **options : the fields of :class:`~kolgraph.propagation.options.SpreadOptions`:
        ``p`` (uniform edge probability, IC, default 0.01, or weight, LT; with
        ``view_rates`` the reshare probability of every hop after the first),
        ``weighted_cascade`` (probability, IC, or weight, LT, ``1/d`` on every edge into
        an account following ``d`` accounts; the default for LT), ``edge_probs`` (one
        probability per propagation edge, aligned with ``g.in_indices``), ``view_rates``
        (first hop, IC: the probability that a seed's follower sees its post; ``True``
        takes ``avg_views / followers`` from the creator table; a number, a list, one per
        seed, or ``{id: rate}``; must be at least ``p``), ``runs`` (simulations, default
        10 000), ``seed`` (random seed: results are reproducible for a seed, whatever the
        thread count), ``threads`` (default, every available core), ``skip_unknown`` (drop
        unknown seeds with a warning instead of raising).
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
    o = SpreadOptions.check({"model": model, **options})
    runs = o.runs
    ext, idx, warnings = resolve_ids(g, seeds, skip_unknown=o.skip_unknown)
    m = _resolve_model(g, o, idx, ext)
    key = o.seed
    nthreads = _parallel.threads(o.threads)
    make_state, work = _simulation(g, m, idx.astype(np.int64), key)
    t0 = time.perf_counter()
    with progress.task(f"simulating {m.name.upper()} cascades", total=runs) as task:
        done, interrupted = _parallel.run_chunks(runs, nthreads, make_state, work, task)
    seconds = time.perf_counter() - t0
    kept, inc_sum, inc_sq = _merge_runs(done, len(idx))
    if interrupted:
        warnings.append(f"interrupted: {len(kept):,} of {runs:,} simulations finished")
    return SpreadResult(seeds=ext, model=m.name, params=m.params, samples=kept, inc_sum=inc_sum,
                        inc_sq=inc_sq, runs_requested=runs, seed=key, threads=nthreads,
                        seconds=seconds, interrupted=interrupted, warnings=warnings)


def _simulation(g, m: _Model, seeds_arr: np.ndarray, key: int):
    """``make_state`` and ``work`` for :func:`kolgraph._parallel.run_chunks`: simulations
    ``start .. start + count - 1`` of model ``m`` into one chunk's samples and increments."""
    n, k = g.n_accounts, len(seeds_arr)
    indptr, indices = np.asarray(g.in_indptr), np.asarray(g.in_indices)
    edge_p = _wc_edge_p(g) if m.wc else m.edge_p
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
    return make_state, work


def _merge_runs(done: dict, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The chunks' samples in simulation order (whatever thread ran each chunk), and the
    summed per-seed increments and their squares."""
    inc_sum, inc_sq = np.zeros(k), np.zeros(k)
    parts = [np.empty(0, np.int64)]
    for start in sorted(done):
        out, s1, s2 = done[start][1]
        parts.append(out)
        inc_sum += s1
        inc_sq += s2
    return np.concatenate(parts), inc_sum, inc_sq
