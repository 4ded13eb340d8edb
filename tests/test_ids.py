"""IdMap: both integer paths (dense range, hash table) against np.unique, UTF-8 byte
order of string ids, lookups, strict errors, round trips."""

from __future__ import annotations

import naive
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kolgraph.kernels import idmap as kernels

from kolgraph import InputError, UnknownAccountError
from kolgraph.ids import IdMap

INT64_MIN, INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


@pytest.fixture
def path_spy(monkeypatch):
    """Records which integer strategy IdMap.encode picked."""
    calls = []
    for name in ("map_dense_range", "map_hashed"):
        real = getattr(kernels, name)

        def spy(*args, _real=real, _name=name):
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(kernels, name, spy)
    return calls


def assert_encodes_like_unique(columns, path_spy=None, expect_path=None):
    idmap, dense = IdMap.encode(columns)
    flat = np.concatenate([np.asarray(c, dtype=np.int64) for c in columns])
    uniq, inv = naive.unique_inverse(flat)
    assert idmap.kind == "int"
    np.testing.assert_array_equal(idmap.ints, uniq)
    assert [len(d) for d in dense] == [len(c) for c in columns]
    np.testing.assert_array_equal(np.concatenate(dense), inv)
    assert all(d.dtype == np.int32 for d in dense)
    if expect_path is not None:
        assert path_spy == [expect_path]
    return idmap


# --- integer ids: both strategies ------------------------------------------------------

def test_small_range_ids_take_the_dense_path(rng, path_spy):
    cols = [rng.integers(-50, 5_000, 3_000), rng.integers(0, 5_000, 10)]
    assert_encodes_like_unique(cols, path_spy, "map_dense_range")


def test_huge_sparse_ids_take_the_hashed_path(rng, path_spy):
    ids = rng.integers(-(10**18), 10**18, 2_000)
    cols = [ids[rng.integers(0, len(ids), 5_000)], ids[:7]]
    assert_encodes_like_unique(cols, path_spy, "map_hashed")


def test_hashed_path_at_the_int64_extremes(path_spy):
    col = np.array([INT64_MIN, 5, INT64_MAX, INT64_MIN, -1, 0, INT64_MAX, 10**18], np.int64)
    idmap = assert_encodes_like_unique([col], path_spy, "map_hashed")
    assert idmap.external([0, len(idmap) - 1]) == [INT64_MIN, INT64_MAX]
    assert idmap.lookup([INT64_MIN, INT64_MAX, 1], strict=False).tolist() == [0, len(idmap) - 1, -1]
    assert idmap.lookup([INT64_MIN, INT64_MAX], strict=True).tolist() == [0, len(idmap) - 1]


def test_hashed_path_grows_past_its_initial_table(rng, path_spy):
    # 1.3M distinct ids: more than the 2**20-slot start, so the table is rebuilt while filling
    ids = rng.integers(INT64_MIN, INT64_MAX, 1_300_000, endpoint=True)
    assert_encodes_like_unique([ids], path_spy, "map_hashed")


def test_both_kernels_agree_on_the_same_input(rng):
    values = rng.integers(-1_000, 1_000, 20_000)
    lo = int(values.min())
    u1, d1 = kernels.map_dense_range(values, lo, int(values.max()) - lo + 1)
    u2, d2 = kernels.map_hashed(values)
    uniq, inv = naive.unique_inverse(values)
    np.testing.assert_array_equal(u1, uniq)
    np.testing.assert_array_equal(u2, uniq)
    np.testing.assert_array_equal(d1, inv)
    np.testing.assert_array_equal(d2, inv)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(st.integers(-3, 40), st.integers(INT64_MIN, INT64_MAX)),
                         max_size=40), min_size=1, max_size=4))
def test_int_encode_matches_np_unique(columns):
    columns = [np.asarray(c, dtype=np.int64) for c in columns]
    idmap = assert_encodes_like_unique(columns)
    everything = np.concatenate(columns)
    np.testing.assert_array_equal(idmap.external(idmap.lookup(everything)), everything)


def test_empty_int_map():
    idmap, dense = IdMap.encode([np.empty(0, np.int64), np.empty(0, np.int64)])
    assert len(idmap) == 0 and idmap.kind == "int"
    assert [len(d) for d in dense] == [0, 0]
    assert idmap.lookup([1, 2], strict=False).tolist() == [-1, -1]
    with pytest.raises(UnknownAccountError):
        idmap.lookup([1])


def test_null_ids_are_refused():
    with pytest.raises(InputError, match="empty values"):
        IdMap.encode([pa.array([1, None], pa.int64())])
    with pytest.raises(InputError, match="empty values"):
        IdMap.encode([pa.array(["a", None])])


# --- string ids -------------------------------------------------------------------------

TRICKY = ["a", "ab", "", "b", "Z", "é", "e", "ä", "日本", "日", "😀", "\uffff", "a\x00", "ab ", "A", "zz"]


