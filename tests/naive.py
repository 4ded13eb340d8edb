"""Slow, obviously-correct references for the graph core (the oracles of the tests).

Everything here is plain Python (sets, dicts, sorted lists), the ``csv``/``json``
modules or networkx, never kolgraph, so a test that compares kolgraph with these
functions compares two independent implementations.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import networkx as nx
import numpy as np

TIERS = ("nano", "micro", "mid", "macro", "mega")


# --- ids --------------------------------------------------------------------------
def id_key(x):
    """Sort key of an external id: numeric order for ints, UTF-8 byte order for strings."""
    return x.encode("utf-8") if isinstance(x, str) else x


def sorted_ids(ids) -> list:
    """Distinct ids in internal-id order."""
    return sorted(set(ids), key=id_key)


# --- edges ------------------------------------------------------------------------
def edge_set(src, dst) -> set[tuple]:
    """Distinct ``(follower, followee)`` pairs without self-follows."""
    return {(u, v) for u, v in zip(src, dst, strict=True) if u != v}


def edge_counts(src, dst) -> tuple[int, int]:
    """``(self_follows, duplicate_edges)``: duplicates counted among non-self edges."""
    n_self = sum(1 for u, v in zip(src, dst, strict=True) if u == v)
    non_self = len(src) - n_self
    return n_self, non_self - len(edge_set(src, dst))


def earliest_times(src, dst, times) -> dict[tuple, int]:
    """Earliest time of every distinct non-self edge."""
    best: dict[tuple, int] = {}
    for u, v, t in zip(src, dst, times, strict=True):
        if u != v and ((u, v) not in best or t < best[(u, v)]):
            best[(u, v)] = int(t)
    return best


def digraph(src, dst, nodes=()) -> nx.DiGraph:
    """The networkx oracle: a DiGraph of the edges minus self-loops (duplicates collapse)."""
    G = nx.DiGraph()
    G.add_nodes_from(src)
    G.add_nodes_from(dst)
    G.add_nodes_from(nodes)
    G.add_edges_from((u, v) for u, v in zip(src, dst, strict=True) if u != v)
    return G


# --- reading a FollowerGraph back, naively ------------------------------------------
def csr_rows(indptr, indices) -> list[list[int]]:
    """Rows of a CSR as Python lists."""
    indptr = [int(x) for x in indptr]
    indices = [int(x) for x in indices]
    return [indices[indptr[r]: indptr[r + 1]] for r in range(len(indptr) - 1)]


def transpose(indptr, indices, n: int) -> tuple[list[int], list[int]]:
    """Transpose a CSR by building the rows of the other direction with lists."""
    rows: list[list[int]] = [[] for _ in range(n)]
    for r, row in enumerate(csr_rows(indptr, indices)):
        for c in row:
            rows[c].append(r)
    out_indptr = [0]
    out_indices: list[int] = []
    for row in rows:
        row.sort()
        out_indices.extend(row)
        out_indptr.append(len(out_indices))
    return out_indptr, out_indices


def graph_edges(g) -> set[tuple]:
    """External ``(follower, followee)`` pairs of a FollowerGraph, read row by row."""
    names = g.external(list(range(g.n_accounts)))
    out = set()
    for v, row in enumerate(csr_rows(g.in_indptr, g.in_indices)):
        for u in row:
            out.add((names[u], names[v]))
    return out


def graph_edge_times(g) -> dict[tuple, int]:
    """External ``(follower, followee) -> followed_at`` of a FollowerGraph."""
    names = g.external(list(range(g.n_accounts)))
    indptr = [int(x) for x in g.in_indptr]
    out = {}
    for v in range(g.n_accounts):
        for p in range(indptr[v], indptr[v + 1]):
            out[(names[int(g.in_indices[p])], names[v])] = int(g.followed_at[p])
    return out


# --- tiers ------------------------------------------------------------------------
def tier(followers: int) -> str:
    """Tier by follower count, written out as the product spec states it."""
    if followers < 10_000:
        return "nano"
    if followers < 100_000:
        return "micro"
    if followers < 500_000:
        return "mid"
    if followers < 1_000_000:
        return "macro"
    return "mega"


# --- real data files --------------------------------------------------------------
def read_edge_list(path: str | Path) -> tuple[list[int], list[int]]:
    """SNAP / KONECT edge list: comment lines start with ``#`` or ``%``; the first two
    whitespace-separated fields of every other line are ``src dst``."""
    src: list[int] = []
    dst: list[int] = []
    with open(path) as fh:
        for line in fh:
            if not line.strip() or line.startswith(("#", "%")):
                continue
            a, b = line.split()[:2]
            src.append(int(a))
            dst.append(int(b))
    return src, dst


def read_brand_graph(path: str | Path) -> tuple[list[int], list[int], list[int]]:
    """Twitter brand follower graph JSON: ``(src, dst, labelled node ids)``."""
    data = json.loads(Path(path).read_text())
    src = [int(a) for a, _ in data["edges"]]
    dst = [int(b) for _, b in data["edges"]]
    return src, dst, [int(k) for k in data["labels"]]


def followers_by_account(src, dst) -> dict:
    """``followee -> sorted followers`` (distinct, no self-follows)."""
    rows = defaultdict(set)
    for u, v in zip(src, dst, strict=True):
        if u != v:
            rows[v].add(u)
    return {v: sorted(us, key=id_key) for v, us in rows.items()}


def unique_inverse(values) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique`` with the inverse, as int64 / int32 arrays."""
    uniq, inv = np.unique(np.asarray(values, dtype=np.int64), return_inverse=True)
    return uniq, inv.reshape(-1).astype(np.int32)


