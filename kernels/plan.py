"""Planner kernels: marginal gains of candidate creators over a covered state, exact and
Monte Carlo Shapley values of a plan.

Candidate i's followers are ``indices[starts[i]:ends[i]]``: the store's own
followers-of rows, or, with an account filter, a filtered copy
(:func:`filtered_rows`), so no kernel tests a filter.

The greedy keeps one state per account: ``count[u]`` (chosen creators that u
follows, uint8, saturating) and ``hit[u]`` (probability that u has seen at least one
of their posts, ``1 − Π (1 − p_c)``; zeros to start, so the arrays come from calloc). A candidate's marginal gain reads only its own row:

- ``COVER``: followers not yet covered, ``#{u ∈ F(c): count[u] = 0}``;
- ``EXPECTED``: ``p_c · Σ_{u ∈ F(c)} (1 − hit[u])`` (expected reach is a probabilistic
  coverage function: monotone and submodular);
- ``EFFECTIVE``: ``#{u ∈ F(c): count[u] < k}``, the gain of ``Σ_u min(count[u], k)``,
  the submodular surrogate the greedy follows for R_k (R_k itself is not submodular);
- ``RK``: ``#{u ∈ F(c): count[u] = k − 1}``, the exact gain of R_k.

Arrays in, arrays out; no validation here.
"""

import heapq

import numpy as np
from kolgraph.kernels.reach import popcount
from numba import njit, prange

COVER = 0
EXPECTED = 1
EFFECTIVE = 2
RK = 3
_ONE = np.uint64(1)
_LOW6 = np.uint64(63)


@njit(nogil=True, cache=True)
def dense_rows(starts, ends, indices, big, n_words):
    """Bitsets (one row of ``n_words`` uint64 per candidate in ``big``) of large audiences:
    their reach gains are word-wise ``popcount(bits & ~covered)`` instead of a read per
    follower."""
    out = np.zeros((big.shape[0], n_words), dtype=np.uint64)
    for r in range(big.shape[0]):
        c = big[r]
        for j in range(starts[c], ends[c]):
            u = np.uint64(indices[j])
            out[r, u >> np.uint64(6)] |= _ONE << (u & _LOW6)
    return out


@njit(nogil=True, cache=True)
def _bit_gain(starts, ends, indices, c, covered):
    """Reach gain of c read from the covered bitset (n/8 bytes: stays in cache)."""
    g = 0
    for j in range(starts[c], ends[c]):
        u = np.uint64(indices[j])
        g += 1 - np.int64((covered[u >> np.uint64(6)] >> (u & _LOW6)) & _ONE)
    return g


@njit(nogil=True, cache=True)
def _dense_gain(dense, slot, covered, lo, hi):
    g = 0
    for w in range(lo, hi):
        g += popcount(dense[slot, w] & ~covered[w])
    return g


@njit(nogil=True, cache=True)
def filtered_rows(in_indptr, in_indices, cand, allowed):
    """The candidates' followers that pass the filter, as a CSR over the candidates
    (account ids kept). Returns ``(indptr, indices)``."""
    m = cand.shape[0]
    indptr = np.zeros(m + 1, dtype=np.int64)
    for i in range(m):
        c = cand[i]
        n = 0
        for p in range(in_indptr[c], in_indptr[c + 1]):
            if allowed[in_indices[p]]:
                n += 1
        indptr[i + 1] = indptr[i] + n
    indices = np.empty(indptr[m], dtype=np.int32)
    for i in range(m):
        c = cand[i]
        j = indptr[i]
        for p in range(in_indptr[c], in_indptr[c + 1]):
            u = in_indices[p]
            if allowed[u]:
                indices[j] = u
                j += 1
    return indptr, indices


@njit(nogil=True, cache=True)
def gain(starts, ends, indices, c, kind, count, hit, k, p):
    """Marginal gain of candidate ``c`` (followers ``indices[starts[c]:ends[c]]``) over the
    state ``count``/``hit``."""
    lo, hi = starts[c], ends[c]
    if kind == EXPECTED:
        s = 0.0
        for j in range(lo, hi):
            s += 1.0 - hit[indices[j]]
        return s * p
    g = 0
    if kind == COVER:
        for j in range(lo, hi):
            if count[indices[j]] == 0:
                g += 1
    elif kind == EFFECTIVE:
        for j in range(lo, hi):
            if count[indices[j]] < k:
                g += 1
    else:
        for j in range(lo, hi):
            if count[indices[j]] == k - 1:
                g += 1
    return float(g)


