"""Follow-graph CSR construction by parallel counting sort (no comparison sort).

Edges arrive as ``src -> dst`` (``src`` follows ``dst``) in any order, with
duplicates and self-follows. Three stable counting-sort scatters give both
directions with sorted rows (an LSD radix sort on (dst, src)):

1. scatter edges into rows by ``src`` (rows unsorted), dropping self-follows;
2. scatter those entries into rows by ``dst`` in ``src`` order, so every
   followers-of row comes out sorted and duplicates sit side by side;
3. drop duplicates, then scatter back into rows by follower, which sorts the
   following-of rows for free.

Each scatter splits its input into one contiguous chunk per thread with a
private histogram row, so the result does not depend on the thread count.
"""

import numba
import numpy as np
from numba import njit, prange


@njit(nogil=True, cache=True, parallel=True)
def _scatter(keys, payload, times, has_times, n, other, skip_equal, n_chunks):
    """Stable counting sort of ``payload`` (and ``times``) into ``n`` rows by ``keys``.

    Entries with ``keys[e] == other[e]`` are dropped when ``skip_equal``.
    Returns ``(indptr, values, values_times)``.
    """
    m = keys.shape[0]
    step = (m + n_chunks - 1) // n_chunks
    hist = np.zeros((n_chunks, n), dtype=np.int64)
    for c in prange(n_chunks):
        for e in range(c * step, min(m, (c + 1) * step)):
            if skip_equal and keys[e] == other[e]:
                continue
            hist[c, keys[e]] += 1
    indptr = np.empty(n + 1, dtype=np.int64)
    run = 0
    for k in range(n):
        indptr[k] = run
        for c in range(n_chunks):
            cnt = hist[c, k]
            hist[c, k] = run
            run += cnt
    indptr[n] = run
    values = np.empty(run, dtype=np.int32)
    values_t = np.empty(run if has_times else 0, dtype=np.int64)
    for c in prange(n_chunks):
        for e in range(c * step, min(m, (c + 1) * step)):
            if skip_equal and keys[e] == other[e]:
                continue
            k = keys[e]
            p = hist[c, k]
            values[p] = payload[e]
            if has_times:
                values_t[p] = times[e]
            hist[c, k] = p + 1
    return indptr, values, values_t


@njit(nogil=True, cache=True, parallel=True)
def expand_rows(indptr, n_edges):
    """Row id of every CSR entry (the COO row array)."""
    rows = np.empty(n_edges, dtype=np.int32)
    for r in prange(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            rows[p] = r
    return rows


@njit(nogil=True, cache=True, parallel=True)
def _dedupe_sorted_rows(indptr, indices, times, has_times):
    """Drop repeated entries of sorted rows; a kept entry takes the earliest time."""
    n = indptr.shape[0] - 1
    keep = np.zeros(n + 1, dtype=np.int64)
    for r in prange(n):
        c = 0
        for p in range(indptr[r], indptr[r + 1]):
            if p == indptr[r] or indices[p] != indices[p - 1]:
                c += 1
        keep[r + 1] = c
    for r in range(n):
        keep[r + 1] += keep[r]
    out = np.empty(keep[n], dtype=np.int32)
    out_t = np.empty(keep[n] if has_times else 0, dtype=np.int64)
    for r in prange(n):
        w = keep[r] - 1
        for p in range(indptr[r], indptr[r + 1]):
            if p == indptr[r] or indices[p] != indices[p - 1]:
                w += 1
                out[w] = indices[p]
                if has_times:
                    out_t[w] = times[p]
            elif has_times and times[p] < out_t[w]:
                out_t[w] = times[p]
    return keep, out, out_t


def build_csr(src, dst, n, times, has_times):
    """Build followers-of and following-of CSR from an edge list.

    Returns ``(in_indptr, in_indices, in_times, out_indptr, out_indices,
    n_self, n_dup)``. ``in_times`` is aligned with ``in_indices`` and keeps the
    earliest time of duplicated edges; it is empty when ``has_times`` is false.
    """
    by_src, rows_dst, rows_t = _scatter(src, dst, times, has_times, n, dst, True, numba.get_num_threads())
    n_self = src.shape[0] - rows_dst.shape[0]
    followers = expand_rows(by_src, rows_dst.shape[0])
    in_indptr, in_indices, in_times = _scatter(rows_dst, followers, rows_t, has_times, n, rows_dst, False,
                                                  numba.get_num_threads())
    del by_src, rows_dst, rows_t, followers
    in_indptr, dedup, dedup_t = _dedupe_sorted_rows(in_indptr, in_indices, in_times, has_times)
    n_dup = in_indices.shape[0] - dedup.shape[0]
    del in_indices, in_times
    out_indptr, out_indices = transpose(in_indptr, dedup, n)
    return in_indptr, dedup, dedup_t, out_indptr, out_indices, n_self, n_dup


def transpose(indptr, indices, n):
    """Transpose a CSR with sorted rows; the result's rows are sorted too."""
    rows = expand_rows(indptr, indices.shape[0])
    t_indptr, t_indices, _ = _scatter(indices, rows, np.empty(0, np.int64), False, n, indices, False,
                                   numba.get_num_threads())
    return t_indptr, t_indices
