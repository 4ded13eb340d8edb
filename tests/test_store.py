"""The store: save/open round trips, memory mapping, refusal to clobber, every kind of
corruption, and crash safety against a really killed writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import kolgraph
from kolgraph import FollowerGraph, StoreCorruptedError, StoreError, StoreNotFoundError
from kolgraph.store import MANIFEST, read_manifest, read_truth, write_store

ARRAYS = ("in_indptr", "in_indices", "out_indptr", "out_indices")


def build_graph(rng, random_edges, kind: str, *, extras: bool = True) -> FollowerGraph:
    src, dst, times = random_edges(rng, kind, n_ids=80, m=600)
    if not extras:
        return FollowerGraph.from_edges(src, dst)
    names = sorted(set(src) | set(dst), key=str)
    creators = pa.table({"id": names[:5] + (["creator-only"] if kind == "str" else [10**12]),
                         "name": [f"Creator {i}" for i in range(6)],
                         "category": ["food", "tech", None, "food", "travel", "tech"],
                         "price": [10.0, 20.5, 0.0, 99.9, None, 1.0]})
    accounts = pa.table({"id": names[::2],
                         "posts": list(range(len(names[::2]))),
                         "created_at": pa.array([1_600_000_000 + i for i in range(len(names[::2]))]),
                         "verified": [i % 3 == 0 for i in range(len(names[::2]))],
                         "bio": [f"bio é {i}" for i in range(len(names[::2]))]})
    return FollowerGraph.from_edges(src, dst, followed_at=times, creators=creators, accounts=accounts)


def id_arrays(g: FollowerGraph) -> dict[str, np.ndarray]:
    return g.ids.arrays()


def assert_same_contents(a: FollowerGraph, b: FollowerGraph) -> None:
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.ids.kind == b.ids.kind
    assert a.external(np.arange(a.n_accounts)) == b.external(np.arange(b.n_accounts))
    if a.followed_at is None:
        assert b.followed_at is None
    else:
        np.testing.assert_array_equal(a.followed_at, b.followed_at)
    for table in ("creators", "accounts"):
        ta, tb = getattr(a, table), getattr(b, table)
        assert (ta is None) == (tb is None), table
        if ta is not None:
            assert ta.schema == tb.schema, table
            assert ta.equals(tb), table


@pytest.fixture(params=["int", "str"])
def graph(request, rng, random_edges) -> FollowerGraph:
    return build_graph(rng, random_edges, request.param)


@pytest.fixture
def store(tmp_path, rng, random_edges) -> tuple[Path, FollowerGraph]:
    """A saved int-id store with every optional part (followed_at, creators, accounts, truth)."""
    g = build_graph(rng, random_edges, "int")
    path = g.save(tmp_path / "g.kg", truth={"planted": np.arange(5)})
    return path, g


# --- round trips -----------------------------------------------------------------------

def test_round_trip_keeps_arrays_tables_and_truth(graph, tmp_path):
    truth = {"planted": np.array([3, 1, 4, 1, 5], np.int64),
             "scores": np.linspace(0, 1, 7),
             "farms": pa.table({"farm": [0, 0, 1], "account": ["a", "b", "c"]})}
    path = write_store(graph, tmp_path / "deep" / "g.kg", truth=truth)  # parents are created
    assert path == tmp_path / "deep" / "g.kg"
    back = kolgraph.open(path)
    assert_same_contents(graph, back)
    assert back.path == path and str(path) in repr(back)
    assert back.report == json.loads(json.dumps(graph.report))
    assert (back.n_accounts, back.n_edges, back.n_creators) == (graph.n_accounts, graph.n_edges, 6)
    assert back.info() == graph.info()
    names = graph.external(np.arange(graph.n_accounts))
    for a in names[:20]:
        assert back.followers(a) == graph.followers(a) and back.following(a) == graph.following(a)
    m = back.manifest
    assert (m["accounts"], m["edges"], m["creators"], m["id_kind"]) == (
        graph.n_accounts, graph.n_edges, 6, graph.ids.kind)
    assert m["format_version"] == 1 and m["kolgraph_version"] == kolgraph.__version__

    got = read_truth(path)
    assert set(got) == set(truth)
    np.testing.assert_array_equal(got["planted"], truth["planted"])
    np.testing.assert_array_equal(got["scores"], truth["scores"])
    assert isinstance(got["planted"], np.memmap)
    assert got["farms"].equals(truth["farms"])

    report = kolgraph.verify(path)
    on_disk = [f for f in path.rglob("*") if f.is_file() and f.name != MANIFEST]
    assert report == {"files": len(on_disk), "bytes": sum(f.stat().st_size for f in on_disk), "ok": True}


def test_opened_arrays_are_memory_mapped(graph, tmp_path):
    back = kolgraph.open(graph.save(tmp_path / "g.kg"))
    mapped = [back.in_indptr, back.in_indices, back.out_indptr, back.out_indices, back.followed_at,
              *id_arrays(back).values()]
    assert all(isinstance(a, np.memmap) for a in mapped)
    assert all(not a.flags.writeable for a in mapped)  # read-only maps
    assert isinstance(back.in_degree, np.ndarray)


def test_graph_without_optional_parts(rng, random_edges, tmp_path):
    g = build_graph(rng, random_edges, "str", extras=False)
    path = g.save(tmp_path / "plain.kg")
    back = kolgraph.open(path)
    assert_same_contents(g, back)
    assert back.followed_at is None and back.creators is None and back.accounts is None
    assert read_truth(path) == {}
    assert sorted(p.name for p in path.iterdir()) == sorted(
        ["manifest.json", "id_bytes.npy", "id_offsets.npy", *(f"{a}.npy" for a in ARRAYS)])


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_graphs_round_trip(tmp_path, n):
    g = FollowerGraph.from_edges([], [], nodes=["only"] * n or None)
    back = kolgraph.open(g.save(tmp_path / "tiny.kg"))
    assert (back.n_accounts, back.n_edges) == (n, 0)
    assert back.external(np.arange(n)) == ["only"] * n
    assert kolgraph.verify(back.path)["ok"]


def test_resaving_an_opened_store(store, tmp_path):
    path, g = store
    back = kolgraph.open(path)
    again = kolgraph.open(back.save(tmp_path / "copy.kg"))
    assert_same_contents(g, again)
    # overwrite a store with a graph opened from that very store
    kolgraph.open(path).save(path, overwrite=True)
    assert_same_contents(g, kolgraph.open(path))
    assert kolgraph.verify(path)["ok"]


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    rng = np.random.default_rng(7)
    n, m = 400_000, 3_000_000
    g = FollowerGraph.from_edges(rng.integers(0, n, m), rng.integers(0, n, m),
                                 followed_at=rng.integers(0, 2**31, m))
    return g.save(tmp_path_factory.mktemp("big") / "big.kg"), g.n_edges


def test_open_is_fast_because_it_maps(big_store):
    path, n_edges = big_store
    assert n_edges > 2_900_000
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        g = kolgraph.open(path)
        best = min(best, time.perf_counter() - t0)
    assert g.n_edges == n_edges and isinstance(g.in_indices, np.memmap)
    assert best < 0.5, f"opening a {n_edges:,}-edge store took {best:.3f}s: it should only map files"


# --- refusing to clobber ------------------------------------------------------------------

def test_write_refuses_to_overwrite_without_permission(store, rng, random_edges):
    path, g = store
    other = build_graph(rng, random_edges, "str", extras=False)
    with pytest.raises(StoreError, match="already exists; pass overwrite=True"):
        other.save(path)
    assert_same_contents(g, kolgraph.open(path))
    other.save(path, overwrite=True)
    assert_same_contents(other, kolgraph.open(path))
    assert read_truth(path) == {}  # the old store's files are gone, not merged
    assert sorted(p.name for p in path.parent.iterdir()) == ["g.kg"]  # no temporaries left


def test_write_refuses_a_directory_that_is_not_a_store(tmp_path, rng, random_edges):
    g = build_graph(rng, random_edges, "int", extras=False)
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"\xff\xd8 not a graph")
    with pytest.raises(StoreError, match="not a kolgraph store; refusing"):
        g.save(precious, overwrite=True)
    assert (precious / "holiday.jpg").read_bytes() == b"\xff\xd8 not a graph"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(StoreError):
        g.save(a_file, overwrite=True)
    assert a_file.read_text() == "keep me"


# --- corruption ---------------------------------------------------------------------------

STORE_FILES = ["in_indices.npy", "out_indptr.npy", "ids.npy", "followed_at.npy",
               "creators.parquet", "accounts.parquet", "truth/planted.npy"]


@pytest.mark.parametrize("name", STORE_FILES)
def test_missing_file_is_named(store, name):
    path, _ = store
    (path / name).unlink()
    opener = read_truth if name.startswith("truth/") else kolgraph.open
    with pytest.raises(StoreCorruptedError, match=f"{name}.* is missing"):
        opener(path)
    with pytest.raises(StoreCorruptedError, match=f"{name}.* is missing"):
        kolgraph.verify(path)


@pytest.mark.parametrize("name", STORE_FILES)
def test_truncated_file_is_named(store, name):
    path, _ = store
    f = path / name
    size = f.stat().st_size
    with open(f, "r+b") as fh:
        fh.truncate(size - 5)
    opener = read_truth if name.startswith("truth/") else kolgraph.open
    with pytest.raises(StoreCorruptedError, match=f"{name} has {size - 5:,} bytes.*truncated"):
        opener(path)
    with pytest.raises(StoreCorruptedError, match=name):
        kolgraph.verify(path)


@pytest.mark.parametrize("name", STORE_FILES)
def test_altered_byte_is_caught_by_verify(store, name):
    path, g = store
    f = path / name
    data = bytearray(f.read_bytes())
    pos = len(data) - 1 if name.endswith(".npy") else len(data) // 2  # .npy: in the data block
    data[pos] ^= 0x01
    f.write_bytes(bytes(data))
    if name.endswith(("indptr.npy", "indices.npy")):  # open's O(E) structure check sees it
        with pytest.raises(StoreCorruptedError, match=f"{name.split('_')[0]}_ind.*altered"):
            kolgraph.open(path)
    else:  # elsewhere open checks sizes and headers only: it passes
        back = kolgraph.open(path)
        assert back.n_edges == g.n_edges
    with pytest.raises(StoreCorruptedError, match=f"{name}: sha256 differs.*altered"):
        kolgraph.verify(path)


def test_array_header_that_disagrees_with_the_manifest(store):
    path, _ = store
    f = path / "in_indices.npy"
    arr = np.load(f)
    np.save(f, arr.view(np.float32))  # same size, other dtype
    assert f.stat().st_size == read_manifest(path)["files"]["in_indices.npy"]["size"]
    with pytest.raises(StoreCorruptedError, match=r"in_indices.npy: header says <f4"):
        kolgraph.open(path)


def _edit_manifest(path: Path, **changes) -> None:
    m = json.loads((path / MANIFEST).read_text())
    m.update(changes)
    (path / MANIFEST).write_text(json.dumps(m))


def test_wrong_format_version_names_both_versions(store):
    path, _ = store
    _edit_manifest(path, format_version=99)
    for call in (kolgraph.open, kolgraph.verify, read_truth):
        with pytest.raises(StoreCorruptedError, match=r"store format version 99.*reads version 1"):
            call(path)


def test_manifest_counts_must_match_the_arrays(store):
    path, g = store
    _edit_manifest(path, edges=g.n_edges + 1)
    with pytest.raises(StoreCorruptedError, match="disagree with the manifest"):
        kolgraph.open(path)


def test_missing_manifest(store):
    path, _ = store
    (path / MANIFEST).unlink()
    with pytest.raises(StoreCorruptedError, match=r"manifest.json is missing.*not a kolgraph store"):
        kolgraph.open(path)
    with pytest.raises(StoreCorruptedError, match="manifest.json is missing"):
        kolgraph.verify(path)


@pytest.mark.parametrize("garbage", [b"\x00\xff\xfe garbage", b"{not json", b"", b"[1, 2, 3]", b"null",
                                     b'"kolgraph-store"', b'{"format": "something-else"}',
                                     b'{"format": "kolgraph-store"}'],
                         ids=["binary", "broken", "empty", "list", "null", "string", "other", "no_version"])
def test_garbage_manifest(store, garbage):
    path, _ = store
    (path / MANIFEST).write_bytes(garbage)
    with pytest.raises(StoreCorruptedError, match="manifest.json"):
        kolgraph.open(path)


def test_nonexistent_path(tmp_path):
    for call in (kolgraph.open, kolgraph.verify, read_truth):
        with pytest.raises(StoreNotFoundError, match="no store at") as err:
            call(tmp_path / "nowhere.kg")
        assert isinstance(err.value, FileNotFoundError)
    (tmp_path / "file.kg").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        kolgraph.open(tmp_path / "file.kg")


# --- crash safety --------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from kolgraph import FollowerGraph
    from kolgraph.ids import IdMap

    target = sys.argv[1]
    # a big valid graph, built directly as CSR: accounts 0..k-1 follow all n accounts
    k, n = 8, 2_000_000
    in_indptr = np.arange(0, k * n + 1, k, dtype=np.int64)
    in_indices = np.tile(np.arange(k, dtype=np.int32), n)
    out_indptr = np.concatenate([np.arange(0, k * n + 1, n, dtype=np.int64),
                                 np.full(n - k, k * n, dtype=np.int64)])
    out_indices = np.tile(np.arange(n, dtype=np.int32), k)
    g = FollowerGraph(in_indptr, in_indices, out_indptr, out_indices,
                      IdMap(ints=np.arange(n, dtype=np.int64) * 7),
                      followed_at=np.arange(k * n, dtype=np.int64))

    class NeverReady:
        # a truth entry that never finishes converting: the writer cannot reach the final
        # swap before the test kills it, however fast this machine writes
        def __array__(self, dtype=None, copy=None):
            time.sleep(600)

    g.save(target, overwrite=True, truth={"z_never": NeverReady()})
    print("finished", flush=True)
""")


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.tmp-*"))


