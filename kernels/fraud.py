"""Fraud kernels: Fraudar greedy peeling, temporal lockstep windows, follower-growth spikes.

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

**Lockstep windows** (CopyCatch-style, Beutel et al. WWW 2013): follows are
bucketed per creator into windows of ``dt`` seconds on two grids offset by
``dt / 2`` (so any two follows less than ``dt / 2`` apart share a window); a
window is *hot* when at least ``n_min`` followers fall in it and it holds at
least ``burst`` times the creator's average per-window rate. A follower in hot
windows of at least ``m`` distinct creators is in lockstep; lockstep followers
sharing a hot window are joined into groups (union-find).

**Growth spikes**: a creator's daily follower gains against a robust baseline,
the median and MAD over the days of its active span (days with no follows count
as zeros).

Arrays in, arrays out; no validation here.
"""

import math

import numpy as np
from numba import njit, prange

# --- bipartite follower x column graph --------------------------------------------------------


@njit(nogil=True, cache=True, parallel=True)
def bipartite_rows(out_indptr, out_indices, col_of):
    """Rows of the follower x column graph: accounts following at least one column.

    ``col_of[a]`` is the column of account ``a`` (-1: not a column). Returns
    ``(row_account int32, indptr int64, indices int32)``, rows in account order,
    each row's columns in the order of ``out_indices``. Counting and filling run in
    parallel over accounts.
    """
    n = len(out_indptr) - 1
    count = np.zeros(n, np.int64)
    for a in prange(n):
        k = 0
        for p in range(out_indptr[a], out_indptr[a + 1]):
            if col_of[out_indices[p]] >= 0:
                k += 1
        count[a] = k
    n_rows = 0
    for a in range(n):
        if count[a] > 0:
            n_rows += 1
    row_account = np.empty(n_rows, np.int32)
    indptr = np.zeros(n_rows + 1, np.int64)
    r = 0
    for a in range(n):
        if count[a] > 0:
            row_account[r] = a
            indptr[r + 1] = indptr[r] + count[a]
            r += 1
    indices = np.empty(indptr[n_rows], np.int32)
    for r in prange(n_rows):
        a = row_account[r]
        e = indptr[r]
        for p in range(out_indptr[a], out_indptr[a + 1]):
            j = col_of[out_indices[p]]
            if j >= 0:
                indices[e] = j
                e += 1
    return row_account, indptr, indices


