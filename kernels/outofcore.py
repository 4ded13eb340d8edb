"""Kernels of the out-of-core CSR build (``kolgraph.outofcore``): the edges are split
into row ranges on disk, each range is sorted in memory, and the transpose is filled one
column range at a time. Serial: each works on one memory-sized piece while the next
piece is read."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def partition_by_range(src, dst, times, has_times, lo, rows_per_part, n_parts):
    """Edges grouped by ``(src - lo) // rows_per_part`` (a counting sort), self-follows
    dropped.

    Returns ``(starts, src, dst, times, n_self)``: part ``p`` is ``starts[p]:starts[p+1]``.
    """
    m = src.shape[0]
    starts = np.zeros(n_parts + 1, dtype=np.int64)
    for e in range(m):
        if src[e] != dst[e]:
            starts[(src[e] - lo) // rows_per_part + 1] += 1
    for p in range(n_parts):
        starts[p + 1] += starts[p]
    kept = starts[n_parts]
    cur = starts[:n_parts].copy()
    o_src = np.empty(kept, dtype=np.int32)
    o_dst = np.empty(kept, dtype=np.int32)
    o_t = np.empty(kept if has_times else 0, dtype=np.int64)
    for e in range(m):
        if src[e] != dst[e]:
            p = (src[e] - lo) // rows_per_part
            w = cur[p]
            cur[p] += 1
            o_src[w] = src[e]
            o_dst[w] = dst[e]
            if has_times:
                o_t[w] = times[e]
    return starts, o_src, o_dst, o_t, m - kept


@njit(nogil=True, cache=True)
def group_rows(src, dst, times, has_times, row_lo, n_rows):
    """Rows ``row_lo .. row_lo + n_rows - 1`` of the edges as an (unsorted) CSR:
    ``(indptr, values, times)``."""
    m = src.shape[0]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for e in range(m):
        indptr[src[e] - row_lo + 1] += 1
    for r in range(n_rows):
        indptr[r + 1] += indptr[r]
    cur = indptr[:n_rows].copy()
    values = np.empty(m, dtype=np.int32)
    vt = np.empty(m if has_times else 0, dtype=np.int64)
    for e in range(m):
        r = src[e] - row_lo
        w = cur[r]
        cur[r] += 1
        values[w] = dst[e]
        if has_times:
            vt[w] = times[e]
    return indptr, values, vt


@njit(nogil=True, cache=True)
def fill_columns(indptr, row_lo, indices, times, has_times, col_lo, col_hi, cursor, rows,
                 rows_t):
    """Transpose step: every entry of rows ``row_lo ..`` (``indptr`` relative to the chunk's
    ``indices``) whose column is in ``[col_lo, col_hi)`` is written at its column's
    ``cursor``. Rows arrive in increasing order, so each column's rows stay sorted."""
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            if col_lo <= c < col_hi:
                w = cursor[c - col_lo]
                cursor[c - col_lo] += 1
                rows[w] = row_lo + r
                if has_times:
                    rows_t[w] = times[p]
