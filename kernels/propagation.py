"""Propagation kernels: Monte Carlo cascades and reverse-reachable (RR) sets.

The propagation graph is the follow graph reversed: information flows from an
account to its followers, so the *followers-of* CSR (``in_indptr``,
``in_indices``) lists each account's out-neighbours in propagation, and the
*following-of* CSR lists its in-neighbours (what RR sets walk backwards).

Randomness is keyed, never shared: simulation (or RR set) ``j`` draws from its
own splitmix64 stream started at ``stream_start(key, j)``, so a result depends on
the seed and ``j`` only, not on how simulations are split over calls or threads.

Monte Carlo (:func:`ic_runs`, :func:`lt_runs`) processes the seeds in the given
order in one simulation: seed ``i`` continues the cascade of seeds ``0..i-1`` in
the same (lazily sampled) world, so the accounts it newly activates are a sample
of its incremental spread and their sum is a sample of the spread of the whole
set. Independent cascade draws each edge once, when its source activates:
``MODE_UNIFORM`` skips to the next live edge with one geometric draw (about
``1 + d·p`` draws for a row of ``d`` edges instead of ``d``); ``MODE_EDGE``
compares one draw per edge with its probability; ``MODE_FIRST_HOP`` gives seeds
their own probability (a creator's view rate) and decides each edge by a hash of
(simulation, edge), so a seed reached earlier by the cascade can re-fire its
edges at its higher seed probability consistently. Linear threshold draws each
account's threshold once per simulation, when a weight first reaches it.

Arrays in, arrays out; no validation here (kolgraph.propagation checks inputs).
"""

import numpy as np
from numba import njit

