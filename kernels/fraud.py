"""Fraud kernels: Fraudar greedy peeling of the follower x creator graph, and block counts.

Temporal lockstep and growth spikes live in :mod:`kolgraph.kernels.lockstep`, co-following
pairs and seeded blocks in :mod:`kolgraph.kernels.cofollow`.

**Fraudar** (Hooi et al., KDD 2016) on the follower x creator bipartite graph:
column ``j`` weighs ``1 / log(d_j + c)`` (``d_j`` its followers among the live
rows), so edges into popular creators (where farms hide camouflage) count
little. ``f(S)`` is the weight of the edges inside ``S``, and greedy peeling
removes, one node at a time, the row or column whose removal costs ``f`` the
least, remembering the prefix where ``g(S) = f(S) / |S|`` peaks. The removal
cost of a row is the weight of its live edges, of a column ``d_j w_j``; both
only decrease, so indexed 4-ary min-heaps with decrease-key give
``O(E log N)``; rows wait in one presorted array until a column removal first
lowers their cost (see :func:`peel`). Ties go to rows before columns, then to
the smaller index, as in the reference implementation's two min-trees
(``rowDelt <= colDelt``).

Arrays in, arrays out; no validation here.
"""

import numpy as np
from kolgraph.kernels._prefetch import prefetch
from kolgraph.kernels.csr import _transpose_alloc, _transpose_fill, filter_rows, transpose_rows
from numba import njit, prange

# --- bipartite follower x column graph --------------------------------------------------------


@njit(nogil=True, cache=True)
def bipartite_rows(out_indptr, out_indices, col_of):
    """Rows of the follower x column graph: accounts following at least one column.

    ``col_of[a]`` is the column of account ``a`` (-1: not a column). Returns
    ``(row_account int32, indptr int64, indices int32)``, rows in account order,
    each row's columns in the order of ``out_indices``.
    """
    ptr, indices = filter_rows(out_indptr, out_indices, out_indptr[:0], True, col_of, -1, True)
    row_account = np.flatnonzero(ptr[1:] > ptr[:-1]).astype(np.int32)
    indptr = np.empty(len(row_account) + 1, np.int64)
    indptr[0] = 0
    indptr[1:] = ptr[row_account + 1]
    return row_account, indptr, indices


@njit(nogil=True, cache=True)
def transpose(indptr, indices, n_cols, n_parts):
    """Column-major copy of a CSR: ``(col_indptr, col_rows, col_pos)``, rows ascending in each
    column; ``col_pos`` is each entry's position in ``indices``, int32 (fewer than ``2**31``
    entries; else :func:`transpose_wide`). Parallel over ``n_parts`` column ranges as
    :func:`kolgraph.kernels.csr.transpose_rows`."""
    starts, ends = indptr[:-1], indptr[1:]
    counts, rows, _ = _transpose_alloc(starts, ends, indices, n_cols, False)
    pos = np.empty(len(rows), np.int32)
    if n_parts <= 1 or n_cols <= 1:
        _transpose_fill(starts, ends, indices, counts, 0, n_cols, rows, pos, True)
    else:
        _transpose_parts(starts, ends, indices, counts, n_cols, n_parts, rows, pos)
    return counts, rows, pos


@njit(nogil=True, cache=True, parallel=True)
def _transpose_parts(starts, ends, indices, counts, n_cols, n_parts, rows, pos):
    n_parts = min(n_parts, n_cols)
    bounds = np.searchsorted(counts, np.arange(n_parts + 1) * (counts[n_cols] / n_parts))
    bounds[0] = 0
    bounds[n_parts] = n_cols
    for t in prange(n_parts):
        _transpose_fill(starts, ends, indices, counts, bounds[t], bounds[t + 1], rows, pos, True)


@njit(nogil=True, cache=True)
def transpose_wide(indptr, indices, n_cols, n_parts):
    """:func:`transpose` with int64 ``col_pos``, for ``2**31`` entries or more."""
    return transpose_rows(indptr[:-1], indptr[1:], indices, n_cols, n_parts, True)


# --- indexed 4-ary min-heap on (key, node) ---------------------------------------------------
# Keys live in the heap array beside the node ids (hk, hid), so a level costs one cache
# line of children rather than a key lookup per child; pos[node] is its slot (-1: not in).


@njit(nogil=True, inline="always")
def _before(ka, a, kb, b):
    return ka < kb or (ka == kb and a < b)