@njit(nogil=True, cache=True, parallel=True)
def transpose(indptr, indices, n_cols, n_parts):
    """Column-major copy of a CSR: ``(col_indptr, col_rows, col_pos)``, rows ascending in each
    column; ``col_pos`` is each entry's position in ``indices``.

    Parallel over ``n_parts`` column ranges holding about equal numbers of entries
    (one per thread; 1 for small graphs): every part reads the whole CSR and writes
    only its own columns.
    """
    counts = np.zeros(n_cols + 1, np.int64)
    for p in range(len(indices)):
        counts[indices[p] + 1] += 1
    for j in range(n_cols):
        counts[j + 1] += counts[j]
    rows = np.empty(len(indices), np.int32)
    pos = np.empty(len(indices), np.int64)
    n_parts = max(1, min(n_parts, n_cols))
    bounds = np.searchsorted(counts, np.arange(n_parts + 1) * (len(indices) / n_parts))
    bounds[0] = 0
    bounds[n_parts] = n_cols
    for t in prange(n_parts):
        lo = bounds[t]
        hi = bounds[t + 1]
        fill = counts[lo:hi].copy()
        for r in range(len(indptr) - 1):
            for p in range(indptr[r], indptr[r + 1]):
                j = indices[p]
                if lo <= j < hi:
                    q = fill[j - lo]
                    rows[q] = r
                    pos[q] = p
                    fill[j - lo] = q + 1
    return counts, rows, pos


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
    """``(order, sorted keys)`` of the non-negative float64 ``keys``, ascending, ties in
    index order.

    Stable LSD radix sort on the keys' bit patterns (for non-negative floats their order
    as unsigned integers), 16 bits a pass; a pass whose digit is the same for every key
    is skipped. Several times faster than a comparison mergesort on millions of keys.
    """
    n = len(keys)
    cur_k = keys.copy().view(np.uint64)
    cur_i = np.arange(n).astype(np.int64)
    tmp_k = np.empty(n, np.uint64)
    tmp_i = np.empty(n, np.int64)
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
    live_rows = np.flatnonzero(state == 0)
    rank, sorted_keys = radix_sort(key_r[live_rows])  # ties: smaller id
    sorted_rows = live_rows[rank]  # untouched rows' costs are read from sorted_keys, in order
    head = 0
    hk_r = np.empty(m, np.float64)
    hid_r = np.empty(m, np.int64)
    pos_r = np.full(m, -1, np.int64)
    size_r = 0
    dirty = np.zeros(n, np.bool_)       # columns whose cost dropped since the last sift
    dirty_list = np.empty(n, np.int64)
    n_dirty = 0
    dm_key = np.inf                     # the smallest (cost, id) among the dirty columns
    dm_col = n

    order = np.empty(rows_left + cols_left, np.int64)  # rows as r, columns as m + j
    n_nodes = rows_left + cols_left
    best = f / n_nodes
    best_k = 0
    k = 0
    while rows_left > 0 and cols_left > 0:
        while head < len(sorted_rows) and state[sorted_rows[head]] != 0:
            head += 1
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
            order[k] = m + j
            f -= key_c[j]
            wj = w[j]
            for p in range(col_indptr[j], col_indptr[j + 1]):
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
    removed = np.zeros(m + n, np.bool_)
    for i in range(best_k):
        removed[order[i]] = True
    for r in range(m):
        row_in[r] = state[r] != 3 and not removed[r]
    for j in range(n):
        col_in[j] = deg[j] > 0 and not removed[m + j]
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
def count_block(indptr, indices, row_in, col_in):
    """Edges between the rows and columns of a block (live or not)."""
    e = 0
    for r in range(len(indptr) - 1):
        if row_in[r]:
            for p in range(indptr[r], indptr[r + 1]):
                if col_in[indices[p]]:
                    e += 1
    return e


@njit(nogil=True, cache=True)
def fingerprint(indptr, indices, row_in, n_cols):
    """Per column: how many of the block's rows follow it (the farm's whole customer list)."""
    hits = np.zeros(n_cols, np.int64)
    for r in range(len(indptr) - 1):
        if row_in[r]:
            for p in range(indptr[r], indptr[r + 1]):
                hits[indices[p]] += 1
    return hits


# --- temporal lockstep windows ----------------------------------------------------------------


