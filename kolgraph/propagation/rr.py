"""Reverse-reachable (RR) sets: flat growing buffers, per-thread scratch, threaded drawing."""

from __future__ import annotations

import numpy as np

from kolgraph import _parallel
from kolgraph.kernels import rrsets as _rr
from kolgraph.propagation.model import _to_following_order


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




class RRSampler:
    """Draws RR sets of one model for one :func:`seeds` call.

    RR roots are uniform over every account; a set holds only the candidates it
    reaches (``cand_of`` maps accounts to candidate positions). Set ``j`` drawn under
    ``key`` comes from its own random stream, so the sets do not depend on the threads.
    """

    def __init__(self, g, cand: np.ndarray, mdl, key: int, nthreads: int, progress):
        n, m_c = g.n_accounts, len(cand)
        if mdl.seed_rates is not None:
            seed_p = np.zeros(n)
            seed_p[cand] = mdl.seed_rates
        else:
            seed_p = np.empty(0)
        edge_rev = (_to_following_order(g, mdl.edge_p) if len(mdl.edge_p)
                    else np.empty(0, np.float32))
        if m_c == n:  # every account is a candidate (cand is sorted and unique): stored as itself
            cand_of = np.empty(0, np.int32)
        else:
            cand_of = np.full(n, -1, np.int32)
            cand_of[cand] = np.arange(m_c, dtype=np.int32)
        self.model_args = (np.asarray(g.out_indptr), np.asarray(g.out_indices),
                           1 if mdl.name == "lt" else 0, mdl.p, mdl.wc, edge_rev, seed_p, cand_of, n)
        self.n, self.first_hop = n, len(seed_p) > 0
        self.key, self.nthreads, self.progress = key, nthreads, progress
        self.pool: list = []  # per-thread scratch, reused by every draw of this call

    def draw(self, into: _RRSets, first: int, count: int, label: str,
             key: int | None = None) -> bool:
        """Add RR sets ``first .. first + count - 1`` to ``into``; returns whether interrupted.

        The calling thread writes straight into ``into``; other threads fill their own
        buffers, appended afterwards (coverage does not depend on the order of the sets).
        """
        key = self.key if key is None else key
        hint = into.size / into.n if into.n else 8.0
        held: list = []

        def make_state():
            st = self.pool.pop() if self.pool else _RRScratch(self.n, self.first_hop)
            held.append(st)
            return st, into if len(held) == 1 else st.sets

        def work(state, start, cnt):
            st, buf = state
            _rr_fill(buf, self.model_args, key, first + start, cnt, st, hint)

        with self.progress.task(label, total=count) as task:
            _, stopped = _parallel.run_chunks(count, self.nthreads, make_state, work, task)
        for st in held:
            into.extend(st.sets)
            st.sets.clear()
            self.pool.append(st)
        return stopped
