"""Temporal fraud kernels: lockstep follow windows and follower-growth spikes.

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

import numpy as np
from numba import njit

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
def _hot_windows(in_indptr, times, v, dt, n_min, burst):
    """Hot windows of creator ``v`` on both grids: ``(lo, order, starts, ends)``, each hot
    window being the follows ``lo + order[starts[w]:ends[w]]`` (``order`` sorts the follow
    times); none when it has fewer than ``n_min`` followers."""
    lo, hi = in_indptr[v], in_indptr[v + 1]
    deg = hi - lo
    if deg < n_min:
        return lo, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    t = times[lo:hi].copy()
    order = np.argsort(t, kind="mergesort")
    span = t[order[deg - 1]] - t[order[0]]
    mean = deg * dt / max(span + dt, dt)  # follows per window at the creator's average rate
    need = max(n_min, burst * mean)
    starts = np.empty(2 * deg, np.int64)
    ends = np.empty(2 * deg, np.int64)
    n = 0
    for grid in range(2):
        s = 0
        while s < deg:
            wk = _window_of(t[order[s]], dt, grid)
            e = s
            while e < deg and _window_of(t[order[e]], dt, grid) == wk:
                e += 1
            if e - s >= need:
                starts[n] = s
                ends[n] = e
                n += 1
            s = e
    return lo, order, starts[:n], ends[:n]


@njit(nogil=True, cache=True)
def _join_window(in_indices, lo, order, s, e, hits, m, parent):
    """Union the lockstep followers (``hits >= m``) of one hot window into one group."""
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
        lo, order, starts, ends = _hot_windows(in_indptr, times, v, dt, n_min, burst)
        for w in range(len(starts)):
            for q in range(starts[w], ends[w]):
                a = in_indices[lo + order[q]]
                if last[a] != v:
                    last[a] = v
                    hits[a] += 1
    parent = np.arange(n_accounts).astype(np.int64)
    for ci in range(len(cols)):
        lo, order, starts, ends = _hot_windows(in_indptr, times, cols[ci], dt, n_min, burst)
        for w in range(len(starts)):
            _join_window(in_indices, lo, order, starts[w], ends[w], hits, m, parent)
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
    found = [(np.int64(0), np.int64(0), np.int64(0), 0.0, 0.0) for _ in range(0)]
    for ci in range(len(cols)):
        lo = in_indptr[cols[ci]]
        hi = in_indptr[cols[ci] + 1]
        if hi - lo < min_gain:
            continue
        days, gains, med, scale, thr = _creator_spikes(times[lo:hi], day, z, min_gain)
        for i in range(len(days)):
            if gains[i] >= thr:
                found.append((np.int64(ci), days[i], gains[i], med, scale))
    n = len(found)
    out_col = np.empty(n, np.int64)
    out_day = np.empty(n, np.int64)
    out_gain = np.empty(n, np.int64)
    out_base = np.empty(n, np.float64)
    out_scale = np.empty(n, np.float64)
    for k in range(n):
        out_col[k], out_day[k], out_gain[k], out_base[k], out_scale[k] = found[k]
    return out_col, out_day, out_gain, out_base, out_scale
