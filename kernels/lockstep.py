"""Temporal fraud kernels: lockstep follow windows and follower-growth spikes.

**Lockstep windows** (CopyCatch-style, Beutel et al. WWW 2013): follows are
bucketed per creator into windows of ``dt`` seconds on two grids offset by
``dt / 2`` (so any two follows less than ``dt / 2`` apart share a window); a
window is *hot* when at least ``n_min`` followers fall in it and it holds at
least ``burst`` times the creator's average per-window rate. A follower in hot
windows of at least ``m`` distinct creators is in lockstep; lockstep followers
sharing a hot window are joined into groups (union-find). Nothing here is specific to
follows: any CSR of rows (the creators), entries (accounts) and times works, and the
engagement-pod stage (:mod:`kolgraph.fraud.pods`) runs it over interactions per post.

**Growth spikes**: a creator's daily follower gains against a local, trend- and
weekday-aware robust baseline over the preceding ``window`` days (see
:func:`growth_spikes` for the rule); :func:`day_flag_counts` gives the evidence
per spike day (its new followers by flag).

Arrays in, arrays out; no validation here.
"""

import numpy as np
from numba import njit, prange

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
def _grow(buf, size):
    if size <= len(buf):
        return buf
    out = np.empty(max(2 * len(buf), size), buf.dtype)
    out[:len(buf)] = buf
    return out


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

    One pass sorts each creator's follow times once and keeps its hot windows' followers
    (few: hot windows are bursts); the groups are then joined from those alone.
    """
    hits = np.zeros(n_accounts, np.int32)
    last = np.full(n_accounts, -1, np.int32)  # the last creator (its index in cols) counted
    members = np.empty(1024, np.int64)     # hot windows' followers, window after window
    win_end = np.empty(64, np.int64)       # where each hot window's followers end in members
    n_mem = 0
    n_win = 0
    for ci in range(len(cols)):
        v = cols[ci]
        lo, order, starts, ends = _hot_windows(in_indptr, times, v, dt, n_min, burst)
        for w in range(len(starts)):
            members = _grow(members, n_mem + ends[w] - starts[w])
            for q in range(starts[w], ends[w]):
                a = in_indices[lo + order[q]]
                members[n_mem] = a
                n_mem += 1
                if last[a] != ci:
                    last[a] = ci
                    hits[a] += 1
            win_end = _grow(win_end, n_win + 1)
            win_end[n_win] = n_mem
            n_win += 1
    parent = np.arange(n_accounts).astype(np.int32)  # account ids: < 2**31
    s = 0
    for w in range(n_win):
        _join_members(members, s, win_end[w], hits, m, parent)
        s = win_end[w]
    group = np.full(n_accounts, -1, np.int64)
    for a in range(n_accounts):
        if hits[a] >= m:
            group[a] = _find(parent, a)
    return hits, group


@njit(nogil=True, cache=True)
def _join_members(members, s, e, hits, m, parent):
    """Union the lockstep followers (``hits >= m``) of one hot window (``members[s:e]``) into
    one group (its root: the group's smallest id)."""
    first = -1
    for q in range(s, e):
        a = members[q]
        if hits[a] >= m:
            if first < 0:
                first = a
            else:
                ra = _find(parent, a)
                rb = _find(parent, first)
                if ra != rb:
                    if ra < rb:
                        parent[rb] = ra
                    else:
                        parent[ra] = rb


# --- follower-growth spikes -------------------------------------------------------------------


@njit(nogil=True, cache=True)
def _median(x):
    """Median of ``x`` (sorted in place)."""
    x.sort()
    n = len(x)
    return 0.5 * (x[(n - 1) // 2] + x[n // 2])


@njit(nogil=True, cache=True)
def _daily(t, day):
    """``(first day, follows per day)`` over the active span of the follow times ``t``
    (idle days as zeros)."""
    first = t[0] // day
    last = first
    for x in t:
        d = x // day
        first = min(first, d)
        last = max(last, d)
    gains = np.zeros(last - first + 1, np.int64)
    for x in t:
        gains[x // day - first] += 1
    return first, gains


@njit(nogil=True, cache=True)
def _baseline(gains, i, window):
    """``(baseline, scale)`` of day ``i`` from the ``n = min(i, window)`` days before it
    (``scale < 0``: fewer than ``window // 2`` such days, no verdict). The rule is
    :func:`growth_spikes`'s."""
    n = min(i, window)
    if n < max(window // 2, 2):
        return 0.0, -1.0
    h0 = i - n                                          # history: days h0 .. i-1
    na = n // 2                                         # older half h0 .. h0+na-1, recent half the rest
    ma = _median(gains[h0:h0 + na].astype(np.float64))
    mb = _median(gains[h0 + na:i].astype(np.float64))
    ca = h0 + 0.5 * (na - 1)
    cb = h0 + na + 0.5 * (n - na - 1)
    slope = max((mb - ma) / (cb - ca), 0.0)             # a falling trend is held at m_b
    q = np.empty(n, np.float64)                         # gains relative to the trend line
    for k in range(n):
        q[k] = gains[h0 + k] / max(mb + slope * (h0 + k - cb), 1.0)
    same = np.empty((n + 6) // 7, np.float64)           # same weekday: i-7, i-14, ...
    m = 0
    for x in range(i - 7, h0 - 1, -7):
        same[m] = q[x - h0]
        m += 1
    season = _median(same[:m]) if m >= 2 else 1.0
    base = (mb + slope * (i - cb)) * season
    mq = _median(q.copy())
    for k in range(n):
        q[k] = abs(q[k] - mq)
    scale = max(1.4826 * _median(q) * base, np.sqrt(max(base, 1.0)))
    return base, scale


@njit(nogil=True, cache=True)
def _creator_spikes(t, day, z, min_gain, window, out_day, out_gain, out_base, out_scale, k0):
    """Spikes of one creator's follow times ``t``: written from ``out_*[k0]`` on when
    ``out_day`` is non-empty; returns how many."""
    first, gains = _daily(t, day)
    k = 0
    for i in range(len(gains)):
        if gains[i] < min_gain:
            continue
        base, scale = _baseline(gains, i, window)
        if scale < 0 or gains[i] < base + z * scale:
            continue
        if len(out_day):
            out_day[k0 + k] = first + i
            out_gain[k0 + k] = gains[i]
            out_base[k0 + k] = base
            out_scale[k0 + k] = scale
        k += 1
    return k


@njit(nogil=True, cache=True, parallel=True)
def growth_spikes(in_indptr, times, cols, day, z, min_gain, window):
    """Days on which a creator gained unusually many followers for its recent growth.

    Per creator, the gains are its new followers per day (``time // day``) over its
    active span (first to last follow, idle days as zeros). Day ``d`` is judged
    against its history ``H``, the ``n = min(window, days of the span before d)``
    days before it (``d`` itself excluded); with ``n < window // 2`` it is not judged.

    - trend: ``H`` splits into an older half (its first ``n // 2`` days) and a recent
      half, with median gains ``m_a``, ``m_b`` and centre days ``c_a``, ``c_b``;
      ``slope = max((m_b - m_a) / (c_b - c_a), 0)`` (a rising trend is extrapolated, a
      falling one is held at ``m_b``: extrapolating a decline into its trough fired on
      every curve that levels off) and ``trend(x) = m_b + slope * (x - c_b)``.
    - ratios: ``q(x) = gain(x) / max(trend(x), 1)`` for ``x`` in ``H``.
    - weekday: ``season`` = median of ``q`` over the days of ``H`` on ``d``'s weekday
      (``d - 7``, ``d - 14``, ...; 1 when fewer than two).
    - ``baseline = trend(d) * season``;
      ``scale = max(1.4826 * MAD(q) * baseline, sqrt(max(baseline, 1)))`` (relative spread,
      so a weekend twice a weekday's size is also twice as noisy; Poisson at least).

    A day is a spike when its gain is at least ``min_gain`` and at least
    ``baseline + z * scale``. With ``window = 28`` the halves are two whole weeks each,
    so weekly seasonality does not tilt the trend. Cost per creator: its follows plus
    ``O(window log window)`` per day gaining ``min_gain`` or more; parallel over creators.

    Returns ``(col, day, gain, baseline, scale)`` arrays, one entry per spike, by
    creator then day, ``col`` indexing ``cols``.
    """
    nc = len(cols)
    none_i = np.empty(0, np.int64)
    none_f = np.empty(0, np.float64)
    count = np.zeros(nc + 1, np.int64)
    for ci in prange(nc):
        lo, hi = in_indptr[cols[ci]], in_indptr[cols[ci] + 1]
        if hi - lo >= min_gain:
            count[ci + 1] = _creator_spikes(times[lo:hi], day, z, min_gain, window,
                                            none_i, none_i, none_f, none_f, 0)
    off = np.cumsum(count)
    n = off[nc]
    out_col = np.empty(n, np.int64)
    out_day = np.empty(n, np.int64)
    out_gain = np.empty(n, np.int64)
    out_base = np.empty(n, np.float64)
    out_scale = np.empty(n, np.float64)
    for ci in prange(nc):
        if count[ci + 1]:
            lo, hi = in_indptr[cols[ci]], in_indptr[cols[ci] + 1]
            _creator_spikes(times[lo:hi], day, z, min_gain, window,
                            out_day, out_gain, out_base, out_scale, off[ci])
            out_col[off[ci]:off[ci + 1]] = ci
    return out_col, out_day, out_gain, out_base, out_scale


@njit(nogil=True, cache=True, parallel=True)
def day_flag_counts(in_indptr, in_indices, times, vs, days, day, bits, n_bits):
    """Per ``(vs[k], days[k])``: the creator's new followers that day (``time // day``)
    with flag bit ``b`` set in ``bits`` (column ``b``), and all of them (last column)."""
    out = np.zeros((len(vs), n_bits + 1), np.int64)
    for k in prange(len(vs)):
        for p in range(in_indptr[vs[k]], in_indptr[vs[k] + 1]):
            if times[p] // day == days[k]:
                b = bits[in_indices[p]]
                for j in range(n_bits):
                    out[k, j] += (b >> j) & 1
                out[k, n_bits] += 1
    return out