@njit(nogil=True)
def _heap_up(hk, hid, pos, i, k, x):
    """Place node ``x`` with key ``k`` at slot ``i`` or above."""
    while i > 0:
        parent = (i - 1) >> 2
        if not _before(k, x, hk[parent], hid[parent]):
            break
        hk[i] = hk[parent]
        hid[i] = hid[parent]
        pos[hid[i]] = i
        i = parent
    hk[i] = k
    hid[i] = x
    pos[x] = i


@njit(nogil=True)
def _heap_down(hk, hid, pos, i, size):
    k = hk[i]
    x = hid[i]
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best = first
        last = min(first + 4, size)
        for ch in range(first + 1, last):
            if _before(hk[ch], hid[ch], hk[best], hid[best]):
                best = ch
        if not _before(hk[best], hid[best], k, x):
            break
        hk[i] = hk[best]
        hid[i] = hid[best]
        pos[hid[i]] = i
        i = best
    hk[i] = k
    hid[i] = x
    pos[x] = i


@njit(nogil=True)
def _heap_pop(hk, hid, pos, size):
    """Remove the top; returns the new size."""
    pos[hid[0]] = -1
    size -= 1
    if size > 0:
        hk[0] = hk[size]
        hid[0] = hid[size]
        pos[hid[0]] = 0
        _heap_down(hk, hid, pos, 0, size)
    return size


# --- Fraudar ----------------------------------------------------------------------------------


@njit(nogil=True, cache=True)
def column_weights(indices, edge_alive, n_cols, c):
    """Live degree of every column and its weight ``1 / log(degree + c)``."""
    deg = np.zeros(n_cols, np.int64)
    for p in range(len(indices)):
        if edge_alive[p]:
            deg[indices[p]] += 1
    w = np.empty(n_cols, np.float64)
    for j in range(n_cols):
        w[j] = 1.0 / np.log(deg[j] + c)
    return deg, w


@njit(nogil=True, cache=True)
def radix_argsort(keys):
    """Indices sorting the non-negative float64 ``keys`` ascending, ties in index order
    (:func:`radix_sort`'s first output)."""
    return radix_sort(keys)[0]


@njit(nogil=True, cache=True)
def radix_sort(keys):
    """``(order, sorted keys)`` of the non-negative float64 ``keys`` (fewer than ``2**31``),
    ascending, ties in index order; ``order`` is int32.

    Stable LSD radix sort on the keys' bit patterns (for non-negative floats their order
    as unsigned integers), 16 bits a pass; a pass whose digit is the same for every key
    is skipped. Several times faster than a comparison mergesort on millions of keys.
    """
    n = len(keys)
    cur_k = keys.copy().view(np.uint64)
    cur_i = np.arange(n).astype(np.int32)  # fewer than 2**31 keys (rows of a graph)
    tmp_k = np.empty(n, np.uint64)
    tmp_i = np.empty(n, np.int32)
    mask = np.uint64(0xFFFF)
    for s in range(4):
        shift = np.uint64(16 * s)
        cnt = np.zeros(65537, np.int64)
        for i in range(n):
            cnt[np.int64((cur_k[i] >> shift) & mask) + 1] += 1
        if cnt.max() == n:
            continue
        for d in range(65536):
            cnt[d + 1] += cnt[d]
        for i in range(n):
            d = np.int64((cur_k[i] >> shift) & mask)
            q = cnt[d]
            tmp_k[q] = cur_k[i]
            tmp_i[q] = cur_i[i]
            cnt[d] = q + 1
        cur_k, tmp_k = tmp_k, cur_k
        cur_i, tmp_i = tmp_i, cur_i
    return cur_i, cur_k.view(np.float64)


_AHEAD = 32  # rows the peel prefetches ahead (a cache miss per row otherwise: 2x slower at 100M edges)


