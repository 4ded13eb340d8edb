"""Planner kernels: marginal gains of candidate creators over a covered state, exact and
Monte Carlo Shapley values of a plan.

Candidate i's followers are ``indices[starts[i]:ends[i]]``: the store's own
followers-of rows, or, with an account filter, a filtered copy
(:func:`filtered_rows`), so no kernel tests a filter.

The greedy keeps one state per account: ``count[u]`` (chosen creators that u
follows, uint8, saturating) and ``hit[u]`` (probability that u has seen at least one
of their posts, ``1 − Π (1 − p_c)``; zeros to start, so the arrays come from calloc);
for unique reach only a bitset of the covered accounts (:func:`cover_greedy`, with
large audiences read as bitsets word by word), the counts being replayed afterwards
(:func:`replay`). A candidate's marginal gain reads only its own row:

- ``COVER``: followers not yet covered, ``#{u ∈ F(c): count[u] = 0}``;
- ``EXPECTED``: ``p_c · Σ_{u ∈ F(c)} (1 − hit[u])`` (expected reach is a probabilistic
  coverage function: monotone and submodular);
- ``EFFECTIVE``: ``#{u ∈ F(c): count[u] < k}``, the gain of ``Σ_u min(count[u], k)``,
  the submodular surrogate the greedy follows for R_k (R_k itself is not submodular);
- ``RK``: ``#{u ∈ F(c): count[u] = k − 1}``, the exact gain of R_k.

Arrays in, arrays out; no validation here.
"""

import heapq
from collections import namedtuple

import numpy as np
from kolgraph.kernels._bits import fill_bitset, get_bit, popcount, set_bit
from kolgraph.kernels.csr import filter_rows, transpose_rows_serial
from numba import njit, prange

COVER = 0
EXPECTED = 1
EFFECTIVE = 2
RK = 3


@njit(nogil=True, cache=True)
def dense_rows(starts, ends, indices, big, n_words):
    """Bitsets (one row of ``n_words`` uint64 per candidate in ``big``) of large audiences:
    their reach gains are word-wise ``popcount(bits & ~covered)`` instead of a read per
    follower."""
    out = np.zeros((big.shape[0], n_words), dtype=np.uint64)
    for r in range(big.shape[0]):
        fill_bitset(indices, starts[big[r]], ends[big[r]], out[r])
    return out


@njit(nogil=True, cache=True)
def _cover_gain(starts, ends, indices, c, covered, dense, slot, left):
    """Followers of c outside the ``covered`` bitset: word-wise ``popcount(bits & ~covered)``
    over its bitset ``dense[slot[c]]`` when it has one, else bit by bit along the followers
    it had left uncovered at its last evaluation.

    ``left = (lo, hi, buf, fill)``: candidate c's uncovered followers at its last evaluation
    are ``buf[lo[c]:hi[c]]`` (``lo[c] < 0``: never evaluated, read its row). Covered followers
    never become uncovered, so each evaluation keeps only the survivors, in place, and the
    next one reads fewer (``fill[0]``: the end of ``buf`` in use).
    """
    if ends[c] == starts[c]:
        return 0
    s = slot[c]
    if s >= 0:
        g = 0
        for w in range(indices[starts[c]] >> 6, (indices[ends[c] - 1] >> 6) + 1):
            g += popcount(dense[s, w] & ~covered[w])
        return g
    lo, hi, buf, fill = left
    if lo[c] < 0:  # first evaluation: copy the survivors of the row
        start = fill[0]
        out = start
        for j in range(starts[c], ends[c]):
            u = indices[j]
            buf[out] = u
            out += 1 - np.int64(get_bit(covered, u))
        lo[c] = start
        hi[c] = out
        fill[0] = out
        return out - start
    out = lo[c]
    for j in range(lo[c], hi[c]):
        u = buf[j]
        buf[out] = u
        out += 1 - np.int64(get_bit(covered, u))
    hi[c] = out
    return out - lo[c]


