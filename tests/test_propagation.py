"""Influence propagation: Monte Carlo spread and IMM seeds against slow references.

References: exact expected spread by enumerating every live-edge world of tiny
graphs; a slow pure-Python cascade simulator (random.Random) on small random
graphs and on a real graph from tests/data; exhaustive search for the best seed
set; a Python greedy cover. Statistical comparisons use fixed seeds, so they are
deterministic.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections import deque

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kolgraph.kernels import rrsets as K

import kolgraph
from kolgraph import FollowerGraph, InputError, UnknownAccountError
from kolgraph.datasets import load_brand_graph
from kolgraph.progress import Progress, Task
from kolgraph.propagation import imm_sample_sizes, seeds, spread, spread_plot

Z = 4.0  # z-score for "statistically equal" (fixed seeds: deterministic, not flaky)


# --- references -----------------------------------------------------------------------------
def random_graph(rng, n: int, m: int) -> FollowerGraph:
    """A random follow graph on ids 0..n-1 with about m edges (no self-follows)."""
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    keep = src != dst
    return FollowerGraph.from_edges(src[keep], dst[keep], nodes=np.arange(n))


def prop_edges(g: FollowerGraph, probs: np.ndarray) -> list[tuple[int, int, float]]:
    """Propagation edges (followee v -> follower u, probability), internal ids."""
    out = []
    for v in range(g.n_accounts):
        for e in range(g.in_indptr[v], g.in_indptr[v + 1]):
            out.append((v, int(g.in_indices[e]), float(probs[e])))
    return out


def edge_probs(g: FollowerGraph, kind: str, p: float = 0.0) -> np.ndarray:
    if kind == "wc":
        return 1.0 / g.out_degree[np.asarray(g.in_indices)]
    return np.full(g.n_edges, p)


def exact_ic(n: int, edges, seeds_idx, seed_rates=None) -> float:
    """Expected IC spread by enumerating all 2^E live-edge worlds; with ``seed_rates``,
    edges out of seed i are live with seed_rates[i] instead of their probability."""
    rate = dict(zip(seeds_idx, seed_rates, strict=True)) if seed_rates is not None else {}
    probs = [rate.get(v, p) for v, _, p in edges]
    total = 0.0
    for world in itertools.product((0, 1), repeat=len(edges)):
        w = 1.0
        adj = [[] for _ in range(n)]
        for live, (v, u, _), q in zip(world, edges, probs, strict=True):
            w *= q if live else 1 - q
            if live:
                adj[v].append(u)
        if w == 0.0:
            continue
        total += w * len(reachable(adj, seeds_idx))
    return total


def exact_lt(n: int, edges, seeds_idx) -> float:
    """Expected LT spread: every account picks one in-edge with its weight (or none)."""
    into = [[] for _ in range(n)]
    for v, u, w in edges:
        into[u].append((v, w))
    choices = [[(None, 1.0 - sum(w for _, w in into[u]))] + into[u] for u in range(n)]
    total = 0.0
    for pick in itertools.product(*choices):
        w = math.prod(c[1] for c in pick)
        if w <= 0.0:
            continue
        adj = [[] for _ in range(n)]
        for u, (v, _) in enumerate(pick):
            if v is not None:
                adj[v].append(u)
        total += w * len(reachable(adj, seeds_idx))
    return total


def reachable(adj, start) -> set:
    seen = set(start)
    q = deque(start)
    while q:
        v = q.popleft()
        for u in adj[v]:
            if u not in seen:
                seen.add(u)
                q.append(u)
    return seen


def naive_ic(n: int, edges, seeds_idx, runs: int, seed: int, seed_rates=None) -> np.ndarray:
    """The textbook cascade, one Python random draw per tried edge."""
    rnd = random.Random(seed)
    out = [[] for _ in range(n)]
    for v, u, p in edges:
        out[v].append((u, p))
    rate = dict(zip(seeds_idx, seed_rates, strict=True)) if seed_rates is not None else {}
    res = np.empty(runs)
    for r in range(runs):
        active = set(seeds_idx)
        frontier = list(seeds_idx)
        while frontier:
            nxt = []
            for v in frontier:
                for u, p in out[v]:
                    if u not in active and rnd.random() < rate.get(v, p):
                        active.add(u)
                        nxt.append(u)
            frontier = nxt
        res[r] = len(active)
    return res


def naive_lt(n: int, edges, seeds_idx, runs: int, seed: int) -> np.ndarray:
    rnd = random.Random(seed)
    into = [[] for _ in range(n)]
    out = [[] for _ in range(n)]
    for v, u, w in edges:
        into[u].append((v, w))
        out[v].append(u)
    res = np.empty(runs)
    for r in range(runs):
        theta = [rnd.random() for _ in range(n)]
        active = set(seeds_idx)
        changed = True
        while changed:
            changed = False
            for u in range(n):
                if u not in active and sum(w for v, w in into[u] if v in active) >= theta[u] > 0:
                    active.add(u)
                    changed = True
        res[r] = len(active)
    return res


def assert_matches(result, expected: float, z: float = Z):
    half = z * max(result.stderr, 1e-12)
    assert abs(result.mean - expected) <= half + 1e-9, (result.mean, expected, result.stderr)


def assert_overlap(result, samples: np.ndarray):
    """95% intervals of ours and the reference overlap."""
    m, se = samples.mean(), samples.std(ddof=1) / math.sqrt(len(samples))
    low, high = result.ci
    assert low <= m + 1.96 * se and m - 1.96 * se <= high, (result.ci, m, se)


# --- exact expected spread on tiny graphs ---------------------------------------------------
@pytest.mark.parametrize("graph_seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["uniform", "wc", "edge", "first_hop", "lt_wc", "lt_uniform"])
def test_spread_equals_exact_enumeration(graph_seed, kind):
    rng = np.random.default_rng(graph_seed)
    g = random_graph(rng, 6, 12)
    while g.n_edges > 11:
        g = random_graph(rng, 6, 12)
    seeds_idx = [0, 3] if graph_seed != 2 else [2]
    ids = g.external(seeds_idx)
    if kind == "uniform":
        res = spread(g, ids, p=0.4, runs=40_000, seed=graph_seed)
        expected = exact_ic(6, prop_edges(g, edge_probs(g, "p", 0.4)), seeds_idx)
    elif kind == "wc":
        res = spread(g, ids, weighted_cascade=True, runs=40_000, seed=graph_seed)
        expected = exact_ic(6, prop_edges(g, edge_probs(g, "wc")), seeds_idx)
    elif kind == "edge":
        probs = rng.random(g.n_edges)
        res = spread(g, ids, edge_probs=probs, runs=40_000, seed=graph_seed)
        expected = exact_ic(6, prop_edges(g, probs), seeds_idx)
    elif kind == "first_hop":
        rates = [0.9, 0.5][:len(ids)]
        res = spread(g, ids, p=0.3, view_rates=rates, runs=40_000, seed=graph_seed)
        expected = exact_ic(6, prop_edges(g, edge_probs(g, "p", 0.3)), seeds_idx, rates)
    elif kind == "lt_wc":
        res = spread(g, ids, model="lt", runs=40_000, seed=graph_seed)
        expected = exact_lt(6, prop_edges(g, edge_probs(g, "wc")), seeds_idx)
    else:
        p = 1.0 / max(1, int(g.out_degree.max()))
        res = spread(g, ids, model="lt", p=p, runs=40_000, seed=graph_seed)
        expected = exact_lt(6, prop_edges(g, edge_probs(g, "p", p)), seeds_idx)
    assert res.runs == 40_000 and not res.interrupted
    assert_matches(res, expected)
    assert res.inc_sum.sum() == pytest.approx(res.samples.sum())


def test_incremental_spread_is_the_prefix_difference():
    rng = np.random.default_rng(5)
    g = random_graph(rng, 6, 11)
    edges = prop_edges(g, edge_probs(g, "p", 0.5))
    order = [1, 4, 0]
    res = spread(g, g.external(order), p=0.5, runs=40_000, seed=3)
    prev = 0.0
    for i in range(3):
        exact = exact_ic(6, edges, order[:i + 1])
        inc = res.incremental[i]
        lo, hi = res.incremental_ci[i]
        assert abs(inc - (exact - prev)) <= Z / 1.96 * (hi - lo) / 2 + 1e-9
        prev = exact
    # first-hop: a later seed already reached by the cascade re-fires at its view rate
    rates = [0.9, 0.8, 0.95]
    res = spread(g, g.external(order), p=0.5, view_rates=rates, runs=40_000, seed=4)
    prev = 0.0
    for i in range(3):
        exact = exact_ic(6, edges, order[:i + 1], rates[:i + 1])
        lo, hi = res.incremental_ci[i]
        assert abs(res.incremental[i] - (exact - prev)) <= Z / 1.96 * (hi - lo) / 2 + 1e-9
        prev = exact


# --- the slow simulator, small random graphs and a real graph -----------------------------
@pytest.mark.parametrize("graph_seed", [10, 11])
def test_spread_matches_python_simulator_on_random_graphs(graph_seed):
    rng = np.random.default_rng(graph_seed)
    g = random_graph(rng, 80, 400)
    seeds_idx = [int(x) for x in rng.choice(80, 3, replace=False)]
    ids = g.external(seeds_idx)
    for kind, p in (("p", 0.15), ("wc", None)):
        probs = edge_probs(g, kind, p or 0.0)
        ours = spread(g, ids, p=p, weighted_cascade=kind == "wc", runs=4000, seed=graph_seed)
        ref = naive_ic(80, prop_edges(g, probs), seeds_idx, 4000, graph_seed)
        assert_overlap(ours, ref)
    wc = edge_probs(g, "wc")
    ours = spread(g, ids, model="lt", runs=3000, seed=graph_seed)
    ref = naive_lt(80, prop_edges(g, wc), seeds_idx, 600, graph_seed)
    assert_overlap(ours, ref)


def test_spread_matches_python_simulator_on_a_real_graph(data_dir):
    g = load_brand_graph(data_dir / "twitter-brand-follower-graphs" / "hersheycareers.json")
    top = np.argsort(-g.in_degree, kind="stable")[:3]
    ids = g.external(top)
    ours = spread(g, ids, p=0.05, runs=3000, seed=7)
    ref = naive_ic(g.n_accounts, prop_edges(g, edge_probs(g, "p", 0.05)), top.tolist(), 1500, 7)
    assert_overlap(ours, ref)
    ours = spread(g, ids, weighted_cascade=True, runs=3000, seed=8)
    ref = naive_ic(g.n_accounts, prop_edges(g, edge_probs(g, "wc")), top.tolist(), 1500, 8)
    assert_overlap(ours, ref)


# --- reproducibility, threads, properties --------------------------------------------------
def test_results_depend_on_the_seed_only_not_the_threads():
    g = random_graph(np.random.default_rng(1), 300, 3000)
    ids = g.external([0, 1, 2])
    for opts in ({"p": 0.1}, {"weighted_cascade": True}, {"model": "lt"},
                 {"p": 0.05, "view_rates": 0.5}):
        one = spread(g, ids, runs=3000, seed=9, threads=1, **opts)
        two = spread(g, ids, runs=3000, seed=9, threads=2, **opts)
        three = spread(g, ids, runs=3000, seed=9, threads=3, **opts)
        np.testing.assert_array_equal(one.samples, two.samples)
        np.testing.assert_array_equal(one.samples, three.samples)
        np.testing.assert_array_equal(one.inc_sum, three.inc_sum)
        other = spread(g, ids, runs=3000, seed=10, threads=2, **opts)
        assert not np.array_equal(one.samples, other.samples)


def test_threaded_path_gives_the_same_results(monkeypatch):
    """With no serial start every chunk runs on worker threads: still the same results."""
    import kolgraph._parallel as parallel

    g = random_graph(np.random.default_rng(4), 400, 4000)
    ids = g.external([0, 1, 2])
    one = spread(g, ids, runs=2000, seed=3, threads=1, weighted_cascade=True)
    picked = {m: seeds(g, 4, weighted_cascade=True, epsilon=0.2, candidates="accounts",
                       method=m, threads=1) for m in ("imm", "opim-c")}
    monkeypatch.setattr(parallel, "SERIAL_SECONDS", 0.0)
    for threads in (2, 3):
        many = spread(g, ids, runs=2000, seed=3, threads=threads, weighted_cascade=True)
        np.testing.assert_array_equal(one.samples, many.samples)
        np.testing.assert_array_equal(one.inc_sq, many.inc_sq)
        for m, ref in picked.items():
            got = seeds(g, 4, weighted_cascade=True, epsilon=0.2, candidates="accounts", method=m,
                        threads=threads)
            assert (got.seeds, got.rr_sets, got.spread) == (ref.seeds, ref.rr_sets, ref.spread)


def propagation_reach(g: FollowerGraph, idx: list[int]) -> int:
    G = nx.DiGraph()
    G.add_nodes_from(range(g.n_accounts))
    src, dst = g.edge_arrays()  # follower, followee
    G.add_edges_from(zip(dst.tolist(), src.tolist(), strict=True))
    out = set(idx)
    for s in idx:
        out |= nx.descendants(G, s)
    return len(out)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 30), m=st.integers(0, 120), k=st.integers(1, 4),
       gseed=st.integers(0, 10_000), p=st.floats(0.01, 0.99))
def test_spread_properties(n, m, k, gseed, p):
    g = random_graph(np.random.default_rng(gseed), n, m)
    idx = list(range(min(k, n)))
    ids = g.external(idx)
    assert spread(g, ids, p=0.0, runs=50).samples.tolist() == [len(idx)] * 50
    full = propagation_reach(g, idx)
    assert spread(g, ids, p=1.0, runs=20).samples.tolist() == [full] * 20
    lt_full = spread(g, ids, model="lt", edge_probs=np.zeros(g.n_edges), runs=20)
    assert lt_full.mean == len(idx)
    for opts in ({"p": p}, {"weighted_cascade": True}, {"model": "lt"}):
        r = spread(g, ids, runs=200, seed=gseed, **opts)
        assert r.samples.min() >= len(idx) and r.samples.max() <= full
        assert r.inc_sum.sum() == r.samples.sum()
        assert r.ci[0] <= r.mean <= r.ci[1]
    lo = spread(g, ids, p=p / 2, runs=400, seed=1)
    hi = spread(g, ids, p=p, runs=400, seed=2)
    assert hi.ci[1] >= lo.ci[0]  # monotone in p (up to sampling error)


# --- errors ---------------------------------------------------------------------------------
def test_bad_input_is_a_clear_error():
    g = FollowerGraph.from_edges(["b", "c", "d"], ["a", "a", "b"])
    with pytest.raises(InputError, match="p: Input should be less than or equal to 1, got 1.5"):
        spread(g, ["a"], p=1.5)
    with pytest.raises(InputError, match="p: Input should be greater than or equal to 0"):
        spread(g, ["a"], p=-0.1)
    with pytest.raises(InputError, match="p: Input should be a valid number"):
        spread(g, ["a"], p="x")
    with pytest.raises(UnknownAccountError, match="'zz'"):
        spread(g, ["a", "zz"])
    assert spread(g, ["a", "zz"], skip_unknown=True, p=1.0, runs=5).mean == 4
    with pytest.raises(InputError, match="runs: Input should be greater than or equal to 1"):
        spread(g, ["a"], runs=0)
    with pytest.raises(InputError, match="model: Input should be 'ic' or 'lt'"):
        spread(g, ["a"], model="sir")
    with pytest.raises(InputError, match="one of p, weighted_cascade"):
        spread(g, ["a"], p=0.1, weighted_cascade=True)
    with pytest.raises(InputError, match="edge_probs needs one value per edge"):
        spread(g, ["a"], edge_probs=[0.5])
    with pytest.raises(InputError, match="edge_probs must be in"):
        spread(g, ["a"], edge_probs=[0.5, 2.0, 0.1])
    with pytest.raises(InputError, match="view rate of seed 'a' .* below the reshare"):
        spread(g, ["a"], p=0.5, view_rates=0.2)
    with pytest.raises(InputError, match="view rate of 'a' must be in"):
        spread(g, ["a"], p=0.5, view_rates=1.2)
    lt = FollowerGraph.from_edges(["u", "u", "u"], ["a", "b", "c"])
    with pytest.raises(InputError, match="sum to at most 1.*'u'"):
        spread(lt, ["a"], model="lt", p=0.5)
    with pytest.raises(InputError, match=r"k \(5\) is larger than the number of candidates \(4\)"):
        seeds(g, 5, candidates="accounts")
    with pytest.raises(InputError, match="epsilon: Input should be less than 1"):
        seeds(g, 1, epsilon=1.5)
    with pytest.raises(UnknownAccountError):
        seeds(g, 1, candidates=["a", "nope"])
    with pytest.raises(InputError, match="needs both costs and budget"):
        seeds(g, 1, budget=3)
    with pytest.raises(InputError, match="buys no candidate"):
        seeds(g, 1, candidates="accounts", costs=[5, 5, 5, 5], budget=1)
    with pytest.raises(InputError, match="no valid cost"):
        seeds(g, 1, candidates="accounts", costs={"a": 1}, budget=1)


def test_spread_view_rates_in_error_message_name_lt():
    g = FollowerGraph.from_edges(["b"], ["a"])
    with pytest.raises(InputError, match="independent cascade model only"):
        spread(g, ["a"], model="lt", view_rates=0.5)


# --- interruption ---------------------------------------------------------------------------
class _StopAfter(Progress):
    """A progress reporter that raises KeyboardInterrupt (as Ctrl-C would) after some chunks."""

    def __init__(self, chunks: int):
        self.left = chunks

    def task(self, description, total=None):
        outer = self

        class _T(Task):
            def advance(self, amount=1):
                outer.left -= 1
                if outer.left == 0:
                    raise KeyboardInterrupt

        from contextlib import nullcontext

        return nullcontext(_T())


@pytest.mark.parametrize("threads", [1, 2])
def test_interrupt_returns_the_finished_simulations(threads):
    g = random_graph(np.random.default_rng(3), 200, 2000)
    res = spread(g, g.external([0, 1]), p=0.1, runs=10**7, threads=threads, progress=_StopAfter(3))
    assert res.interrupted and 0 < res.runs < 10**7
    assert any("interrupted" in w for w in res.warnings)
    full = spread(g, g.external([0, 1]), p=0.1, runs=res.runs, threads=1)
    low, high = res.ci
    assert high - low > 0 and res.to_dict()["interrupted"] is True
    assert res.samples.min() >= 2 and abs(res.mean - full.mean) < 6 * full.stderr + 1e-9


def test_cli_ctrl_c_prints_what_was_computed(tmp_path):
    g = random_graph(np.random.default_rng(4), 2000, 20_000)
    store = g.save(tmp_path / "g.kg")
    spread(kolgraph.open(store), [0, 1], p=0.05, runs=10)  # kernels compiled and cached first
    proc = subprocess.Popen([sys.executable, "-m", "kolgraph", "spread", str(store), "--seeds", "0",
                             "1", "--p", "0.05", "--runs", "1000000000", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                            # as from a terminal: an earlier test can leave SIGINT ignored in
                            # this process, and a child inheriting that never sees Ctrl-C
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(5.0)
    # Ctrl-C, pressed again as a user would if the first was not answered within 20 s; the
    # SIGABRT dump below says where the child waits if three are not
    for _ in range(3):
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
            break
        except subprocess.TimeoutExpired:
            continue
    else:  # faulthandler dumps every thread on SIGABRT
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"no answer to three Ctrl-C in 60 s; threads:\n{err[-6000:]}")
    assert proc.returncode == 130, err
    d = json.loads(out)
    assert d["interrupted"] is True and 0 < d["runs"] < d["runs_requested"]
    assert d["ci_low"] < d["mean"] < d["ci_high"]


# --- RR sets and IMM -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["uniform", "wc", "edge", "first_hop", "lt_wc", "lt_edge"])
def test_rr_set_membership_estimates_single_seed_spread(kind):
    """n * P(v in a random RR set) is v's expected spread: check against enumeration."""
    rng = np.random.default_rng(21)
    g = random_graph(rng, 6, 11)
    n = g.n_accounts
    probs = {"uniform": edge_probs(g, "p", 0.4), "wc": edge_probs(g, "wc"),
             "edge": rng.random(g.n_edges), "first_hop": edge_probs(g, "p", 0.3),
             "lt_wc": edge_probs(g, "wc"), "lt_edge": edge_probs(g, "wc") * 0.7}[kind]
    lt = kind.startswith("lt")
    opts = {"uniform": {"p": 0.4}, "wc": {"weighted_cascade": True}, "edge": {"edge_probs": probs},
            "first_hop": {"p": 0.3, "view_rates": 0.8}, "lt_wc": {"model": "lt"},
            "lt_edge": {"model": "lt", "edge_probs": probs}}[kind]
    count = 60_000
    from kolgraph.propagation import _rr_fill, _RRScratch, _RRSets, _to_following_order

    edge_rev = (_to_following_order(g, probs.astype(np.float32)) if kind in ("edge", "lt_edge")
                else np.empty(0, np.float32))
    p = opts.get("p", 0.0)
    seed_p = np.full(n, 0.8) if kind == "first_hop" else np.empty(0)
    args = (np.asarray(g.out_indptr), np.asarray(g.out_indices), int(lt), p,
            kind in ("wc", "lt_wc"), edge_rev, seed_p, np.empty(0, np.int32), n)
    scratch = _RRScratch(n, kind == "first_hop")
    rr = _RRSets()
    _rr_fill(rr, args, 5, 0, count // 2, scratch, 0.5)  # tiny size hints: the buffers must grow
    _rr_fill(rr, args, 5, count // 2, count - count // 2, scratch, 0.1)
    assert not scratch.mark.any()  # the kernel leaves its scratch clean
    ptr, items = rr.arrays
    assert len(ptr) == count + 1
    for j in range(0, count, 997):  # no duplicates within a set
        s = items[ptr[j]:ptr[j + 1]]
        assert len(set(s.tolist())) == len(s)
    freq = np.bincount(items, minlength=n) / count
    edges = prop_edges(g, probs)
    for v in range(n):
        if lt:
            exact = exact_lt(n, edges, [v])
        else:
            exact = exact_ic(n, edges, [v], [0.8] if kind == "first_hop" else None)
        se = n * math.sqrt(max(freq[v] * (1 - freq[v]), 1e-6) / count)
        assert abs(n * freq[v] - exact) <= Z * se, (v, n * freq[v], exact)


def naive_greedy(sets: list[set], m: int, k: int) -> tuple[list, list]:
    covered: set = set()
    picks, gains = [], []
    for _ in range(k):
        best, gain = None, -1
        for c in range(m):
            if c in picks:
                continue
            g = sum(1 for j, s in enumerate(sets) if c in s and j not in covered)
            if g > gain:
                best, gain = c, g
        picks.append(best)
        gains.append(gain)
        covered |= {j for j, s in enumerate(sets) if best in s}
    return picks, gains


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sets(st.integers(0, 9), max_size=5), max_size=40), st.integers(1, 5))
def test_greedy_cover_matches_python_greedy(sets, k):
    ptr = np.zeros(len(sets) + 1, np.int64)
    ptr[1:] = np.cumsum([len(s) for s in sets])
    items = np.array([x for s in sets for x in sorted(s)], dtype=np.int32)
    loc = np.full(10, -1, np.int32)
    picks, gains, upper = K.greedy_cover(ptr, items, 10, k, np.empty(0), 0.0, loc)
    assert (loc == -1).all()  # the scratch is left as it was given
    ref_picks, ref_gains = naive_greedy(sets, 10, k)
    assert picks.tolist() == ref_picks and gains.tolist() == ref_gains
    best = max(sum(1 for s in sets if s & set(c)) for c in itertools.combinations(range(10), k))
    assert gains.sum() <= best <= upper  # the OPIM-C bound is an upper bound of the optimum
    chosen = np.zeros(10, np.bool_)
    chosen[picks] = True
    assert K.coverage(ptr, items, chosen) == gains.sum()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sets(st.integers(0, 7), max_size=4), max_size=30),
       st.lists(st.floats(0.5, 5.0), min_size=8, max_size=8), st.floats(1.0, 10.0))
