"""Slow pure-Python references for the fraud kernels (same definitions, no cleverness)."""

from __future__ import annotations

import math
import statistics


def fraudar(rows: list[list[int]], n_cols: int, alive: set[tuple[int, int]], c: float = 5.0):
    """Greedy peeling by linear scans: the block ``(rows, cols)`` maximising f(S)/|S| and its score.

    ``rows[r]`` lists the columns of row r in ascending order; only edges in ``alive`` count.
    Nodes are removed by smallest (cost, node), rows numbered before columns.
    """
    m = len(rows)
    deg = [0] * n_cols
    for r, cs in enumerate(rows):
        for j in cs:
            if (r, j) in alive:
                deg[j] += 1
    w = [1.0 / math.log(d + c) for d in deg]
    key: dict[int, float] = {}
    f = 0.0
    for r, cs in enumerate(rows):
        live = [j for j in cs if (r, j) in alive]
        if live:
            s = 0.0
            for j in live:
                s += w[j]
            key[r] = s
            f += s
    for j in range(n_cols):
        if deg[j]:
            key[m + j] = deg[j] * w[j]
    if not key:
        return set(), set(), 0.0
    members_of_col = {j: [r for r, cs in enumerate(rows) if j in cs and (r, j) in alive]
                      for j in range(n_cols)}
    left = set(key)
    best, best_k, order = f / len(left), 0, []
    while any(x < m for x in left) and any(x >= m for x in left):
        x = min(left, key=lambda y: (key[y], y))
        left.remove(x)
        order.append(x)
        f -= key[x]
        if x < m:
            for j in rows[x]:
                if (x, j) in alive and m + j in left:
                    key[m + j] -= w[j]
        else:
            for r in members_of_col[x - m]:
                if r in left:
                    key[r] -= w[x - m]
        if f / len(left) > best:
            best, best_k = f / len(left), len(order)
    block = set(key) - set(order[:best_k])
    return {x for x in block if x < m}, {x - m for x in block if x >= m}, best


def lockstep(follows: dict[int, dict[int, int]], dt: int, n_min: int, m: int, burst: float):
    """Per follower, the distinct creators in whose hot windows it followed, and its group.

    ``follows[creator][follower] = time``. Windows: ``(t + grid * (dt // 2)) // dt`` for
    grid 0 and 1; hot when holding at least max(n_min, burst * deg * dt / (span + dt)) follows.
    Groups: lockstep followers sharing a hot window, named by their smallest id.
    """
    hot_creators: dict[int, set[int]] = {}
    hot_windows = []
    for cr, fol in follows.items():
        if len(fol) < n_min:
            continue
        ts = list(fol.values())
        span = max(ts) - min(ts)
        need = max(n_min, burst * (len(fol) * dt / max(span + dt, dt)))
        for grid in (0, 1):
            windows: dict[int, list[int]] = {}
            for u, t in fol.items():
                windows.setdefault((t + grid * (dt // 2)) // dt, []).append(u)
            for members in windows.values():
                if len(members) >= need:
                    hot_windows.append(members)
                    for u in members:
                        hot_creators.setdefault(u, set()).add(cr)
    hits = {u: len(s) for u, s in hot_creators.items()}
    parent = {u: u for u, k in hits.items() if k >= m}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for members in hot_windows:
        ls = [u for u in members if u in parent]
        for u in ls[1:]:
            a, b = find(u), find(ls[0])
            if a != b:
                parent[max(a, b)] = min(a, b)
    return hits, {u: find(u) for u in parent}


def spikes(times: list[int], day: int, z: float, min_gain: int, window: int = 28):
    """Spike days of one creator: ``[(day, gain, baseline, scale)]``. Each day with at
    least ``window // 2`` days before it is judged against those (at most ``window``):
    a rising line through the medians of their older and recent halves, times the median
    same-weekday ratio to that line, spread from the ratios' MAD (the kernel's rule,
    written out from its definition)."""
    if len(times) < min_gain:
        return []
    days = [t // day for t in times]
    lo, hi = min(days), max(days)
    gains = [0] * (hi - lo + 1)
    for d in days:
        gains[d - lo] += 1
    out = []
    for i, g in enumerate(gains):
        hist = list(range(max(0, i - window), i))          # day indices before i
        if g < min_gain or len(hist) < max(window // 2, 2):
            continue
        older, recent = hist[:len(hist) // 2], hist[len(hist) // 2:]
        ma = statistics.median(gains[x] for x in older)
        mb = statistics.median(gains[x] for x in recent)
        ca, cb = statistics.mean(older), statistics.mean(recent)
        slope = max((mb - ma) / (cb - ca), 0.0)
        ratio = {x: gains[x] / max(mb + slope * (x - cb), 1.0) for x in hist}
        same = [ratio[x] for x in hist if (i - x) % 7 == 0]
        season = statistics.median(same) if len(same) >= 2 else 1.0
        base = (mb + slope * (i - cb)) * season
        med = statistics.median(ratio.values())
        mad = statistics.median(abs(r - med) for r in ratio.values())
        scale = max(1.4826 * mad * base, math.sqrt(max(base, 1.0)))
        if g >= base + z * scale:
            out.append((lo + i, g, base, scale))
    return out


def seeded_blocks(rows: list[list[int]], row_ok: set[int], col_ok: set[int],
                  seeds: list[tuple[int, int]], rho: float, max_iter: int):
    """Lockstep blocks grown from seed column pairs, by set operations: ``[(F, T, edges)]``."""
    follows = [set(r) for r in rows]
    done: set[int] = set()
    out = []

    def cols_of(f):
        hits: dict[int, int] = {}
        for r in f:
            for j in follows[r] & col_ok:
                hits[j] = hits.get(j, 0) + 1
        t = {j for j, k in hits.items() if k >= rho * len(f)}
        return t, sum(hits[j] for j in t)

    def rows_of(t):
        return {r for r in row_ok if len(follows[r] & t) >= 2 and len(follows[r] & t) >= rho * len(t)}

    for a, b in seeds:
        if a in done or b in done:
            continue
        done |= {a, b}
        f = {r for r in row_ok if a in follows[r] and b in follows[r]}
        for _ in range(max_iter):
            new = rows_of(cols_of(f)[0])
            same = new == f
            f = new
            if same or not f:
                break
        t, edges = cols_of(f)
        fresh = bool(t - done)
        done |= t
        if f and fresh:
            out.append((f, t, edges))
    return out


def candidate_pairs(rows: list[list[int]], col_ok: set[int], row_ok: set[int], col_deg: list[int],
                    m: float, min_co: int, log_thr: float) -> list[tuple[int, int, int]]:
    """Every eligible column pair by set intersection, kept when ``log P[X = count] < log_thr``."""
    members: dict[int, set[int]] = {}
    for r in row_ok:
        for j in rows[r]:
            members.setdefault(j, set()).add(r)
    out = []
    ok = sorted(col_ok)
    for i, a in enumerate(ok):
        for b in ok[i + 1:]:
            c = len(members.get(a, set()) & members.get(b, set()))
            if c < min_co:
                continue
            lam = col_deg[a] * col_deg[b] / m
            if c * math.log(lam) - lam - math.lgamma(c + 1) < log_thr:
                out.append((a, b, c))
    return out
