"""Propagation kernels: Monte Carlo cascades (RR sets live in :mod:`kolgraph.kernels.rrsets`).

The propagation graph is the follow graph reversed: information flows from an
account to its followers, so the *followers-of* CSR (``in_indptr``,
``in_indices``) lists each account's out-neighbours in propagation, and the
*following-of* CSR lists its in-neighbours (what RR sets walk backwards).

Randomness is keyed, never shared: simulation (or RR set) ``j`` draws from its
own splitmix64 stream started at ``stream_start(key, j)``, so a result depends on
the seed and ``j`` only, not on how simulations are split over calls or threads.

Monte Carlo (:func:`ic_runs`, :func:`lt_runs`) processes the seeds in the given
order in one simulation: seed ``i`` continues the cascade of seeds ``0..i-1`` in
the same (lazily sampled) world, so the accounts it newly activates are a sample
of its incremental spread and their sum is a sample of the spread of the whole
set. Independent cascade draws each edge once, when its source activates:
``MODE_UNIFORM`` skips to the next live edge with one geometric draw (about
``1 + d·p`` draws for a row of ``d`` edges instead of ``d``); ``MODE_EDGE``
compares one draw per edge with its probability; ``MODE_FIRST_HOP`` gives seeds
their own probability (a creator's view rate) and decides each edge by a hash of
(simulation, edge), so a seed reached earlier by the cascade can re-fire its
edges at its higher seed probability consistently. Linear threshold draws each
account's threshold once per simulation, when a weight first reaches it.

Arrays in, arrays out; no validation here (kolgraph.propagation checks inputs).
"""

import numpy as np
from kolgraph.kernels._cascade import activate
from kolgraph.kernels._rng import geometric_skip, keyed_uniform, next_uniform, stream_start
from numba import njit

MODE_UNIFORM = 0
MODE_EDGE = 1
MODE_FIRST_HOP = 2