def test_string_ids_sorted_in_utf8_byte_order():
    idmap, dense = IdMap.encode([pa.array(TRICKY[::2]), pa.array(TRICKY[1::2] + ["a", "é"])])
    want = sorted(set(TRICKY), key=lambda s: s.encode("utf-8"))
    assert idmap.kind == "str"
    assert idmap.external(np.arange(len(idmap))) == want
    assert want.index("a") < want.index("ab") and want[0] == ""  # prefixes sort first
    assert want.index("\uffff") < want.index("😀")  # 3-byte before 4-byte UTF-8
    assert idmap.to_arrow().to_pylist() == want
    assert dense[0].tolist() == [want.index(s) for s in TRICKY[::2]]
    assert dense[1].tolist() == [want.index(s) for s in TRICKY[1::2] + ["a", "é"]]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=4), min_size=1, max_size=30), st.lists(st.text(max_size=4), max_size=10))
def test_string_encode_and_lookup_match_sorted_bytes(ids, queries):
    idmap, (dense,) = IdMap.encode([pa.array(ids, pa.large_string())])
    want = sorted(set(ids), key=lambda s: s.encode("utf-8"))
    assert idmap.external(np.arange(len(idmap))) == want
    assert dense.tolist() == [want.index(s) for s in ids]
    got = idmap.lookup(queries, strict=False).tolist()
    assert got == [want.index(q) if q in want else -1 for q in queries]


def test_string_lookup_present_absent_and_strict():
    idmap, _ = IdMap.encode([pa.array(TRICKY)])
    present = ["ab", "", "😀", "a\x00"]
    absent = ["abc", " ", "a\x00\x00", "Ab", "日本語", "é "]
    assert idmap.external(idmap.lookup(present)) == present
    assert idmap.lookup(absent, strict=False).tolist() == [-1] * len(absent)
    with pytest.raises(UnknownAccountError) as err:
        idmap.lookup(present[:2] + absent)
    assert err.value.missing == absent
    assert "6 unknown account id(s)" in str(err.value) and "'abc'" in str(err.value)


def test_string_lookup_from_arrow_slices_and_chunks():
    idmap, _ = IdMap.encode([pa.array(TRICKY)])
    arr = pa.array(["x", "y", "ab", "日本", "nope", "é"], pa.large_string()).slice(2)  # offset != 0
    assert idmap.lookup(arr, strict=False).tolist() == [idmap.lookup(["ab"])[0], idmap.lookup(["日本"])[0],
                                                        -1, idmap.lookup(["é"])[0]]
    chunked = pa.chunked_array([pa.array(["é", "a"]), pa.array([]).cast(pa.string()), pa.array(["zz"])])
    assert idmap.external(idmap.lookup(chunked)) == ["é", "a", "zz"]


def test_mixed_int_and_text_columns_make_a_text_map():
    idmap, dense = IdMap.encode([np.array([10, 9]), pa.array(["9", "x"])])
    assert idmap.kind == "str"
    assert idmap.external(np.arange(len(idmap))) == ["10", "9", "x"]  # compared as text
    assert [d.tolist() for d in dense] == [[0, 1], [1, 2]]
    assert idmap.lookup([9, "10"]).tolist() == [1, 0]  # queries are compared as text too


# --- integer lookups ---------------------------------------------------------------------

def test_int_lookup_accepts_numeric_text():
    idmap, _ = IdMap.encode([np.array([42, 7, -3, 10**18])])
    assert idmap.lookup(["42", "-3", 7, np.int64(10**18), 42.0, " 7 "]).tolist() == [2, 0, 1, 3, 2, 1]
    assert idmap.lookup(pa.array(["42", "7"])).tolist() == [2, 1]
    assert idmap.lookup(np.array([7, 42], np.uint64)).tolist() == [1, 2]


def test_int_lookup_strict_lists_every_unknown():
    idmap, _ = IdMap.encode([np.arange(100)])
    queries = [5, "x", 4.5, True, None, 2**70, 1000, "12", np.uint64(2**64 - 1)] + list(range(200, 212))
    out = idmap.lookup(queries, strict=False)
    assert out[0] == 5 and out[7] == 12
    assert (out[[1, 2, 3, 4, 5, 6, 8]] == -1).all()
    with pytest.raises(UnknownAccountError) as err:
        idmap.lookup(queries)
    missing = err.value.missing
    assert missing[:7] == ["x", 4.5, True, None, 2**70, 1000, 2**64 - 1]
    assert missing[7:] == list(range(200, 212)) and len(missing) == 19
    assert "19 unknown account id(s)" in str(err.value) and "(and 9 more)" in str(err.value)
    assert isinstance(err.value, KeyError) and isinstance(err.value, InputError)
    assert idmap.lookup(np.array([2**64 - 1, 3], np.uint64), strict=False).tolist() == [-1, 3]


def test_external_round_trip_and_store_arrays(rng):
    for columns in ([rng.integers(-(10**15), 10**15, 500)], [pa.array([f"u{i}é" for i in range(300)])]):
        idmap, _ = IdMap.encode(columns)
        everything = np.arange(len(idmap))
        assert idmap.lookup(idmap.external(everything)).tolist() == everything.tolist()
        again = IdMap.from_arrays(idmap.arrays())
        assert again.kind == idmap.kind and len(again) == len(idmap)
        assert again.external(everything) == idmap.external(everything)
        assert again.to_arrow().to_pylist() == idmap.external(everything)
    assert set(IdMap.encode([np.array([1])])[0].arrays()) == {"ids"}
    assert set(IdMap.encode([pa.array(["a"])])[0].arrays()) == {"id_offsets", "id_bytes"}
    with pytest.raises(ValueError):
        IdMap()
