"""Cascade building blocks shared by the Monte Carlo kernels (:mod:`kolgraph.kernels.propagation`)
and the reverse-reachable sets (:mod:`kolgraph.kernels.rrsets`): the activate-and-enqueue step,
recording an RR set's candidates, and the independent-cascade expansion of one node with one
edge probability (geometric skips between live edges).
"""

from kolgraph.kernels._rng import geometric_skip
from numba import njit


@njit(nogil=True, cache=True, inline="always")
def activate(mark, queue, tail, u, value):
    """The activate-and-enqueue step of every model: mark ``u`` with ``value``, append it
    to the queue; returns the new tail."""
    mark[u] = value
    queue[tail] = u
    return tail + 1


@njit(nogil=True, cache=True, inline="always")
def candidate(cand_of, u):
    """Candidate id of account ``u`` (-1: not a candidate; ``cand_of`` empty: ``u`` itself)."""
    return u if len(cand_of) == 0 else cand_of[u]


@njit(nogil=True, cache=True, inline="always")
def record(items, n_items, cu):
    """Append candidate ``cu`` (if any: ``cu >= 0``) to the set; returns ``(n_items, full)``."""
    if cu < 0:
        return n_items, False
    if n_items == len(items):
        return n_items, True
    items[n_items] = cu
    return n_items + 1, False


@njit(nogil=True, cache=True, inline="always")
def join(mark, queue, tail, u, items, n_items, cand_of, recording):
    """``u`` is activated and queued, and, when ``recording``, its candidate recorded;
    returns ``(tail, n_items, full)``."""
    tail = activate(mark, queue, tail, u, 1)
    if not recording:
        return tail, n_items, False
    n_items, full = record(items, n_items, candidate(cand_of, u))
    return tail, n_items, full


@njit(nogil=True, cache=True, inline="always")
def expand_live(indices, a, b, q, log1mq, state, mark, queue, tail, items, n_items, cand_of,
                recording):
    """Independent cascade over the edges ``a:b`` with one probability ``q`` (``log1mq`` =
    log(1 - q)): every edge when ``q >= 1``, else the live ones found by geometric skips;
    each inactive target :func:`join` s. Stops when the RR set is full. Returns ``(state,
    tail, n_items, full)``."""
    if q <= 0.0:
        return state, tail, n_items, False
    e = a
    while True:
        if q < 1.0:
            state, jump = geometric_skip(state, log1mq)
            e += jump
        if e >= b:
            break
        u = indices[e]
        if mark[u] == 0:
            tail, n_items, full = join(mark, queue, tail, u, items, n_items, cand_of, recording)
            if full:
                return state, tail, n_items, True
        e += 1
    return state, tail, n_items, False
