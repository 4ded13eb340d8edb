"""FollowerGraph: CSR build (oracle: networkx and tests/naive.py), hypothesis properties,
conversions, creator and account tables, and the contract over every toy graph."""

from __future__ import annotations

import csv
import json
import warnings
from datetime import datetime, timezone

import igraph as ig
import naive
import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kolgraph
from kolgraph import FollowerGraph, InputError, UnknownAccountError
from kolgraph.tables import KolgraphWarning

# --- helpers -------------------------------------------------------------------------

def assert_rows_strictly_sorted(indptr, indices) -> None:
    for row in naive.csr_rows(indptr, indices):
        assert all(a < b for a, b in zip(row, row[1:], strict=False)), row


def assert_matches_oracle(g: FollowerGraph, src, dst, times=None, nodes=(), report=True) -> None:
    """Every fact networkx and the naive references know about the edge list
    (``report=False``: the graph was not built from this exact list, skip the counts)."""
    G = naive.digraph(src, dst, nodes)
    names = g.external(np.arange(g.n_accounts))
    assert names == naive.sorted_ids(G.nodes)  # same node set, in internal-id order
    assert g.n_accounts == G.number_of_nodes()
    assert g.n_edges == G.number_of_edges()
    assert naive.graph_edges(g) == set(G.edges)
    for a in names:
        assert g.followers(a) == sorted(G.predecessors(a), key=naive.id_key)
        assert g.following(a) == sorted(G.successors(a), key=naive.id_key)
    idx = g.index(names)
    assert g.in_degree[idx].tolist() == [G.in_degree(a) for a in names]
    assert g.out_degree[idx].tolist() == [G.out_degree(a) for a in names]
    assert_rows_strictly_sorted(g.in_indptr, g.in_indices)
    assert_rows_strictly_sorted(g.out_indptr, g.out_indices)
    if not report:
        return
    n_self, n_dup = naive.edge_counts(src, dst)
    assert g.report["self_follows"] == n_self
    assert g.report["duplicate_edges"] == n_dup
    assert g.report["input_edges"] == len(src)
    assert g.report["edges"] == g.n_edges
    assert g.report["accounts"] == g.n_accounts
    if times is None:
        assert g.followed_at is None
    else:
        assert g.followed_at.dtype == np.int64 and len(g.followed_at) == g.n_edges
        assert naive.graph_edge_times(g) == naive.earliest_times(src, dst, times)