def test_budgeted_cover_stays_within_budget_and_beats_half_of_optimum(sets, costs, budget):
    ptr = np.zeros(len(sets) + 1, np.int64)
    ptr[1:] = np.cumsum([len(s) for s in sets])
    items = np.array([x for s in sets for x in sorted(s)], dtype=np.int32)
    loc = np.full(8, -1, np.int32)
    picks, gains, _ = K.greedy_cover(ptr, items, 8, 8, np.asarray(costs), budget, loc)
    assert (loc == -1).all()
    assert sum(costs[c] for c in picks) <= budget + 1e-9
    got = sum(1 for s in sets if s & set(picks.tolist()))
    assert got == gains.sum()
    best = 0
    for r in range(0, 9):
        for comb in itertools.combinations(range(8), r):
            if sum(costs[c] for c in comb) <= budget:
                best = max(best, sum(1 for s in sets if s & set(comb)))
    assert got >= (1 - 1 / math.e) / 2 * best - 1e-9


@pytest.mark.parametrize("method", ["imm", "opim-c"])
@pytest.mark.parametrize("graph_seed", [30, 31, 32])
@pytest.mark.parametrize("kind", ["wc", "uniform", "lt"])
def test_imm_reaches_the_guarantee_against_exhaustive_search(graph_seed, kind, method):
    rng = np.random.default_rng(graph_seed)
    g = random_graph(rng, 7, 12)
    while g.n_edges > 11:
        g = random_graph(rng, 7, 12)
    eps, k = 0.3, 2
    opts = {"wc": {"weighted_cascade": True}, "uniform": {"p": 0.5}, "lt": {"model": "lt"}}[kind]
    probs = edge_probs(g, "p", 0.5) if kind == "uniform" else edge_probs(g, "wc")
    edges = prop_edges(g, probs)
    f = (lambda S: exact_lt(7, edges, list(S))) if kind == "lt" else (lambda S: exact_ic(7, edges, list(S)))
    best = max(f(S) for S in itertools.combinations(range(7), k))
    res = seeds(g, k, epsilon=eps, candidates="accounts", seed=graph_seed, method=method, **opts)
    chosen = g.index(res.seeds).tolist()
    assert len(set(chosen)) == k
    assert f(chosen) >= (1 - 1 / math.e - eps) * best
    if method == "imm":
        assert res.rr_sets >= imm_sample_sizes(7, 7, k, eps, 1.0)["lambda_star"] / 7  # LB <= n
    else:
        assert res.lower_bound <= f(chosen) + 1e-9 or res.lower_bound <= best
    assert res.spread == pytest.approx(sum(r["spread"] for r in res.to_dict()["incremental"]))


