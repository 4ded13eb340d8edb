"""Reverse-reachable (RR) set kernels and greedy maximum coverage of the sets (IMM, OPIM-C).

An RR set is the set of accounts that would have activated a random root: drawn by
walking the *following-of* CSR (propagation in-neighbours) backwards. Set ``j``
draws from its own splitmix64 stream started at ``stream_start(key, j)``, as the
Monte Carlo kernels of :mod:`kolgraph.kernels.propagation` do, so a result depends on
the seed and ``j`` only.

Arrays in, arrays out; no validation here (kolgraph.propagation checks inputs).
"""

import numpy as np
from kolgraph.kernels._cascade import activate, candidate, join, record
from kolgraph.kernels._rng import geometric_skip, next_uniform, stream_start
from kolgraph.kernels.csr import transpose_rows_serial
from numba import njit


@njit(nogil=True, cache=True)
def _unmark(mark, queue, tail, aux, n_aux):
    for t in range(tail):
        mark[queue[t]] = 0
    for t in range(n_aux):
        mark[aux[t]] = 0


# size: per-node expansion stays inline in the hot loop (helpers measured 1.5-2x slower)
@njit(nogil=True, cache=True)
def _rr_set(rev_indptr, rev_indices, model, p, wc, edge_p, seed_p, cand_of, n, key, j, mark,
            queue, aux, items, n_items):
    """Draw RR set ``j`` into ``items`` from ``n_items`` on (see :func:`rr_fill`); returns
    ``(n_items, full)``; marks are cleared."""
    # Longer than 80 lines on purpose: the per-node expansion stays inline in this loop;
    # split into per-model helpers (numba inline or not) it measured 1.5-2x as slow.
    first_hop = len(seed_p) > 0
    state, x = next_uniform(stream_start(key, j))
    root = min(int(x * n), n - 1)
    tail = activate(mark, queue, 0, root, 1)
    n_items, full = record(items, n_items, candidate(cand_of, root))
    head = 0
    n_aux = 0
    while head < tail and not full:
        w = queue[head]
        head += 1
        a = rev_indptr[w]
        b = rev_indptr[w + 1]
        if a == b:
            continue
        if model == 1:  # linear threshold: at most one in-edge, taken with its weight
            state, x = next_uniform(state)
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
                tail, n_items, full = join(mark, queue, tail, nxt, items, n_items, cand_of, True)
            continue
        if first_hop or len(edge_p) > 0:  # one draw per in-edge
            for e in range(a, b):
                u = rev_indices[e]
                if mark[u] == 1:
                    continue
                state, x = next_uniform(state)
                if len(edge_p) > 0:
                    q = edge_p[e]
                elif wc:
                    q = 1.0 / (b - a)
                else:
                    q = p
                cu = candidate(cand_of, u)
                if x < q:
                    if mark[u] == 2:  # already recorded as a seed only: now expanded too
                        tail = activate(mark, queue, tail, u, 1)
                        continue
                    tail, n_items, full = join(mark, queue, tail, u, items, n_items, cand_of, True)
                    if full:
                        break
                elif first_hop and mark[u] == 0 and cu >= 0 and x < seed_p[u]:
                    n_items, full = record(items, n_items, cu)
                    if full:
                        break
                    mark[u] = 2  # in the set as a seed only: not expanded (yet)
                    aux[n_aux] = u
                    n_aux += 1
            continue
        q = 1.0 / (b - a) if wc else p  # one probability: geometric skips between live edges
        if q <= 0.0:
            continue
        log1mq = np.log1p(-q) if q < 1.0 else 0.0
        e = a
        while True:
            if q < 1.0:
                state, jump = geometric_skip(state, log1mq)
                e += jump
            if e >= b:
                break
            u = rev_indices[e]
            if mark[u] == 0:
                tail, n_items, full = join(mark, queue, tail, u, items, n_items, cand_of, True)
                if full:
                    break
            e += 1
    _unmark(mark, queue, tail, aux, n_aux)
    return n_items, full


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
    for c in range(count):
        start = n_items
        n_items, full = _rr_set(rev_indptr, rev_indices, model, p, wc, edge_p, seed_p, cand_of,
                                n, key, j0 + c, mark, queue, aux, items, n_items)
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
def _best_single(deg, act, cost, budget, m):
    """The affordable candidate covering the most sets alone: ``(local index, coverage)``."""
    single, single_gain = -1, -1
    for c in range(len(act)):
        if cost[act[c]] <= budget and _better(deg[c], act[c], single_gain,
                                              act[single] if single >= 0 else m):
            single, single_gain = c, deg[c]
    return single, single_gain


