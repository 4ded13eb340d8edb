"""Interaction kernels: engaged and loyal audiences of creators, from the interactions CSR.

The interactions layer keeps events ``account -> creator`` in rows by creator, each
row sorted by time (``c_indptr``, ``c_account``, ``c_time``, ``c_kind``, ``c_post``,
``c_weight``, ``c_reply_to``). A time window ``[since, until)`` is a slice of each row
found by bisection, so a creator's window costs its events in the window, not its row.

Per creator, one pass over the window's events (:func:`_scan`) gives the interaction
counts and one key per event, ``account << 32 | unit`` (unit: the event's calendar week,
or its post); sorting the keys (local to the creator, so no array over all accounts and
no random access into one) gives the distinct engaged accounts in increasing order and,
per account, its distinct units (:func:`_accounts`). The engaged accounts are then
looked up in the creator's sorted follower row, each search starting where the last
ended (:func:`_follow_from`).

Events whose account is the creator itself are the creator's own (its replies to
fans); they never count as engagement. :func:`reciprocity_rows` matches them, kind
``reply`` with a ``reply_to`` fan, against the fans' ``comment`` events.

Arrays in, arrays out; no validation here.
"""

import numpy as np
from numba import njit

WEEK = 604_800
WEEK_SHIFT = 259_200  # Unix time 0 is a Thursday: weeks start on Monday 00:00 UTC


@njit(nogil=True, cache=True)
def _window(c_indptr, c_time, c, since, until):
    """``(lo, hi)``: positions of creator c's events with ``since <= t < until``."""
    p0, p1 = c_indptr[c], c_indptr[c + 1]
    row = c_time[p0:p1]
    return p0 + np.searchsorted(row, since), p0 + np.searchsorted(row, until)


RADIX_BITS = 11  # digits of the keys' radix sort (2,048 buckets: the counts stay in L1)
RADIX_MIN = 2_048  # shorter windows are sorted by comparison (the buckets would dominate)


@njit(nogil=True, cache=True)
def _unit_range(c, lo, hi, c_time, c_post, by_posts):
    """``(first, bits)``: the window's smallest unit and the bits a unit takes relative
    to it, one value (all ones) kept for events without a post."""
    if by_posts:
        first, top = np.int64(2**62), np.int64(-1)
        for e in range(lo, hi):
            if c_post[e] >= 0:
                first = min(first, np.int64(c_post[e]))
                top = max(top, np.int64(c_post[e]))
        if top < 0:
            first = top = 0
    else:  # the row is time-sorted
        first = (c_time[lo] + WEEK_SHIFT) // WEEK if hi > lo else 0
        top = (c_time[hi - 1] + WEEK_SHIFT) // WEEK if hi > lo else 0
    bits = 1
    while (np.int64(1) << bits) - 1 <= top - first:
        bits += 1
    return first, bits


@njit(nogil=True, cache=True)
def _radix_sort(keys, n, bits, tmp):
    """Sort ``keys[:n]`` (non-negative, below ``2**bits``) in place, LSD by
    ``RADIX_BITS``-bit digits; ``tmp`` is scratch of at least n."""
    if n < RADIX_MIN:
        keys[:n].sort()
        return
    count = np.empty(1 << RADIX_BITS, np.int64)
    mask = (1 << RADIX_BITS) - 1
    src, dst = keys, tmp
    shift = 0
    passes = 0
    while shift < bits:
        count[:] = 0
        for j in range(n):
            count[(src[j] >> shift) & mask] += 1
        total = 0
        for d in range(count.shape[0]):
            total, count[d] = total + count[d], total
        for j in range(n):
            d = (src[j] >> shift) & mask
            dst[count[d]] = src[j]
            count[d] += 1
        src, dst = dst, src
        shift += RADIX_BITS
        passes += 1
    if passes % 2:  # the sorted keys ended in tmp
        keys[:n] = tmp[:n]


