"""Observed reshares per creator, from the interactions CSR: the counts behind
``weighted_cascade="observed"`` (:mod:`kolgraph.propagation.observed`).

A creator's row of events is sorted by time, so a window ``[since, until)`` is a slice
found by bisection; a follower is found by bisection in the creator's sorted follower
row. Arrays in, arrays out; no validation here.
"""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _distinct(keys):
    if keys.shape[0] == 0:
        return 0
    s = np.sort(keys)
    return 1 + int(np.count_nonzero(s[1:] != s[:-1]))


@njit(nogil=True, cache=True)
def follower_shares(c_indptr, c_account, c_time, c_kind, c_post, share, since, until,
                    in_indptr, in_indices):
    """Per account as a creator, over its events with ``since <= time < until``:

    - ``shares``: shares of kind code ``share`` by accounts that follow it (not itself),
      as distinct (account, post) pairs; an event without a post (``-1``) counts once;
    - ``posts``: distinct post ids among all its events (the denominator when the store
      has no posts table).
    """
    n = c_indptr.shape[0] - 1
    shares = np.zeros(n, np.int64)
    posts = np.zeros(n, np.int64)
    for c in range(n):
        r0, r1 = c_indptr[c], c_indptr[c + 1]
        if r1 == r0:
            continue
        lo = r0 + np.searchsorted(c_time[r0:r1], since)
        hi = r0 + np.searchsorted(c_time[r0:r1], until)
        if hi <= lo:
            continue
        post_keys = np.empty(hi - lo, np.int64)
        pair_keys = np.empty(hi - lo, np.int64)
        n_post = n_pair = 0
        f0, f1 = in_indptr[c], in_indptr[c + 1]
        for e in range(lo, hi):
            p = c_post[e]
            if p >= 0:
                post_keys[n_post] = p
                n_post += 1
            u = c_account[e]
            if c_kind[e] != share or u == c:
                continue
            j = f0 + np.searchsorted(in_indices[f0:f1], u)
            if j < f1 and in_indices[j] == u:
                if p < 0:
                    shares[c] += 1
                else:
                    pair_keys[n_pair] = (np.int64(u) << 32) | np.int64(p)
                    n_pair += 1
        shares[c] += _distinct(pair_keys[:n_pair])
        posts[c] = _distinct(post_keys[:n_post])
    return shares, posts