@njit(nogil=True, cache=True)
def _cover_add(starts, ends, indices, c, covered, dense, slot):
    """Adds c's followers to ``covered``; returns how many were new."""
    if ends[c] == starts[c]:
        return 0
    g = 0
    s = slot[c]
    if s >= 0:
        for w in range(indices[starts[c]] >> 6, (indices[ends[c] - 1] >> 6) + 1):
            x = dense[s, w]
            g += popcount(x & ~covered[w])
            covered[w] |= x
        return g
    for j in range(starts[c], ends[c]):
        g += set_bit(covered, indices[j])
    return g


@njit(nogil=True, cache=True)
def filtered_rows(in_indptr, in_indices, cand, allowed):
    """The candidates' followers that pass the filter, as a CSR over the candidates
    (account ids kept). Returns ``(indptr, indices)``."""
    return filter_rows(in_indptr, in_indices, cand, False, allowed, False, False)


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


@njit(nogil=True, cache=True)
def _gains_into(out, lo, hi, starts, ends, indices, cands, kind, count, hit, k, p):
    for i in range(lo, hi):
        c = cands[i]
        out[i] = gain(starts, ends, indices, c, kind, count, hit, k, p[c])


@njit(nogil=True, cache=True, parallel=True)
def gains(starts, ends, indices, cands, kind, count, hit, k, p):
    """:func:`gain` of every candidate in ``cands`` (threads over candidates)."""
    out = np.empty(cands.shape[0])
    for i in prange(cands.shape[0]):
        _gains_into(out, i, i + 1, starts, ends, indices, cands, kind, count, hit, k, p)
    return out


@njit(nogil=True, cache=True)
def gains_serial(starts, ends, indices, cands, kind, count, hit, k, p):
    """:func:`gains` on the calling thread (small inputs: no thread team to start)."""
    out = np.empty(cands.shape[0])
    _gains_into(out, 0, cands.shape[0], starts, ends, indices, cands, kind, count, hit, k, p)
    return out


# Arrays that travel together through the greedy, passed to numba as tuples.
Limits = namedtuple("Limits", "cost tier budget tmax smax slots")
Limits.__doc__ = """Permanent constraints: per-candidate ``cost`` and ``tier``, the ``budget``,
per-tier count cap ``tmax`` and spend cap ``smax``, and at most ``slots`` more creators."""
Spent = namedtuple("Spent", "spent tcount tspend")
Spent.__doc__ = """Spend so far: the total and, per tier, the count and spend (updated in place;
the new total is returned)."""
Counts = namedtuple("Counts", "kind k count hit p q")
Counts.__doc__ = """Per-follower greedy state of objective ``kind`` (R_k's ``k``): ``count``,
``hit``, and per candidate the view probability ``p`` and miss factor ``q = 1 - p``."""
Cover = namedtuple("Cover", "covered dense slot left")
Cover.__doc__ = """Unique-reach greedy state: the ``covered`` bitset, the audience bitsets
``dense[slot[c]]`` and the survivors ``left`` (see :func:`_cover_gain`)."""


@njit(nogil=True, cache=True, inline="always")
def _eval_gain(starts, ends, indices, c, counts, cover, use_cover):
    if use_cover:
        covered, dense, slot, left = cover
        return float(_cover_gain(starts, ends, indices, c, covered, dense, slot, left))
    return gain(starts, ends, indices, c, counts.kind, counts.count, counts.hit, counts.k,
                counts.p[c])


