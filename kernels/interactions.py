"""Interaction kernels: engaged and loyal audiences of creators, from the interactions CSR.

The interactions layer keeps events ``account -> creator`` in rows by creator, each
row sorted by time (``c_indptr``, ``c_account``, ``c_time``, ``c_kind``, ``c_post``,
``c_weight``, ``c_reply_to``). A time window ``[since, until)`` is a slice of each row
found by bisection, so a creator's window costs its events in the window, not its row.

Per creator, one pass over the window's events (:func:`_scan`) gives the interaction
counts, the distinct engaged accounts (a stamp per account: ``stamp[u] == i + 1`` when
account u was already seen for the i-th selected creator, so no clearing between
creators) and, per engaged account, the number of distinct *units* it interacted in:
calendar weeks (rows are time-sorted, so a week is new when it differs from the
account's last one) or posts (the window's ``(account, post)`` pairs, sorted).

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


@njit(nogil=True, cache=True)
def _follow_pos(in_indptr, in_indices, c, u):
    """Position of u in c's (sorted) follower row, or -1 when u does not follow c."""
    p0, p1 = in_indptr[c], in_indptr[c + 1]
    j = p0 + np.searchsorted(in_indices[p0:p1], u)
    if j < p1 and in_indices[j] == u:
        return j
    return -1


@njit(nogil=True, cache=True)
def _scan(c, lo, hi, c_account, c_time, c_kind, c_post, c_weight, kind_ok, by_posts,
          stamp, mark, units, last_unit, engaged, pair_buf, by_kind, flagged, has_flags):
    """One creator's window: fills ``engaged`` with its distinct engaged accounts (first
    seen first) and ``units[u]`` with each one's distinct weeks or posts; adds to
    ``by_kind``. Returns ``(n_engaged, interactions, weighted, from_flagged)``."""
    n_eng = 0
    n_int = 0
    weighted = 0.0
    n_flag = 0
    n_pairs = 0
    for e in range(lo, hi):
        u = c_account[e]
        k = c_kind[e]
        if u == c or not kind_ok[k]:
            continue
        n_int += 1
        weighted += c_weight[e]
        by_kind[k] += 1
        if has_flags and flagged[u]:
            n_flag += 1
        if stamp[u] != mark:
            stamp[u] = mark
            engaged[n_eng] = u
            n_eng += 1
            units[u] = 0
            last_unit[u] = -1
        if by_posts:
            if c_post[e] >= 0:
                pair_buf[n_pairs] = (np.int64(u) << 32) | np.int64(c_post[e])
                n_pairs += 1
        else:
            week = (c_time[e] + WEEK_SHIFT) // WEEK
            if week != last_unit[u]:
                last_unit[u] = week
                units[u] += 1
    if by_posts and n_pairs:
        pairs = np.sort(pair_buf[:n_pairs])
        for j in range(n_pairs):
            if j == 0 or pairs[j] != pairs[j - 1]:
                units[pairs[j] >> 32] += 1
    return n_eng, n_int, weighted, n_flag


@njit(nogil=True, cache=True)
def _loyal(c, u, units, loyal_k, in_indptr, in_indices, followed_at, has_fat, min_follow_until):
    """Whether engaged account u is a loyal fan of c: ``units[u] >= loyal_k`` and, when
    follow times exist, a follower of c since at most ``min_follow_until``."""
    if units[u] < loyal_k:
        return False
    if not has_fat:
        return True
    j = _follow_pos(in_indptr, in_indices, c, u)
    return j >= 0 and followed_at[j] <= min_follow_until


@njit(nogil=True, cache=True)
def _scratch(n_accounts, max_row):
    return (np.zeros(n_accounts, np.int32), np.zeros(n_accounts, np.int32),
            np.zeros(n_accounts, np.int64), np.empty(max_row, np.int32),
            np.empty(max_row, np.int64))