@pytest.mark.slow
def test_killed_writer_leaves_the_old_store_intact(store, tmp_path):
    path, old = store
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        tmp = None
        while time.monotonic() < deadline and writer.poll() is None:
            found = [t for t in _temporaries(path) if t.name.startswith(f".g.kg.tmp-{writer.pid}-")]
            # kill while it writes arrays: once the first file in the temporary has data
            if found and any(f.stat().st_size > 0 for f in found[0].glob("*.npy")):
                tmp = found[0]
                break
            time.sleep(0.001)
        assert writer.poll() is None, writer.communicate()
        assert tmp is not None, "the writer never started writing its temporary directory"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait(timeout=30)  # reap it, so its pid is really gone
    assert writer.returncode == -signal.SIGKILL
    out = writer.stdout.read()
    assert b"finished" not in out

    # the temporary stays behind, incomplete; the old store is untouched
    assert tmp.is_dir() and not (tmp / MANIFEST).exists()
    assert kolgraph.verify(path)["ok"]
    back = kolgraph.open(path)
    assert_same_contents(old, back)
    np.testing.assert_array_equal(read_truth(path)["planted"], np.arange(5))

    # a temporary of a live writer (this process) must survive the clean-up
    live = path.parent / f".{path.name}.tmp-{os.getpid()}-cafebabe"
    live.mkdir()
    try:
        small = FollowerGraph.from_edges(["x"], ["y"])
        small.save(path, overwrite=True)  # the next write clears the dead writer's temporary
        assert not tmp.exists()
        assert _temporaries(path) == [live]
        assert kolgraph.open(path).followers("y") == ["x"]
        assert kolgraph.verify(path)["ok"]
    finally:
        live.rmdir()