def assert_same_graph(a: FollowerGraph, b: FollowerGraph) -> None:
    for name in ("in_indptr", "in_indices", "out_indptr", "out_indices"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.external(np.arange(a.n_accounts)) == b.external(np.arange(b.n_accounts))


# --- 1. CSR oracle ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["int", "str"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_from_edges_matches_networkx_on_random_graphs(random_edges, kind, seed):
    rng = np.random.default_rng(seed)
    src, dst, times = random_edges(rng, kind)
    assert naive.edge_counts(src, dst)[0] > 0 and naive.edge_counts(src, dst)[1] > 0
    g = FollowerGraph.from_edges(src, dst, followed_at=times)
    assert g.ids.kind == kind
    assert_matches_oracle(g, src, dst, times)
    g_plain = FollowerGraph.from_edges(src, dst)
    assert_matches_oracle(g_plain, src, dst)


def test_from_edges_dtypes_and_layout(random_edges, rng):
    src, dst, times = random_edges(rng, "int")
    g = FollowerGraph.from_edges(src, dst, followed_at=times)
    assert g.in_indptr.dtype == np.int64 and g.out_indptr.dtype == np.int64
    assert g.in_indices.dtype == np.int32 and g.out_indices.dtype == np.int32
    assert g.in_indptr[0] == 0 and g.out_indptr[0] == 0
    assert g.in_indptr[-1] == g.out_indptr[-1] == len(g.in_indices) == len(g.out_indices)


@pytest.mark.parametrize("flavour", ["list", "numpy", "arrow", "chunked", "pandas"])
@pytest.mark.parametrize("kind", ["int", "str"])
def test_from_edges_accepts_every_column_flavour(random_edges, rng, flavour, kind):
    src, dst, times = random_edges(rng, kind, m=120)
    wrap = {
        "list": list,
        "numpy": np.asarray,
        "arrow": pa.array,
        "chunked": lambda v: pa.chunked_array([pa.array(v[:50]), pa.array(v[50:])]),
        "pandas": pd.Series,
    }[flavour]
    g = FollowerGraph.from_edges(wrap(src), wrap(dst), followed_at=wrap(times))
    assert_matches_oracle(g, src, dst, times)


def _real_graph(data_dir, name):
    if name.endswith(".json"):
        src, dst, labelled = naive.read_brand_graph(data_dir / name)
        return src, dst, labelled
    src, dst = naive.read_edge_list(data_dir / name)
    return src, dst, []


REAL_GRAPHS = {
    # file: (accounts, edges after dropping self-follows), as the dataset README states
    "email-Eu-core/email-Eu-core.txt": (1_005, 25_571 - 642),
    "konect-ego-twitter/out.ego-twitter": (23_370, 33_101),
    "wiki-Vote/wiki-Vote.txt": (7_115, 103_689),
    "twitter-brand-follower-graphs/hersheycareers.json": (3_726, 23_939),
}


@pytest.mark.parametrize("name", list(REAL_GRAPHS), ids=lambda n: n.split("/")[0])
def test_from_edges_matches_networkx_on_real_graphs(data_dir, name):
    src, dst, labelled = _real_graph(data_dir, name)
    g = FollowerGraph.from_edges(np.asarray(src), np.asarray(dst), nodes=labelled or None)
    assert (g.n_accounts, g.n_edges) == REAL_GRAPHS[name]
    assert_matches_oracle(g, src, dst, nodes=labelled)


@pytest.mark.parametrize("name", ["email-Eu-core/email-Eu-core.txt", "wiki-Vote/wiki-Vote.txt"],
                         ids=["email-Eu-core", "wiki-Vote"])
def test_real_graph_with_injected_duplicates_and_times(data_dir, rng, name):
    src, dst, _ = _real_graph(data_dir, name)
    m = len(src)
    extra = rng.integers(0, m, m // 5)
    order = rng.permutation(m + len(extra))
    src2 = (np.asarray(src + [src[i] for i in extra])[order]).tolist()
    dst2 = (np.asarray(dst + [dst[i] for i in extra])[order]).tolist()
    times = rng.integers(0, 2_000_000_000, len(src2)).tolist()
    g = FollowerGraph.from_edges(src2, dst2, followed_at=times)
    assert g.n_edges == REAL_GRAPHS[name][1]
    assert_matches_oracle(g, src2, dst2, times)


def test_followed_at_keeps_earliest_time_of_duplicates():
    g = FollowerGraph.from_edges(["a", "a", "b", "a", "c"], ["z", "z", "z", "z", "c"],
                                 followed_at=[300, 100, 50, 200, 7])
    assert g.followers("z") == ["a", "b"]
    row = g.followed_at[g.in_indptr[g.index(["z"])[0]]: g.in_indptr[g.index(["z"])[0] + 1]]
    assert row.tolist() == [100, 50]
    assert g.report["duplicate_edges"] == 2 and g.report["self_follows"] == 1


def test_followed_at_from_text_and_datetimes():
    want = [int(datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()),
            int(datetime(2021, 6, 30, tzinfo=timezone.utc).timestamp()), 0]
    zoned = ["2020-01-02T03:04:05Z", "2021-06-30T02:00:00+02:00", "1970-01-01T00:00:00Z"]
    naive_utc = ["2020-01-02T03:04:05", "2021-06-30", "1970-01-01 00:00:00"]
    src, dst = ["a", "b", "c"], ["x", "y", "z"]
    for times in (zoned, naive_utc, pd.Series(pd.to_datetime(zoned, format="ISO8601", utc=True)),
                  np.array([np.datetime64(w, "s") for w in want], dtype="datetime64[ns]"),
                  pd.Series(np.array([np.datetime64(w, "s") for w in want], dtype="datetime64[ns]"))):
        g = FollowerGraph.from_edges(src, dst, followed_at=times)
        got = naive.graph_edge_times(g)
        assert [got[(u, v)] for u, v in zip(src, dst, strict=True)] == want


def test_from_edges_input_errors():
    with pytest.raises(InputError, match="differ in length"):
        FollowerGraph.from_edges([1, 2], [3])
    with pytest.raises(InputError, match="one value per edge"):
        FollowerGraph.from_edges([1, 2], [3, 4], followed_at=[5])
    with pytest.raises(InputError, match="followed_at"):
        FollowerGraph.from_edges([1, 2], [3, 4], followed_at=[5, None])
    with pytest.raises(InputError, match="empty"):
        FollowerGraph.from_edges(["a", None], ["b", "c"])
    with pytest.raises(InputError, match="does not fit in int64"):
        FollowerGraph.from_edges(np.array([2**63 + 5], np.uint64), np.array([1], np.uint64))
    with pytest.raises(InputError, match="expected a pyarrow Table"):
        FollowerGraph.from_edges([1], [2], creators=[1, 2])


# --- 2. hypothesis properties ---------------------------------------------------------

ID_POOLS = {
    "small_int": st.integers(-5, 12),  # dense-range id map
    "big_int": st.integers(-(2**63), 2**63 - 1),  # hashed id map
    "text": st.text(max_size=3),
}


@st.composite
def edge_inputs(draw):
    pool = ID_POOLS[draw(st.sampled_from(sorted(ID_POOLS)))]
    ids = draw(st.lists(pool, min_size=1, max_size=12, unique=True))
    pick = st.sampled_from(ids)  # a small pool: duplicates and self-follows are common
    edges = draw(st.lists(st.tuples(pick, pick), max_size=80))
    nodes = draw(st.lists(pool, max_size=5))
    creators = draw(st.lists(pool, max_size=5, unique=True))
    return [u for u, _ in edges], [v for _, v in edges], nodes, creators


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edge_inputs())
def test_from_edges_properties(inp):
    src, dst, nodes, creators = inp
    table = pa.table({"id": pa.array(creators, pa.large_string() if any(isinstance(c, str) for c in creators)
                                     else pa.int64())}) if creators else None
    g = FollowerGraph.from_edges(src, dst, nodes=nodes or None, creators=table)
    n, m = g.n_accounts, g.n_edges
    # edge set = input minus self-follows
    assert naive.graph_edges(g) == naive.edge_set(src, dst)
    # accounts = every id seen, isolated nodes and creators without edges included
    assert set(g.external(np.arange(n))) == set(src) | set(dst) | set(nodes) | set(creators)
    # indptr: starts at 0, monotone, ends at the edge count
    for indptr in (g.in_indptr, g.out_indptr):
        assert len(indptr) == n + 1 and indptr[0] == 0 and indptr[-1] == m
        assert (np.diff(indptr) >= 0).all()
    # in and out CSR are transposes of each other
    t_indptr, t_indices = naive.transpose(g.in_indptr, g.in_indices, n)
    assert g.out_indptr.tolist() == t_indptr and g.out_indices.tolist() == t_indices
    assert_rows_strictly_sorted(g.in_indptr, g.in_indices)
    # degrees sum to the edge count
    assert g.in_degree.sum() == g.out_degree.sum() == m
    assert g.report["self_follows"] + g.report["duplicate_edges"] + m == len(src)
    if creators:
        c = g.creators
        assert c.column("id").to_pylist() == naive.sorted_ids(creators)
        assert c.column("followers").to_pylist() == g.in_degree[c.column("idx").to_numpy()].tolist()
        assert c.column("idx").to_pylist() == g.index(c.column("id").to_pylist()).tolist()


# --- 3. conversions ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["int", "str"])
def test_networkx_round_trip(random_edges, rng, kind):
    src, dst, _ = random_edges(rng, kind, m=200)
    isolated = [10**6, -(10**6)] if kind == "int" else ["lonely", "ünique"]
    G = naive.digraph(src, dst, isolated)
    g = FollowerGraph.from_networkx(G)
    assert_matches_oracle(g, src, dst, nodes=isolated, report=False)
    H = g.to_networkx()
    assert isinstance(H, nx.DiGraph)
    assert set(H.nodes) == set(G.nodes)
    assert set(H.edges) == set(G.edges)
    assert all(H.degree(a) == 0 for a in isolated)


def test_from_networkx_node_attributes_become_account_table():
    G = nx.DiGraph()
    G.add_node("ann", posts="12", verified=True, country="NO")
    G.add_node("bob")
    G.add_edge("bob", "ann")
    g = FollowerGraph.from_networkx(G)
    acc = g.accounts
    assert acc.column("id").to_pylist() == ["ann", "bob"]
    assert acc.column("posts").type == pa.int64()
    assert acc.column("posts").to_pylist() == [12, None]
    assert acc.column("verified").to_pylist() == [True, None]
    assert acc.column("country").to_pylist() == ["NO", None]


@pytest.mark.parametrize("kind", ["int", "str"])
def test_igraph_round_trip(random_edges, rng, kind):
    src, dst, _ = random_edges(rng, kind, m=200)
    isolated = [10**6] if kind == "int" else ["lonely"]
    g = FollowerGraph.from_edges(src, dst, nodes=isolated)
    h = g.to_igraph()
    assert h.is_directed() and h.vcount() == g.n_accounts and h.ecount() == g.n_edges
    names = h.vs["name"]
    assert {(names[a], names[b]) for a, b in h.get_edgelist()} == naive.edge_set(src, dst)
    back = FollowerGraph.from_igraph(h)
    assert_same_graph(g, back)
    assert back.followers(isolated[0]) == [] and back.following(isolated[0]) == []


def test_from_igraph_without_names_uses_vertex_numbers():
    h = ig.Graph(n=6, edges=[(0, 1), (1, 2), (2, 0), (0, 1), (3, 3)], directed=True)
    g = FollowerGraph.from_igraph(h)
    assert g.external(np.arange(g.n_accounts)) == [0, 1, 2, 3, 4, 5]
    assert naive.graph_edges(g) == {(0, 1), (1, 2), (2, 0)}
    assert g.report["duplicate_edges"] == 1 and g.report["self_follows"] == 1
    empty = FollowerGraph.from_igraph(ig.Graph(n=3, directed=True))
    assert (empty.n_accounts, empty.n_edges) == (3, 0)


def test_from_arrow_and_pandas_with_column_names(random_edges, rng):
    src, dst, times = random_edges(rng, "str", m=150)
    table = pa.table({"who": src, "whom": dst, "when": pa.array(times, pa.int64()), "junk": [1] * len(src)})
    g = FollowerGraph.from_arrow(table, follower="who", followee="whom", followed_at="when")
    assert_matches_oracle(g, src, dst, times)
    df = table.to_pandas()
    g2 = FollowerGraph.from_pandas(df, follower="who", followee="whom", followed_at="when")
    assert_same_graph(g, g2)
    np.testing.assert_array_equal(g.followed_at, g2.followed_at)
    g3 = FollowerGraph.from_arrow(pa.table({"follower": src, "followee": dst}))  # default names
    assert naive.graph_edges(g3) == naive.edge_set(src, dst)
    # extra from_edges keywords pass through
    g4 = FollowerGraph.from_pandas(df, follower="who", followee="whom", nodes=["extra"])
    assert g4.n_accounts == g.n_accounts + 1


def test_conversion_errors():
    with pytest.raises(InputError, match="directed"):
        FollowerGraph.from_networkx(nx.Graph([(1, 2)]))
    with pytest.raises(InputError, match="directed"):
        FollowerGraph.from_igraph(ig.Graph(n=2, edges=[(0, 1)], directed=False))
    table = pa.table({"src": [1, 2], "dst": [2, 3], "t": [5, 6]})
    with pytest.raises(InputError, match="'follower'.*columns: src, dst, t"):
        FollowerGraph.from_arrow(table)
    with pytest.raises(InputError, match="'whom'"):
        FollowerGraph.from_pandas(table.to_pandas(), follower="src", followee="whom")
    with pytest.raises(InputError, match="'when'"):
        FollowerGraph.from_arrow(table, follower="src", followee="dst", followed_at="when")
    with pytest.raises(InputError, match="expected a pyarrow Table"):
        FollowerGraph.from_arrow([[1, 2]])


# --- 5. tables: creators ---------------------------------------------------------------

def test_creators_duplicate_ids_are_named():
    creators = pa.table({"id": ["ann", "bob", "ann", "cat", "cat"]})
    with pytest.raises(InputError, match=r"more than once: 'ann', 'cat'"):
        FollowerGraph.from_edges(["x"], ["ann"], creators=creators)
    g = FollowerGraph.from_edges(["x"], ["ann"])
    with pytest.raises(InputError, match=r"more than once: 'ann'"):
        g.set_creators({"id": ["ann", "ann"]})


@pytest.mark.parametrize("column", ["price", "avg_views"])
def test_creators_negative_values_are_refused(column):
    creators = pd.DataFrame({"id": [1, 2], column: [10.0, -0.5]})
    with pytest.raises(InputError, match=f"'{column}' has negative values"):
        FollowerGraph.from_edges([1], [2], creators=creators)


def test_creators_non_numeric_price_names_row_and_value():
    with pytest.raises(InputError, match=r"'price'.*row 2 has 'cheap'"):
        FollowerGraph.from_edges([1], [2], creators=pa.table({"id": [1, 2], "price": ["10", "cheap"]}))


def test_set_creators_unknown_id_raises():
    g = FollowerGraph.from_edges([1], [2])
    with pytest.raises(UnknownAccountError) as err:
        g.set_creators({"id": [2, 3, 4]})
    assert err.value.missing == [3, 4]


BOUNDARIES = [0, 1, 9_999, 10_000, 99_999, 100_000, 499_999, 500_000, 999_999, 1_000_000]


def test_creator_followers_and_tiers_at_the_boundaries():
    # creator k (id 10**8 + k) is followed by accounts 0 .. BOUNDARIES[k]-1: 3.2M edges
    counts = np.asarray(BOUNDARIES, dtype=np.int64)
    src = np.concatenate([np.arange(c, dtype=np.int64) for c in counts])
    dst = np.repeat(10**8 + np.arange(len(counts), dtype=np.int64), counts)
    creator_ids = (10**8 + np.arange(len(counts)))[::-1]  # given in reverse order
    creators = pa.table({"id": creator_ids, "name": [f"c{i}" for i in creator_ids],
                         "category": ["food"] * len(counts),
                         "price": np.linspace(5, 500, len(counts))})
    g = FollowerGraph.from_edges(src, dst, creators=creators)
    assert g.n_edges == counts.sum() and g.n_creators == len(counts)
    c = g.creators
    assert c.column_names == ["id", "idx", "name", "category", "price", "followers", "tier"]
    assert c.column("id").to_pylist() == sorted(creator_ids.tolist())
    assert c.column("name").to_pylist() == [f"c{i}" for i in sorted(creator_ids.tolist())]
    assert c.column("followers").to_pylist() == BOUNDARIES
    assert c.column("tier").to_pylist() == [naive.tier(f) for f in BOUNDARIES]
    assert c.column("tier").to_pylist() == ["nano", "nano", "nano", "micro", "micro", "mid", "mid",
                                            "macro", "macro", "mega"]
    info = g.info(top=3)
    assert info["tiers"] == {t: [naive.tier(f) for f in BOUNDARIES].count(t) for t in naive.TIERS}
    assert [r["followers"] for r in info["top_creators"]] == [1_000_000, 999_999, 500_000]
    assert [r["tier"] for r in info["top_creators"]] == ["mega", "macro", "macro"]


def test_creator_columns_are_canonical_and_joined():
    g = FollowerGraph.from_edges(
        ["a", "b"], ["c", "c"],
        creators=pd.DataFrame({"id": ["c", "solo"], "price": ["12.5", "3"], "avg_views": [100, 7],
                               "platform": ["tiktok", "yt"], "followers": [999, 999], "extra": [1, 2]}))
    c = g.creators
    assert g.n_accounts == 4  # the creator without edges joined the graph
    assert c.column("price").type == pa.float64() and c.column("price").to_pylist() == [12.5, 3.0]
    assert c.column("avg_views").type == pa.float64()
    assert c.column("extra").to_pylist() == [1, 2]  # unknown columns are kept as they are
    assert c.column("followers").to_pylist() == [2, 0]  # derived, the given column is ignored
    assert c.column("tier").to_pylist() == ["nano", "nano"]


# --- 5. tables: accounts ---------------------------------------------------------------

def _graph_abc():
    return FollowerGraph.from_edges(["a", "b", "c"], ["b", "c", "a"])


def test_accounts_unknown_ids_warn_and_are_dropped():
    g = _graph_abc()
    with pytest.warns(KolgraphWarning, match=r"2 row\(s\).*not in the graph.*'zed', 'yan'"):
        g.set_accounts({"id": ["c", "zed", "a", "yan"], "posts": [3, 99, 1, 98]})
    acc = g.accounts
    assert acc.column("id").to_pylist() == ["a", "b", "c"]
    assert acc.column("posts").to_pylist() == [1, None, 3]
    assert any("not in the graph" in w for w in g.report["warnings"])


def test_accounts_via_from_edges_and_without_warnings_when_all_known():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = FollowerGraph.from_edges(["a", "b"], ["b", "a"], accounts=pd.DataFrame({"id": ["b"], "posts": [4]}))
    assert g.accounts.column("posts").to_pylist() == [None, 4]
    assert g.info()["has_account_attributes"] is True


def test_accounts_duplicate_ids_are_named():
    g = _graph_abc()
    with pytest.raises(InputError, match=r"listed more than once: 'b'; keep one row"):
        g.set_accounts({"id": ["a", "b", "b"], "posts": [1, 2, 3]})


def test_accounts_non_numeric_value_names_column_row_and_value():
    g = _graph_abc()
    with pytest.raises(InputError, match=r"accounts: column 'posts' must be a whole number; row 3 has 'many'"):
        g.set_accounts({"id": ["a", "b", "c"], "posts": ["1", "2", "many"]})
    with pytest.raises(InputError, match=r"'followers'.*row 2 has 2\.5"):
        g.set_accounts({"id": ["a", "b"], "followers": [1.0, 2.5]})


def test_accounts_bool_columns_from_text():
    g = FollowerGraph.from_edges([], [], nodes=list(range(8)))
    g.set_accounts({"id": list(range(8)),
                    "verified": ["yes", "0", "true", "No", " Y ", "", None, "FALSE"],
                    "private": ["1", "f", "t", "n", "0", "T", "yes", "no"],
                    "has_avatar": [1, 0, 1, 0, 1, 0, 1, 0]})
    acc = g.accounts
    assert acc.column("verified").type == pa.bool_()
    assert acc.column("verified").to_pylist() == [True, False, True, False, True, False, None, False]
    assert acc.column("private").to_pylist() == [True, False, True, False, False, True, True, False]
    assert acc.column("has_avatar").to_pylist() == [True, False] * 4
    with pytest.raises(InputError, match=r"'verified' must be true/false.*row 2 has 'maybe'"):
        g.set_accounts({"id": [0, 1], "verified": ["yes", "maybe"]})


def _utc(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize("iso", [
    ["2020-01-02T03:04:05Z", "2020-01-02T05:04:05+02:00", "2019-12-31T23:00:00-01:00", None],
    ["2020-01-02T03:04:05", "2020-01-02 03:04:05", "2020-01-01", None],  # no zone: UTC
], ids=["with_zone", "without_zone"])
def test_accounts_created_at_from_iso_text_and_unix_seconds(iso):
    want = [_utc(2020, 1, 2, 3, 4, 5), _utc(2020, 1, 2, 3, 4, 5), _utc(2020, 1, 1), None]
    g = FollowerGraph.from_edges([], [], nodes=list(range(4)))
    g.set_accounts({"id": list(range(4)), "created_at": iso})
    col = g.accounts.column("created_at")
    assert col.type == pa.timestamp("s", tz="UTC")
    assert col.cast(pa.int64()).to_pylist() == want
    g.set_accounts({"id": list(range(4)), "created_at": pa.array(want, pa.int64())})
    assert g.accounts.column("created_at").cast(pa.int64()).to_pylist() == want
    g.set_accounts({"id": [0, 1], "created_at": [1.6e9, 0.0]})
    assert g.accounts.column("created_at").cast(pa.int64()).to_pylist()[:2] == [1_600_000_000, 0]
    with pytest.raises(InputError, match=r"'created_at' must be a time.*row 2 has 'soon'"):
        g.set_accounts({"id": [0, 1], "created_at": ["2020-01-01", "soon"]})


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_accounts_from_real_mib_profiles(data_dir):
    """MIB humans form the graph; the bought fake followers' rows are unknown and dropped."""
    humans = _read_csv(data_dir / "mib-fake-twitter-profiles/users.csv")
    fakes = _read_csv(data_dir / "mib-fake-twitter-profiles/fusers.csv")
    assert (len(humans), len(fakes)) == (1_481, 1_337)
    g = FollowerGraph.from_edges([], [], nodes=[int(r["id"]) for r in humans])
    rows = fakes[:600] + humans + fakes[600:]

    def iso(twitter_time: str) -> str:  # the oracle parses Twitter's format with the stdlib
        return datetime.strptime(twitter_time, "%a %b %d %H:%M:%S %z %Y").isoformat()

    table = {
        "id": [r["id"] for r in rows],  # numeric text ids against an int id map
        "posts": [r["statuses_count"] for r in rows],
        "followers": [r["followers_count"] for r in rows],
        "following": [r["friends_count"] for r in rows],
        "created_at": [iso(r["created_at"]) for r in rows],
        "has_avatar": ["no" if r["default_profile_image"] == "1" else "yes" for r in rows],
        "verified": [r["verified"] for r in rows],
        "language": [r["lang"] for r in rows],
        "bio": [r["description"] for r in rows],
    }
    with pytest.warns(KolgraphWarning, match="1,337 row"):
        g.set_accounts(table)
    acc = g.accounts.to_pylist()
    assert len(acc) == 1_481
    by_id = {int(r["id"]): r for r in humans}
    for got in acc:
        r = by_id[got["id"]]
        assert got["posts"] == int(r["statuses_count"])
        assert got["followers"] == int(r["followers_count"])
        assert got["following"] == int(r["friends_count"])
        assert got["created_at"] == datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y")
        assert got["has_avatar"] is (r["default_profile_image"] != "1")
        assert got["verified"] is False
        assert got["language"] == r["lang"] and got["bio"] == r["description"]


def test_accounts_from_real_instagram_set(data_dir):
    rows = _read_csv(data_dir / "instagram-fake-spammer-genuine/train.csv")
    assert len(rows) == 576
    g = FollowerGraph.from_edges([], [], nodes=list(range(len(rows))))
    g.set_accounts({"id": list(range(len(rows)))[::-1],
                    "has_avatar": [r["profile pic"] for r in rows][::-1],
                    "private": [r["private"] for r in rows][::-1],
                    "posts": [r["#posts"] for r in rows][::-1],
                    "followers": [r["#followers"] for r in rows][::-1],
                    "following": [r["#follows"] for r in rows][::-1]})
    acc = g.accounts
    assert acc.column("posts").to_pylist() == [int(r["#posts"]) for r in rows]
    assert acc.column("followers").to_pylist() == [int(r["#followers"]) for r in rows]
    assert acc.column("following").to_pylist() == [int(r["#follows"]) for r in rows]
    assert acc.column("private").to_pylist() == [r["private"] == "1" for r in rows]
    assert acc.column("has_avatar").to_pylist() == [r["profile pic"] == "1" for r in rows]


# --- 9. contract over every toy graph ------------------------------------------------------

def test_contract_on_toy_graphs(toy, tmp_path):
    g = toy.build()
    n, m = g.n_accounts, g.n_edges
    assert (n, m) == (toy.n_accounts, toy.n_edges)
    assert g.report["self_follows"] == toy.self_follows
    assert g.report["duplicate_edges"] == toy.duplicate_edges
    assert_matches_oracle(g, toy.src, toy.dst, nodes=toy.nodes + toy.creators)
    assert len(g.in_indptr) == len(g.out_indptr) == n + 1
    assert len(g.in_indices) == len(g.out_indices) == m
    assert g.in_degree.shape == g.out_degree.shape == (n,)
    assert g.in_degree.sum() == g.out_degree.sum() == m

    names = g.external(np.arange(n))
    assert len(names) == n and g.index(names).tolist() == list(range(n))
    for i, a in enumerate(names):
        assert g.followers(a) == g.external(g.followers_idx(i))
        assert g.following(a) == g.external(g.following_idx(i))
        assert len(g.followers_idx(i)) == g.in_degree[i]
    src, dst = g.edge_arrays()
    assert len(src) == len(dst) == m
    assert {(names[u], names[v]) for u, v in zip(src.tolist(), dst.tolist(), strict=True)} == naive.graph_edges(g)
    with pytest.raises(UnknownAccountError):
        g.followers("no-such-account-anywhere")

    assert g.n_creators == len(toy.creators)
    if toy.creators:
        c = g.creators
        assert c.num_rows == len(toy.creators)
        assert c.column("followers").to_pylist() == g.in_degree[c.column("idx").to_numpy()].tolist()
    else:
        assert g.creators is None

    info = g.info()
    json.dumps(info)  # JSON-ready
    assert (info["accounts"], info["edges"], info["creators"]) == (n, m, len(toy.creators))
    assert info["followers"]["max"] == (int(g.in_degree.max()) if n else 0)
    assert info["following"]["max"] == (int(g.out_degree.max()) if n else 0)
    tiers = info["tiers"] if toy.creators else info["tiers_all_accounts"]
    assert sum(tiers.values()) == (len(toy.creators) if toy.creators else n)
    top = info["top_creators"] if toy.creators else info["top_accounts"]
    assert len(top) == min(10, len(toy.creators) if toy.creators else n)
    assert str(n) in repr(g) and str(m) in repr(g)

    assert g.accounts is None
    g.set_accounts({"id": names, "posts": list(range(n))})
    assert g.accounts.num_rows == n and g.accounts.column("id").to_pylist() == names
    g.set_creators({"id": names})
    assert g.n_creators == n

    H = g.to_networkx()
    assert (H.number_of_nodes(), H.number_of_edges()) == (n, m)
    assert_same_graph(g, FollowerGraph.from_networkx(H))
    h = g.to_igraph()
    assert (h.vcount(), h.ecount()) == (n, m)
    assert_same_graph(g, FollowerGraph.from_igraph(h))

    back = kolgraph.open(g.save(tmp_path / f"{toy.name}.kg"))
    assert_same_graph(g, back)
    assert back.n_creators == n and back.accounts.num_rows == n
    assert back.info()["edges"] == m


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.integers(0, 11), max_size=8), max_size=30),
       n_parts=st.integers(1, 4), pick=st.integers(0, 2**16))