@njit(nogil=True, cache=True)
def engagement_rows(c_indptr, c_account, c_time, c_kind, c_post, c_weight, sel, since, until,
                    kind_ok, n_kinds, by_posts, loyal_k, min_follow_until, in_indptr, in_indices,
                    followed_at, has_fat, flagged, has_flags, n_accounts):
    """Per selected creator (``sel``, internal ids): ``counts`` int64 (k, 6) =
    interactions, engaged, engaged followers, loyal, interactions from flagged accounts,
    loyal followers; ``weighted`` float64 (k,); ``by_kind`` int64 (k, n_kinds)."""
    k = sel.shape[0]
    max_row = 1
    for i in range(k):
        lo, hi = _window(c_indptr, c_time, sel[i], since, until)
        max_row = max(max_row, hi - lo)
    stamp, units, last_unit, engaged, pair_buf = _scratch(n_accounts, max_row)
    counts = np.zeros((k, 6), np.int64)
    weighted = np.zeros(k, np.float64)
    by_kind = np.zeros((k, n_kinds), np.int64)
    for i in range(k):
        c = sel[i]
        lo, hi = _window(c_indptr, c_time, c, since, until)
        n_eng, n_int, w, n_flag = _scan(c, lo, hi, c_account, c_time, c_kind, c_post, c_weight,
                                        kind_ok, by_posts, stamp, i + 1, units, last_unit,
                                        engaged, pair_buf, by_kind[i], flagged, has_flags)
        n_fol = 0
        n_loyal = 0
        n_loyal_fol = 0
        for j in range(n_eng):
            u = engaged[j]
            follows = _follow_pos(in_indptr, in_indices, c, u) >= 0
            n_fol += follows
            if _loyal(c, u, units, loyal_k, in_indptr, in_indices, followed_at, has_fat,
                      min_follow_until):
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
    max_row = 1
    total = 0
    for i in range(k):
        lo, hi = _window(c_indptr, c_time, sel[i], since, until)
        max_row = max(max_row, hi - lo)
        total += hi - lo
    stamp, units, last_unit, engaged, pair_buf = _scratch(n_accounts, max_row)
    by_kind = np.zeros(kind_ok.shape[0], np.int64)
    flagged = np.zeros(1, np.bool_)
    indptr = np.zeros(k + 1, np.int64)
    indices = np.empty(total, np.int32)
    for i in range(k):
        c = sel[i]
        lo, hi = _window(c_indptr, c_time, c, since, until)
        n_eng = _scan(c, lo, hi, c_account, c_time, c_kind, c_post, c_weight, kind_ok, by_posts,
                      stamp, i + 1, units, last_unit, engaged, pair_buf, by_kind, flagged,
                      False)[0]
        start = indptr[i]
        n = 0
        for j in range(n_eng):
            u = engaged[j]
            if not loyal_only or _loyal(c, u, units, loyal_k, in_indptr, in_indices,
                                        followed_at, has_fat, min_follow_until):
                indices[start + n] = u
                n += 1
        indices[start:start + n] = np.sort(indices[start:start + n])
        indptr[i + 1] = start + n
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
        fan = np.empty(m, np.int64)
        key = np.empty(m, np.int64)  # time * 2 + (0 comment, 1 reply): comments first on ties
        j = 0
        for e in range(lo, hi):
            if c_kind[e] == comment_code and c_account[e] != c:
                fan[j] = c_account[e]
                key[j] = c_time[e] * 2
                j += 1
            elif c_kind[e] == reply_code and c_account[e] == c and c_reply_to[e] >= 0:
                fan[j] = c_reply_to[e]
                key[j] = c_time[e] * 2 + 1
                j += 1
        order = np.argsort(key, kind="mergesort")
        order = order[np.argsort(fan[order], kind="mergesort")]
        pending = 0
        for j in range(m):
            e = order[j]
            if j == 0 or fan[e] != fan[order[j - 1]]:
                pending = 0
            if key[e] & 1:
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