# --- reach (Python sets) ----------------------------------------------------------
def audiences(followers_of: dict, creators, allowed=None) -> list[set]:
    """Follower sets of ``creators`` from ``followee -> followers``, keeping only ``allowed``."""
    out = []
    for c in creators:
        s = set(followers_of.get(c, ()))
        out.append(s if allowed is None else {u for u in s if u in allowed})
    return out


def reach_report(sets: list[set], p=None) -> dict:
    """Every reach number computed with set operations, straight from the definitions."""
    k = len(sets)
    union = set().union(*sets) if sets else set()
    freq = {u: sum(u in s for s in sets) for u in union}
    exclusive = [len(s - set().union(*(t for j, t in enumerate(sets) if j != i))) for i, s in enumerate(sets)]
    incremental = [len(s - set().union(*sets[:i])) for i, s in enumerate(sets)]
    counts = [[len(a & b) for b in sets] for a in sets]
    exactly = [sum(1 for f in freq.values() if f == n) for n in range(k + 1)]
    regions: dict[tuple, int] = defaultdict(int)
    for u in union:
        regions[tuple(i for i, s in enumerate(sets) if u in s)] += 1
    out = {"unique": len(union), "gross": sum(len(s) for s in sets), "audience": [len(s) for s in sets],
           "exclusive": exclusive, "incremental": incremental, "counts": counts, "exactly": exactly,
           "at_least": [sum(exactly[n:]) for n in range(k + 1)], "regions": dict(regions)}
    if p is not None:
        exp = 0.0
        for u in union:
            miss = 1.0
            for i, s in enumerate(sets):
                if u in s:
                    miss *= 1.0 - p[i]
            exp += 1.0 - miss
        out["expected"] = exp
    return out


def expected_by_enumeration(sets: list[set], p) -> tuple[float, list[float]]:
    """Expected reach and expected exactly-f counts by enumerating every seen/unseen outcome
    of every follower (exponential: tiny inputs only)."""
    from itertools import product

    k = len(sets)
    union = set().union(*sets) if sets else set()
    reach = 0.0
    exactly = [0.0] * (k + 1)
    for u in union:
        mine = [i for i, s in enumerate(sets) if u in s]
        for seen in product((0, 1), repeat=len(mine)):
            prob = 1.0
            for i, x in zip(mine, seen, strict=True):
                prob *= p[i] if x else 1.0 - p[i]
            exactly[sum(seen)] += prob
            if any(seen):
                reach += prob
    return reach, exactly


def similar_brute(followers_of: dict, c, candidates, by: str = "jaccard", k: int = 10) -> list[tuple]:
    """``(id, common)`` of the top-k candidates by Jaccard / overlap coefficient with c
    (ties by id order), candidates sharing at least one follower."""
    a = set(followers_of.get(c, ()))
    rows = []
    for v in candidates:
        if v == c:
            continue
        b = set(followers_of.get(v, ()))
        inter = len(a & b)
        if inter == 0:
            continue
        score = inter / len(a | b) if by == "jaccard" else inter / min(len(a), len(b))
        rows.append((-score, id_key(v), v, inter))
    rows.sort()
    return [(v, inter) for _, _, v, inter in rows[:k]]


def complementary_brute(followers_of: dict, chosen, candidates, k: int = 10) -> list[tuple]:
    """``(id, incremental)`` of the top-k candidates by followers not already reached."""
    covered = set().union(*(set(followers_of.get(c, ())) for c in chosen)) if chosen else set()
    rows = []
    for v in candidates:
        if v in chosen:
            continue
        inc = len(set(followers_of.get(v, ())) - covered)
        if inc > 0:
            rows.append((-inc, id_key(v), v, inc))
    rows.sort()
    return [(v, inc) for _, _, v, inc in rows[:k]]