@njit(nogil=True, cache=True, parallel=True)
def gains(starts, ends, indices, cands, kind, count, hit, k, p):
    """:func:`gain` of every candidate in ``cands`` (threads over candidates)."""
    out = np.empty(cands.shape[0])
    for i in prange(cands.shape[0]):
        c = cands[i]
        out[i] = gain(starts, ends, indices, c, kind, count, hit, k, p[c])
    return out


@njit(nogil=True, cache=True)
def gains_serial(starts, ends, indices, cands, kind, count, hit, k, p):
    """:func:`gains` on the calling thread (small inputs: no thread team to start)."""
    out = np.empty(cands.shape[0])
    for i in range(cands.shape[0]):
        c = cands[i]
        out[i] = gain(starts, ends, indices, c, kind, count, hit, k, p[c])
    return out


@njit(nogil=True, cache=True)
def lazy_greedy(starts, ends, indices, cands, cost, tier, p, q, kind, k, count, hit, fresh, budget,
                spent, tcount, tspend, tmax, smax, slots, bound, dense, dense_slot, covered):
    """Lazy (CELF) cost-benefit greedy under permanent constraints.

    Picks, among ``cands``, the candidate with the largest gain per unit cost whose cost
    fits the budget left, whose tier is under its count cap ``tmax`` and spend cap
    ``smax``, while fewer than ``slots`` creators were added; ties go to the earlier
    candidate; stops when the best gain is zero. Stale gains are upper bounds
    (submodularity), so a candidate is re-evaluated only when it reaches the top of the
    heap. On a ``fresh`` (empty) state the first gains are the audience sizes, read from
    the row lengths. Updates ``count``, ``hit``, ``tcount``, ``tspend`` in place and
    leaves in ``bound[c]`` the last gain computed for each candidate (an upper bound of
    its gain over the final plan). For reach (``COVER``), candidates with
    ``dense_slot[c] >= 0`` are scored word-wise on their bitset ``dense[dense_slot[c]]``
    against the ``covered`` bitset, which the kernel keeps in step with ``count``.

    Returns ``(chosen, cover gains, R_k gains, expected gains, spent)``.
    """
    n = cands.shape[0]
    heap = [(0.0, np.int64(0), np.int64(0)) for _ in range(0)]
    for i in range(n):
        c = cands[i]
        if fresh:
            d = float(ends[c] - starts[c])
            g = d * p[c] if kind == EXPECTED else (d if kind != RK or k == 1 else 0.0)
        else:
            g = gain(starts, ends, indices, c, kind, count, hit, k, p[c])
        bound[c] = g
        heap.append((-g / cost[c], np.int64(c), np.int64(0)))
    heapq.heapify(heap)
    cap = min(n, max(slots, 0))
    chosen = np.empty(cap, dtype=np.int64)
    g_cover = np.zeros(cap, dtype=np.int64)
    g_rk = np.zeros(cap, dtype=np.int64)
    g_exp = np.zeros(cap)
    step = 0
    while len(heap) > 0 and step < cap:
        neg, c, stamp = heap[0]
        t = tier[c]
        if (spent + cost[c] > budget + 1e-9 or tcount[t] + 1 > tmax[t]
                or tspend[t] + cost[c] > smax[t] + 1e-9):
            heapq.heappop(heap)
            continue
        if stamp != step:
            if kind == COVER and dense_slot[c] >= 0:
                lo = indices[starts[c]] >> 6
                hi = (indices[ends[c] - 1] >> 6) + 1
                g = float(_dense_gain(dense, dense_slot[c], covered, lo, hi))
            elif kind == COVER:
                g = float(_bit_gain(starts, ends, indices, c, covered))
            else:
                g = gain(starts, ends, indices, c, kind, count, hit, k, p[c])
            bound[c] = g
            heapq.heapreplace(heap, (-g / cost[c], c, np.int64(step)))
            continue
        if neg >= 0.0:
            break
        heapq.heappop(heap)
        a, b, e = add(starts, ends, indices, c, count, hit, k, q[c], kind == EXPECTED)
        if kind == COVER:
            for j in range(starts[c], ends[c]):
                u = np.uint64(indices[j])
                covered[u >> np.uint64(6)] |= _ONE << (u & _LOW6)
        bound[c] = 0.0
        chosen[step] = c
        g_cover[step] = a
        g_rk[step] = b
        g_exp[step] = e
        spent += cost[c]
        tcount[t] += 1
        tspend[t] += cost[c]
        step += 1
    return chosen[:step], g_cover[:step], g_rk[:step], g_exp[:step], spent