def test_imm_on_a_real_graph_restricted_to_candidates(data_dir):
    g = load_brand_graph(data_dir / "twitter-brand-follower-graphs" / "hersheycareers.json")
    cand = g.external(np.argsort(-g.in_degree, kind="stable")[:40])
    res = seeds(g, 5, weighted_cascade=True, epsilon=0.3, candidates=cand, evaluate=3000)
    assert set(res.seeds) <= set(cand) and len(res.seeds) == 5
    ev = res.evaluation
    # the RR estimate of the chosen set agrees with Monte Carlo (up to selection bias)
    assert abs(res.spread - ev.mean) <= 0.1 * ev.mean
    # better than the 5 largest audiences among the candidates
    top5 = spread(g, cand[:5], weighted_cascade=True, runs=3000, seed=2)
    assert ev.ci[1] >= top5.ci[0]
    same = seeds(g, 5, weighted_cascade=True, epsilon=0.3, candidates=cand, threads=1)
    assert same.seeds == res.seeds and same.rr_sets == res.rr_sets
    opim = seeds(g, 5, weighted_cascade=True, epsilon=0.3, candidates=cand, method="opim-c",
                 evaluate=3000)
    assert set(opim.seeds) <= set(cand)
    assert opim.evaluation.ci[1] >= (1 - 1 / math.e - 0.3) / (1 - 1 / math.e) * ev.ci[0]
    with pytest.raises(InputError, match="method: Input should be 'imm' or 'opim-c'"):
        seeds(g, 5, candidates=cand, method="celf")
    with pytest.raises(InputError, match="budgeted variant runs with method='imm'"):
        seeds(g, 5, candidates=cand, method="opim-c", costs=[1.0] * 40, budget=3)


