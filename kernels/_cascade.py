"""Cascade building blocks shared by the Monte Carlo kernels (:mod:`kolgraph.kernels.propagation`)
and the reverse-reachable sets (:mod:`kolgraph.kernels.rrsets`): the activate-and-enqueue step,
and recording an RR set's candidates.
"""

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