@njit(nogil=True, cache=True)
def _scan(c, lo, hi, c_account, c_time, c_kind, c_post, c_weight, kind_ok, by_posts, keys,
          tmp, by_kind, flagged, has_flags):
    """One creator's window: ``keys[:n]`` gets ``account << unit_bits | unit`` of every
    counted event (unit: its calendar week, or its post, relative to the window's first;
    all ones for an event without a post), sorted. Adds to ``by_kind``. Returns
    ``(n, interactions, weighted, from_flagged, unit_bits)``."""
    first, unit_bits = _unit_range(c, lo, hi, c_time, c_post, by_posts)
    no_unit = (np.int64(1) << unit_bits) - 1
    n = 0
    weighted = 0.0
    n_flag = 0
    top = np.int64(0)
    for e in range(lo, hi):
        u = c_account[e]
        k = c_kind[e]
        if u == c or not kind_ok[k]:
            continue
        weighted += c_weight[e]
        by_kind[k] += 1
        if has_flags and flagged[u]:
            n_flag += 1
        if by_posts:
            unit = np.int64(c_post[e]) - first if c_post[e] >= 0 else no_unit
        else:
            unit = (c_time[e] + WEEK_SHIFT) // WEEK - first
        keys[n] = (np.int64(u) << unit_bits) | unit
        top = max(top, np.int64(u))
        n += 1
    bits = unit_bits
    while (np.int64(1) << (bits - unit_bits)) <= top:
        bits += 1
    _radix_sort(keys, n, bits, tmp)
    return n, n, weighted, n_flag, unit_bits


@njit(nogil=True, cache=True)
def _accounts(keys, n, unit_bits, engaged, units):
    """Distinct accounts of sorted ``keys[:n]`` into ``engaged`` (increasing) and their
    distinct units into ``units``; returns how many accounts."""
    no_unit = (np.int64(1) << unit_bits) - 1
    m = 0
    for j in range(n):
        if j == 0 or (keys[j] >> unit_bits) != (keys[j - 1] >> unit_bits):
            engaged[m] = keys[j] >> unit_bits
            units[m] = 0
            m += 1
        if (keys[j] & no_unit) != no_unit and (j == 0 or keys[j] != keys[j - 1]):
            units[m - 1] += 1
    return m


@njit(nogil=True, cache=True)
def _follow_from(in_indices, j, p1, u):
    """Position of u in the sorted follower row ``in_indices[j:p1]`` (accounts asked in
    increasing order, so each search starts where the last ended, galloping: the next
    account is usually near), and whether u is there."""
    step = 1
    hi = j
    while hi < p1 and in_indices[hi] < u:
        j = hi + 1
        hi = j + step
        step *= 2
    hi = min(hi, p1)
    j += np.searchsorted(in_indices[j:hi], u)
    return j, j < p1 and in_indices[j] == u


@njit(nogil=True, cache=True)
def _buffers(c_indptr, c_time, sel, since, until):
    total = 0
    max_row = 1
    for i in range(sel.shape[0]):
        lo, hi = _window(c_indptr, c_time, sel[i], since, until)
        max_row = max(max_row, hi - lo)
        total += hi - lo
    return (np.empty(max_row, np.int64), np.empty(max_row, np.int64),
            np.empty(max_row, np.int64), np.empty(max_row, np.int32), total)


@njit(nogil=True, cache=True)
def engagement_rows(c_indptr, c_account, c_time, c_kind, c_post, c_weight, sel, since, until,
                    kind_ok, n_kinds, by_posts, loyal_k, min_follow_until, in_indptr, in_indices,
                    followed_at, has_fat, flagged, has_flags, n_accounts):
    """Per selected creator (``sel``, internal ids): ``counts`` int64 (k, 6) =
    interactions, engaged, engaged followers, loyal, interactions from flagged accounts,
    loyal followers; ``weighted`` float64 (k,); ``by_kind`` int64 (k, n_kinds).

    A loyal fan has ``units >= loyal_k`` and, with follow times (``has_fat``), follows
    the creator since at most ``min_follow_until``."""
    k = sel.shape[0]
    keys, tmp, engaged, units, _ = _buffers(c_indptr, c_time, sel, since, until)
    counts = np.zeros((k, 6), np.int64)
    weighted = np.zeros(k, np.float64)
    by_kind = np.zeros((k, n_kinds), np.int64)
    for i in range(k):
        c = sel[i]
        lo, hi = _window(c_indptr, c_time, c, since, until)
        n, n_int, w, n_flag, unit_bits = _scan(c, lo, hi, c_account, c_time, c_kind, c_post,
                                               c_weight, kind_ok, by_posts, keys, tmp,
                                               by_kind[i], flagged, has_flags)
        n_eng = _accounts(keys, n, unit_bits, engaged, units)
        j, p1 = in_indptr[c], in_indptr[c + 1]
        n_fol = 0
        n_loyal = 0
        n_loyal_fol = 0
        for a in range(n_eng):
            j, follows = _follow_from(in_indices, j, p1, engaged[a])
            n_fol += follows
            if units[a] >= loyal_k and (not has_fat or (follows and followed_at[j] <= min_follow_until)):
                n_loyal += 1
                n_loyal_fol += follows
        counts[i, 0] = n_int
        counts[i, 1] = n_eng
        counts[i, 2] = n_fol
        counts[i, 3] = n_loyal
        counts[i, 4] = n_flag
        counts[i, 5] = n_loyal_fol
        weighted[i] = w
    return counts, weighted, by_kind