@njit(nogil=True, cache=True)
def add(starts, ends, indices, c, count, hit, k, q, track):
    """Add candidate ``c`` (miss factor ``q = 1 − p_c``) to the state; ``hit`` is read and
    written only when ``track`` (the expected-reach objective).

    Returns its gains ``(newly covered, newly reached k times, expected reach added)``.
    """
    cover = 0
    reach_k = 0
    expected = 0.0
    for j in range(starts[c], ends[c]):
        u = indices[j]
        cu = count[u]
        if cu == 0:
            cover += 1
        if cu == k - 1:
            reach_k += 1
        if track:
            h = hit[u]
            expected += (1.0 - h) * (1.0 - q)
            hit[u] = h + (1.0 - h) * (1.0 - q)
        if cu < 255:  # uint8 counts saturate (k is at most 100)
            count[u] = cu + 1
    return cover, reach_k, expected


@njit(nogil=True, cache=True)
def evaluate(starts, ends, indices, sel, q, k, n, track):
    """``(unique reach, R_k, expected reach)`` of the candidates ``sel`` over n accounts
    (expected reach 0 unless ``track``)."""
    count = np.zeros(n, dtype=np.uint8)
    hit = np.zeros(n if track else 1)
    cover = 0
    reach_k = 0
    expected = 0.0
    for i in range(sel.shape[0]):
        a, b, e = add(starts, ends, indices, sel[i], count, hit, k, q[sel[i]], track)
        cover += a
        reach_k += b
        expected += e
    return cover, reach_k, expected


@njit(nogil=True, cache=True)
def transpose(starts, ends, indices, n):
    """Follower -> candidates CSR of the candidates' audiences (for pairwise overlaps)."""
    m = starts.shape[0]
    tptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(m):
        for j in range(starts[i], ends[i]):
            tptr[indices[j] + 1] += 1
    for u in range(n):
        tptr[u + 1] += tptr[u]
    fill = tptr[:-1].copy()
    tind = np.empty(tptr[n], dtype=np.int32)
    for i in range(m):
        for j in range(starts[i], ends[i]):
            u = indices[j]
            tind[fill[u]] = i
            fill[u] += 1
    return tptr, tind


@njit(nogil=True, cache=True)
def common_with(starts, ends, indices, tptr, tind, s, out):
    """``out[c] = |F(s) ∩ F(c)|`` for every candidate c, through the followers of s."""
    out[:] = 0
    for j in range(starts[s], ends[s]):
        u = indices[j]
        for t in range(tptr[u], tptr[u + 1]):
            out[tind[t]] += 1
    return out


@njit(nogil=True, cache=True)
def follower_members(starts, ends, indices, sel, n):
    """Follower -> chosen creators CSR: ``members[fptr[u]:fptr[u+1]]`` are the positions
    in ``sel`` of the chosen creators that follower u follows."""
    fptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(sel.shape[0]):
        for j in range(starts[sel[i]], ends[sel[i]]):
            fptr[indices[j] + 1] += 1
    for u in range(n):
        fptr[u + 1] += fptr[u]
    fill = fptr[:-1].copy()
    members = np.empty(fptr[n], dtype=np.int32)
    for i in range(sel.shape[0]):
        for j in range(starts[sel[i]], ends[sel[i]]):
            u = indices[j]
            members[fill[u]] = i
            fill[u] += 1
    return fptr, members