MODE_UNIFORM = 0
MODE_EDGE = 1
MODE_FIRST_HOP = 2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(nogil=True, cache=True, inline="always")
def mix64(z):
    """splitmix64 finaliser: a bijective hash of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(nogil=True, cache=True)
def stream_start(key, j):
    """Start state of stream ``j`` under ``key`` (both int64)."""
    return mix64(mix64(np.uint64(key) + _GOLDEN) + np.uint64(j) * _GOLDEN)


@njit(nogil=True, cache=True, inline="always")
def _next(state):
    """splitmix64 step: (new state, uniform float in [0, 1))."""
    state = state + _GOLDEN
    return state, (mix64(state) >> _S11) * _INV53


@njit(nogil=True, cache=True, inline="always")
def _hash_uniform(skey, e):
    """Uniform in [0, 1) fixed by (simulation key, edge)."""
    return (mix64(skey ^ (np.uint64(e) * _GOLDEN)) >> _S11) * _INV53


@njit(nogil=True, cache=True, inline="always")
def _skip(state, log1mp):
    """Edges to skip before the next live one, given log(1 - p) < 0."""
    state, u = _next(state)
    return state, int(np.floor(np.log(1.0 - u) / log1mp))


@njit(nogil=True, cache=True)
def _seed_rank(sorted_seeds, order_of_sorted, v):
    """Position in the given seed order of account ``v``, or a huge number if not a seed."""
    lo, hi = 0, len(sorted_seeds)
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_seeds[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(sorted_seeds) and sorted_seeds[lo] == v:
        return order_of_sorted[lo]
    return 1 << 30


@njit(nogil=True, cache=True)
def ic_runs(indptr, indices, mode, p, edge_p, seeds, seed_p, key, sim0, nsim,
            mark, queue, spread, inc_sum, inc_sq):
    """Independent-cascade simulations ``sim0 .. sim0 + nsim - 1``.

    ``indptr``/``indices``: propagation out-neighbours (followers-of CSR).
    ``mode``: MODE_UNIFORM (probability ``p``), MODE_EDGE (``edge_p`` aligned
    with ``indices``) or MODE_FIRST_HOP (seeds use ``seed_p[i]``, other edges
    ``edge_p``, or ``p`` when ``edge_p`` is empty). ``mark`` (uint8, n, all zero,
    and left so: 2 MB per million accounts, so it mostly stays in cache) and
    ``queue`` (int32, n + k: every activation, plus seeds fired again) are the
    caller's scratch, used by one call at a time. Writes ``spread[s]`` for each simulation ``s`` of the
    call (indexed from 0) and adds each seed's newly activated count and its
    square to ``inc_sum``/``inc_sq``.
    """
    k = len(seeds)
    order = np.argsort(seeds)
    sorted_seeds = seeds[order]
    order_of_sorted = np.empty(k, np.int64)
    for i in range(k):
        order_of_sorted[i] = order[i]
    log1mp = np.log1p(-p) if 0.0 < p < 1.0 else 0.0
    uniform_rest = len(edge_p) == 0
    for s in range(nsim):
        sim = sim0 + s
        state = stream_start(key, sim)
        skey = state
        total = 0
        tail = 0  # the queue keeps the whole simulation's activations, to clear the marks after
        for i in range(k):
            v0 = seeds[i]
            head = tail
            newly = 0
            if mark[v0] == 0:
                mark[v0] = 1
                newly += 1
                queue[tail] = v0
                tail += 1
            elif mode == MODE_FIRST_HOP:
                queue[tail] = v0  # already active: fire again at the seed probability
                tail += 1
            while head < tail:
                v = queue[head]
                head += 1
                a = indptr[v]
                b = indptr[v + 1]
                if mode == MODE_UNIFORM:
                    if p >= 1.0:
                        for e in range(a, b):
                            u = indices[e]
                            if mark[u] == 0:
                                mark[u] = 1
                                newly += 1
                                queue[tail] = u
                                tail += 1
                    elif p > 0.0:
                        e = a
                        while True:
                            state, jump = _skip(state, log1mp)
                            e += jump
                            if e >= b:
                                break
                            u = indices[e]
                            if mark[u] == 0:
                                mark[u] = 1
                                newly += 1
                                queue[tail] = u
                                tail += 1
                            e += 1
                elif mode == MODE_EDGE:
                    for e in range(a, b):
                        u = indices[e]
                        if mark[u] != 0:
                            continue  # an edge into an active account cannot matter
                        state, x = _next(state)
                        if x < edge_p[e]:
                            mark[u] = 1
                            newly += 1
                            queue[tail] = u
                            tail += 1
                else:
                    r = _seed_rank(sorted_seeds, order_of_sorted, v)
                    for e in range(a, b):
                        u = indices[e]
                        if mark[u] != 0:
                            continue
                        if r <= i:
                            q = seed_p[r]
                        elif uniform_rest:
                            q = p
                        else:
                            q = edge_p[e]
                        if _hash_uniform(skey, e) < q:
                            mark[u] = 1
                            newly += 1
                            queue[tail] = u
                            tail += 1
            total += newly
            inc_sum[i] += newly
            inc_sq[i] += newly * newly
        for t in range(tail):
            mark[queue[t]] = 0
        spread[s] = total


@njit(nogil=True, cache=True)
def lt_runs(indptr, indices, p, edge_w, seeds, key, sim0, nsim, mark, queue, tmark, theta,
            acc, spread, inc_sum, inc_sq):
    """Linear-threshold simulations ``sim0 .. sim0 + nsim - 1``.

    Edge weights are ``edge_w`` aligned with ``indices``, or ``p`` for every edge
    when ``edge_w`` is empty; each account's incoming weights sum to at most 1.
    An account activates once the weights from its active in-neighbours reach its
    threshold, uniform on (0, 1]. ``tmark`` (int32), ``theta`` and ``acc``
    (float64) are per-account scratch like ``mark``. Outputs as :func:`ic_runs`.
    """
    k = len(seeds)
    uniform = len(edge_w) == 0
    for s in range(nsim):
        sim = sim0 + s
        stamp = np.int32(sim + 1)
        state = stream_start(key, sim)
        total = 0
        for i in range(k):
            v0 = seeds[i]
            head = 0
            tail = 0
            newly = 0
            if mark[v0] != stamp:
                mark[v0] = stamp
                newly += 1
                queue[tail] = v0
                tail += 1
            while head < tail:
                v = queue[head]
                head += 1
                for e in range(indptr[v], indptr[v + 1]):
                    u = indices[e]
                    if mark[u] == stamp:
                        continue
                    if tmark[u] != stamp:
                        tmark[u] = stamp
                        state, x = _next(state)
                        theta[u] = 1.0 - x
                        acc[u] = 0.0
                    acc[u] += p if uniform else edge_w[e]
                    if acc[u] >= theta[u]:
                        mark[u] = stamp
                        newly += 1
                        queue[tail] = u
                        tail += 1
            total += newly
            inc_sum[i] += newly
            inc_sq[i] += newly * newly
        spread[s] = total


# --- reverse-reachable sets ----------------------------------------------------------------
@njit(nogil=True, cache=True, inline="always")
def _cand(cand_of, u):
    return u if len(cand_of) == 0 else cand_of[u]


@njit(nogil=True, cache=True)
def _unmark(mark, queue, tail, aux, n_aux):
    for t in range(tail):
        mark[queue[t]] = 0
    for t in range(n_aux):
        mark[aux[t]] = 0


@njit(nogil=True, cache=True)
def rr_fill(rev_indptr, rev_indices, model, p, wc, edge_p, seed_p, cand_of, n, key, j0, count,
            mark, queue, aux, ptr, items, n_sets, n_items):
    """Draw RR sets ``j0 .. j0 + count - 1`` into flat buffers, in place.

    ``rev_indptr``/``rev_indices``: propagation in-neighbours (following-of CSR).
    Each set starts from a uniform random root and walks edges backwards: for
    independent cascade (``model`` 0) every in-edge is live with its probability
    (``1/d`` for all ``d`` in-edges of ``w`` when ``wc``, else ``edge_p`` aligned
    with ``rev_indices`` when not empty, else ``p``); for linear threshold
    (``model`` 1) one in-edge is taken with its weight (or none), so the set is a
    path. When ``seed_p`` is not empty (first-hop model, IC only), an
    in-neighbour ``x`` that fails the relay probability still joins the set,
    without being expanded, when the same draw is below ``seed_p[x]`` (its
    probability as a seed; callers ensure ``seed_p >=`` relay probabilities).

    Only candidates are stored, as ``cand_of[x]`` when ``cand_of[x] >= 0`` (every
    account, as itself, when ``cand_of`` is empty): coverage needs nothing else.
    The sets are appended after the ``n_sets`` sets and ``n_items`` items already
    in ``ptr``/``items`` (set ``s`` is ``items[ptr[s]:ptr[s+1]]``; ``ptr`` needs room
    for ``count`` more). ``mark`` (uint8, n, all zero, and left so), ``queue``
    (int32, n) and ``aux`` (int32, n when first-hop, else empty) are scratch.
    Stops early, before a set that does not fit in ``items``; returns ``(sets
    drawn, new n_items)``: the caller grows ``items`` and continues.
    """
    first_hop = len(seed_p) > 0
    cap = len(items)
    for c in range(count):
        j = j0 + c
        state, x = _next(stream_start(key, j))
        root = min(int(x * n), n - 1)
        start = n_items
        full = False
        mark[root] = 1
        head = 0
        tail = 1
        n_aux = 0
        queue[0] = root
        cr = _cand(cand_of, root)
        if cr >= 0:
            if n_items == cap:
                full = True
            else:
                items[n_items] = cr
                n_items += 1
        while head < tail and not full:
            w = queue[head]
            head += 1
            a = rev_indptr[w]
            b = rev_indptr[w + 1]
            if a == b:
                continue
            if model == 1:
                state, x = _next(state)
                nxt = -1
                if len(edge_p) == 0:
                    if wc:  # weights 1/d sum to 1: exactly one in-edge
                        nxt = rev_indices[a + min(int(x * (b - a)), b - a - 1)]
                    else:
                        e = a + int(x / p) if p > 0.0 else b
                        if e < b:
                            nxt = rev_indices[e]
                else:
                    cum = 0.0
                    for e in range(a, b):
                        cum += edge_p[e]
                        if x < cum:
                            nxt = rev_indices[e]
                            break
                if nxt >= 0 and mark[nxt] == 0:
                    mark[nxt] = 1
                    queue[tail] = nxt
                    tail += 1
                    cu = _cand(cand_of, nxt)
                    if cu >= 0:
                        if n_items == cap:
                            full = True
                        else:
                            items[n_items] = cu
                            n_items += 1
                continue
            if first_hop or len(edge_p) > 0:
                for e in range(a, b):
                    u = rev_indices[e]
                    if mark[u] == 1:
                        continue
                    state, x = _next(state)
                    if len(edge_p) > 0:
                        q = edge_p[e]
                    elif wc:
                        q = 1.0 / (b - a)
                    else:
                        q = p
                    cu = _cand(cand_of, u)
                    if x < q:
                        if mark[u] != 2 and cu >= 0:
                            if n_items == cap:
                                full = True
                                break
                            items[n_items] = cu
                            n_items += 1
                        mark[u] = 1
                        queue[tail] = u
                        tail += 1
                    elif first_hop and mark[u] == 0 and cu >= 0 and x < seed_p[u]:
                        if n_items == cap:
                            full = True
                            break
                        mark[u] = 2  # in the set as a seed only: not expanded (yet)
                        aux[n_aux] = u
                        n_aux += 1
                        items[n_items] = cu
                        n_items += 1
                continue
            q = 1.0 / (b - a) if wc else p
            if q >= 1.0:
                for e in range(a, b):
                    u = rev_indices[e]
                    if mark[u] == 0:
                        mark[u] = 1
                        queue[tail] = u
                        tail += 1
                        cu = _cand(cand_of, u)
                        if cu >= 0:
                            if n_items == cap:
                                full = True
                                break
                            items[n_items] = cu
                            n_items += 1
            elif q > 0.0:
                log1mq = np.log1p(-q)
                e = a
                while True:
                    state, jump = _skip(state, log1mq)
                    e += jump
                    if e >= b:
                        break
                    u = rev_indices[e]
                    if mark[u] == 0:
                        mark[u] = 1
                        queue[tail] = u
                        tail += 1
                        cu = _cand(cand_of, u)
                        if cu >= 0:
                            if n_items == cap:
                                full = True
                                break
                            items[n_items] = cu
                            n_items += 1
                    e += 1
        _unmark(mark, queue, tail, aux, n_aux)
        if full:
            return c, start
        ptr[n_sets + c + 1] = n_items
    return count, n_items


@njit(nogil=True, cache=True)
def _compact(items, loc):
    """Local ids of the candidates that occur in ``items``, in order of first appearance.

    ``loc`` (int32, one per candidate, all -1) receives each occurring candidate's local
    id; the caller resets it from the returned ``act``. Returns ``(act, local items)``:
    work then scales with the RR sets, not with the number of candidates.
    """
    act = np.empty(min(len(items), len(loc)), np.int64)
    lit = np.empty(len(items), np.int32)
    n_act = 0
    for t in range(len(items)):
        c = items[t]
        if loc[c] < 0:
            loc[c] = n_act
            act[n_act] = c
            n_act += 1
        lit[t] = loc[c]
    return act[:n_act], lit


@njit(nogil=True, cache=True)
def _inverted(ptr, lit, m):
    """Local candidate -> RR sets containing it, as CSR (``cptr``, ``sets``)."""
    cnt = np.zeros(m + 1, np.int64)
    for t in range(len(lit)):
        cnt[lit[t] + 1] += 1
    for c in range(m):
        cnt[c + 1] += cnt[c]
    fill = cnt[:m].copy()
    sets = np.empty(len(lit), np.int32)
    for j in range(len(ptr) - 1):
        for t in range(ptr[j], ptr[j + 1]):
            c = lit[t]
            sets[fill[c]] = j
            fill[c] += 1
    return cnt, sets


@njit(nogil=True, cache=True)
def _topk_sum(deg, taken, k):
    """Sum of the ``k`` largest ``deg`` among the candidates not yet taken."""
    best = np.zeros(k, np.int64)
    low = 0  # position of the smallest kept value
    for c in range(len(deg)):
        d = deg[c]
        if taken[c] or d <= best[low]:
            continue
        best[low] = d
        for q in range(k):
            if best[q] < best[low]:
                low = q
    return best.sum()


@njit(nogil=True, cache=True)
def _better(d, c, best_d, best_c):
    """More coverage wins; equal coverage goes to the lower candidate index."""
    return d > best_d or (d == best_d and c < best_c)


@njit(nogil=True, cache=True)
def greedy_cover(ptr, items, m, k, cost, budget, loc):
    """Greedy maximum coverage of RR sets by candidates ``0 .. m-1``.

    Without costs (``cost`` empty): ``k`` picks, each the candidate covering the
    most RR sets not yet covered (ties to the lower index; once nothing adds
    coverage, the lowest indices not taken). With costs: the cost-effective greedy
    (most new sets per unit cost among those still affordable within ``budget``),
    then the best single affordable candidate if it alone covers more. Returns
    ``(picked candidate indices, new sets covered by each, upper)``: without costs,
    ``upper`` bounds the coverage of the best ``k`` candidates (min over the greedy
    steps of covered + the k largest marginal gains, as in OPIM-C); with costs it
    is -1. ``loc`` is int32 scratch, one per candidate, all -1 (and left so):
    only candidates occurring in the sets are visited, so the cost does not grow
    with ``m``.
    """
    act, lit = _compact(items, loc)
    n_act = len(act)
    cptr, sets = _inverted(ptr, lit, n_act)
    deg = np.empty(n_act, np.int64)
    for c in range(n_act):
        deg[c] = cptr[c + 1] - cptr[c]
    covered = np.zeros(len(ptr) - 1, np.bool_)
    taken = np.zeros(n_act, np.bool_)
    budgeted = len(cost) > 0
    cap = k if not budgeted else n_act
    picks = np.empty(cap, np.int64)
    gains = np.empty(cap, np.int64)
    n_picked = 0
    left = budget
    single, single_gain = -1, -1
    upper = -1
    got = 0
    scan = 0  # candidates below it that occur in no set were taken as zero-gain picks
    if budgeted:
        for c in range(n_act):
            if cost[act[c]] <= budget and _better(deg[c], act[c], single_gain,
                                                  act[single] if single >= 0 else m):
                single, single_gain = c, deg[c]
    while n_picked < cap:
        best = -1
        if budgeted:
            best_ratio = -1.0
            for c in range(n_act):
                if taken[c] or deg[c] <= 0 or cost[act[c]] > left:
                    continue
                cc = cost[act[c]]
                ratio = deg[c] / cc if cc > 0 else np.inf
                if best < 0 or ratio > best_ratio or (ratio == best_ratio and act[c] < act[best]):
                    best, best_ratio = c, ratio
            if best < 0:
                break
            left -= cost[act[best]]
        else:
            bound = got + _topk_sum(deg, taken, k)
            if upper < 0 or bound < upper:
                upper = bound
            for c in range(n_act):
                if not taken[c] and deg[c] > 0 and (
                        best < 0 or _better(deg[c], act[c], deg[best], act[best])):
                    best = c
            if best < 0:  # nothing adds coverage: the lowest index not taken
                while True:
                    c = scan
                    scan += 1
                    if loc[c] < 0:
                        picks[n_picked] = c
                        break
                    if not taken[loc[c]]:
                        best = loc[c]
                        break
                if best < 0:
                    gains[n_picked] = 0
                    n_picked += 1
                    continue
        taken[best] = True
        picks[n_picked] = act[best]
        gains[n_picked] = deg[best]
        got += deg[best]
        n_picked += 1
        for t in range(cptr[best], cptr[best + 1]):
            j = sets[t]
            if not covered[j]:
                covered[j] = True
                for q in range(ptr[j], ptr[j + 1]):
                    deg[lit[q]] -= 1
    if budgeted and single >= 0 and single_gain > got:
        picks[0] = act[single]
        gains[0] = single_gain
        n_picked = 1
    if not budgeted:
        bound = got + _topk_sum(deg, taken, k)
        if upper < 0 or bound < upper:
            upper = bound
    for c in range(n_act):
        loc[act[c]] = -1
    return picks[:n_picked].copy(), gains[:n_picked].copy(), upper


@njit(nogil=True, cache=True)
def coverage(ptr, items, chosen):
    """Number of RR sets holding at least one candidate with ``chosen[c]`` true."""
    hit = 0
    for j in range(len(ptr) - 1):
        for t in range(ptr[j], ptr[j + 1]):
            if chosen[items[t]]:
                hit += 1
                break
    return hit