@njit(nogil=True, cache=True)
def audience_rows(c_indptr, c_account, c_time, c_kind, c_post, c_weight, sel, since, until,
                  kind_ok, by_posts, loyal_only, loyal_k, min_follow_until, in_indptr,
                  in_indices, followed_at, has_fat, n_accounts):
    """The engaged (or, with ``loyal_only``, loyal) accounts of each selected creator as a
    CSR of k sorted rows: ``(indptr, indices)``, ready for the reach kernels."""
    k = sel.shape[0]
    keys, tmp, engaged, units, total = _buffers(c_indptr, c_time, sel, since, until)
    by_kind = np.zeros(kind_ok.shape[0], np.int64)
    flagged = np.zeros(1, np.bool_)
    indptr = np.zeros(k + 1, np.int64)
    indices = np.empty(total, np.int32)
    for i in range(k):
        c = sel[i]
        lo, hi = _window(c_indptr, c_time, c, since, until)
        n, _, _, _, unit_bits = _scan(c, lo, hi, c_account, c_time, c_kind, c_post, c_weight,
                                      kind_ok, by_posts, keys, tmp, by_kind, flagged, False)
        n_eng = _accounts(keys, n, unit_bits, engaged, units)
        j, p1 = in_indptr[c], in_indptr[c + 1]
        start = indptr[i]
        m = 0
        for a in range(n_eng):
            keep = not loyal_only
            if loyal_only and units[a] >= loyal_k:
                j, follows = _follow_from(in_indices, j, p1, engaged[a])
                keep = not has_fat or (follows and followed_at[j] <= min_follow_until)
            if keep:
                indices[start + m] = engaged[a]
                m += 1
        indptr[i + 1] = start + m
    return indptr, indices[:indptr[k]].copy()


@njit(nogil=True, cache=True)
def reciprocity_rows(c_indptr, c_account, c_time, c_kind, c_reply_to, sel, since, until,
                     comment_code, reply_code):
    """Per selected creator: ``(comments, answered)`` int64 (k, 2).

    ``comments``: the fans' (accounts other than the creator) ``comment`` events in the
    window. A ``reply`` event of the creator itself to fan f (``reply_to == f``) in the
    window answers f's earliest comment that is not yet answered and was made at or
    before the reply; ``answered`` counts the comments so answered (each reply answers
    at most one comment, each comment is answered at most once).
    """
    k = sel.shape[0]
    out = np.zeros((k, 2), np.int64)
    for i in range(k):
        c = sel[i]
        lo, hi = _window(c_indptr, c_time, c, since, until)
        n_comments = 0
        n_replies = 0
        for e in range(lo, hi):
            if c_kind[e] == comment_code and c_account[e] != c:
                n_comments += 1
            elif c_kind[e] == reply_code and c_account[e] == c and c_reply_to[e] >= 0:
                n_replies += 1
        out[i, 0] = n_comments
        if n_replies == 0 or n_comments == 0:  # nothing to match (e.g. a creator who never replies)
            continue
        m = n_comments + n_replies
        # key: fan << (tb + 1) | tie << 1 | (0 comment, 1 reply), with ``tie`` the row
        # position of the first event at the same time (rows are time-sorted): sorting the
        # keys orders each fan's events by time, comments before replies made in the same
        # second
        tb = 1
        while (1 << tb) <= hi - lo:
            tb += 1
        keys = np.empty(m, np.int64)
        j = 0
        tie = 0
        top = np.int64(0)
        for e in range(lo, hi):
            if e == lo or c_time[e] != c_time[e - 1]:
                tie = e - lo
            fan = np.int64(-1)
            flag = 0
            if c_kind[e] == comment_code and c_account[e] != c:
                fan = np.int64(c_account[e])
            elif c_kind[e] == reply_code and c_account[e] == c and c_reply_to[e] >= 0:
                fan, flag = np.int64(c_reply_to[e]), 1
            if fan >= 0:
                keys[j] = (np.int64(fan) << (tb + 1)) | (np.int64(tie) << 1) | flag
                top = max(top, fan)
                j += 1
        bits = tb + 1
        while (1 << (bits - tb - 1)) <= top:
            bits += 1
        _radix_sort(keys, m, bits, np.empty(m, np.int64))
        pending = 0
        for j in range(m):
            if j == 0 or (keys[j] >> (tb + 1)) != (keys[j - 1] >> (tb + 1)):
                pending = 0
            if keys[j] & 1:
                if pending > 0:
                    pending -= 1
                    out[i, 1] += 1
            else:
                pending += 1
    return out