@njit(nogil=True, cache=True)
def shapley_split(starts, ends, indices, sel, count, k):
    """Exact Shapley values of reach (``k`` = 1) or R_k from the plan's final counts: each
    follower reached s >= k times gives 1/s to each of its s creators (counts below 255)."""
    phi = np.zeros(sel.shape[0])
    for i in range(sel.shape[0]):
        c = sel[i]
        acc = 0.0
        for j in range(starts[c], ends[c]):
            s = count[indices[j]]
            if s >= k:
                acc += 1.0 / s
        phi[i] = acc
    return phi


@njit(nogil=True, cache=True)
def shapley_exact(fptr, members, n_sel, kind, q, k, gl_ptr, gl_x, gl_w):
    """Exact Shapley value of every chosen creator, follower by follower.

    The objective is a sum over followers of a game among the creators each one
    follows, and Shapley values add over games, so each follower's share is
    computed on its own:

    - reach: the follower is split equally among its s creators (1/s each);
    - R_k: the same when s >= k (a symmetric threshold game), else nothing;
    - expected reach, ``1 − Π q_j``: with uniform arrival times t (the continuous
      form of a random order), ``φ_i = (1 − q_i) ∫_0^1 Π_{j≠i} (1 − t + t q_j) dt``,
      a polynomial of degree s − 1 in t, integrated exactly by Gauss–Legendre with
      ``ceil(s/2)`` nodes (``gl_*``: nodes and weights on [0, 1] for every node count).

    ``q`` holds the miss factor of each chosen creator (by position in the plan).
    """
    phi = np.zeros(n_sel)
    n_local = fptr.shape[0] - 1
    pre = np.empty(n_sel + 1)
    suf = np.empty(n_sel + 1)
    for u in range(n_local):
        a = fptr[u]
        s = fptr[u + 1] - a
        if s == 0:
            continue
        if kind == COVER or kind == EFFECTIVE or kind == RK:
            if kind != COVER and s < k:
                continue
            share = 1.0 / s
            for t in range(s):
                phi[members[a + t]] += share
            continue
        n = (s + 1) // 2
        for node in range(gl_ptr[n], gl_ptr[n + 1]):
            x = gl_x[node]
            w = gl_w[node]
            pre[0] = 1.0
            for t in range(s):
                pre[t + 1] = pre[t] * (1.0 - x + x * q[members[a + t]])
            suf[s] = 1.0
            for t in range(s - 1, -1, -1):
                suf[t] = suf[t + 1] * (1.0 - x + x * q[members[a + t]])
            for t in range(s):
                i = members[a + t]
                phi[i] += w * (1.0 - q[i]) * pre[t] * suf[t + 1]
    return phi


@njit(nogil=True, cache=True, parallel=True)
def shapley_permutations(fptr, members, kind, q, k, orders):
    """Each creator's marginal contribution in each random order (rows of ``orders``).

    Returns a (permutations x creators) array; each row sums to the plan's value.
    """
    n_perm, n_sel = orders.shape
    out = np.zeros((n_perm, n_sel))
    n_local = fptr.shape[0] - 1
    for r in prange(n_perm):
        rank = np.empty(n_sel, dtype=np.int64)
        for pos in range(n_sel):
            rank[orders[r, pos]] = pos
        buf = np.empty(n_sel, dtype=np.int64)
        for u in range(n_local):
            a = fptr[u]
            s = fptr[u + 1] - a
            if s == 0:
                continue
            if kind == COVER:
                best = members[a]
                for t in range(1, s):
                    if rank[members[a + t]] < rank[best]:
                        best = members[a + t]
                out[r, best] += 1.0
                continue
            for t in range(s):  # members by arrival (insertion sort: s is small)
                m = members[a + t]
                j = t
                while j > 0 and rank[buf[j - 1]] > rank[m]:
                    buf[j] = buf[j - 1]
                    j -= 1
                buf[j] = m
            if kind == EXPECTED:
                run = 1.0
                for t in range(s):
                    m = buf[t]
                    out[r, m] += run * (1.0 - q[m])
                    run *= q[m]
            elif s >= k:
                out[r, buf[k - 1]] += 1.0
    return out