@njit(nogil=True, cache=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(nogil=True, cache=True)
def _window_of(t, dt, grid):
    return (t + grid * (dt // 2)) // dt


@njit(nogil=True, cache=True)
def lockstep(in_indptr, in_indices, times, cols, n_accounts, dt, n_min, m, burst):
    """Followers in temporal lockstep and their groups.

    Parameters
    ----------
    in_indptr, in_indices, times : followers-of CSR of the whole graph with follow times
    cols : accounts whose follows are examined (the creators)
    n_accounts : number of accounts
    dt : window length in seconds (> 1)
    n_min : followers a window needs to be hot
    m : distinct creators with hot windows a follower needs to be in lockstep
    burst : a hot window also holds at least ``burst`` x the creator's mean per-window count

    Returns
    -------
    (hits, group) : per account, the number of distinct creators in whose hot windows it
    followed; its lockstep group (the smallest account id of the group), -1 when not in lockstep.
    """
    hits = np.zeros(n_accounts, np.int32)
    last = np.full(n_accounts, -1, np.int64)
    for ci in range(len(cols)):
        v = cols[ci]
        lo = in_indptr[v]
        hi = in_indptr[v + 1]
        deg = hi - lo
        if deg < n_min:
            continue
        t = times[lo:hi].copy()
        order = np.argsort(t, kind="mergesort")
        span = t[order[deg - 1]] - t[order[0]]
        mean = deg * dt / max(span + dt, dt)  # follows per window at the creator's average rate
        need = max(n_min, burst * mean)
        for grid in range(2):
            s = 0
            while s < deg:
                wk = _window_of(t[order[s]], dt, grid)
                e = s
                while e < deg and _window_of(t[order[e]], dt, grid) == wk:
                    e += 1
                if e - s >= need:
                    for q in range(s, e):
                        a = in_indices[lo + order[q]]
                        if last[a] != v:
                            last[a] = v
                            hits[a] += 1
                s = e
    parent = np.arange(n_accounts).astype(np.int64)
    for ci in range(len(cols)):
        v = cols[ci]
        lo = in_indptr[v]
        hi = in_indptr[v + 1]
        deg = hi - lo
        if deg < n_min:
            continue
        t = times[lo:hi].copy()
        order = np.argsort(t, kind="mergesort")
        span = t[order[deg - 1]] - t[order[0]]
        mean = deg * dt / max(span + dt, dt)
        need = max(n_min, burst * mean)
        for grid in range(2):
            s = 0
            while s < deg:
                wk = _window_of(t[order[s]], dt, grid)
                e = s
                while e < deg and _window_of(t[order[e]], dt, grid) == wk:
                    e += 1
                if e - s >= need:
                    first = -1
                    for q in range(s, e):
                        a = in_indices[lo + order[q]]
                        if hits[a] >= m:
                            if first < 0:
                                first = a
                            else:
                                ra = _find(parent, a)
                                rb = _find(parent, first)
                                if ra != rb:  # the smaller id is the root: groups named by it
                                    if ra < rb:
                                        parent[rb] = ra
                                    else:
                                        parent[ra] = rb
                s = e
    group = np.full(n_accounts, -1, np.int64)
    for a in range(n_accounts):
        if hits[a] >= m:
            group[a] = _find(parent, a)
    return hits, group


# --- follower-growth spikes -------------------------------------------------------------------


@njit(nogil=True, cache=True)
def _median_sorted(x, n_zero):
    """Median of ``n_zero`` zeros followed by the sorted non-negative values ``x``."""
    n = n_zero + len(x)
    lo = (n - 1) // 2
    hi = n // 2
    a = 0.0 if lo < n_zero else x[lo - n_zero]
    b = 0.0 if hi < n_zero else x[hi - n_zero]
    return 0.5 * (a + b)


@njit(nogil=True, cache=True)
def _daily_gains(t_sorted, day):
    """Distinct days (ascending) and follows per day of sorted follow times."""
    n = len(t_sorted)
    k = 0
    prev = -(1 << 62)
    for i in range(n):
        d = t_sorted[i] // day
        if d != prev:
            k += 1
            prev = d
    days = np.empty(k, np.int64)
    gains = np.zeros(k, np.int64)
    k = -1
    prev = -(1 << 62)
    for i in range(n):
        d = t_sorted[i] // day
        if d != prev:
            k += 1
            days[k] = d
            prev = d
        gains[k] += 1
    return days, gains


@njit(nogil=True, cache=True)
def _creator_spikes(t, day, z, min_gain):
    t_sorted = np.sort(t)
    days, gains = _daily_gains(t_sorted, day)
    span = days[-1] - days[0] + 1
    n_zero = span - len(days)
    g = np.sort(gains).astype(np.float64)
    med = _median_sorted(g, n_zero)
    dev = np.sort(np.abs(g - med))
    # zero days deviate by med; merge them in front of the smaller deviations
    all_dev = np.empty(len(dev) + n_zero, np.float64)
    all_dev[:n_zero] = med
    all_dev[n_zero:] = dev
    all_dev.sort()
    mad = _median_sorted(all_dev, 0)
    scale = max(1.4826 * mad, np.sqrt(max(med, 1.0)))
    threshold = max(float(min_gain), med + z * scale)
    return days, gains, med, scale, threshold


@njit(nogil=True, cache=True)
def growth_spikes(in_indptr, times, cols, day, z, min_gain):
    """Days on which a creator gained unusually many followers.

    A day is a spike when its gain is at least ``min_gain`` and at least
    ``median + z * scale``, with median and ``scale = max(1.4826 MAD, sqrt(median), 1)``
    over the creator's active span (first to last follow, idle days as zeros).

    Returns ``(col, day, gain, baseline, scale)`` arrays, one entry per spike,
    ``col`` indexing ``cols``, days as ``time // day``.
    """
    count = 0
    for ci in range(len(cols)):
        v = cols[ci]
        lo = in_indptr[v]
        hi = in_indptr[v + 1]
        if hi - lo < min_gain:
            continue
        days, gains, med, scale, thr = _creator_spikes(times[lo:hi], day, z, min_gain)
        for i in range(len(days)):
            if gains[i] >= thr:
                count += 1
    out_col = np.empty(count, np.int64)
    out_day = np.empty(count, np.int64)
    out_gain = np.empty(count, np.int64)
    out_base = np.empty(count, np.float64)
    out_scale = np.empty(count, np.float64)
    k = 0
    for ci in range(len(cols)):
        v = cols[ci]
        lo = in_indptr[v]
        hi = in_indptr[v + 1]
        if hi - lo < min_gain:
            continue
        days, gains, med, scale, thr = _creator_spikes(times[lo:hi], day, z, min_gain)
        for i in range(len(days)):
            if gains[i] >= thr:
                out_col[k] = ci
                out_day[k] = days[i]
                out_gain[k] = gains[i]
                out_base[k] = med
                out_scale[k] = scale
                k += 1
    return out_col, out_day, out_gain, out_base, out_scale


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
def expand_block(col_indptr, col_rows, n_rows, col_in, need):
    """Rows following at least ``need`` of the block's columns (over all edges, live or not)."""
    count = np.zeros(n_rows, np.int32)
    for j in range(len(col_in)):
        if col_in[j]:
            for p in range(col_indptr[j], col_indptr[j + 1]):
                count[col_rows[p]] += 1
    out = np.zeros(n_rows, np.bool_)
    for r in range(n_rows):
        out[r] = count[r] >= need
    return out


# --- co-following pairs (seeds) ---------------------------------------------------------------


@njit(nogil=True, cache=True)
def _pairs_of(a, indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, m, min_co,
              log_thr, cnt, touched, out_b, out_c):
    """The candidate partners ``b > a`` of column ``a`` (see :func:`candidate_pairs`) into
    ``out_b``/``out_c``, ascending in ``b``; returns how many (``out_b is None``: count only)."""
    n_t = 0
    for p in range(col_indptr[a], col_indptr[a + 1]):
        r = col_rows[p]
        if not row_ok[r]:
            continue
        for q in range(indptr[r], indptr[r + 1]):
            b = indices[q]
            if b > a and col_ok[b]:
                if cnt[b] == 0:
                    touched[n_t] = b
                    n_t += 1
                cnt[b] += 1
    k = 0
    for i in range(n_t):
        b = touched[i]
        c = cnt[b]
        cnt[b] = 0
        if c < min_co:
            continue
        lam = col_deg[a] * col_deg[b] / m
        # P[X = c] bounds the tail P[X >= c] from below: above the threshold, not significant
        if c * math.log(lam) - lam - math.lgamma(c + 1.0) < log_thr:
            if out_b is not None:
                out_b[k] = b
                out_c[k] = c
            k += 1
    if out_b is not None and k > 1:
        order = np.argsort(out_b[:k])
        sorted_b = out_b[:k][order]
        sorted_c = out_c[:k][order]
        out_b[:k] = sorted_b
        out_c[:k] = sorted_c
    return k


@njit(nogil=True, cache=True, parallel=True)
def candidate_pairs(indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, m, min_co,
                    log_thr, n_parts):
    """Column pairs ``a < b`` (both eligible) with at least ``min_co`` common rows among the
    eligible ones whose Poisson point probability ``P[X = count]``, ``X ~ Poisson(deg(a)
    deg(b) / m)``, is below ``exp(log_thr)``: a superset of the pairs whose tail
    ``P[X >= count]`` is, to be tested exactly by the caller.

    Counted column by column with a dense counter (no list of all pairs: memory is one
    counter per part); parallel over ``n_parts`` column ranges, two passes (count, then
    fill). Returns ``(a, b, count)`` sorted by ``(a, b)``.
    """
    n = len(col_indptr) - 1
    nt = max(n_parts, 1)
    chunk = (n + nt - 1) // nt
    per_col = np.zeros(n, np.int64)
    for t in prange(nt):
        cnt = np.zeros(n, np.int64)
        touched = np.empty(n, np.int64)
        for a in range(t * chunk, min(n, (t + 1) * chunk)):
            if col_ok[a]:
                per_col[a] = _pairs_of(a, indptr, indices, col_indptr, col_rows, col_ok, row_ok,
                                       col_deg, m, min_co, log_thr, cnt, touched, None, None)
    start = np.zeros(n + 1, np.int64)
    start[1:] = np.cumsum(per_col)
    total = start[n]
    out_a = np.empty(total, np.int64)
    out_b = np.empty(total, np.int64)
    out_c = np.empty(total, np.int64)
    for t in prange(nt):
        cnt = np.zeros(n, np.int64)
        touched = np.empty(n, np.int64)
        bb = np.empty(n, np.int64)
        cc = np.empty(n, np.int64)
        for a in range(t * chunk, min(n, (t + 1) * chunk)):
            if per_col[a] == 0:
                continue
            k = _pairs_of(a, indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, m,
                          min_co, log_thr, cnt, touched, bb, cc)
            out_a[start[a]:start[a] + k] = a
            out_b[start[a]:start[a] + k] = bb[:k]
            out_c[start[a]:start[a] + k] = cc[:k]
    return out_a, out_b, out_c


# --- seeded lockstep blocks (co-following, no times) --------------------------------------------


@njit(nogil=True, cache=True)
def _grow(buf, size):
    if size < len(buf):
        return buf
    out = np.empty(max(2 * len(buf), size + 1), buf.dtype)
    out[:len(buf)] = buf
    return out


@njit(nogil=True, cache=True)
def _adjacent(ptr, idx, ok, members, n_members, rho, min_hits, hits, touched, out):
    """Eligible nodes adjacent to at least ``rho`` of ``members[:n_members]`` (and ``min_hits``)
    into ``out``, ascending; returns ``(count, edges)``, ``edges`` the links into them. Called
    on the rows (columns of a row set) and on the transpose (rows of a column set)."""
    n_t = 0
    for i in range(n_members):
        x = members[i]
        for p in range(ptr[x], ptr[x + 1]):
            y = idx[p]
            if ok[y]:
                if hits[y] == 0:
                    touched[n_t] = y
                    n_t += 1
                hits[y] += 1
    k = 0
    edges = 0
    for i in range(n_t):
        y = touched[i]
        if hits[y] >= min_hits and hits[y] >= rho * n_members:
            out[k] = y
            k += 1
            edges += hits[y]
        hits[y] = 0
    out[:k].sort()
    return k, edges


@njit(nogil=True, cache=True)
def seeded_blocks(indptr, indices, col_indptr, col_rows, row_ok, col_ok, seed_a, seed_b, rho,
                  max_iter):
    """Lockstep blocks grown from seed pairs of columns (CopyCatch's alternation, without times).

    For each seed ``(a, b)`` in order, skipped when ``a`` or ``b`` already lies in an earlier
    block: ``F`` = the eligible rows following both; then, up to ``max_iter`` times,
    ``T`` = eligible columns followed by at least ``rho |F|`` of ``F`` and ``F`` = eligible
    rows following at least ``rho |T|`` (and two) of ``T``, until ``F`` stops changing;
    the block is ``(F, T(F))``. Returns ``(row_ptr, rows, col_ptr, cols, edges)``: block
    ``i`` is ``rows[row_ptr[i]:row_ptr[i + 1]]`` x ``cols[col_ptr[i]:col_ptr[i + 1]]``
    (ascending), ``edges[i]`` the follows inside it. Blocks with no rows, and blocks all of
    whose columns lie in earlier blocks (seeds converging on a block already found), are left out.
    """
    m = len(indptr) - 1
    n = len(col_indptr) - 1
    done = np.zeros(n, np.bool_)
    col_hits = np.zeros(n, np.int64)
    row_hits = np.zeros(m, np.int64)
    touched_c = np.empty(n, np.int64)
    touched_r = np.empty(m, np.int64)
    f = np.empty(m, np.int64)
    f_new = np.empty(m, np.int64)
    t = np.empty(n, np.int64)
    out_rows = np.empty(16, np.int64)
    out_cols = np.empty(16, np.int64)
    row_ptr = np.zeros(16, np.int64)
    col_ptr = np.zeros(16, np.int64)
    out_edges = np.zeros(16, np.int64)
    n_blocks = 0
    for s in range(len(seed_a)):
        a = seed_a[s]
        b = seed_b[s]
        if done[a] or done[b]:
            continue
        done[a] = True
        done[b] = True
        for p in range(col_indptr[a], col_indptr[a + 1]):
            r = col_rows[p]
            if row_ok[r]:
                row_hits[r] = 1
        n_f = 0
        for p in range(col_indptr[b], col_indptr[b + 1]):
            r = col_rows[p]
            if row_hits[r] == 1:
                f[n_f] = r
                n_f += 1
        for p in range(col_indptr[a], col_indptr[a + 1]):
            row_hits[col_rows[p]] = 0
        f[:n_f].sort()
        for _ in range(max_iter):
            n_t, _ = _adjacent(indptr, indices, col_ok, f, n_f, rho, 1, col_hits, touched_c, t)
            n_new, _ = _adjacent(col_indptr, col_rows, row_ok, t, n_t, rho, 2, row_hits, touched_r, f_new)
            same = n_new == n_f
            if same:
                for i in range(n_f):
                    if f[i] != f_new[i]:
                        same = False
                        break
            f, f_new = f_new, f
            n_f = n_new
            if same or n_f == 0:
                break
        n_t, edges = _adjacent(indptr, indices, col_ok, f, n_f, rho, 1, col_hits, touched_c, t)
        fresh = False
        for i in range(n_t):
            fresh |= not done[t[i]]
            done[t[i]] = True
        if n_f == 0 or not fresh:
            continue
        out_rows = _grow(out_rows, row_ptr[n_blocks] + n_f)
        out_cols = _grow(out_cols, col_ptr[n_blocks] + n_t)
        row_ptr = _grow(row_ptr, n_blocks + 1)
        col_ptr = _grow(col_ptr, n_blocks + 1)
        out_edges = _grow(out_edges, n_blocks)
        out_rows[row_ptr[n_blocks]:row_ptr[n_blocks] + n_f] = f[:n_f]
        out_cols[col_ptr[n_blocks]:col_ptr[n_blocks] + n_t] = t[:n_t]
        row_ptr[n_blocks + 1] = row_ptr[n_blocks] + n_f
        col_ptr[n_blocks + 1] = col_ptr[n_blocks] + n_t
        out_edges[n_blocks] = edges
        n_blocks += 1
    return (row_ptr[:n_blocks + 1].copy(), out_rows[:row_ptr[n_blocks]].copy(),
            col_ptr[:n_blocks + 1].copy(), out_cols[:col_ptr[n_blocks]].copy(),
            out_edges[:n_blocks].copy())


@njit(nogil=True, cache=True)
def block_subgraph(indptr, indices, rows, col_local):
    """The CSR of ``rows`` x the columns with ``col_local[j] >= 0`` (renumbered to it)."""
    sub_indptr = np.zeros(len(rows) + 1, np.int64)
    for i in range(len(rows)):
        k = 0
        for p in range(indptr[rows[i]], indptr[rows[i] + 1]):
            if col_local[indices[p]] >= 0:
                k += 1
        sub_indptr[i + 1] = sub_indptr[i] + k
    sub_indices = np.empty(sub_indptr[-1], np.int32)
    for i in range(len(rows)):
        e = sub_indptr[i]
        for p in range(indptr[rows[i]], indptr[rows[i] + 1]):
            j = col_local[indices[p]]
            if j >= 0:
                sub_indices[e] = j
                e += 1
    return sub_indptr, sub_indices


@njit(nogil=True, cache=True, parallel=True)
def eligible_degree(indptr, indices, col_ok):
    """Per row, how many eligible columns it follows."""
    out = np.zeros(len(indptr) - 1, np.int64)
    for r in prange(len(indptr) - 1):
        k = 0
        for p in range(indptr[r], indptr[r + 1]):
            if col_ok[indices[p]]:
                k += 1
        out[r] = k
    return out