@njit(nogil=True, cache=True)
def _seed_rank(sorted_seeds, order_of_sorted, v):
    """Position in the given seed order of account ``v``, or a huge number if not a seed."""
    lo, hi = 0, len(sorted_seeds)
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_seeds[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(sorted_seeds) and sorted_seeds[lo] == v:
        return order_of_sorted[lo]
    return 1 << 30


@njit(nogil=True, cache=True)
def _seed_ranks(seeds):
    """(sorted seeds, position in ``seeds`` of each sorted one), for :func:`_seed_rank`."""
    order = np.argsort(seeds)
    order_of_sorted = np.empty(len(seeds), np.int64)
    for i in range(len(seeds)):
        order_of_sorted[i] = order[i]
    return seeds[order], order_of_sorted


# size: the activate-and-enqueue step stays inline in the hot loop (helpers measured 1.5-2x slower)
@njit(nogil=True, cache=True)
def ic_runs(indptr, indices, mode, p, edge_p, seeds, seed_p, key, sim0, nsim,
            mark, queue, spread, inc_sum, inc_sq):
    """Independent-cascade simulations ``sim0 .. sim0 + nsim - 1``.

    ``indptr``/``indices``: propagation out-neighbours (followers-of CSR).
    ``mode``: MODE_UNIFORM (probability ``p``), MODE_EDGE (``edge_p`` aligned
    with ``indices``) or MODE_FIRST_HOP (seeds use ``seed_p[i]``, other edges
    ``edge_p``, or ``p`` when ``edge_p`` is empty). ``mark`` (uint8, n, all zero,
    and left so: 2 MB per million accounts, so it mostly stays in cache) and
    ``queue`` (int32, n + k: every activation, plus seeds fired again) are the
    caller's scratch, used by one call at a time. Writes ``spread[s]`` for each simulation ``s`` of the
    call (indexed from 0) and adds each seed's newly activated count and its
    square to ``inc_sum``/``inc_sq``.
    """
    # Longer than 80 lines on purpose: the per-node expansion stays inline in this loop;
    # split into per-mode helpers (numba inline or not) it measured twice as slow.
    k = len(seeds)
    sorted_seeds, order_of_sorted = _seed_ranks(seeds)
    log1mp = np.log1p(-p) if 0.0 < p < 1.0 else 0.0
    uniform_rest = len(edge_p) == 0
    for s in range(nsim):
        sim = sim0 + s
        state = stream_start(key, sim)
        skey = state
        total = 0
        tail = 0  # the queue keeps the whole simulation's activations, to clear the marks after
        for i in range(k):
            v0 = seeds[i]
            head = tail
            newly = 0
            if mark[v0] == 0:
                tail = activate(mark, queue, tail, v0, 1)
                newly += 1
            elif mode == MODE_FIRST_HOP:
                queue[tail] = v0  # already active: fire again at the seed probability
                tail += 1
            while head < tail:
                v = queue[head]
                head += 1
                a = indptr[v]
                b = indptr[v + 1]
                if mode == MODE_UNIFORM:
                    if p >= 1.0:
                        for e in range(a, b):
                            u = indices[e]
                            if mark[u] == 0:
                                tail = activate(mark, queue, tail, u, 1)
                                newly += 1
                    elif p > 0.0:
                        e = a
                        while True:
                            state, jump = geometric_skip(state, log1mp)
                            e += jump
                            if e >= b:
                                break
                            u = indices[e]
                            if mark[u] == 0:
                                tail = activate(mark, queue, tail, u, 1)
                                newly += 1
                            e += 1
                elif mode == MODE_EDGE:
                    for e in range(a, b):
                        u = indices[e]
                        if mark[u] != 0:
                            continue  # an edge into an active account cannot matter
                        state, x = next_uniform(state)
                        if x < edge_p[e]:
                            tail = activate(mark, queue, tail, u, 1)
                            newly += 1
                else:
                    r = _seed_rank(sorted_seeds, order_of_sorted, v)
                    for e in range(a, b):
                        u = indices[e]
                        if mark[u] != 0:
                            continue
                        if r <= i:
                            q = seed_p[r]
                        elif uniform_rest:
                            q = p
                        else:
                            q = edge_p[e]
                        if keyed_uniform(skey, e) < q:
                            tail = activate(mark, queue, tail, u, 1)
                            newly += 1
            total += newly
            inc_sum[i] += newly
            inc_sq[i] += newly * newly
        for t in range(tail):
            mark[queue[t]] = 0
        spread[s] = total


@njit(nogil=True, cache=True, inline="always")
def _lt_cascade(indptr, indices, p, edge_w, stamp, state, mark, queue, tail, tmark, theta, acc):
    """Run a linear-threshold cascade from the queue (one seed); returns ``(state, tail)``.
    An account's threshold is drawn when a weight first reaches it in the simulation."""
    head = 0
    while head < tail:
        v = queue[head]
        head += 1
        for e in range(indptr[v], indptr[v + 1]):
            u = indices[e]
            if mark[u] == stamp:
                continue
            if tmark[u] != stamp:
                tmark[u] = stamp
                state, x = next_uniform(state)
                theta[u] = 1.0 - x
                acc[u] = 0.0
            acc[u] += p if len(edge_w) == 0 else edge_w[e]
            if acc[u] >= theta[u]:
                tail = activate(mark, queue, tail, u, stamp)
    return state, tail


@njit(nogil=True, cache=True)
def lt_runs(indptr, indices, p, edge_w, seeds, key, sim0, nsim, mark, queue, tmark, theta,
            acc, spread, inc_sum, inc_sq):
    """Linear-threshold simulations ``sim0 .. sim0 + nsim - 1``.

    Edge weights are ``edge_w`` aligned with ``indices``, or ``p`` for every edge
    when ``edge_w`` is empty; each account's incoming weights sum to at most 1.
    An account activates once the weights from its active in-neighbours reach its
    threshold, uniform on (0, 1]. ``tmark`` (int32), ``theta`` and ``acc``
    (float64) are per-account scratch like ``mark``. Outputs as :func:`ic_runs`.
    """
    for s in range(nsim):
        sim = sim0 + s
        stamp = np.int32(sim + 1)
        state = stream_start(key, sim)
        total = 0
        for i in range(len(seeds)):
            v0 = seeds[i]
            tail = 0
            if mark[v0] != stamp:
                tail = activate(mark, queue, tail, v0, stamp)
            state, tail = _lt_cascade(indptr, indices, p, edge_w, stamp, state, mark, queue,
                                      tail, tmark, theta, acc)
            total += tail
            inc_sum[i] += tail
            inc_sq[i] += tail * tail
        spread[s] = total
