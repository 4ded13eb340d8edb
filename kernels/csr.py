"""Follow-graph CSR construction by parallel counting sort.

Edges arrive as ``src -> dst`` (``src`` follows ``dst``) in any order, with
duplicates and self-follows. Two stable counting-sort scatters give both
directions with sorted rows:

1. scatter edges into rows by follower (self-follows dropped), sort each row
   in place (rows are short: an account follows few others) and drop repeats:
   that is the following-of CSR;
2. transpose it walking followers in increasing order, so every followers-of
   row comes out sorted with no comparison sort at all.

Each scatter is a two-pass radix sort: a stable partition into at most 1024
buckets by the key's high bits (one contiguous chunk per thread, private
histograms), then a counting sort inside each bucket, whose keys span a range
small enough to stay in cache. Results do not depend on the thread count.
"""

import numba
import numpy as np
from numba import njit, prange

_SHORT_ROW = 32  # insertion sort below this row length, a library sort above


def _bucket_shift(n):
    """Bits of a key below its bucket number: at most 1024 buckets, so the first pass
    streams into few places, and each bucket's key range is small enough for cache."""
    shift = 0
    while (n >> shift) > 1024:
        shift += 1
    return shift


@njit(nogil=True, cache=True)
def _offsets(hist, n):
    """Turn per-chunk counts into per-chunk write positions (in place); return the starts."""
    starts = np.empty(n + 1, dtype=np.int64)
    run = 0
    for k in range(n):
        starts[k] = run
        for c in range(hist.shape[0]):
            cnt = hist[c, k]
            hist[c, k] = run
            run += cnt
    starts[n] = run
    return starts


@njit(nogil=True, cache=True, parallel=True)
def _partition_edges(src, dst, times, has_times, shift, n_buckets, n_chunks):
    """Pass 1 for edges: stable partition by ``src >> shift``, self-follows dropped."""
    m = src.shape[0]
    step = (m + n_chunks - 1) // n_chunks
    hist = np.zeros((n_chunks, n_buckets), dtype=np.int64)
    for c in prange(n_chunks):
        for e in range(c * step, min(m, (c + 1) * step)):
            if src[e] != dst[e]:
                hist[c, src[e] >> shift] += 1
    starts = _offsets(hist, n_buckets)
    keys = np.empty(starts[n_buckets], dtype=np.int32)
    vals = np.empty(starts[n_buckets], dtype=np.int32)
    vals_t = np.empty(starts[n_buckets] if has_times else 0, dtype=np.int64)
    for c in prange(n_chunks):
        for e in range(c * step, min(m, (c + 1) * step)):
            s = src[e]
            if s != dst[e]:
                b = s >> shift
                p = hist[c, b]
                keys[p] = s
                vals[p] = dst[e]
                if has_times:
                    vals_t[p] = times[e]
                hist[c, b] = p + 1
    return starts, keys, vals, vals_t


@njit(nogil=True, cache=True, parallel=True)
def _partition_csr(indptr, indices, times, has_times, shift, n_buckets, n_chunks):
    """Pass 1 for a transpose: stable partition of CSR entries by ``column >> shift``,
    each entry carrying its row."""
    n = indptr.shape[0] - 1
    m = indices.shape[0]
    # chunks of whole rows holding about the same number of entries
    bounds = np.searchsorted(indptr, np.linspace(0, m, n_chunks + 1).astype(np.int64))
    bounds[0] = 0
    bounds[n_chunks] = n
    hist = np.zeros((n_chunks, n_buckets), dtype=np.int64)
    for c in prange(n_chunks):
        for p in range(indptr[bounds[c]], indptr[bounds[c + 1]]):
            hist[c, indices[p] >> shift] += 1
    starts = _offsets(hist, n_buckets)
    keys = np.empty(m, dtype=np.int32)
    vals = np.empty(m, dtype=np.int32)
    vals_t = np.empty(m if has_times else 0, dtype=np.int64)
    for c in prange(n_chunks):
        for r in range(bounds[c], bounds[c + 1]):
            for p in range(indptr[r], indptr[r + 1]):
                k = indices[p]
                q = hist[c, k >> shift]
                keys[q] = k
                vals[q] = r
                if has_times:
                    vals_t[q] = times[p]
                hist[c, k >> shift] = q + 1
    return starts, keys, vals, vals_t