@njit(nogil=True, cache=True)
def _celf(starts, ends, indices, cands, lim, sp, fresh, bound, counts, cover, use_cover):
    """Lazy (CELF) cost-benefit greedy, on per-follower counts or on the covered bitset
    (``use_cover``); see :func:`lazy_greedy`. Returns ``(chosen, cover gains, R_k gains,
    expected gains, spent)``."""
    kind, k = counts.kind, counts.k
    heap = [(0.0, np.int64(0), np.int64(0)) for _ in range(0)]
    for i in range(cands.shape[0]):
        c = cands[i]
        if fresh:  # on an empty state the gains are the audience sizes (the row lengths)
            d = float(ends[c] - starts[c])
            g = d * counts.p[c] if kind == EXPECTED else (d if kind != RK or k == 1 else 0.0)
        else:
            g = _eval_gain(starts, ends, indices, c, counts, cover, use_cover)
        bound[c] = g
        heap.append((-g / lim.cost[c], np.int64(c), np.int64(0)))
    heapq.heapify(heap)
    cap = min(cands.shape[0], max(lim.slots, 0))
    chosen = np.empty(cap, dtype=np.int64)
    g_cover = np.zeros(cap, dtype=np.int64)
    g_rk = np.zeros(cap, dtype=np.int64)
    g_exp = np.zeros(cap)
    spent, tcount, tspend = sp
    step = 0
    while len(heap) > 0 and step < cap:
        neg, c, stamp = heap[0]
        t = lim.tier[c]
        cost = lim.cost[c]
        if (spent + cost > lim.budget + 1e-9 or tcount[t] + 1 > lim.tmax[t]
                or tspend[t] + cost > lim.smax[t] + 1e-9):
            heapq.heappop(heap)
            continue
        if stamp != step:
            g = _eval_gain(starts, ends, indices, c, counts, cover, use_cover)
            bound[c] = g
            heapq.heapreplace(heap, (-g / cost, c, np.int64(step)))
            continue
        if neg >= 0.0:
            break
        heapq.heappop(heap)
        if use_cover:
            g_cover[step] = _cover_add(starts, ends, indices, c, cover[0], cover[1], cover[2])
        else:
            g_cover[step], g_rk[step], g_exp[step] = add(starts, ends, indices, c, counts.count,
                                                         counts.hit, k, counts.q[c],
                                                         kind == EXPECTED)
        bound[c] = 0.0
        chosen[step] = c
        spent += cost
        tcount[t] += 1
        tspend[t] += cost
        step += 1
    return chosen[:step], g_cover[:step], g_rk[:step], g_exp[:step], spent


@njit(nogil=True, cache=True)
def lazy_greedy(starts, ends, indices, cands, lim, sp, counts, fresh, bound):
    """Lazy (CELF) cost-benefit greedy under permanent constraints.

    Picks, among ``cands``, the candidate with the largest gain per unit cost whose cost
    fits the budget left, whose tier is under its count cap ``tmax`` and spend cap
    ``smax``, while fewer than ``slots`` creators were added (:class:`Limits` ``lim``);
    ties go to the earlier candidate; stops when the best gain is zero. Stale gains are
    upper bounds (submodularity), so a candidate is re-evaluated only when it reaches the
    top of the heap. Updates the :class:`Counts` ``count``/``hit`` and the :class:`Spent`
    ``sp`` per-tier arrays in place and leaves in ``bound[c]`` the last gain computed for
    each candidate (an upper bound of its gain over the final plan); ``fresh``: the state
    is empty. :func:`cover_greedy` is the same for reach on a bitset.

    Returns ``(chosen, cover gains, R_k gains, expected gains, spent)``.
    """
    no_cover = Cover(np.zeros(0, np.uint64), np.zeros((0, 0), np.uint64), np.zeros(0, np.int64),
                     (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32),
                      np.zeros(1, np.int64)))
    return _celf(starts, ends, indices, cands, lim, sp, fresh, bound, counts, no_cover, False)


@njit(nogil=True, cache=True)
def cover_greedy(starts, ends, indices, cands, lim, sp, cover, fresh, bound):
    """:func:`lazy_greedy` for unique reach with a :class:`Cover` bitset as the only state.

    Gains and additions read a candidate's bitset ``dense[slot[c]]`` word by word when
    ``slot[c] >= 0`` (large audiences), else its followers still uncovered at its last
    evaluation (``left``, see :func:`_cover_gain`) bit by bit. No per-follower counts:
    the frequencies, the R_k curve and the Shapley values come afterwards from
    :func:`replay`, on threads. Returns ``(chosen, reach gains, spent)``.
    """
    none = np.zeros(0)
    counts = Counts(COVER, 1, np.zeros(0, np.uint8), none, none, none)
    chosen, g_cover, _, _, spent = _celf(starts, ends, indices, cands, lim, sp, fresh, bound,
                                         counts, cover, True)
    return chosen, g_cover, spent


