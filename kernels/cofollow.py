"""Co-following kernels: column pairs followed together far above chance, and lockstep
blocks grown from them (CopyCatch's alternation, without times).

Arrays in, arrays out; no validation here.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from kolgraph.kernels._prefetch import prefetch
from kolgraph.kernels._rng import GOLDEN, fmix64
from kolgraph.kernels.csr import filter_rows, filtered_counts
from numba import njit, types
from numba.typed import Dict

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


@njit(nogil=True, cache=True)
def pairs_range(indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, m, min_co, log_thr,
                lo, hi):
    """:func:`candidate_pairs` of the columns ``a`` in ``lo .. hi-1``: ``(a, b, count)`` sorted
    by ``(a, b)``, in one pass (output buffers grow as needed)."""
    n = len(col_indptr) - 1
    cnt = np.zeros(n, np.int64)
    touched = np.empty(n, np.int64)
    bb = np.empty(n, np.int64)
    cc = np.empty(n, np.int64)
    out_a = np.empty(1024, np.int64)
    out_b = np.empty(1024, np.int64)
    out_c = np.empty(1024, np.int64)
    k = 0
    for a in range(lo, hi):
        if not col_ok[a]:
            continue
        got = _pairs_of(a, indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, m,
                        min_co, log_thr, cnt, touched, bb, cc)
        if got == 0:
            continue
        out_a = _grow(out_a, k + got)
        out_b = _grow(out_b, k + got)
        out_c = _grow(out_c, k + got)
        out_a[k:k + got] = a
        out_b[k:k + got] = bb[:got]
        out_c[k:k + got] = cc[:got]
        k += got
    return out_a[:k].copy(), out_b[:k].copy(), out_c[:k].copy()


def candidate_pairs(indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, m, min_co,
                    log_thr, n_parts):
    """Column pairs ``a < b`` (both eligible) with at least ``min_co`` common rows among the
    eligible ones whose Poisson point probability ``P[X = count]``, ``X ~ Poisson(deg(a)
    deg(b) / m)``, is below ``exp(log_thr)``: a superset of the pairs whose tail
    ``P[X >= count]`` is, to be tested exactly by the caller.

    Counted column by column with a dense counter (no list of all pairs: memory is one
    counter per range), one pass (:func:`pairs_range`) per column range on ``n_parts``
    threads (the kernel releases the GIL); the ranges hold about equal numbers of eligible
    follows. Returns ``(a, b, count)`` sorted by ``(a, b)``, whatever ``n_parts``.
    """
    n = len(col_indptr) - 1
    threads = max(int(n_parts), 1)
    work = np.cumsum(np.where(col_ok, np.diff(col_indptr), 0))
    n_ranges = min(max(n, 1), 1 if threads == 1 else 8 * threads)
    total = int(work[-1]) if n else 0
    bounds = np.searchsorted(work, np.arange(1, n_ranges) * (total / n_ranges), side="right")
    bounds = np.unique(np.concatenate(([0], bounds, [n]))).tolist()
    args = (indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg, float(m), min_co,
            float(log_thr))
    ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    if threads == 1 or len(ranges) == 1:
        parts = [pairs_range(*args, lo, hi) for lo, hi in ranges]
    else:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda r: pairs_range(*args, r[0], r[1]), ranges))
    if not parts:
        return (np.zeros(0, np.int64),) * 3
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


# --- seeded lockstep blocks (co-following, no times) --------------------------------------------

_AHEAD = 16  # entries the alternation's steps prefetch ahead (20-30% less CPU in the loose pass at 100M edges)


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
        if i + _AHEAD < n_members:  # members lie anywhere in memory: fetch one ahead
            prefetch(ptr, members[i + _AHEAD])
        hi = ptr[x + 1]
        for p in range(ptr[x], hi):
            if p + _AHEAD < hi:
                prefetch(hits, idx[p + _AHEAD])
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
def _common_rows(col_indptr, col_rows, row_ok, a, b, row_hits, f):
    """The eligible rows following both columns ``a`` and ``b`` into ``f``, ascending;
    returns how many (``row_hits`` is zero scratch, left so)."""
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
    return n_f


# --- memo of the alternation's column sets -----------------------------------------------------
# A seed's alternation is a function of its current column set T alone (row_ok and col_ok
# stay fixed during one call), so two seeds passing through the same T end in the same
# block. Each T of a trajectory that settled is remembered (exactly: content compared, the
# hash only finds it) with ``rem``, a bound on the further iterations any trajectory
# reaching that T needs to settle; a later seed reaching it within its iteration budget
# ends where the earlier one did: a block whose columns are all taken already, so it is
# skipped without the remaining (costly: every follower of T) steps.


@njit(nogil=True, cache=True)
def _hash_cols(t, n_t):
    h = fmix64(np.uint64(n_t) + GOLDEN)
    for i in range(n_t):
        h = fmix64(h ^ (np.uint64(t[i]) + GOLDEN))
    return np.int64(h >> np.uint64(1))


@njit(nogil=True, cache=True)
def _memo_find(memo, m_ptr, m_cols, t, n_t, h):
    """The remembered state equal to ``t[:n_t]`` (its index), or -1."""
    if h not in memo:
        return -1
    sid = memo[h]
    if m_ptr[sid + 1] - m_ptr[sid] != n_t:
        return -1
    lo = m_ptr[sid]
    for i in range(n_t):
        if m_cols[lo + i] != t[i]:
            return -1
    return sid


@njit(nogil=True, cache=True)
def _memo_add(memo, m_ptr, m_cols, m_rem, n_states, tr_ptr, tr_cols, tr_hash, n_tr, rem_of_last):
    """Remember the trajectory's column sets ``0 .. n_tr-1`` (set ``k`` with ``rem_of_last + n_tr
    - 1 - k``); returns the grown arrays and the new count."""
    for k in range(n_tr):
        h = tr_hash[k]
        if h in memo:  # that T is known (or a hash twin is: keep the first)
            continue
        lo, hi = tr_ptr[k], tr_ptr[k + 1]
        m_ptr = _grow(m_ptr, n_states + 1)
        m_rem = _grow(m_rem, n_states)
        m_cols = _grow(m_cols, m_ptr[n_states] + hi - lo)
        m_cols[m_ptr[n_states]:m_ptr[n_states] + hi - lo] = tr_cols[lo:hi]
        m_ptr[n_states + 1] = m_ptr[n_states] + hi - lo
        m_rem[n_states] = rem_of_last + n_tr - 1 - k
        memo[h] = n_states
        n_states += 1
    return m_ptr, m_cols, m_rem, n_states


@njit(nogil=True, cache=True)
def _alternate(indptr, indices, col_indptr, col_rows, row_ok, col_ok, rho, max_iter, f, f_new, n_f,
               t, col_hits, row_hits, touched_c, touched_r, memo, m_ptr, m_cols, m_rem, tr):
    """CopyCatch's alternation from the rows ``f[:n_f]``: returns ``(f, f_new, n_f, n_tr,
    rem)``. ``rem >= 0``: it reached a remembered column set (``rem`` further iterations at
    most to settle there) and stopped; ``rem = -1``: it settled by itself (``f[:n_f]``);
    ``rem = -2``: it ran out of iterations. The column sets it went through are in
    ``tr`` = ``(ptr, cols, hashes)``, ``n_tr`` of them."""
    tr_ptr, tr_cols, tr_hash = tr
    n_tr = 0
    for it in range(max_iter):
        n_t, _ = _adjacent(indptr, indices, col_ok, f, n_f, rho, 1, col_hits, touched_c, t)
        h = _hash_cols(t, n_t)
        sid = _memo_find(memo, m_ptr, m_cols, t, n_t, h)
        if sid >= 0 and it + m_rem[sid] <= max_iter - 1:
            return f, f_new, n_f, n_tr, m_rem[sid]
        tr_cols[tr_ptr[n_tr]:tr_ptr[n_tr] + n_t] = t[:n_t]
        tr_ptr[n_tr + 1] = tr_ptr[n_tr] + n_t
        tr_hash[n_tr] = h
        n_tr += 1
        n_new, _ = _adjacent(col_indptr, col_rows, row_ok, t, n_t, rho, 2, row_hits, touched_r, f_new)
        same = n_new == n_f and (f[:n_f] == f_new[:n_f]).all()
        f, f_new = f_new, f
        n_f = n_new
        if same or n_f == 0:
            return f, f_new, n_f, n_tr, -1
    return f, f_new, n_f, n_tr, -2


# size: the seeded-block loop keeps its output buffers in one place
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

    A seed whose alternation reaches a column set an earlier seed's went through ends in
    that seed's block (the alternation depends on ``T`` alone), so it stops there: the
    same output with far fewer steps (see ``_memo_find``).
    """
    m = len(indptr) - 1
    n = len(col_indptr) - 1
    done = np.zeros(n, np.bool_)
    col_hits = np.zeros(n, np.int64)
    row_hits = np.zeros(m, np.int32)   # per-row scratch in int32: a graph has < 2**31 rows
    touched_c = np.empty(n, np.int64)
    touched_r = np.empty(m, np.int32)
    f = np.empty(m, np.int32)
    f_new = np.empty(m, np.int32)
    t = np.empty(n, np.int64)
    out_rows = np.empty(16, np.int64)
    out_cols = np.empty(16, np.int64)
    row_ptr = np.zeros(16, np.int64)
    col_ptr = np.zeros(16, np.int64)
    out_edges = np.zeros(16, np.int64)
    memo = Dict.empty(types.int64, types.int64)
    m_ptr = np.zeros(16, np.int64)
    m_cols = np.empty(16, np.int64)
    m_rem = np.empty(16, np.int64)
    n_states = 0
    tr_ptr = np.zeros(max_iter + 1, np.int64)
    tr_cols = np.empty(max_iter * n, np.int64)  # the column sets of one trajectory
    tr_hash = np.empty(max_iter, np.int64)
    n_blocks = 0
    for s in range(len(seed_a)):
        a = seed_a[s]
        b = seed_b[s]
        if done[a] or done[b]:
            continue
        done[a] = True
        done[b] = True
        n_f = _common_rows(col_indptr, col_rows, row_ok, a, b, row_hits, f)
        f, f_new, n_f, n_tr, rem = _alternate(
            indptr, indices, col_indptr, col_rows, row_ok, col_ok, rho, max_iter, f, f_new, n_f, t,
            col_hits, row_hits, touched_c, touched_r, memo, m_ptr, m_cols, m_rem,
            (tr_ptr, tr_cols, tr_hash))
        if rem != -2:  # settled: its column sets lead there (the last one at most 1 step away)
            m_ptr, m_cols, m_rem, n_states = _memo_add(
                memo, m_ptr, m_cols, m_rem, n_states, tr_ptr, tr_cols, tr_hash, n_tr,
                1 if rem == -1 else rem + 1)
        if rem >= 0:
            continue  # an earlier seed's block: every column of it is done
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
    return filter_rows(indptr, indices, rows, False, col_local, -1, True)


@njit(nogil=True, cache=True)
def eligible_degree(indptr, indices, col_ok):
    """Per row, how many eligible columns it follows."""
    return filtered_counts(indptr, indices, indptr[:0], True, col_ok, False)