def test_transposes_of_row_slices_match_a_naive_transpose(rows, n_parts, pick):
    """kernels.csr.transpose_rows (parallel column parts) and transpose_rows_serial against a
    dict-of-lists transpose, on any subset of a CSR's rows."""
    from kolgraph.kernels.csr import transpose_rows, transpose_rows_serial

    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    indices = np.array([c for r in rows for c in r], np.int32)
    keep = [r for r in range(len(rows)) if (pick >> (r % 16)) & 1]
    starts, ends = indptr[keep], indptr[np.array(keep, np.int64) + 1] if keep else indptr[:0]
    want_rows = {c: [] for c in range(12)}
    want_pos = {c: [] for c in range(12)}
    for i, r in enumerate(keep):
        for p in range(indptr[r], indptr[r + 1]):
            want_rows[indices[p]].append(i)
            want_pos[indices[p]].append(p)
    for ptr, out, pos in (transpose_rows(starts, ends, indices, 12, n_parts, True),
                          transpose_rows_serial(starts, ends, indices, 12, True)):
        for c in range(12):
            assert out[ptr[c]:ptr[c + 1]].tolist() == want_rows[c]
            assert pos[ptr[c]:ptr[c + 1]].tolist() == want_pos[c]


# --- derived indexes under concurrency (issue 15, finding 12) --------------------------
def test_derived_index_is_built_once_by_concurrent_first_callers():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    g = FollowerGraph.from_edges([0, 2], [1, 1])
    builds, start = [], threading.Barrier(8)

    def build():
        builds.append(1)
        time.sleep(0.05)  # long enough that the other callers arrive mid-build
        return object()

    def first_call(_):
        start.wait()
        return g.derived(("test.index",), build)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(first_call, range(8)))
    assert len(builds) == 1
    assert all(x is got[0] for x in got)


def test_size_index_keeps_one_entry_per_candidate_set(monkeypatch):
    from kolgraph import reach

    rng = np.random.default_rng(12)
    g = FollowerGraph.from_edges(rng.integers(0, 400, 6000), rng.integers(0, 40, 6000),
                                 creators=pa.table({"id": list(range(40))}))
    builds = []
    real = reach.dense_rows
    monkeypatch.setattr(reach, "dense_rows", lambda *a: builds.append(1) or real(*a))
    for among in ("creators", "accounts", "creators", "accounts"):
        reach._size_index(g, among)
    assert len(builds) == 2  # alternating candidate sets do not rebuild each other's index