def test_budgeted_seeds_respect_the_budget():
    g = random_graph(np.random.default_rng(40), 60, 300)
    cand = g.external(range(20))
    costs = {c: 1.0 + (i % 4) for i, c in enumerate(cand)}
    res = seeds(g, 1, p=0.2, candidates=cand, costs=costs, budget=6.0)
    assert sum(res.costs) <= 6.0 and set(res.seeds) <= set(cand)
    assert res.to_dict()["cost"] == pytest.approx(sum(costs[s] for s in res.seeds))


def test_first_hop_seeds_follow_view_rates():
    """Two identical audiences: the creator with the higher view rate wins."""
    src = [f"f{i}" for i in range(50)] * 2
    dst = ["a"] * 50 + ["b"] * 50
    g = FollowerGraph.from_edges(src, dst)
    res = seeds(g, 1, p=0.01, view_rates={"a": 0.1, "b": 0.6}, candidates=["a", "b"])
    assert res.seeds == ["b"]


# --- contract: every toy graph --------------------------------------------------------------
def test_every_toy_graph(toy):
    g = toy.build()
    ids = toy.creators or g.external(range(min(2, g.n_accounts)))
    for opts in ({"p": 0.5}, {"weighted_cascade": True}, {"model": "lt"}):
        r = spread(g, ids, runs=50, **opts)
        assert r.runs == 50 and r.mean >= len(set(map(str, ids)))
        d = r.to_dict()
        assert {"mean", "ci_low", "ci_high", "incremental", "histogram"} <= set(d)
        json.dumps(d)
        if g.n_creators or g.n_accounts:
            s = seeds(g, 1, **opts)
            assert len(s.seeds) == 1 and s.spread >= 0
            json.dumps(s.to_dict())