@njit(nogil=True, cache=True)
def posts_in_window(p_indptr, p_time, sel, since, until):
    """Posts of each selected creator with ``since <= time < until`` (rows time-sorted)."""
    out = np.empty(sel.shape[0], np.int64)
    for i in range(sel.shape[0]):
        lo, hi = _window(p_indptr, p_time, sel[i], since, until)
        out[i] = hi - lo
    return out


@njit(nogil=True, cache=True)
def _thin_row(c, lo, hi, c_account, c_time, c_post, gap, out_acc, out_time, out_post, k):
    """Creator c's fan events ``lo:hi`` (time-sorted) in ``(post, account, time)`` order,
    written from ``k`` on, each dropped when the same account's last kept event on the same
    post is less than ``gap`` seconds before it; returns the new ``k``.

    Kept events of one account in one row are then at least ``gap`` apart, so a window of
    ``gap`` seconds holds at most one of them: counting kept events in it counts distinct
    accounts (what the lockstep kernel's hot-window threshold needs)."""
    k0 = k
    n = hi - lo
    key = np.empty(n, np.int64)
    for e in range(n):
        # (post + 1, account) packed; the stable sort keeps each pair's events in time order
        key[e] = ((np.int64(c_post[lo + e]) + 1) << 32) | np.int64(c_account[lo + e])
    order = np.argsort(key, kind="mergesort")
    last = np.int64(0)
    for q in range(n):
        e = lo + order[q]
        if c_account[e] == c:
            continue  # the creator's own events (its replies)
        if k > k0 and out_post[k - 1] == c_post[e] and out_acc[k - 1] == c_account[e] \
                and c_time[e] - last < gap:
            continue
        last = c_time[e]
        out_acc[k] = c_account[e]
        out_time[k] = c_time[e]
        out_post[k] = c_post[e]
        k += 1
    return k


@njit(nogil=True, cache=True)
def pod_rows(c_indptr, c_account, c_time, c_post, gap):
    """The interactions as lockstep rows, one per ``(creator, post)`` (events without a
    post: one row per creator), rows by creator then post: ``(indptr, account, time,
    row_creator, row_post)``. The creator's own events are left out, and each account's
    events in a row are thinned to at least ``gap`` seconds apart (see :func:`_thin_row`).
    Per creator, a stable sort of its (already time-sorted) row by ``(post, account)``:
    no sort over all events."""
    n_ev = c_account.shape[0]
    out_acc = np.empty(n_ev, np.int32)
    out_time = np.empty(n_ev, np.int64)
    out_post = np.empty(n_ev, np.int64)
    row_end = np.empty(n_ev + 1, np.int64)
    row_creator = np.empty(n_ev + 1, np.int64)
    k = 0
    n_rows = 0
    for c in range(c_indptr.shape[0] - 1):
        k0 = k
        k = _thin_row(c, c_indptr[c], c_indptr[c + 1], c_account, c_time, c_post, gap,
                      out_acc, out_time, out_post, k)
        for q in range(k0, k):  # a row ends where the post changes (and at the creator's end)
            if q + 1 == k or out_post[q + 1] != out_post[q]:
                row_end[n_rows] = q + 1
                row_creator[n_rows] = c
                n_rows += 1
    indptr = np.zeros(n_rows + 1, np.int64)
    indptr[1:] = row_end[:n_rows]
    row_post = np.empty(n_rows, np.int64)
    for r in range(n_rows):
        row_post[r] = out_post[indptr[r]]
    return (indptr, out_acc[:k].copy(), out_time[:k].copy(), row_creator[:n_rows].copy(), row_post)