@njit(nogil=True, cache=True)
def _most_per_cost(deg, act, cost, taken, left):
    """The affordable candidate with the most new sets per unit cost, or -1."""
    best = -1
    best_ratio = -1.0
    for c in range(len(act)):
        if taken[c] or deg[c] <= 0 or cost[act[c]] > left:
            continue
        cc = cost[act[c]]
        ratio = deg[c] / cc if cc > 0 else np.inf
        if best < 0 or ratio > best_ratio or (ratio == best_ratio and act[c] < act[best]):
            best, best_ratio = c, ratio
    return best


@njit(nogil=True, cache=True)
def _most_new(deg, act, taken):
    """The candidate adding the most coverage (ties to the lower index), or -1."""
    best = -1
    for c in range(len(act)):
        if not taken[c] and deg[c] > 0 and (
                best < 0 or _better(deg[c], act[c], deg[best], act[best])):
            best = c
    return best


@njit(nogil=True, cache=True)
def _cover_sets(best, cptr, sets, ptr, lit, covered, deg):
    """Mark the sets of local candidate ``best`` covered, lowering the others' gains."""
    for t in range(cptr[best], cptr[best + 1]):
        j = sets[t]
        if not covered[j]:
            covered[j] = True
            for q in range(ptr[j], ptr[j + 1]):
                deg[lit[q]] -= 1


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
    cptr, sets, _ = transpose_rows_serial(ptr[:-1], ptr[1:], lit, n_act, False)  # candidate -> sets
    deg = cptr[1:] - cptr[:-1]
    covered = np.zeros(len(ptr) - 1, np.bool_)
    taken = np.zeros(n_act, np.bool_)
    budgeted = len(cost) > 0
    cap = k if not budgeted else n_act
    picks = np.empty(cap, np.int64)
    gains = np.empty(cap, np.int64)
    n_picked = 0
    left = budget
    upper = -1
    got = 0
    scan = 0  # candidates below it that occur in no set were taken as zero-gain picks
    while n_picked < cap:
        if budgeted:
            best = _most_per_cost(deg, act, cost, taken, left)
            if best < 0:
                break
            left -= cost[act[best]]
        else:
            bound = got + _topk_sum(deg, taken, k)
            if upper < 0 or bound < upper:
                upper = bound
            best = _most_new(deg, act, taken)
            while best < 0:  # nothing adds coverage: the lowest index not taken
                c = scan
                scan += 1
                if loc[c] < 0:  # in no set: a zero-gain pick
                    picks[n_picked] = c
                    gains[n_picked] = 0
                    n_picked += 1
                    break
                if not taken[loc[c]]:
                    best = loc[c]
            if best < 0:
                continue
        taken[best] = True
        picks[n_picked] = act[best]
        gains[n_picked] = deg[best]
        got += deg[best]
        n_picked += 1
        _cover_sets(best, cptr, sets, ptr, lit, covered, deg)
    if budgeted:
        single, single_gain = _best_single(cptr[1:] - cptr[:-1], act, cost, budget, m)
        if single >= 0 and single_gain > got:
            picks[0] = act[single]
            gains[0] = single_gain
            n_picked = 1
    else:
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
