"""Follow-graph CSR construction by counting sort (no comparison sort).

Edges arrive as ``src -> dst`` (``src`` follows ``dst``) in any order, with
duplicates and self-follows. Three linear passes give both directions with
sorted rows:

1. scatter edges into rows by ``src`` (rows unsorted);
2. transpose into rows by ``dst`` walking ``src`` in increasing order, so each
   followers-of row comes out sorted and duplicates sit side by side;
3. drop duplicates while compacting, then transpose back, which sorts the
   following-of rows for free.
"""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _row_starts(keys, n):
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(keys.shape[0]):
        indptr[keys[i] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    return indptr


@njit(nogil=True, cache=True)
def build_csr(src, dst, n, times, has_times):
    """Build followers-of and following-of CSR from an edge list.

    Returns ``(in_indptr, in_indices, in_times, out_indptr, out_indices,
    n_self, n_dup)``. ``in_times`` is aligned with ``in_indices`` and keeps the
    earliest time of duplicated edges; it is empty when ``has_times`` is false.
    """
    m = src.shape[0]
    n_self = 0
    deg = np.zeros(n + 1, dtype=np.int64)
    for e in range(m):
        if src[e] == dst[e]:
            n_self += 1
        else:
            deg[src[e] + 1] += 1
    for i in range(n):
        deg[i + 1] += deg[i]
    kept = deg[n]

    # pass 1: rows by follower, unsorted
    pos = deg[:-1].copy()
    rows_dst = np.empty(kept, dtype=np.int32)
    rows_t = np.empty(kept if has_times else 0, dtype=np.int64)
    for e in range(m):
        s = src[e]
        if s != dst[e]:
            p = pos[s]
            rows_dst[p] = dst[e]
            if has_times:
                rows_t[p] = times[e]
            pos[s] = p + 1

    # pass 2: transpose to followers-of rows, sorted by follower
    in_indptr = _row_starts(rows_dst, n)
    pos = in_indptr[:-1].copy()
    in_indices = np.empty(kept, dtype=np.int32)
    in_times = np.empty(kept if has_times else 0, dtype=np.int64)
    for u in range(n):
        for p in range(deg[u], deg[u + 1]):
            v = rows_dst[p]
            q = pos[v]
            in_indices[q] = u
            if has_times:
                in_times[q] = rows_t[p]
            pos[v] = q + 1

    # pass 3: drop adjacent duplicates in place (earliest time wins)
    w = 0
    start = 0
    for v in range(n):
        end = in_indptr[v + 1]
        row_start = w
        for p in range(start, end):
            u = in_indices[p]
            if w > row_start and in_indices[w - 1] == u:
                if has_times and in_times[p] < in_times[w - 1]:
                    in_times[w - 1] = in_times[p]
                continue
            in_indices[w] = u
            if has_times:
                in_times[w] = in_times[p]
            w += 1
        start = end
        in_indptr[v + 1] = w
    n_dup = kept - w
    in_indices = in_indices[:w].copy()
    if has_times:
        in_times = in_times[:w].copy()

    out_indptr, out_indices = transpose(in_indptr, in_indices, n)
    return in_indptr, in_indices, in_times, out_indptr, out_indices, n_self, n_dup


@njit(nogil=True, cache=True)
def transpose(indptr, indices, n):
    """Transpose a CSR with sorted rows; the result's rows are sorted too."""
    t_indptr = _row_starts(indices, n)
    pos = t_indptr[:-1].copy()
    t_indices = np.empty(indices.shape[0], dtype=np.int32)
    for r in range(n):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            t_indices[pos[c]] = r
            pos[c] += 1
    return t_indptr, t_indices


@njit(nogil=True, cache=True)
def expand_rows(indptr, n_edges):
    """Row id of every CSR entry (the COO row array)."""
    rows = np.empty(n_edges, dtype=np.int32)
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            rows[p] = r
    return rows