@njit(nogil=True, cache=True)
def cover_upper_bound(starts, ends, indices, cands, cost, budget, bound, cover):
    """Best fractional knapsack of the reach gains of ``cands`` over ``covered`` within
    ``budget``, taking candidates by gain per cost. ``bound[c]`` holds an upper bound of
    each gain (the lazy greedy's last one): only candidates that reach the top of the heap
    are evaluated (from what the greedy left of them, ``left``), so every candidate taken
    carries its exact gain and every one left out has a gain per cost no higher than the
    last taken. ``cover``: the :class:`Cover` state. Returns the knapsack value."""
    covered, dense, slot, left = cover
    heap = [(0.0, np.int64(0), False) for _ in range(0)]
    for i in range(cands.shape[0]):
        c = cands[i]
        if bound[c] > 0:
            heap.append((-bound[c] / cost[c], np.int64(c), False))
    heapq.heapify(heap)
    room = budget
    extra = 0.0
    while len(heap) > 0 and room > 0:
        neg, c, exact = heap[0]
        if not exact:
            g = float(_cover_gain(starts, ends, indices, c, covered, dense, slot, left))
            if g <= 0:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (-g / cost[c], c, True))
            continue
        heapq.heappop(heap)
        take = min(1.0, room / cost[c])
        extra += take * (-neg) * cost[c]
        room -= take * cost[c]
    return extra


@njit(nogil=True, cache=True)
def replay(starts, ends, indices, sel, a0, a1, k):
    """The plan ``sel`` added in order, restricted to the accounts ``[a0, a1)`` (rows are
    sorted, so each is cut by binary search; threads take disjoint ranges).

    Returns per step the followers newly reached (``cover``) and newly reached k times
    (``reach_k``), and per creator the exact Shapley values of reach and of R_k
    (``phi1``, ``phik``: each follower reached s times gives 1/s to each of its s
    creators, for R_k only when s >= k; frequencies saturate at 255).
    """
    n_sel = sel.shape[0]
    count = np.zeros(a1 - a0, dtype=np.uint8)
    lo = np.empty(n_sel, dtype=np.int64)
    hi = np.empty(n_sel, dtype=np.int64)
    cover = np.zeros(n_sel, dtype=np.int64)
    reach_k = np.zeros(n_sel, dtype=np.int64)
    for i in range(n_sel):
        row = indices[starts[sel[i]]:ends[sel[i]]]
        lo[i] = starts[sel[i]] + np.searchsorted(row, a0)
        hi[i] = starts[sel[i]] + np.searchsorted(row, a1)
        a = 0
        b = 0
        for j in range(lo[i], hi[i]):
            u = indices[j] - a0
            cu = count[u]
            a += cu == 0
            b += cu == k - 1
            if cu < 255:
                count[u] = cu + 1
        cover[i] = a
        reach_k[i] = b
    phi1 = np.zeros(n_sel)
    phik = np.zeros(n_sel)
    for i in range(n_sel):
        s1 = 0.0
        sk = 0.0
        for j in range(lo[i], hi[i]):
            s = count[indices[j] - a0]
            inv = 1.0 / s
            s1 += inv
            if s >= k:
                sk += inv
        phi1[i] = s1
        phik[i] = sk
    return cover, reach_k, phi1, phik


@njit(nogil=True, cache=True)
def naive_fill(order, cost, excluded, budget):
    """Candidates in ``order`` that still fit the budget, skipping those that do not."""
    chosen = np.empty(order.shape[0], dtype=np.int64)
    n = 0
    spent = 0.0
    for c in order:
        if not excluded[c] and spent + cost[c] <= budget + 1e-9:
            chosen[n] = c
            n += 1
            spent += cost[c]
    return chosen[:n], spent


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
    tptr, tind, _ = transpose_rows_serial(starts, ends, indices, n, False)
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
    return transpose(starts[sel], ends[sel], indices, n)


@njit(nogil=True, cache=True)
def remove(starts, ends, indices, c, count, k):
    """Takes candidate c out of the counts (none saturated); returns the followers that fall
    below k (its loss of R_k)."""
    loss = 0
    for j in range(starts[c], ends[c]):
        u = indices[j]
        if count[u] == k:
            loss += 1
        count[u] -= 1
    return loss


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