# --- API, CLI, plot -------------------------------------------------------------------------
def test_graph_methods_and_plot(tmp_path):
    g = FollowerGraph.from_edges(["b", "c", "d"], ["a", "a", "b"])
    r = g.spread(["a"], p=1.0, runs=10)
    assert r.mean == 4.0
    assert g.seeds(1, p=1.0, candidates="accounts").seeds == ["a"]
    out = spread_plot(g.spread(["a"], p=0.5, runs=500), tmp_path / "h.png")
    assert out.stat().st_size > 1000


def test_cli_spread_and_seeds(tmp_path, capsys):
    from kolgraph.cli import main

    g = random_graph(np.random.default_rng(8), 200, 1500)
    store = g.save(tmp_path / "g.kg")
    cand = tmp_path / "cand.txt"
    cand.write_text("# candidates\n0\n1\n2\n3\n4\n5\n")

    def run(argv):
        capsys.readouterr()
        rc = main(argv)
        got = capsys.readouterr()
        return rc, got.out, got.err

    rc, out, err = run(["spread", str(store), "--seeds", "0", "1", "--p", "0.1", "--runs", "500",
                        "--json"])
    assert rc == 0, err
    d = json.loads(out)
    ref = spread(g, [0, 1], p=0.1, runs=500, seed=1)
    assert d["mean"] == ref.mean and d["ci_low"] == ref.ci[0] and d["ci_high"] == ref.ci[1]
    assert [r["id"] for r in d["incremental"]] == [0, 1]
    rc, out, err = run(["seeds", str(store), "-k", "3", "--candidates", str(cand),
                        "--weighted-cascade", "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert len(d["seeds"]) == 3 and set(d["seeds"]) <= set(range(6)) and d["spread"] > 3
    rc, out, err = run(["spread", str(store), "--seeds", "0", "--p", "1.5"])
    assert rc == 3 and "p: Input should be less than or equal to 1, got 1.5" in err
    rc, out, err = run(["spread", str(store), "--seeds", "0", "99999"])
    assert rc == 3 and "99999" in err
    rc, out, err = run(["seeds", str(store), "-k", "7", "--candidates", str(cand)])
    assert rc == 3 and "k (7) is larger than the number of candidates (6)" in err
    assert main(["spread", str(store), "--seeds", "0", "--runs", "50", "--model", "lt",
                 "--plot", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_store_graph_spread_from_creator_table_view_rates(tmp_path):
    from kolgraph.synth import synth_store

    store = synth_store(tmp_path / "s.kg", accounts=3000, creators=50, edges=20_000, seed=2)
    g = kolgraph.open(store) if not isinstance(store, FollowerGraph) else store
    top = g.creators.sort_by([("followers", "descending")]).column("id").to_pylist()[:3]
    r = g.spread(top, p=0.01, view_rates=True, runs=2000)
    from kolgraph.reach import default_view_rates

    rates = default_view_rates(g, g.index(top))
    assert r.params["view_rates"] == pytest.approx(rates.tolist())
    # the first hop alone is the expected reach of the reach engine, the cascade adds to it
    reach = g.reach(top, view_rates=rates.tolist())
    assert r.mean >= reach.expected_reach + len(top) - Z * r.stderr


@pytest.mark.parametrize("first_hop", [False, True])
def test_rr_fill_resumes_after_a_full_buffer_with_the_same_sets(first_hop):
    """A set that does not fit is redrawn whole once the caller has grown the buffer."""
    rng = np.random.default_rng(8)
    g = random_graph(rng, 30, 120)
    n = g.n_accounts
    cand_of = np.full(n, -1, np.int32)
    cand_of[::2] = np.arange(len(cand_of[::2]), dtype=np.int32)  # half the accounts are candidates
    seed_p = np.full(n, 0.6) if first_hop else np.empty(0)
    args = (np.asarray(g.out_indptr), np.asarray(g.out_indices), 0, 0.3, False,
            np.empty(0, np.float32), seed_p, cand_of, n)
    mark, queue = np.zeros(n, np.uint8), np.empty(n, np.int32)
    aux = np.empty(n if first_hop else 0, np.int32)
    count = 300
    ptr = np.zeros(count + 1, np.int64)
    roomy = np.empty(n * count, np.int32)
    assert K.rr_fill(*args, 3, 0, count, mark, queue, aux, ptr, roomy, 0, 0)[0] == count
    want = [roomy[ptr[j]:ptr[j + 1]].tolist() for j in range(count)]
    ptr2, items, n_sets, size, calls = np.zeros(count + 1, np.int64), np.empty(1, np.int32), 0, 0, 0
    while n_sets < count:
        got, size = K.rr_fill(*args, 3, n_sets, count - n_sets, mark, queue, aux, ptr2, items,
                               n_sets, size)
        n_sets += got
        calls += 1
        assert not mark.any()
        if n_sets < count:
            items = np.concatenate([items[:size], np.empty(len(items) + 1, np.int32)])
    assert calls > 3
    assert [items[ptr2[j]:ptr2[j + 1]].tolist() for j in range(count)] == want
