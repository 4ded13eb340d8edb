"""The Dask backend on a 2-worker LocalCluster: exact reports equal the single-machine
engine's, sketches equal the single-machine sketches, sketch mode within its bounds, and
bad input (missing partitions, mixed schemas, unreachable scheduler) fails clearly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kolgraph import FollowerGraph, InputError, UnknownAccountError

pytest.importorskip("distributed")

from kolgraph import dask_engine as de  # noqa: E402
from kolgraph.sketch import build_sketches  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with de.connect(workers=2, processes=False) as c:
        yield c


def _edges(rng, n=60_000, kind="int"):
    src = rng.integers(0, 20_000, n)
    dst = np.where(rng.random(n) < 0.7, rng.integers(0, 12, n), rng.integers(0, 20_000, n))
    if kind == "str":
        return [f"u{x}" for x in src], [f"u{x}" for x in dst]
    return src, dst  # duplicates and self-follows included


def _write(tmp_path, src, dst, parts=4, name="part"):
    d = tmp_path / "edges"
    d.mkdir(exist_ok=True)
    for i, ch in enumerate(np.array_split(np.arange(len(src)), parts)):
        pq.write_table(pa.table({"follower": pa.array([src[j] for j in ch]),
                                 "followee": pa.array([dst[j] for j in ch])}),
                       d / f"{name}-{i}.parquet")
    return d


@pytest.mark.parametrize("kind", ["int", "str"])
def test_exact_equals_single_machine(client, tmp_path, rng, kind):
    src, dst = _edges(rng, kind=kind)
    d = _write(tmp_path, src, dst)
    g = FollowerGraph.from_edges(src, dst)
    ids = [0, 3, 1, 7, 11] if kind == "int" else ["u0", "u3", "u1", "u7", "u11"]
    want = g.reach(ids, view_rates=0.3, posts=2).to_dict()
    got = de.exact_reach(client, str(d / "*.parquet"), ids, view_rates=0.3, posts=2).to_dict()
    assert got == want
    s = de.sketch_reach(client, d, ids, k=64, p=10).to_dict()
    assert s["unique_reach_low"] <= want["unique_reach"] <= s["unique_reach_high"]
    assert [c["audience"] for c in s["creators"]] == [c["audience"] for c in want["creators"]]


def test_sketches_equal_and_sketch_mode_within_bounds(client, tmp_path, rng):
    src, dst = _edges(rng)
    d = _write(tmp_path, src, dst, parts=3)
    g = FollowerGraph.from_edges(src, dst)
    sk, population = de.build_sketches(client, d, tmp_path / "sk", k=256, p=10)
    local = build_sketches(g, k=256, p=10)
    assert np.array_equal(np.asarray(g.external(local.keys)), sk.keys)
    for name in ("counts", "theta_indptr", "hll_row", "registers"):
        assert np.array_equal(getattr(local, name), getattr(sk, name)), name
    for r in range(len(sk.keys)):  # exact rows keep their hashes unsorted
        assert np.array_equal(local.sketch(r).hashes, sk.sketch(r).hashes)
    back, meta = de.load_sketch_dir(tmp_path / "sk")
    assert np.array_equal(back.theta_hashes, sk.theta_hashes) and meta["k"] == 256
    assert abs(population - g.n_accounts) < 0.1 * g.n_accounts
    ids = [0, 3, 1, 7]
    exact = g.reach(ids).to_dict()
    s = de.sketch_reach(client, d, ids, k=256, p=10, confidence=0.99).to_dict()
    assert s["unique_reach_low"] <= exact["unique_reach"] <= s["unique_reach_high"]
    c, lo, hi = (np.array(x) for x in (exact["overlap"]["counts"], s["overlap"]["counts_low"],
                                       s["overlap"]["counts_high"]))
    iu = np.triu_indices(len(ids), 1)
    assert np.sum(((lo <= c) & (c <= hi))[iu]) >= len(iu[0]) - 1  # 6 pairs at 99%: one miss at most


def test_bad_input(client, tmp_path, rng):
    src, dst = _edges(rng, n=2000)
    d = _write(tmp_path, src, dst, parts=4)
    with pytest.raises(InputError, match="no Parquet edge files"):
        de.exact_reach(client, str(tmp_path / "nothing*.parquet"), [1])
    (d / "part-2.parquet").unlink()
    with pytest.raises(InputError, match=r"missing partition\(s\) 2"):
        de.exact_reach(client, d, [1])
    pq.write_table(pa.table({"follower": ["a"], "followee": ["b"]}), d / "part-2.parquet")
    with pytest.raises(InputError, match="mixed schemas"):
        de.exact_reach(client, d, [1])
    pq.write_table(pa.table({"src": [1], "dst": [2]}), d / "part-2.parquet")
    with pytest.raises(InputError, match="part-2.parquet: no column follower, followee"):
        de.exact_reach(client, d, [1])
    (d / "part-2.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        de.exact_reach(client, d, [1])
    (d / "part-2.parquet").unlink()
    (d / "part-3.parquet").unlink()
    with pytest.raises(UnknownAccountError):
        de.exact_reach(client, d, [1, 10**9])
    out = tmp_path / "sk"
    with pytest.raises(InputError, match="scheduler"), de.connect("tcp://127.0.0.1:1", timeout=1):
        pass
    assert not out.exists()


def test_cli_dask_engine(tmp_path, rng):
    src, dst = _edges(rng, n=5000)
    d = _write(tmp_path, src, dst, parts=2)
    want = json.loads(json.dumps(FollowerGraph.from_edges(src, dst).reach([0, 3]).to_dict()))
    run = [sys.executable, "-m", "kolgraph", "reach"]
    dask = subprocess.run(run + ["--engine", "dask", "--edges", str(d / "*.parquet"), "--workers",
                                 "2", "--threads", "0", "3", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert dask.returncode == 0, dask.stderr[-2000:]
    assert json.loads(dask.stdout) == want
    bad = subprocess.run(run + ["--engine", "dask", "--edges", str(d / "*.parquet"),
                                "--scheduler", "tcp://127.0.0.1:1", "0", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 3 and "cannot reach the Dask scheduler" in bad.stderr


@pytest.mark.parametrize("kind", ["int", "str"])
def test_bucketed_by_follower_equals_single_machine(client, tmp_path, rng, kind):
    src, dst = _edges(rng, kind=kind)
    d = _write(tmp_path, src, dst, parts=3)
    g = FollowerGraph.from_edges(src, dst)
    out = tmp_path / "by-follower"
    man = de.bucket_edges(client, d, out, n_buckets=5)
    assert man["population"] == g.n_accounts and man["edges"] == len(src)
    assert sum(len(b) for b in man["buckets"]) == 5 * 3 - sum(not b for b in man["buckets"]) * 3
    ids = [0, 3, 1, 7, 11] if kind == "int" else ["u0", "u3", "u1", "u7", "u11"]
    want = g.reach(ids, view_rates=0.3, posts=2).to_dict()
    assert de.exact_reach(client, out, ids, view_rates=0.3, posts=2).to_dict() == want
    # the same layout written in-process from array chunks (as the benchmark does)
    local = tmp_path / "local"
    chunks = [(np.asarray(src)[c], np.asarray(dst)[c]) for c in np.array_split(np.arange(len(src)), 4)]
    de.write_buckets(chunks, local, kind, n_buckets=4)
    assert de.exact_reach(client, local, ids, view_rates=0.3, posts=2).to_dict() == want
    with pytest.raises(UnknownAccountError):
        de.exact_reach(client, out, ids + ([10**9] if kind == "int" else ["nobody"]))
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_bucketing_bad_input_leaves_nothing(client, tmp_path, rng):
    src, dst = _edges(rng, n=3000)
    d = _write(tmp_path, src, dst, parts=3)
    out = tmp_path / "by-follower"
    (d / "part-1.parquet").unlink()
    with pytest.raises(InputError, match=r"missing partition\(s\) 1"):
        de.bucket_edges(client, d, out)
    (d / "part-1.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        de.bucket_edges(client, d, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges"]  # nothing half-written
    d = _write(tmp_path, src, dst, parts=3)
    de.bucket_edges(client, d, out, n_buckets=3)
    with pytest.raises(InputError, match="already exists"):
        de.bucket_edges(client, d, out)
    victim = next(out.glob("bucket-*/part-*.parquet"))
    victim.unlink()
    with pytest.raises(InputError, match="bucket file.* missing"):
        de.exact_reach(client, out, [1])


def test_cli_dask_sketches_equal_the_store_export(tmp_path, rng):
    """`kolgraph sketch --engine dask` on Parquet partitions writes the same .kgsk files,
    byte for byte, as `kolgraph sketch STORE --out` on a store of the same edges."""
    src, dst = _edges(rng, n=8000)
    d = _write(tmp_path, src, dst, parts=3)
    store = tmp_path / "g.kg"
    FollowerGraph.from_edges(src, dst).save(store)
    common = ["--k", "64", "--p", "8", "--seed", "5", "--min-count", "30", "--json"]
    kg = [sys.executable, "-m", "kolgraph"]
    local = subprocess.run(kg + ["sketch", str(store), "--out", str(tmp_path / "a")] + common,
                           capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr[-2000:]
    dask = subprocess.run(kg + ["sketch", "--engine", "dask", "--edges", str(d / "*.parquet"),
                                "--workers", "2", "--threads", "--out", str(tmp_path / "b")] + common,
                          capture_output=True, text=True, timeout=300)
    assert dask.returncode == 0, dask.stderr[-2000:]
    a = {f.name: f.read_bytes() for f in (tmp_path / "a").iterdir()}
    b = {f.name: f.read_bytes() for f in (tmp_path / "b").iterdir()}
    assert len(a) > 10 and a == b
    la, lb = json.loads(local.stdout), json.loads(dask.stdout)
    assert (la["exported"], la["suppressed"]) == (lb["exported"], lb["suppressed"]) and \
        lb["suppressed"] > 0

    (d / "part-1.parquet").unlink()  # a missing partition: a clear error, nothing written
    bad = subprocess.run(kg + ["sketch", "--engine", "dask", "--edges", str(d / "*.parquet"),
                               "--out", str(tmp_path / "c")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 3 and "missing partition(s) 1" in bad.stderr
    pq.write_table(pa.table({"follower": ["a"], "followee": ["b"]}), d / "part-1.parquet")
    bad = subprocess.run(kg + ["sketch", "--engine", "dask", "--edges", str(d / "*.parquet"),
                               "--out", str(tmp_path / "c")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 3 and "mixed schemas" in bad.stderr
    (d / "part-1.parquet").unlink()
    _write(tmp_path, src, dst, parts=3)
    bad = subprocess.run(kg + ["sketch", "--engine", "dask", "--edges", str(d / "*.parquet"),
                               "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 3 and "cannot reach the Dask scheduler" in bad.stderr
    assert not (tmp_path / "c").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_cli_dask_bucket_then_reach(tmp_path, rng):
    src, dst = _edges(rng, n=5000)
    d = _write(tmp_path, src, dst, parts=2)
    kg = [sys.executable, "-m", "kolgraph"]
    out = tmp_path / "byf"
    r = subprocess.run(kg + ["dask-bucket", "--edges", str(d / "*.parquet"), "--out", str(out),
                             "--buckets", "4", "--threads", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    g = FollowerGraph.from_edges(src, dst)
    assert json.loads(r.stdout)["population"] == g.n_accounts
    reach = subprocess.run(kg + ["reach", "--engine", "dask", "--edges", str(out), "--threads",
                                 "0", "3", "--json"], capture_output=True, text=True, timeout=300)
    assert reach.returncode == 0, reach.stderr[-2000:]
    assert json.loads(reach.stdout) == json.loads(json.dumps(g.reach([0, 3]).to_dict()))