# size: one peeling loop; split into per-step helpers it measured twice as slow
@njit(nogil=True, cache=True)
def peel(indptr, indices, col_indptr, col_rows, col_pos, edge_alive, c):
    """One Fraudar block among the live edges: the peeling prefix maximising ``f(S)/|S|``.

    Rows whose cost never changed are taken in one presorted order (most rows of a
    follower graph leave before any creator does, so they need no heap); a row enters
    an indexed min-heap the first time a removed column lowers its cost. Columns
    live in their own indexed heap, updated lazily: a row removal only lowers the
    columns' costs and marks them, keeping the running minimum of the marked ones,
    and the marked columns are sifted up only when a column is about to leave (in the
    row phase a column's cost drops many times between two column removals). The
    next node is the cheaper of the two fronts, rows first on ties, which is the
    reference's order.

    Parameters
    ----------
    indptr, indices : row -> columns CSR (int64, int32)
    col_indptr, col_rows, col_pos : column -> rows CSR of the same graph (:func:`transpose`)
    edge_alive : bool per entry of ``indices``; dead edges are left out (earlier blocks)
    c : the constant of the column weights ``1 / log(degree + c)`` (5 in the paper's code)

    Returns
    -------
    (row_in, col_in, score, total) : bool masks of the block, its ``g(S)`` and
    ``f`` of the whole live graph. Empty masks and score 0 when there are no edges.
    """
    # Longer than 80 lines on purpose: split into per-step helpers it measured twice as slow.
    m = len(indptr) - 1
    n = len(col_indptr) - 1
    deg, w = column_weights(indices, edge_alive, n, c)
    key_r = np.zeros(m, np.float64)
    key_c = np.zeros(n, np.float64)
    state = np.zeros(m, np.uint8)  # 0 live and untouched, 1 in the row heap, 2 gone, 3 never live
    rows_left = 0
    cols_left = 0
    f = 0.0
    for r in range(m):
        s = 0.0
        live = False
        for p in range(indptr[r], indptr[r + 1]):
            if edge_alive[p]:
                s += w[indices[p]]
                live = True
        if live:
            key_r[r] = s
            f += s
            rows_left += 1
        else:
            state[r] = 3
    hk_c = np.empty(n, np.float64)
    hid_c = np.empty(n, np.int64)
    pos_c = np.full(n, -1, np.int64)
    size_c = 0
    for j in range(n):
        if deg[j] > 0:
            key_c[j] = deg[j] * w[j]
            hk_c[size_c] = key_c[j]
            hid_c[size_c] = j
            pos_c[j] = size_c
            size_c += 1
            cols_left += 1
    row_in = np.zeros(m, np.bool_)
    col_in = np.zeros(n, np.bool_)
    total = f
    if rows_left == 0:
        return row_in, col_in, 0.0, 0.0
    for i in range((size_c - 2) // 4, -1, -1):
        _heap_down(hk_c, hid_c, pos_c, i, size_c)
    all_alive = True  # then the alive lookups (a cache miss each) are skipped
    for p in range(len(edge_alive)):
        if not edge_alive[p]:
            all_alive = False
            break
    live_rows = np.flatnonzero(state == 0).astype(np.int32)
    rank, sorted_keys = radix_sort(key_r[live_rows])  # ties: smaller id
    sorted_rows = live_rows[rank]  # untouched rows' costs are read from sorted_keys, in order
    head = 0
    hk_r = np.empty(m, np.float64)
    hid_r = np.empty(m, np.int32)  # ids and slots of rows in int32: a graph has < 2**31 rows
    pos_r = np.full(m, -1, np.int32)
    size_r = 0
    dirty = np.zeros(n, np.bool_)       # columns whose cost dropped since the last sift
    dirty_list = np.empty(n, np.int64)
    n_dirty = 0
    dm_key = np.inf                     # the smallest (cost, id) among the dirty columns
    dm_col = n

    order = np.empty(rows_left + cols_left, np.int32)  # rows as r, columns as -1 - j
    n_nodes = rows_left + cols_left
    best = f / n_nodes
    best_k = 0
    k = 0
    while rows_left > 0 and cols_left > 0:
        while head < len(sorted_rows) and state[sorted_rows[head]] != 0:
            head += 1
        if head + _AHEAD < len(sorted_rows):  # the presorted rows lie anywhere in memory
            ahead = sorted_rows[head + _AHEAD]
            prefetch(state, ahead)
            prefetch(indptr, ahead)
            p_near = indptr[sorted_rows[head + _AHEAD // 2]]  # its indptr fetched steps ago
            prefetch(indices, p_near)
            prefetch(edge_alive, p_near)
        r = -1
        kr = np.inf
        if head < len(sorted_rows):
            r = sorted_rows[head]
            kr = sorted_keys[head]
        if size_r > 0 and (r < 0 or _before(hk_r[0], hid_r[0], kr, r)):
            r = hid_r[0]
            kr = hk_r[0]
        j = hid_c[0]  # the cheapest column: the heap top (its true cost) or the cheapest dirty one
        if n_dirty > 0 and _before(dm_key, dm_col, key_c[j], j):
            j = dm_col
        if kr <= key_c[j]:
            if state[r] == 1:  # from the heap of touched rows
                size_r = _heap_pop(hk_r, hid_r, pos_r, size_r)
            state[r] = 2
            rows_left -= 1
            order[k] = r
            f -= kr
            for p in range(indptr[r], indptr[r + 1]):
                y = indices[p]
                if (all_alive or edge_alive[p]) and pos_c[y] >= 0:
                    key_c[y] -= w[y]
                    if not dirty[y]:
                        dirty[y] = True
                        dirty_list[n_dirty] = y
                        n_dirty += 1
                    if _before(key_c[y], y, dm_key, dm_col):
                        dm_key = key_c[y]
                        dm_col = y
        else:
            for i in range(n_dirty):
                y = dirty_list[i]
                dirty[y] = False
                _heap_up(hk_c, hid_c, pos_c, pos_c[y], key_c[y], y)
            n_dirty = 0
            dm_key = np.inf
            dm_col = n
            size_c = _heap_pop(hk_c, hid_c, pos_c, size_c)  # the top is now j
            cols_left -= 1
            order[k] = -1 - j
            f -= key_c[j]
            wj = w[j]
            hi = col_indptr[j + 1]
            for p in range(col_indptr[j], hi):
                if p + _AHEAD // 2 < hi:
                    prefetch(state, col_rows[p + _AHEAD // 2])
                y = col_rows[p]
                if state[y] < 2 and (all_alive or edge_alive[col_pos[p]]):  # most rows are gone by now
                    key_r[y] -= wj
                    if state[y] == 0:
                        state[y] = 1
                        pos_r[y] = size_r
                        size_r += 1
                    _heap_up(hk_r, hid_r, pos_r, pos_r[y], key_r[y], y)
        k += 1
        n_nodes -= 1
        avg = f / n_nodes
        if avg > best:
            best = avg
            best_k = k
    # the block: every live node not among the first best_k removed
    for r in range(m):
        row_in[r] = state[r] != 3
    for j in range(n):
        col_in[j] = deg[j] > 0
    for i in range(best_k):
        x = order[i]
        if x >= 0:
            row_in[x] = False
        else:
            col_in[-1 - x] = False
    return row_in, col_in, best, total


@njit(nogil=True, cache=True)
def take_block(indptr, indices, edge_alive, row_in, col_in):
    """Count the live edges inside a block and mark them dead (the next peel skips them)."""
    e = 0
    for r in range(len(indptr) - 1):
        if row_in[r]:
            for p in range(indptr[r], indptr[r + 1]):
                if edge_alive[p] and col_in[indices[p]]:
                    e += 1
                    edge_alive[p] = False
    return e


@njit(nogil=True, cache=True)
def fingerprint(indptr, indices, rows, n_cols):
    """Per column: how many of the block's ``rows`` follow it (the farm's whole customer list)."""
    hits = np.zeros(n_cols, np.int64)
    for r in rows:
        for p in range(indptr[r], indptr[r + 1]):
            hits[indices[p]] += 1
    return hits


# --- per-creator counts -----------------------------------------------------------------------


@njit(nogil=True, cache=True)
def flag_counts(in_indptr, in_indices, cols, bits, n_kinds):
    """Per creator in ``cols``: followers with each flag bit set, and with any bit set.

    ``bits`` is a uint8 per account (bit k = kind k). Returns int64 ``(len(cols), n_kinds + 1)``,
    the last column counting followers with any bit.
    """
    out = np.zeros((len(cols), n_kinds + 1), np.int64)
    for ci in range(len(cols)):
        v = cols[ci]
        for p in range(in_indptr[v], in_indptr[v + 1]):
            b = bits[in_indices[p]]
            if b:
                out[ci, n_kinds] += 1
                for k in range(n_kinds):
                    if (b >> k) & 1:
                        out[ci, k] += 1
    return out


@njit(nogil=True, cache=True)
def expand_block(col_indptr, col_rows, cols, need):
    """Rows following at least ``need`` of the block's columns ``cols`` (over all edges,
    live or not), ascending. Sorts the columns' followers instead of counting into an
    array over every row: a cluster's creators have far fewer followers than the graph."""
    seen = followed_by(col_indptr, col_rows, cols)  # the columns' followers, with repeats
    seen.sort()
    total = seen.shape[0]
    out = np.empty(total, np.int64)
    n_out = 0
    i = 0
    while i < total:
        q = i
        while q < total and seen[q] == seen[i]:
            q += 1
        if q - i >= need:
            out[n_out] = seen[i]
            n_out += 1
        i = q
    return out[:n_out].copy()


@njit(nogil=True, cache=True)
def followed_by(out_indptr, out_indices, accounts):
    """The accounts followed by at least one of ``accounts`` (their out-lists, with repeats;
    over the transposed CSR, the followers of columns)."""
    total = 0
    for a in accounts:
        total += out_indptr[a + 1] - out_indptr[a]
    out = np.empty(total, np.int64)
    k = 0
    for a in accounts:
        for p in range(out_indptr[a], out_indptr[a + 1]):
            out[k] = out_indices[p]
            k += 1
    return out
