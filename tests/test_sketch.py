"""Sketches: kernels against plain-Python references, interval coverage over many random
sets, merge = sketch of the union, the exchange format, the store part, reach(mode="sketch")
and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kolgraph.kernels import sketch as _k

from kolgraph import FollowerGraph, InputError
from kolgraph.sketch import (
    Sketch,
    build_sketch_set,
    build_sketches,
    hash_ids,
    hll_estimate,
    load_sketch,
    sketch_report,
    stored_sketches,
    write_sketches,
)

DATA = Path(__file__).parent / "data"
MASK64 = (1 << 64) - 1


# --- plain-Python references ------------------------------------------------------------------
def py_mix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def py_hash(x, seed: int = 0) -> int:
    key = py_mix64(seed & MASK64)
    if isinstance(x, str):
        h = 0xCBF29CE484222325
        for byte in x.encode():
            h = ((h ^ byte) * 0x100000001B3) & MASK64
        return py_mix64(h ^ key)
    return py_mix64((x & MASK64) ^ key)


def py_registers(hashes, p: int) -> list[int]:
    reg = [0] * (1 << p)
    q = 64 - p
    for h in hashes:
        w = (h << p) & MASK64
        rank = q + 1 if w == 0 else 64 - w.bit_length() + 1
        reg[h >> q] = max(reg[h >> q], rank)
    return reg


def sketch_of(members, k=64, p=8, seed=0, id=None) -> Sketch:
    """Sketch of one set of int ids through the CSR builder."""
    members = np.asarray(sorted(members), dtype=np.int64)
    sk = build_sketch_set(np.array([0, len(members)]), np.arange(len(members)),
                          hash_ids(members, seed), np.array([0]), p=p, k=k, seed=seed)
    return sk.sketch(0, id=id)


# --- kernels ------------------------------------------------------------------------------------
def test_hashes_match_the_reference():
    ints = [0, 1, -1, 2**62, -(2**63), 123456789]
    assert hash_ids(np.array(ints)).tolist() == [py_hash(x) for x in ints]
    assert hash_ids(np.array(ints), seed=7).tolist() == [py_hash(x, 7) for x in ints]
    texts = ["", "a", "日本", "😀x", "user_42"]
    assert hash_ids(np.array(texts, dtype=object)).tolist() == [py_hash(x) for x in texts]
    g = FollowerGraph.from_edges(["é", "b", "c"], ["zz", "zz", "b"])
    from kolgraph.sketch import account_hashes

    assert account_hashes(g.ids, 3).tolist() == [py_hash(x, 3) for x in g.external(range(g.n_accounts))]


@pytest.mark.parametrize("k,p", [(16, 4), (64, 8), (1000, 12)])
@pytest.mark.parametrize("spread", [1, 7])  # contiguous ids hash in place, others by table
def test_build_matches_python_sets(rng, k, p, spread):
    src = rng.integers(0, 3000, 20000)
    src[:3000] = np.arange(3000)
    dst = rng.integers(0, 40, 20000) ** 2  # degrees from a few to ~1000
    g = FollowerGraph.from_edges(src * spread - 5, dst * spread - 5)
    sk = build_sketches(g, p=p, k=k, seed=5)
    for r, key in enumerate(sk.keys):
        followers = g.external(g.in_indices[g.in_indptr[key]:g.in_indptr[key + 1]])
        hashes = sorted(py_hash(x, 5) for x in followers)
        s = sk.sketch(r)
        assert s.count == len(followers)
        assert s.hashes.tolist() == hashes[:k]
        assert s.exact == (len(hashes) <= k)
        assert s.hll().tolist() == py_registers(hashes, p)


def test_k_smallest_falls_back_when_the_threshold_misses(rng):
    # hashes crowded at the top of the range: the threshold keeps fewer than K, the heap runs
    for offset in (0, 2**63, 2**64 - 10**6):
        h = (np.uint64(offset) + rng.permutation(10**5).astype(np.uint64)).astype(np.uint64)
        indices = rng.permutation(len(h)).astype(np.int64)
        sk = build_sketch_set(np.array([0, 5000, len(h)]), indices, h, np.array([0, 1]), k=100)
        for r, (a, b) in enumerate([(0, 5000), (5000, len(h))]):
            assert sk.sketch(r).hashes.tolist() == sorted(h[indices[a:b]].tolist())[:100]


def test_sample_and_pair_kernels_match_sets(rng):
    universe = rng.permutation(10_000)
    sets = [set(universe[rng.random(10_000) < f].tolist()) for f in (0.3, 0.05, 0.01, 0.5)]
    sks = [sketch_of(s, k=200) for s in sets]
    hashes = np.concatenate([s.hashes for s in sks])
    lens = np.array([len(s.hashes) for s in sks])
    ends = np.cumsum(lens)
    starts = ends - lens
    thetas = np.array([np.uint64(s.theta) if not s.exact else np.uint64(MASK64) for s in sks],
                      dtype=np.uint64)
    exact = np.array([s.exact for s in sks])
    hmap = [{py_hash(x): x for x in s} for s in sets]
    theta = int(thetas[~exact].min())
    masks = _k.sample_masks(hashes, starts, ends, np.uint64(theta), False)
    want = {}
    for i, hm in enumerate(hmap):
        for h in hm:
            if h < theta:
                want[h] = want.get(h, 0) | (1 << i)
    assert sorted(masks.tolist()) == sorted(want.values())
    s_ij, c_ij, n_ij = _k.pair_samples(hashes, starts, ends, thetas, exact)
    for i in range(4):
        for j in range(i + 1, 4):
            th = min(int(thetas[i]) if not exact[i] else 1 << 64,
                     int(thetas[j]) if not exact[j] else 1 << 64)
            a = {h for h in hmap[i] if h < th}
            b = {h for h in hmap[j] if h < th}
            assert (s_ij[i, j], c_ij[i, j]) == (len(a | b), len(a & b))
            assert (n_ij[i, j], n_ij[j, i]) == (len(a), len(b))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.data(),
       st.floats(0.05, 1.0), st.sampled_from([1.0, 1.96, 2.58]))
def test_intersection_mle_matches_a_brute_force_search(a, b, i_true, data, rate, z):
    """The estimate maximises the binomial likelihood over every feasible integer, and the
    interval holds exactly the integers within z²/2 of the maximum."""
    from kolgraph.sketch import _log_binom, intersection_mle

    i_true = min(i_true, a, b)
    c = data.draw(st.integers(0, i_true))
    x = data.draw(st.integers(0, a - i_true))
    y = data.draw(st.integers(0, b - i_true))
    rate = 1.0 if rate > 0.97 else rate
    est, lo, hi = intersection_mle(a, b, x + c, y + c, c, rate, z)
    if rate == 1.0:
        assert est == lo == hi == c
        return
    grid = np.arange(c, min(a - x, b - y) + 1, dtype=float)
    ll = _log_binom(grid, c) + _log_binom(a - grid, x) + _log_binom(b - grid, y) \
        - grid * np.log1p(-rate)
    best = ll.max()
    assert ll[int(est - c)] >= best - 1e-9
    inside = grid[ll >= ll[int(est - c)] - z * z / 2.0]
    assert (lo, hi) == (inside.min(), inside.max())


def test_hll_estimator_across_sizes():
    # Ertl's estimator is nearly unbiased from tiny to large counts (mean of 30 seeds)
    for n in (10, 300, 3000, 30000):
        errs = []
        for seed in range(30):
            reg = np.zeros(1 << 10, np.uint8)
            _k.hll_from_hashes(hash_ids(np.arange(n), seed), 10, reg)
            errs.append(hll_estimate(reg, 10) / n - 1)
        assert abs(np.mean(errs)) < 0.02, (n, np.mean(errs))
        assert np.std(errs) < 1.5 * 1.04 / 32, (n, np.std(errs))


# --- intervals: coverage over many random sets --------------------------------------------
def _truth(sets):
    k = len(sets)
    union = set().union(*sets)
    counts = np.array([[len(sets[i] & sets[j]) for j in range(k)] for i in range(k)])
    member = {}
    for i, s in enumerate(sets):
        for x in s:
            member[x] = member.get(x, 0) | (1 << i)
    regions = {}
    for m in member.values():
        regions[m] = regions.get(m, 0) + 1
    times = [bin(m).count("1") for m in member.values()]
    exactly = [0] + [times.count(f) for f in range(1, k + 1)]
    return len(union), counts, regions, exactly


def test_intervals_cover_the_truth_at_the_stated_confidence():
    """200 random creator sets (sizes, overlaps and hash seeds drawn afresh): every interval
    family covers the truth in at least 90% of the trials at a stated 95% (the binomial
    noise of 200 trials is about 1.5 points), and the intervals are not vacuous."""
    rng = np.random.default_rng(11)
    hits = {"unique": [], "pairs": [], "jaccard": [], "exactly": [], "regions": []}
    widths = []
    for trial in range(200):
        n = int(rng.integers(1_000, 8_000))
        k = int(rng.integers(2, 5))
        base = rng.random(n)
        sets = []
        for _ in range(k):  # correlated audiences: shared popularity plus noise
            f = rng.uniform(0.02, 0.4)
            sets.append(set(np.flatnonzero(rng.random(n) < f * (0.5 + base)).tolist()))
        sks = [sketch_of(s, k=128, p=8, seed=trial, id=i) for i, s in enumerate(sets)]
        d = sketch_report(sks).to_dict()
        union, counts, regions, exactly = _truth(sets)
        hits["unique"].append(d["unique_reach_low"] <= union <= d["unique_reach_high"])
        widths.append((d["unique_reach_high"] - d["unique_reach_low"]) / max(union, 1))
        ov = d["overlap"]
        for i in range(k):
            for j in range(i + 1, k):
                hits["pairs"].append(ov["counts_low"][i][j] <= counts[i, j] <= ov["counts_high"][i][j])
                jac = counts[i, j] / (len(sets[i]) + len(sets[j]) - counts[i, j])
                hits["jaccard"].append(ov["jaccard_low"][i][j] - 1e-12 <= jac
                                       <= ov["jaccard_high"][i][j] + 1e-12)
        fr = d["frequency"]
        for f in range(1, k + 1):
            hits["exactly"].append(fr["exactly_low"][f] <= exactly[f] <= fr["exactly_high"][f])
        for reg in d["regions"]:
            m = sum(1 << c for c in reg["creators"])
            hits["regions"].append(reg["count_low"] <= regions.get(m, 0) <= reg["count_high"])
    for name, h in hits.items():
        assert len(h) >= 200 and np.mean(h) >= 0.90, (name, np.mean(h), len(h))
    # p = 8: relative standard error 6.5%, so the 95% interval is about ±13%
    assert 0.15 < np.median(widths) < 0.40


def test_exact_when_audiences_fit(rng):
    src = rng.integers(0, 500, 3000)
    dst = rng.integers(1000, 1006, 3000)
    g = FollowerGraph.from_edges(src, dst)
    ids = list(range(1000, 1006))
    e, s = g.reach(ids).to_dict(), g.reach(ids, mode="sketch").to_dict()
    assert s["unique_reach"] == s["unique_reach_low"] == s["unique_reach_high"] == e["unique_reach"]
    assert s["overlap"]["counts"] == s["overlap"]["counts_low"] == e["overlap"]["counts"]
    assert s["frequency"]["exactly"] == e["frequency"]["exactly"]
    assert [c["exclusive"] for c in s["creators"]] == [c["exclusive"] for c in e["creators"]]
    assert s["sketch"]["unique_reach_method"] == "exact"
    assert set(e) <= set(s)


def test_real_graph_within_bounds():
    from kolgraph.ingest import read_graph

    g = read_graph(DATA / "wiki-Vote/wiki-Vote.txt")
    top = np.argsort(-np.asarray(g.in_degree), kind="stable")[:6]
    ids = g.external(top)
    e = g.reach(ids).to_dict()
    s = g.reach(ids, mode="sketch", k=64, p=10, confidence=0.99).to_dict()
    assert s["unique_reach_low"] <= e["unique_reach"] <= s["unique_reach_high"]
    ok = [s["overlap"]["counts_low"][i][j] <= e["overlap"]["counts"][i][j]
          <= s["overlap"]["counts_high"][i][j] for i in range(6) for j in range(6)]
    assert np.mean(ok) >= 0.9
    assert s["sketch"]["sample"] > 0 and s["sketch"]["unique_reach_method"] == "hll"


# --- merge and the exchange format ----------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(-10**12, 10**12), max_size=300),
       st.sets(st.integers(-10**12, 10**12), max_size=300),
       st.sampled_from([16, 64, 1000]))
def test_merge_is_the_sketch_of_the_union(a, b, k):
    merged = sketch_of(a, k=k).merge(sketch_of(b, k=k))
    union = sketch_of(a | b, k=k)
    assert merged.hashes.tolist() == union.hashes.tolist()
    assert merged.exact == union.exact
    assert merged.hll().tolist() == union.hll().tolist()
    if merged.exact:
        assert merged.count == len(a | b)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sets(st.integers(0, 5000), max_size=400), min_size=1, max_size=4))
def test_report_properties(sets):
    d = sketch_report([sketch_of(s, k=32, id=i) for i, s in enumerate(sets)]).to_dict()
    sizes = [len(s) for s in sets]
    assert max(sizes) <= d["unique_reach"] <= sum(sizes)
    assert d["unique_reach_low"] <= d["unique_reach"] <= d["unique_reach_high"]
    c, lo, hi = (np.array(d["overlap"][x]) for x in ("counts", "counts_low", "counts_high"))
    assert np.array_equal(c, c.T) and np.all(lo <= c) and np.all(c <= hi)
    assert np.all(c <= np.minimum.outer(sizes, sizes))
    assert np.array_equal(np.diag(c), sizes)


def test_exchange_format_roundtrip_and_errors(tmp_path, rng):
    s = sketch_of(set(rng.integers(0, 10**9, 5000).tolist()), k=128, p=10, seed=3, id="brand")
    path = s.save(tmp_path / "brand.kgsk")
    back = load_sketch(path)
    assert back.id == "brand" and back.count == s.count and back.exact is False
    assert back.hashes.tolist() == s.hashes.tolist() and back.hll().tolist() == s.hll().tolist()
    data = bytearray(path.read_bytes())
    data[30] ^= 1
    (tmp_path / "bad.kgsk").write_bytes(bytes(data))
    with pytest.raises(InputError, match="checksum"):
        load_sketch(tmp_path / "bad.kgsk")
    (tmp_path / "short.kgsk").write_bytes(bytes(data[:-9]))
    with pytest.raises(InputError):
        load_sketch(tmp_path / "short.kgsk")
    with pytest.raises(InputError, match="magic"):
        Sketch.from_bytes(b"not a sketch at all, no")
    with pytest.raises(InputError, match="seed"):
        s.merge(sketch_of({1, 2}, k=128, p=10, seed=4))
    # smaller than 8 bytes per hash (Elias–Fano), and version 1 files (raw hashes) still read
    assert len(path.read_bytes()) < 8 * len(s.hashes) + 1024 + 200
    import json
    import struct
    import zlib

    h = json.dumps({"id": "old", "count": s.count, "exact": False, "p": 10, "k": 128, "seed": 3,
                    "hash": "kolgraph-hash-v1", "n_hashes": len(s.hashes),
                    "registers": True}).encode()
    body = b"KGSKETCH" + struct.pack("<HI", 1, len(h)) + h + s.registers.tobytes() + \
        s.hashes.astype("<u8").tobytes()
    v1 = Sketch.from_bytes(body + struct.pack("<I", zlib.crc32(body)))
    assert v1.hashes.tolist() == s.hashes.tolist() and v1.id == "old"


@settings(max_examples=80, deadline=None)
@given(st.sets(st.integers(0, 2**64 - 1), max_size=300), st.integers(0, 63))
def test_elias_fano_roundtrip(values, shift):
    from kolgraph.sketch import elias_fano_decode, elias_fano_encode

    h = np.array(sorted({v >> shift for v in values}), dtype=np.uint64)
    lb, low, high = elias_fano_encode(h)
    assert elias_fano_decode(len(h), lb, low, high).tolist() == h.tolist()
    if len(h) > 1:  # about log2(max/n) + 2 bits per value
        assert (len(low) + len(high)) * 8 <= len(h) * (lb + 2) + int(h[-1] >> np.uint64(lb)) \
            - len(h) + 16


# --- the store part, reach(mode="sketch"), CLI ------------------------------------------------
@pytest.fixture
def store(tmp_path, rng):
    src = rng.integers(0, 30_000, 60_000)
    dst = rng.integers(0, 8, 60_000) * 1000 + 10**6
    path = tmp_path / "g.kg"
    FollowerGraph.from_edges(src, dst).save(path)
    return path


def test_sketches_in_the_store(store, monkeypatch):
    import kolgraph
    from kolgraph import store as st_mod

    g = kolgraph.open(store)
    sk = write_sketches(g, k=512, p=10)
    assert kolgraph.verify(store)["ok"]
    again = stored_sketches(kolgraph.open(store))
    assert again is not None and np.array_equal(again.theta_hashes, sk.theta_hashes)
    before = (store / "manifest.json").read_text()
    dirs = sorted(p.name for p in store.iterdir())

    def boom(*a, **kw):  # a failure mid-write leaves the committed part as it was
        raise OSError("disk full")
    monkeypatch.setattr(st_mod, "write_array", boom)
    with pytest.raises(OSError):
        write_sketches(kolgraph.open(store), k=256)
    assert (store / "manifest.json").read_text() == before
    assert sorted(p.name for p in store.iterdir()) == dirs
    monkeypatch.undo()
    ids = [10**6 + 1000 * i for i in range(8)]
    r = kolgraph.open(store).reach(ids, mode="sketch")
    assert r.sketch_info["theta_k"] == 512  # read from the store, not rebuilt
    e = kolgraph.open(store).reach(ids)
    d = r.to_dict()
    assert d["unique_reach_low"] <= e.unique_reach <= d["unique_reach_high"]
    with pytest.raises(InputError, match="filters"):
        kolgraph.open(store).reach(ids, mode="sketch", where={"country": "NL"})
    with pytest.raises(InputError, match="mode"):
        kolgraph.open(store).reach(ids, mode="fuzzy")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "kolgraph", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_sketch_reach_and_merge(store, tmp_path):
    out = tmp_path / "sk"
    p = _cli("sketch", store, "--out", out, "--k", 256, "--min-count", 100, "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["sketched"] == 8 and got["exported"] == 8 and got["k"] == 256
    p = _cli("reach", store, 1000000, 1001000, 1002000, "--mode", "sketch", "--json",
             "--min-count", 50)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for key in ("unique_reach_low", "unique_reach_high", "sketch", "suppressed_regions"):
        assert key in d
    assert {"counts_low", "counts_high", "jaccard_low", "jaccard_high"} <= set(d["overlap"])
    assert all(r["count"] >= 50 for r in d["regions"])
    files = sorted(out.glob("*.kgsk"))[:3]
    p = _cli("sketch-merge", *files, "--out", tmp_path / "u.kgsk", "--json")
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    assert m["unique_reach"] == d["unique_reach"] and m["overlap"]["counts"] == d["overlap"]["counts"]
    union = load_sketch(tmp_path / "u.kgsk")
    assert union.count == -1 and not union.exact
    p = _cli("sketch-merge", tmp_path / "missing.kgsk")
    assert p.returncode == 3 and "no such sketch file" in p.stderr