@njit(nogil=True, cache=True, parallel=True)
def _sort_buckets(starts, keys, vals, vals_t, has_times, shift, n):
    """Pass 2: a stable counting sort inside each bucket (its keys span ``2**shift`` values).

    Returns ``(indptr, values, values_times)`` of rows ``0..n-1``.
    """
    n_buckets = starts.shape[0] - 1
    m = keys.shape[0]
    indptr = np.empty(n + 1, dtype=np.int64)
    indptr[n] = m
    out = np.empty(m, dtype=np.int32)
    out_t = np.empty(m if has_times else 0, dtype=np.int64)
    for b in prange(n_buckets):
        base = b << shift
        width = min(n, (b + 1) << shift) - base
        pos = np.zeros(width + 1, dtype=np.int64)
        for p in range(starts[b], starts[b + 1]):
            pos[keys[p] - base + 1] += 1
        pos[0] = starts[b]
        for k in range(width):
            pos[k + 1] += pos[k]
        for k in range(width):
            indptr[base + k] = pos[k]
        for p in range(starts[b], starts[b + 1]):
            k = keys[p] - base
            q = pos[k]
            out[q] = vals[p]
            if has_times:
                out_t[q] = vals_t[p]
            pos[k] = q + 1
    return indptr, out, out_t


@njit(nogil=True, cache=True, parallel=True)
def _sort_dedupe_rows(indptr, values, times, has_times):
    """Sort every row in place, then copy it without repeats (a repeat keeps the earliest time)."""
    n = indptr.shape[0] - 1
    keep = np.zeros(n + 1, dtype=np.int64)
    for r in prange(n):
        lo, hi = indptr[r], indptr[r + 1]
        if hi - lo <= _SHORT_ROW:
            for i in range(lo + 1, hi):  # insertion sort, times carried along
                v = values[i]
                t = times[i] if has_times else 0
                j = i - 1
                while j >= lo and values[j] > v:
                    values[j + 1] = values[j]
                    if has_times:
                        times[j + 1] = times[j]
                    j -= 1
                values[j + 1] = v
                if has_times:
                    times[j + 1] = t
        elif has_times:
            order = np.argsort(values[lo:hi], kind="mergesort")
            values[lo:hi] = values[lo:hi][order]
            times[lo:hi] = times[lo:hi][order]
        else:
            values[lo:hi] = np.sort(values[lo:hi])
        c = 0
        for p in range(lo, hi):
            if p == lo or values[p] != values[p - 1]:
                c += 1
        keep[r + 1] = c
    for r in range(n):
        keep[r + 1] += keep[r]
    out = np.empty(keep[n], dtype=np.int32)
    out_t = np.empty(keep[n] if has_times else 0, dtype=np.int64)
    for r in prange(n):
        w = keep[r] - 1
        for p in range(indptr[r], indptr[r + 1]):
            if p == indptr[r] or values[p] != values[p - 1]:
                w += 1
                out[w] = values[p]
                if has_times:
                    out_t[w] = times[p]
            elif has_times and times[p] < out_t[w]:
                out_t[w] = times[p]
    return keep, out, out_t


