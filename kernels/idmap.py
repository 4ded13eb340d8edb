"""Map external integer ids to dense ``0..n-1`` ids, in ascending id order.

Two strategies: a flag table when the ids span a small range (SNAP-style
``0..n`` ids), and an open-addressing hash table otherwise (64-bit platform
ids). Either way dense ids follow the sorted order of the external ids, so the
id map is a sorted array searched by bisection.
"""

import numpy as np
from numba import njit, prange


@njit(nogil=True, cache=True)
def id_range(a):
    lo = np.iinfo(np.int64).max
    hi = np.iinfo(np.int64).min
    for i in range(a.shape[0]):
        x = a[i]
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    return lo, hi


@njit(nogil=True, cache=True, parallel=True)
def map_dense_range(arrays_flat, lo, span):
    """Sorted unique ids and the dense id of each input, via a flag table."""
    flag = np.zeros(span, dtype=np.int32)
    for i in prange(arrays_flat.shape[0]):
        flag[arrays_flat[i] - lo] = 1  # every writer stores the same 1: races are harmless
    n = 0
    for k in range(span):
        if flag[k]:
            flag[k] = n
            n += 1
        else:
            flag[k] = -1
    uniq = np.empty(n, dtype=np.int64)
    for k in range(span):
        if flag[k] >= 0:
            uniq[flag[k]] = k + lo
    out = np.empty(arrays_flat.shape[0], dtype=np.int32)
    for i in prange(arrays_flat.shape[0]):
        out[i] = flag[arrays_flat[i] - lo]
    return uniq, out


@njit(inline="always")
def _slot(key, mask):
    # Fibonacci hashing: spreads clustered platform ids over the table
    h = np.uint64(key) * np.uint64(11400714819323198485)
    return np.int64(h >> np.uint64(20)) & mask


@njit(nogil=True, cache=True)
def map_hashed(values):
    """Sorted unique ids and the dense id of each input, via a hash table."""
    m = values.shape[0]
    cap = 1024
    while cap < 2 * min(m, 1 << 20):
        cap *= 2
    # occupancy is a separate flag: every int64, the minimum included, is a valid id
    keys = np.empty(cap, dtype=np.int64)
    used = np.zeros(cap, dtype=np.bool_)
    slot_id = np.empty(cap, dtype=np.int32)
    uniq = np.empty(1024, dtype=np.int64)
    first = np.empty(m, dtype=np.int32)
    n = 0
    for i in range(m):
        x = values[i]
        mask = cap - 1
        s = _slot(x, mask)
        while used[s] and keys[s] != x:
            s = (s + 1) & mask
        if used[s]:
            first[i] = slot_id[s]
            continue
        keys[s] = x
        used[s] = True
        slot_id[s] = n
        if n == uniq.shape[0]:
            grown = np.empty(2 * n, dtype=np.int64)
            grown[:n] = uniq
            uniq = grown
        uniq[n] = x
        first[i] = n
        n += 1
        if 2 * n > cap:  # keep the load under one half
            cap *= 2
            keys = np.empty(cap, dtype=np.int64)
            used = np.zeros(cap, dtype=np.bool_)
            slot_id = np.empty(cap, dtype=np.int32)
            mask = cap - 1
            for j in range(n):
                t = _slot(uniq[j], mask)
                while used[t]:
                    t = (t + 1) & mask
                keys[t] = uniq[j]
                used[t] = True
                slot_id[t] = j
    uniq = uniq[:n]
    order = np.argsort(uniq)
    rank = np.empty(n, dtype=np.int32)
    for r in range(n):
        rank[order[r]] = r
    out = np.empty(m, dtype=np.int32)
    for i in range(m):
        out[i] = rank[first[i]]
    return uniq[order], out


@njit(nogil=True, cache=True)
def search_bytes(offsets, data, q_offsets, q_data):
    """Bisect each query string in a sorted string array given as raw buffers.

    Strings compare bytewise (UTF-8 byte order). Returns the index of each
    query, or -1 where it is absent.
    """
    n = offsets.shape[0] - 1
    nq = q_offsets.shape[0] - 1
    out = np.full(nq, -1, dtype=np.int64)
    for k in range(nq):
        qs = q_offsets[k]
        ql = q_offsets[k + 1] - qs
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            s = offsets[mid]
            sl = offsets[mid + 1] - s
            c = 0
            j = 0
            while j < ql and j < sl:
                a = data[s + j]
                b = q_data[qs + j]
                if a != b:
                    c = -1 if a < b else 1
                    break
                j += 1
            if c == 0 and sl != ql:
                c = -1 if sl < ql else 1
            if c < 0:
                lo = mid + 1
            else:
                hi = mid
        if lo < n:
            s = offsets[lo]
            sl = offsets[lo + 1] - s
            if sl == ql:
                same = True
                for j in range(ql):
                    if data[s + j] != q_data[qs + j]:
                        same = False
                        break
                if same:
                    out[k] = lo
    return out
