"""The out-of-core CSR build against the in-memory one: byte-identical ``.npy`` files,
at budgets so small that every pass runs in many pieces (and ranges are split again)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kolgraph.kernels import csr as _csr

from kolgraph.exceptions import InputError
from kolgraph.outofcore import PER_ACCOUNT_BYTES, build_csr_files, edge_budget
from kolgraph.store import write_array

NAMES = ("in_indptr", "in_indices", "out_indptr", "out_indices", "followed_at")


def _edges(rng, n: int, m: int, dup: float = 0.2, self_share: float = 0.05, hub: bool = True):
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    if hub:  # one heavy follower and one heavy followee: rows that outgrow a tiny budget
        src[: m // 5] = n // 2
        dst[m // 5: 2 * m // 5] = n // 3
    k = int(m * dup)  # repeats, with other (often earlier) times
    if k:
        src[m - k:], dst[m - k:] = src[:k], dst[:k]
    loops = rng.random(m) < self_share
    dst[loops] = src[loops]
    times = rng.integers(1_000, 2_000, m)
    return src, dst, times


def _reference(src, dst, times, n, has_times, tmp):
    built = _csr.build_csr(src.astype(np.int64), dst.astype(np.int64), n,
                           times if has_times else np.empty(0, np.int64), has_times)
    in_indptr, in_indices, in_times, out_indptr, out_indices, n_self, n_dup = built
    arrays = {"in_indptr": in_indptr.astype(np.int64), "in_indices": in_indices.astype(np.int32),
              "out_indptr": out_indptr.astype(np.int64), "out_indices": out_indices.astype(np.int32)}
    if has_times:
        arrays["followed_at"] = in_times.astype(np.int64)
    tmp.mkdir()
    for name, a in arrays.items():
        write_array(tmp / f"{name}.npy", a)
    return n_self, n_dup


def _budget(n: int, edges: int, has_times: bool) -> int:
    """Memory for about ``edges`` edges per out-pass group."""
    return PER_ACCOUNT_BYTES * (n + 1) + 12 * 8 * 4 + edges * (64 if has_times else 28)


def _check(tmp_path, src, dst, times, n, has_times, memory, chunk):
    n_self, n_dup = _reference(src, dst, times, n, has_times, tmp_path / "ref")
    chunks = ((src[i:i + chunk], dst[i:i + chunk], times[i:i + chunk])
              for i in range(0, len(src), chunk))
    out = tmp_path / "ooc"
    out.mkdir()
    r = build_csr_files(chunks, n, out, memory=memory, has_times=has_times)
    assert (r.n_input, r.n_self, r.n_dup) == (len(src), n_self, n_dup)
    assert r.n_edges == len(src) - n_self - n_dup
    names = [x for x in NAMES if has_times or x != "followed_at"]
    assert sorted(r.files) == sorted(names)
    for name in names:
        assert (out / f"{name}.npy").read_bytes() == (tmp_path / "ref" / f"{name}.npy").read_bytes(), name
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{x}.npy" for x in names)  # no leftovers
    return r


@pytest.mark.parametrize("has_times", [True, False])
@pytest.mark.parametrize("edges_per_group", [7, 300, 10**6])
def test_byte_identical_to_the_in_memory_build(tmp_path, has_times, edges_per_group):
    rng = np.random.default_rng(edges_per_group)
    n, m = 3_000, 20_000
    src, dst, times = _edges(rng, n, m)
    r = _check(tmp_path, src, dst, times, n, has_times, _budget(n, edges_per_group, has_times), 1_234)
    if edges_per_group < 1_000:  # the tiny budgets took many pieces and split ranges again
        assert r.passes["out_groups"] > 20 and r.passes["in_groups"] > 5
        assert r.passes["resplits"] > 0
    else:
        assert r.passes["out_groups"] == 1 and r.passes["in_groups"] == 1


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), m=st.integers(0, 400), per_group=st.integers(1, 50),
       chunk=st.integers(1, 100), has_times=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_any_budget_and_chunking(tmp_path_factory, n, m, per_group, chunk, has_times, seed):
    rng = np.random.default_rng(seed)
    src, dst, times = _edges(rng, n, m, hub=m > 10)
    _check(tmp_path_factory.mktemp("b"), src, dst, times, n, has_times,
           _budget(n, per_group, has_times), chunk)


def test_out_of_range_indices_and_too_small_budget_are_named(tmp_path):
    with pytest.raises(InputError, match="outside 0..9"):
        build_csr_files([(np.array([1, 12]), np.array([2, 3]), None)], 10, tmp_path,
                        memory=10**6, has_times=False)
    assert list(tmp_path.iterdir()) == []  # the spill is removed on failure
    with pytest.raises(InputError, match="at least"):
        edge_budget(1_000, 10**6, True)


# --- streaming ingest: the same store as the in-memory ingest --------------------------
def _same_store(a, b):
    import json

    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert ma["files"] == mb["files"]  # names, sizes, dtypes, shapes and sha256 of each
    for name in ma["files"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for key in ("accounts", "edges", "creators", "id_kind"):
        assert ma[key] == mb[key]
    for key in ("input_edges", "self_follows", "duplicate_edges", "edges"):
        assert ma["report"][key] == mb["report"][key], key


def _edge_table(rng, n_edges, text_ids):
    src, dst, times = _edges(rng, 500, n_edges)
    ids = (lambda a: pa.array([f"user{x:04d}" for x in a])) if text_ids else pa.array
    return pa.table({"follower": ids(src), "followee": ids(dst),
                     "followed_at": pa.array(times * 86_400, pa.timestamp("s", tz="UTC"))})


@pytest.mark.parametrize("text_ids", [False, True])
def test_streaming_ingest_of_parquet_parts_equals_the_in_memory_store(tmp_path, text_ids):
    from kolgraph.ingest import ingest
    from kolgraph.stream_ingest import ingest_streaming

    table = _edge_table(np.random.default_rng(1), 30_000, text_ids)
    (tmp_path / "parts").mkdir()
    for i, at in enumerate(range(0, table.num_rows, 7_000)):
        pq.write_table(table.slice(at, 7_000), tmp_path / "parts" / f"part-{i}.parquet")
    pq.write_table(table, tmp_path / "all.parquet")
    first = table.column("followee")[5].as_py()
    creators = pa.table({"id": pa.array([first, "nobody" if text_ids else 99_999]),
                         "name": ["a", "b"]})
    ingest(tmp_path / "all.parquet", tmp_path / "mem.kg", creators=creators, time_col="followed_at")
    g = ingest_streaming(tmp_path / "parts", tmp_path / "ooc.kg", creators=creators,
                         time_col="followed_at", memory=_budget(600, 2_000, True))
    assert g.report["out_of_core"]["out_groups"] > 5  # it took many pieces
    _same_store(tmp_path / "mem.kg", tmp_path / "ooc.kg")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_streaming_ingest_of_a_csv_equals_the_in_memory_store(tmp_path):
    from kolgraph.ingest import ingest
    from kolgraph.stream_ingest import ingest_streaming

    t = _edge_table(np.random.default_rng(2), 20_000, False)
    lines = ["# a comment line", "follower,followee,followed_at"] + [
        f"{a},{b},{c}" for a, b, c in zip(t.column(0).to_pylist(), t.column(1).to_pylist(),
                                          t.column(2).cast(pa.int64()).to_pylist(), strict=True)]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    ingest(tmp_path / "e.csv", tmp_path / "mem.kg")
    ingest_streaming(tmp_path / "e.csv", tmp_path / "ooc.kg", memory=_budget(600, 500, True))
    _same_store(tmp_path / "mem.kg", tmp_path / "ooc.kg")


def test_streaming_ingest_names_bad_rows_and_writes_nothing(tmp_path):
    from kolgraph.exceptions import MalformedInputError
    from kolgraph.stream_ingest import ingest_streaming

    pq.write_table(pa.table({"follower": pa.array([1, None, 3]), "followee": [2, 3, 4]}),
                   tmp_path / "bad.parquet")
    with pytest.raises(MalformedInputError, match=r"bad.parquet: row\(s\) 2 have empty values"):
        ingest_streaming(tmp_path / "bad.parquet", tmp_path / "x.kg", memory=10**7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet"]
    g = ingest_streaming(tmp_path / "bad.parquet", tmp_path / "x.kg", memory=10**7, skip_bad=True)
    assert (g.n_edges, g.report["bad_rows"]) == (2, 1)


def test_cli_ingest_with_a_memory_budget(tmp_path, capsys):
    import json

    from kolgraph.cli import main

    table = _edge_table(np.random.default_rng(3), 5_000, False)
    (tmp_path / "parts").mkdir()
    for i in range(2):
        pq.write_table(table.slice(i * 2_500, 2_500), tmp_path / "parts" / f"p{i}.parquet")
    assert main(["ingest", str(tmp_path / "parts" / "*.parquet"), "--out", str(tmp_path / "g.kg"),
                 "--memory", "2M", "--time-col", "followed_at", "--json", "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["out_of_core"]["memory"] == 2 * 2**20 and rep["input_edges"] == 5_000
    assert rep["edges"] == rep["input_edges"] - rep["self_follows"] - rep["duplicate_edges"]
    assert main(["ingest", str(tmp_path / "parts"), "--out", str(tmp_path / "h.kg"),
                 "--memory", "lots", "--json"]) == 3
    assert "--memory 'lots'" in capsys.readouterr().err


def test_synth_out_of_core_writes_the_same_store(tmp_path):
    from kolgraph.synth import synth_store

    args = dict(accounts=30_000, creators=300, edges=200_000, seed=5)
    synth_store(tmp_path / "mem.kg", **args)
    # about 5,000 follows per generator call and per sorted group: dozens of pieces
    synth_store(tmp_path / "ooc.kg", memory=_budget(30_000, 20_000, True), **args)
    _same_store(tmp_path / "mem.kg", tmp_path / "ooc.kg")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("spread", [1, 10**12])  # the flag table, and sorted runs
def test_integer_ids_dense_or_sparse_map_like_the_in_memory_id_map(spread):
    from kolgraph.ids import IdMap
    from kolgraph.stream_ingest import _IntIds

    rng = np.random.default_rng(spread)
    batches = [rng.integers(-5, 50_000, 3_000) * spread for _ in range(7)]
    acc = _IntIds()
    for b in batches:
        acc.add(b)
    uniq, to_dense = acc.finish()
    ref, dense = IdMap.encode(batches)
    assert np.array_equal(uniq, ref.ints)
    for b, d in zip(batches, dense, strict=True):
        assert np.array_equal(to_dense(b), d)
    assert bool(acc.runs) == (spread > 1)