@njit(nogil=True, cache=True, parallel=True)
def expand_rows(indptr, n_edges):
    """Row id of every CSR entry (the COO row array)."""
    rows = np.empty(n_edges, dtype=np.int32)
    for r in prange(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            rows[p] = r
    return rows


def build_csr(src, dst, n, times, has_times):
    """Build followers-of and following-of CSR from an edge list.

    Returns ``(in_indptr, in_indices, in_times, out_indptr, out_indices,
    n_self, n_dup)``. ``in_times`` is aligned with ``in_indices`` and keeps the
    earliest time of duplicated edges; it is empty when ``has_times`` is false.
    """
    shift = _bucket_shift(n)
    part = _partition_edges(src, dst, times, has_times, shift, (n >> shift) + 1, numba.get_num_threads())
    by_src, followees, followees_t = _sort_buckets(*part, has_times, shift, n)
    del part
    n_self = src.shape[0] - followees.shape[0]
    out_indptr, out_indices, out_t = _sort_dedupe_rows(by_src, followees, followees_t, has_times)
    n_dup = followees.shape[0] - out_indices.shape[0]
    del by_src, followees, followees_t
    in_indptr, in_indices, in_times = _transpose(out_indptr, out_indices, out_t, has_times, n)
    return in_indptr, in_indices, in_times, out_indptr, out_indices, n_self, n_dup


def _transpose(indptr, indices, times, has_times, n_cols):
    shift = _bucket_shift(n_cols)
    part = _partition_csr(indptr, indices, times, has_times, shift, (n_cols >> shift) + 1,
                          numba.get_num_threads())
    return _sort_buckets(*part, has_times, shift, n_cols)


def transpose(indptr, indices, n):
    """Transpose a CSR with ``n`` columns; the result's rows are sorted."""
    t_indptr, t_indices, _ = _transpose(indptr, indices, np.empty(0, np.int64), False, n)
    return t_indptr, t_indices


@njit(nogil=True, cache=True, parallel=True)
def transpose_rows(starts, ends, indices, n_cols, n_parts, with_pos):
    """Transpose of the rows ``indices[starts[r]:ends[r]]``: ``(col_indptr, col_rows, col_pos)``,
    rows ascending in each column; ``col_pos`` is each entry's position in ``indices`` (empty
    unless ``with_pos``). The rows may be any slices of ``indices`` (e.g. a subset of a CSR's
    rows).

    Parallel over ``n_parts`` column ranges holding about equal numbers of entries
    (one per thread; 1 for small graphs): every part reads the whole CSR and writes
    only its own columns. Serial kernels call :func:`transpose_rows_serial` (a parallel
    region launched from them costs more than a small transpose).
    """
    counts, rows, pos = _transpose_alloc(starts, ends, indices, n_cols, with_pos)
    m = counts[n_cols]
    n_parts = max(1, min(n_parts, n_cols))
    bounds = np.searchsorted(counts, np.arange(n_parts + 1) * (m / n_parts))
    bounds[0] = 0
    bounds[n_parts] = n_cols
    for t in prange(n_parts):
        _transpose_fill(starts, ends, indices, counts, bounds[t], bounds[t + 1], rows, pos, with_pos)
    return counts, rows, pos


@njit(nogil=True, cache=True)
def transpose_rows_serial(starts, ends, indices, n_cols, with_pos):
    """:func:`transpose_rows` in one thread."""
    counts, rows, pos = _transpose_alloc(starts, ends, indices, n_cols, with_pos)
    _transpose_fill(starts, ends, indices, counts, 0, n_cols, rows, pos, with_pos)
    return counts, rows, pos


@njit(nogil=True, cache=True)
def _transpose_alloc(starts, ends, indices, n_cols, with_pos):
    """Column pointers of the transpose, and room for its rows (and positions)."""
    counts = np.zeros(n_cols + 1, np.int64)
    for r in range(len(starts)):
        for p in range(starts[r], ends[r]):
            counts[indices[p] + 1] += 1
    for j in range(n_cols):
        counts[j + 1] += counts[j]
    m = counts[n_cols]
    return counts, np.empty(m, np.int32), np.empty(m if with_pos else 0, np.int64)


@njit(nogil=True, cache=True)
def _transpose_fill(starts, ends, indices, counts, lo, hi, rows, pos, with_pos):
    """Write the entries of columns ``lo .. hi-1`` into their places."""
    fill = counts[lo:hi].copy()
    for r in range(len(starts)):
        for p in range(starts[r], ends[r]):
            j = indices[p]
            if lo <= j < hi:
                q = fill[j - lo]
                rows[q] = r
                if with_pos:
                    pos[q] = p
                fill[j - lo] = q + 1


# --- filtering: rows of a CSR keeping the entries whose column passes a map ---------------------
# ``col_map[v] != drop`` keeps column v: a bool mask with ``drop=False``, or a slot map with
# ``drop=-1`` (kept columns can then be renumbered to their slot). ``rows`` selects the rows,
# unless ``all_rows`` (then every row, in order).


@njit(nogil=True, cache=True, inline="always")
def _row(rows, all_rows, i):
    return np.int64(i) if all_rows else np.int64(rows[i])  # a prange index may be unsigned


@njit(nogil=True, cache=True, parallel=True)
def filtered_counts(indptr, indices, rows, all_rows, col_map, drop):
    """Per selected row, its entries whose column passes ``col_map``."""
    n = len(indptr) - 1 if all_rows else len(rows)
    out = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        r = _row(rows, all_rows, i)
        c = 0
        for p in range(indptr[r], indptr[r + 1]):
            if col_map[indices[p]] != drop:
                c += 1
        out[i] = c
    return out


@njit(nogil=True, cache=True, parallel=True)
def filter_rows(indptr, indices, rows, all_rows, col_map, drop, renumber):
    """The selected rows keeping the entries whose column passes ``col_map``, as a CSR
    ``(indptr, indices int32)``; kept columns are renumbered to ``col_map[v]`` when
    ``renumber``, else kept as they are. Counting and filling run in parallel over rows."""
    counts = filtered_counts(indptr, indices, rows, all_rows, col_map, drop)
    n = len(counts)
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        ptr[i + 1] = ptr[i] + counts[i]
    out = np.empty(ptr[n], dtype=np.int32)
    for i in prange(n):
        r = _row(rows, all_rows, i)
        w = ptr[i]
        for p in range(indptr[r], indptr[r + 1]):
            v = indices[p]
            if col_map[v] != drop:
                if renumber:
                    out[w] = col_map[v]
                else:
                    out[w] = v
                w += 1
    return ptr, out


@njit(nogil=True, cache=True)
def group_by(keys, n_groups):
    """Counting sort: ``(ptr, order)`` with ``order[ptr[g]:ptr[g+1]]`` the positions of key ``g``."""
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(keys.shape[0]):
        ptr[keys[i] + 1] += 1
    for g in range(n_groups):
        ptr[g + 1] += ptr[g]
    pos = ptr[:-1].copy()
    order = np.empty(keys.shape[0], dtype=np.int32)
    for i in range(keys.shape[0]):
        k = keys[i]
        order[pos[k]] = i
        pos[k] += 1
    return ptr, order
