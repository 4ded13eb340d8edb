"""Reach engine: oracle tests against Python sets, properties, bad input, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import naive
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kolgraph
from kolgraph import FollowerGraph, InputError, UnknownAccountError
from kolgraph.reach import reach

DATA = Path(__file__).parent / "data"


def random_graph(rng, n_accounts=300, n_creators=12, m=3000, ids="int"):
    """Random follows onto a few creators (skewed sizes) plus follower-to-follower edges."""
    weights = rng.pareto(1.2, n_creators) + 0.05
    dst = rng.choice(n_creators, m, p=weights / weights.sum())
    src = rng.integers(0, n_accounts, m)
    extra = rng.integers(0, n_accounts, (m // 4, 2))
    src = np.concatenate([src, extra[:, 0]])
    dst = np.concatenate([dst, extra[:, 1]])
    if ids == "str":
        name = [f"a{i}" for i in range(n_accounts)]
        src, dst = [name[i] for i in src], [name[i] for i in dst]
    else:
        src, dst = (src * 7 - 50).tolist(), (dst * 7 - 50).tolist()
    return src, dst


def assert_report_matches(r, ref):
    assert r.unique_reach == ref["unique"]
    assert r.gross_reach == ref["gross"]
    assert r.audience.tolist() == ref["audience"]
    assert r.exclusive.tolist() == ref["exclusive"]
    assert r.incremental.tolist() == ref["incremental"]
    assert r.counts.tolist() == ref["counts"]
    assert r.exactly.tolist() == ref["exactly"]
    assert r.at_least.tolist() == ref["at_least"]
    words = r.region_masks[:, None] if r.region_masks.ndim == 1 else r.region_masks
    assert words.shape[1] == (1 if r.k <= 64 else (r.k + 63) // 64)
    regions = {tuple(i for i in range(r.k) if (int(m[i // 64]) >> (i % 64)) & 1): int(c)
               for m, c in zip(words, r.region_counts, strict=True)}
    assert regions == ref["regions"]
    if "expected" in ref:
        assert r.expected_reach == pytest.approx(ref["expected"], rel=1e-12, abs=1e-9)


# --- oracle tests -------------------------------------------------------------------------
@pytest.mark.parametrize("ids", ["int", "str"])
def test_random_graphs_match_python_sets(rng, ids):
    for _ in range(6):
        src, dst = random_graph(rng, n_accounts=int(rng.integers(20, 400)), ids=ids)
        g = FollowerGraph.from_edges(src, dst)
        fol = naive.followers_by_account(src, dst)
        pool = sorted(fol, key=naive.id_key)
        k = int(rng.integers(1, min(len(pool), 14) + 1))
        chosen = [pool[i] for i in rng.choice(len(pool), k, replace=False)]
        p = rng.random(k)
        r = reach(g, chosen, view_rates=p)
        assert r.ids == chosen
        ref = naive.reach_report(naive.audiences(fol, chosen), p=p.tolist())
        assert_report_matches(r, ref)


def test_64_creators_and_many_blocks(rng):
    n = 5000
    src = rng.integers(0, n, 40_000)
    dst = rng.integers(0, 64, 40_000) * 70  # creators spread over many 64-account blocks
    g = FollowerGraph.from_edges(src, dst)
    fol = naive.followers_by_account(src.tolist(), dst.tolist())
    chosen = sorted(set(dst.tolist()))
    assert len(chosen) == 64
    r = reach(g, chosen[::-1])
    assert_report_matches(r, naive.reach_report(naive.audiences(fol, chosen[::-1])))
    d = r.to_dict()
    assert len(d["regions"]) <= 100 and any("largest" in w for w in d["warnings"])


def test_more_than_64_creators(rng):
    n = 3000
    src = rng.integers(0, n, 30_000)
    dst = rng.integers(0, 150, 30_000) * 13 + 7
    g = FollowerGraph.from_edges(src, dst)
    fol = naive.followers_by_account(src.tolist(), dst.tolist())
    chosen = sorted(set(dst.tolist()))
    assert len(chosen) == 150
    order = [chosen[i] for i in rng.permutation(150)]
    p = rng.random(150)
    r = reach(g, order, view_rates=p)
    assert r.region_masks.shape == (len(r.region_counts), 3)
    assert_report_matches(r, naive.reach_report(naive.audiences(fol, order), p=p.tolist()))
    top = r.regions(limit=5)
    assert [x["count"] for x in top] == sorted(r.region_counts.tolist(), reverse=True)[:5]
    m = r.region_masks[np.argmax(r.region_counts)]
    assert top[0]["creators"] == [order[i] for i in range(150) if (int(m[i // 64]) >> (i % 64)) & 1]


@pytest.mark.parametrize("name,path", [("wiki-Vote", "wiki-Vote/wiki-Vote.txt"),
                                       ("email-Eu-core", "email-Eu-core/email-Eu-core.txt")])
def test_real_graphs_match_python_sets(rng, name, path):
    from kolgraph.ingest import read_graph

    g = read_graph(DATA / path)
    src, dst = naive.read_edge_list(DATA / path)
    fol = naive.followers_by_account(src, dst)
    top = sorted(fol, key=lambda v: (-len(fol[v]), v))
    for chosen in (top[:20], top[:3], [top[i] for i in rng.choice(200, 10, replace=False)]):
        p = rng.random(len(chosen))
        r = reach(g, chosen, view_rates=p)
        assert_report_matches(r, naive.reach_report(naive.audiences(fol, chosen), p=p.tolist()))
    c = top[0]
    got = [(x["id"], x["common"]) for x in g.similar(c, k=10)]
    assert got == naive.similar_brute(fol, c, naive.sorted_ids(src + dst), k=10)
    got = [(x["id"], x["incremental"]) for x in g.complementary(top[:5], k=10)]
    assert got == naive.complementary_brute(fol, top[:5], naive.sorted_ids(src + dst), k=10)


def test_store_round_trip_and_python_api(tmp_path, rng):
    src, dst = random_graph(rng)
    FollowerGraph.from_edges(src, dst).save(tmp_path / "g.kg")
    g = kolgraph.open(tmp_path / "g.kg")
    fol = naive.followers_by_account(src, dst)
    chosen = sorted(fol, key=lambda v: -len(fol[v]))[:5]
    r = g.reach(chosen)
    assert_report_matches(r, naive.reach_report(naive.audiences(fol, chosen)))
    frame = r.to_frame()
    assert list(frame["id"]) == chosen and frame["cumulative"].iloc[-1] == r.unique_reach


# --- expected reach ---------------------------------------------------------------------------
def test_expected_reach_matches_enumeration(rng):
    for _ in range(5):
        src, dst = random_graph(rng, n_accounts=40, n_creators=5, m=120)
        g = FollowerGraph.from_edges(src, dst)
        fol = naive.followers_by_account(src, dst)
        chosen = sorted(fol, key=naive.id_key)[:5]
        rates = rng.random(len(chosen))
        posts = rng.integers(0, 4, len(chosen))
        p = 1.0 - (1.0 - rates) ** posts
        r = reach(g, chosen, view_rates=rates, posts=posts)
        exp, exactly = naive.expected_by_enumeration(naive.audiences(fol, chosen), p.tolist())
        assert r.expected_reach == pytest.approx(exp, rel=1e-12, abs=1e-9)
        assert r.expected_exactly.tolist() == pytest.approx(exactly, rel=1e-9, abs=1e-9)
        assert r.expected_exactly.sum() == pytest.approx(r.unique_reach)


def test_expected_reach_monte_carlo(rng):
    src, dst = random_graph(rng, n_accounts=200, n_creators=6, m=900)
    g = FollowerGraph.from_edges(src, dst)
    fol = naive.followers_by_account(src, dst)
    chosen = sorted(fol, key=naive.id_key)[:6]
    sets = naive.audiences(fol, chosen)
    rates = np.array([0.1, 0.3, 0.5, 0.2, 0.05, 0.4])
    r = reach(g, chosen, view_rates=rates, posts=2)
    p = 1 - (1 - rates) ** 2
    union = sorted(set().union(*sets))
    member = np.array([[u in s for s in sets] for u in union])
    sims = 2000
    seen = rng.random((sims, len(union), len(chosen))) < p
    reached = (seen & member).any(axis=2).sum(axis=1)
    se = reached.std() / math.sqrt(sims)
    assert abs(reached.mean() - r.expected_reach) < 5 * se + 1e-9


def test_default_view_rates_from_creator_table():
    g = FollowerGraph.from_edges([1, 2, 3, 4, 1], [10, 10, 10, 10, 11],
                                 creators=pa.table({"id": [10, 11], "avg_views": [2.0, None]}))
    r = g.reach([10, 11])
    assert r.view_rates.tolist() == [0.5, 1.0]
    assert r.expected_reach == pytest.approx(1 + 3 * 0.5)  # follower 1 is reached by 11 for sure
    r = g.reach([10, 11], view_rates={10: 1.0}, posts=[1, 0])
    assert r.expected_reach == pytest.approx(4.0)
    g2 = FollowerGraph.from_edges([1, 2, 3, 4, 1, 5], [10, 10, 10, 10, 11, 12],
                                  creators=pa.table({"id": [12, 10], "avg_views": [9.0, 1.0]}))
    assert g2.reach([11, 12, 10, 1]).view_rates.tolist() == [1.0, 1.0, 0.25, 1.0]
    with pytest.raises(InputError):
        g.reach([10, 11], view_rates=[0.5])
    with pytest.raises(InputError):
        g.reach([10], view_rates=1.5)
    with pytest.raises(InputError, match="not among the creators"):
        g.reach([10], posts={10: 2, 77: 1})
    with pytest.raises(InputError):
        g.reach([10], posts=1.5)


# --- properties ----------------------------------------------------------------------------
@st.composite
def graphs(draw):
    n = draw(st.integers(1, 40))
    k = draw(st.integers(1, 10))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, k - 1)), max_size=200))
    rates = draw(st.lists(st.floats(0, 1), min_size=k, max_size=k))
    posts = draw(st.lists(st.integers(0, 5), min_size=k, max_size=k))
    return n, k, edges, rates, posts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_properties(data):
    n, k, edges, rates, posts = data
    creators = [f"c{i}" for i in range(k)]
    src = [f"u{u}" for u, _ in edges]
    dst = [creators[c] for _, c in edges]
    g = FollowerGraph.from_edges(src, dst, nodes=creators)
    r = g.reach(creators, view_rates=rates, posts=posts)
    aud = r.audience
    assert aud.max() <= r.unique_reach <= r.gross_reach
    assert np.all(r.exclusive <= aud)
    in_two = r.at_least[2] if k >= 2 else 0
    assert r.exclusive.sum() + in_two == r.unique_reach
    assert np.all(np.diff(r.at_least[1:]) <= 0) and r.at_least[1] == r.unique_reach
    assert np.array_equal(r.counts, r.counts.T) and np.array_equal(np.diag(r.counts), aud)
    assert r.region_counts.sum() == r.unique_reach
    assert r.incremental.sum() == r.unique_reach
    assert (r.exactly * np.arange(k + 1)).sum() == r.gross_reach
    assert r.expected_reach <= r.unique_reach + 1e-9
    d = r.to_dict()
    for key in ("jaccard", "overlap_coefficient", "directional", "lift"):
        m = np.array(d["overlap"][key])
        assert np.all(np.isfinite(m)) and np.all(m >= 0)
    assert np.all(np.array(d["overlap"]["jaccard"]) <= 1 + 1e-12)
    full = g.reach(creators, view_rates=1.0, posts=[max(1, x) for x in posts])
    assert full.expected_reach == pytest.approx(full.unique_reach)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.sampled_from(["jaccard", "overlap"]))
def test_similar_and_complementary_brute_force(data, by):
    n, k, edges, _, _ = data
    creators = list(range(1000, 1000 + k))
    extra = list(zip([u for u, _ in edges[::3]], [u for u, _ in edges[1::3]], strict=False))
    src = [u for u, _ in edges] + [a for a, _ in extra]  # follower-to-follower edges too
    dst = [creators[c] for _, c in edges] + [b for _, b in extra]
    g = FollowerGraph.from_edges(src, dst, nodes=creators)
    fol = naive.followers_by_account(src, dst)
    everyone = naive.sorted_ids(src + dst + creators)
    got = [(x["id"], x["common"]) for x in g.similar(creators[0], k=4, by=by)]
    assert got == naive.similar_brute(fol, creators[0], everyone, by=by, k=4)
    got = [(x["id"], x["incremental"]) for x in g.complementary(creators[:2], k=5)]
    assert got == naive.complementary_brute(fol, creators[:2], everyone, k=5)


@pytest.mark.parametrize("budget", [2.0, 1e9, 0.0])
def test_similar_size_filter_matches_brute_force(rng, monkeypatch, budget):
    import kolgraph.reach as kr

    monkeypatch.setattr(kr, "SIZE_FILTER_BUDGET", budget)
    used = []  # for each size-filtered search: did it finish (or give up)?
    real = kr._k.top_jaccard_by_size

    def spy(*args):
        out = real(*args)
        used.append(bool(out[0]))
        return out

    monkeypatch.setattr(kr._k, "top_jaccard_by_size", spy)
    n, n_creators = 1500, 40
    weights = rng.pareto(0.8, n_creators) + 0.02
    dst = rng.choice(n_creators, 12_000, p=weights / weights.sum()) * 3
    src = rng.integers(0, n, len(dst)) + 200
    twin = src[dst == 0]  # creator 300 copies creator 0's audience: ties in Jaccard
    src = np.concatenate([src, twin, rng.integers(200, 200 + n, 800)])
    dst = np.concatenate([dst, np.full(len(twin), 300), rng.integers(200, 200 + n, 800)])
    creators = sorted(set(dst[dst < 301].tolist()))
    g = FollowerGraph.from_edges(src, dst, creators=pa.table({"id": creators}))
    fol = naive.followers_by_account(src.tolist(), dst.tolist())
    for c in creators:
        for k in (1, 3, 10):
            got = [(x["id"], x["common"]) for x in g.similar(c, k=k)]
            assert got == naive.similar_brute(fol, c, creators, k=k), (c, k)
    dense = [c for c in creators if len(fol[c]) * kr.DENSE_FRACTION >= g.n_accounts]
    assert len(dense) >= 3 and len(used) == 3 * len(dense)
    if budget == 1e9:
        assert all(used)
    elif budget == 0:
        assert not any(used)
    else:  # the default budget: the largest audiences finish, some others give up
        assert any(used) and not all(used)
    everyone = naive.sorted_ids(src.tolist() + dst.tolist())
    for c in dense[:3]:
        got = [(x["id"], x["common"]) for x in g.similar(c, k=5, among="accounts")]
        assert got == naive.similar_brute(fol, c, everyone, k=5)


def test_similar_among_creators_only():
    src = [1, 2, 3, 1, 2, 1, 2, 3]
    dst = [10, 10, 10, 11, 11, 4, 4, 4]
    g = FollowerGraph.from_edges(src, dst, creators=pa.table({"id": [10, 11]}))
    assert [x["id"] for x in g.similar(10)] == [11]
    assert [x["id"] for x in g.similar(10, among="accounts")] == [4, 11]
    top = g.similar(10, by="overlap", among="accounts")
    assert top[0]["overlap_coefficient"] == 1.0 and top[1]["overlap_coefficient"] == 1.0
    assert [(x["id"], x["incremental"]) for x in g.complementary([11], among="accounts")] == [(4, 1), (10, 1)]
    assert [x["id"] for x in g.complementary([11])] == [10]
    with pytest.raises(InputError):
        g.similar(10, by="cosine")


# --- filters ---------------------------------------------------------------------------------
def filtered_graph():
    src = ["a", "b", "c", "d", "e", "a", "c", "e"]
    dst = ["X", "X", "X", "X", "X", "Y", "Y", "Y"]
    accounts = pa.table({"id": ["a", "b", "c", "d", "e", "X", "Y"],
                         "country": ["NL", "NL", "DE", None, "NL", "US", "US"],
                         "language": ["nl", "en", "de", "nl", "nl", "en", "en"],
                         "posts": [1, 5, 0, 3, 9, 100, 100]})
    return FollowerGraph.from_edges(src, dst, accounts=accounts)


def test_where_expression_and_dict():
    g = filtered_graph()
    r = g.reach(["X", "Y"], where="country == 'NL' and language == 'nl'")
    assert (r.unique_reach, r.audience.tolist(), r.counts[0, 1]) == (2, [2, 2], 2)
    assert r.filters["accounts_passing"] == 2 and r.n_population == 2
    assert g.reach(["X", "Y"], where={"country": "NL", "language": "nl"}).unique_reach == 2
    r = g.reach(["X", "Y"], where={"country": ("NL", "DE")})
    assert r.unique_reach == 4 and json.loads(json.dumps(r.to_dict()))["filters"]["where"] == {"country": ["NL", "DE"]}
    assert g.reach(["X"], where="country in ['DE'] or posts >= 5").audience.tolist() == [3]
    assert g.reach(["X"], where="not country == 'NL'").audience.tolist() == [1]  # null never matches
    assert g.reach(["X"], where="country != 'NL'").audience.tolist() == [1]
    assert g.reach(["X"], where="1 <= posts < 5").audience.tolist() == [2]
    for bad in ("country = 'NL'", "nosuch == 1", "country == NL", "posts + 1 > 2", "country"):
        with pytest.raises(InputError):
            g.reach(["X"], where=bad)


def test_where_type_mismatches_are_input_errors():
    g = filtered_graph()
    want = g.reach(["X"], where="posts >= 5").audience.tolist()
    assert g.reach(["X"], where="posts > 4.5").audience.tolist() == want  # int column, float value
    assert g.reach(["X"], where="posts in [4.5]").audience.tolist() == [0]  # no integer is 4.5
    assert (g.reach(["X"], where="posts in [1.0, 2, 3, 4]").audience.tolist()
            == g.reach(["X"], where="1 <= posts < 5").audience.tolist())
    for bad in ("posts == True", "posts in [True]", {"country": True}, "posts > 10**30",
                "posts > 99999999999999999999999", "not " * 5000 + "posts > 1"):
        with pytest.raises(InputError):
            g.reach(["X"], where=bad)


def test_exclude_flagged():
    g = filtered_graph()
    r = g.reach(["X", "Y"], exclude_flagged=True)
    assert r.unique_reach == 5 and any("flagged" in w for w in r.warnings)
    g.set_accounts(pa.table({"id": ["a", "c"], "flagged": [True, False]}))
    r = g.reach(["X", "Y"], exclude_flagged=True)
    assert r.unique_reach == 4 and r.audience.tolist() == [4, 2] and not r.warnings
    assert r.filters["exclude_flagged"] is True


# --- bad input --------------------------------------------------------------------------------
def test_unknown_empty_duplicates_too_many():
    g = FollowerGraph.from_edges([1, 2, 3], [10, 10, 11])
    with pytest.raises(UnknownAccountError) as info:
        g.reach([10, 99, 98])
    assert info.value.missing == [99, 98] and "99" in str(info.value)
    r = g.reach([10, 99], skip_unknown=True)
    assert r.ids == [10] and r.unique_reach == 2 and "99" in r.warnings[0]
    r = g.reach([])
    d = r.to_dict()
    assert d["unique_reach"] == d["gross_reach"] == 0 and d["creators"] == [] and d["expected_reach"] == 0
    assert d["frequency"]["exactly"] == [0] and d["regions"] == [] and d["sainsbury_reach"] == 0
    r = g.reach([10, 11, 10, "10"])
    assert r.ids == [10, 11] and len(r.warnings) == 1 and "duplicate" in r.warnings[0]
    big = FollowerGraph.from_edges(list(range(100)), list(range(1, 101)))
    assert big.reach(list(range(1, 70))).unique_reach == 69
    many = FollowerGraph.from_edges(list(range(2000)), list(range(1, 2001)))
    with pytest.raises(InputError, match="at most 1024"):
        many.reach(list(range(1, 1100)))


def test_toy_graphs_contract(toy):
    g = toy.build()
    ids = g.external(np.arange(g.n_accounts))
    r = g.reach(ids[:64])
    fol = naive.followers_by_account(toy.src, toy.dst)
    assert_report_matches(r, naive.reach_report(naive.audiences(fol, ids[:64])))
    json.dumps(r.to_dict())
    for c in ids[:3]:
        assert all(x["common"] > 0 for x in g.similar(c, among="accounts"))
    g.complementary(ids[:1], among="accounts")


def test_to_dict_keys_and_normalisations():
    g = FollowerGraph.from_edges([1, 2, 3, 3, 4, 5], [10, 10, 10, 11, 11, 12])
    d = g.reach([10, 11, 12]).to_dict()
    for key in ("unique_reach", "gross_reach", "duplication", "creators", "overlap", "frequency",
                "regions", "expected_reach", "expected_frequency", "sainsbury_reach", "filters",
                "warnings"):
        assert key in d
    assert set(d["creators"][0]) >= {"id", "audience", "exclusive", "incremental", "share", "tier"}
    ov = d["overlap"]
    assert ov["counts"][0][1] == 1
    assert ov["directional"][0][1] == pytest.approx(1 / 3) and ov["directional"][1][0] == 0.5
    assert ov["jaccard"][0][1] == pytest.approx(1 / 4)
    assert ov["overlap_coefficient"][0][1] == 0.5
    n = g.n_accounts
    assert ov["lift"][0][1] == pytest.approx(n / 6)
    assert d["sainsbury_reach"] == pytest.approx(n * (1 - (1 - 3 / n) * (1 - 2 / n) * (1 - 1 / n)))
    assert d["regions"][0] == {"creators": [10], "count": 2}
    assert d["frequency"] == {"exactly": [0, 4, 1, 0], "at_least": [5, 5, 1, 0], "average": 6 / 5}
    json.dumps(d)


# --- CLI ---------------------------------------------------------------------------------------
def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kolgraph", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def wiki_store(tmp_path_factory):
    from kolgraph.ingest import read_graph

    path = tmp_path_factory.mktemp("cli") / "wv.kg"
    read_graph(DATA / "wiki-Vote/wiki-Vote.txt").save(path)
    return path


def test_cli_reach_json_csv_and_exit_codes(wiki_store, tmp_path):
    r = run("reach", wiki_store, 2565, 1549, 766, 2565, "--json", "--view-rate", "0.5",
            "--curve", tmp_path / "curve.png")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("unique_reach", "gross_reach", "creators", "overlap", "frequency", "expected_reach",
                "sainsbury_reach", "regions"):
        assert key in d
    assert [c["id"] for c in d["creators"]] == [2565, 1549, 766]
    assert "duplicate" in d["warnings"][0]
    assert (tmp_path / "curve.png").stat().st_size > 0
    g = kolgraph.open(wiki_store)
    assert d["unique_reach"] == g.reach([2565, 1549, 766]).unique_reach
    r = run("reach", wiki_store, 2565, 424242, 434343)
    assert r.returncode == 3 and "424242" in r.stderr and "434343" in r.stderr
    r = run("reach", wiki_store, 2565, 424242, "--skip-unknown", "--csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("id,") and lines[1].startswith("2565,")
    r = run("reach", wiki_store, 2565, 1549)
    assert r.returncode == 0 and "unique reach" in r.stdout
    r = run("reach", wiki_store, 2565, "--where", "country == 'NL'")
    assert r.returncode == 3 and "account attributes" in r.stderr


def test_cli_overlap_similar(wiki_store, tmp_path):
    r = run("overlap", wiki_store, 2565, 1549, 766, 11, "--plot", tmp_path / "o.png",
            "--upset", tmp_path / "u.png", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= {"ids", "counts", "jaccard", "overlap_coefficient", "directional", "lift", "regions"}
    assert (tmp_path / "o.png").stat().st_size > 0 and (tmp_path / "u.png").stat().st_size > 0
    r = run("overlap", wiki_store, 2565, 1549)
    assert r.returncode == 0 and "Jaccard" in r.stdout
    r = run("similar", wiki_store, 2565, "-k", "5", "--by", "overlap", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["similar"]
    assert len(rows) == 5 and rows == kolgraph.open(wiki_store).similar(2565, k=5, by="overlap")
    r = run("similar", wiki_store, 2565, "-k", "3")
    assert r.returncode == 0 and "jaccard" in r.stdout.lower()
    r = run("similar", wiki_store, 99999999)
    assert r.returncode == 3
    r = run("complementary", wiki_store, 2565, 1549, "-k", "4", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["complementary"]
    assert rows == kolgraph.open(wiki_store).complementary([2565, 1549], k=4)
    r = run("complementary", wiki_store, 2565, 1549, "-k", "2")
    assert r.returncode == 0 and "incremental" in r.stdout


# --- kernels directly ----------------------------------------------------------------------
def regions_by_numpy(g, sel, allowed, use):
    """Reference regions: one membership mask per follower from np.unique, as integer rows."""
    k, n_w = len(sel), (len(sel) + 63) // 64
    rows = [g.followers_idx(c) for c in sel]
    if use:
        rows = [r[allowed[r]] for r in rows]
    allf = np.concatenate(rows)
    owner = np.repeat(np.arange(k), [len(r) for r in rows])
    u, inv = np.unique(allf, return_inverse=True)
    masks = np.zeros((len(u), n_w), dtype=np.uint64)
    np.bitwise_or.at(masks, (inv, owner // 64), np.left_shift(np.uint64(1), (owner % 64).astype(np.uint64)))
    got, counts = np.unique(masks, axis=0, return_counts=True)
    return {tuple(int(w) for w in m): int(c) for m, c in zip(got, counts, strict=True)}


def as_dict(masks, counts):
    masks = masks[:, None] if masks.ndim == 1 else masks
    return {tuple(int(w) for w in m): int(c) for m, c in zip(masks, counts, strict=True)}


@pytest.mark.parametrize("k", [1, 7, 20, 64, 65, 130])
def test_region_kernels_match_numpy(rng, k):
    from kolgraph.kernels import reach as K

    from kolgraph.reach import _merge_regions
    from kolgraph.reach_report import mask_rows as _mask_rows

    n = 3 * K.CHUNK + 123  # several chunks, the last one partial
    src = rng.integers(0, n, 40 * k + 100)
    dst = rng.integers(0, k, len(src)) * 5 + 1
    src = np.concatenate([src, rng.integers(0, n, 3000)])  # creator 1: a dense audience
    dst = np.concatenate([dst, np.ones(3000, dtype=dst.dtype)])
    g = FollowerGraph.from_edges(src, dst, nodes=np.arange(n))
    sel = g.index(np.arange(k) * 5 + 1).astype(np.int64)
    allowed = rng.random(g.n_accounts) < 0.6
    n_words = (g.n_accounts + 63) // 64
    bits = np.stack([K.audience_bitset(g.in_indptr, g.in_indices, c, n_words) for c in sel])
    no_rows = np.full(k, -1), bits[:0]
    some_rows = np.where(np.arange(k) % 2 == 0, np.arange(k), -1), bits  # every other one
    unaligned = [0, 1, K.CHUNK, K.CHUNK + 17, 2 * K.CHUNK + 5, g.n_accounts]
    aligned = [0, 64, K.CHUNK, K.CHUNK + 192, 2 * K.CHUNK + 64, g.n_accounts]
    for use in (False, True):
        want = regions_by_numpy(g, sel, allowed, use)
        kernels = [(K.regions_hashed, unaligned)]
        if k <= K.TABLE_MAX_K:
            kernels.append((lambda *a: K.regions_table(*a, *no_rows), unaligned))
            if not use:  # the bitsets hold every follower: unfiltered calls only
                kernels.append((lambda *a: K.regions_table(*a, *some_rows), aligned))
        for kernel, cuts in kernels:
            assert as_dict(*kernel(g.in_indptr, g.in_indices, sel, 0, g.n_accounts, allowed, use)) == want
            parts = [kernel(g.in_indptr, g.in_indices, sel, a, b, allowed, use)
                     for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
            masks = np.concatenate([_mask_rows(m) for m, _ in parts])
            merged = _merge_regions(masks, np.concatenate([c for _, c in parts]))
            assert as_dict(*merged) == want
            as_int = [sum(int(w) << (64 * i) for i, w in enumerate(m)) for m in merged[0]]
            assert as_int == sorted(as_int) and len(set(as_int)) == len(as_int)
        j = min(k, 20)
        table = K.regions_table(g.in_indptr, g.in_indices, sel[:j], 0, g.n_accounts, allowed, use,
                                *no_rows)
        assert np.all(np.diff(table[0].astype(np.float64)) > 0)


def test_filtered_reach_matches_sets(rng):
    src, dst = random_graph(rng, n_accounts=500)
    ids = naive.sorted_ids(src + dst)
    country = rng.choice(["NL", "DE", None], len(ids)).tolist()
    g = FollowerGraph.from_edges(src, dst, accounts=pa.table({"id": ids, "country": country}))
    fol = naive.followers_by_account(src, dst)
    allowed = {i for i, c in zip(ids, country, strict=True) if c in ("NL", "DE")}
    chosen = sorted(fol, key=lambda v: -len(fol[v]))[:8]
    r = g.reach(chosen, where="country in ['NL', 'DE']")
    assert_report_matches(r, naive.reach_report(naive.audiences(fol, chosen, allowed)))
    assert r.n_population == len(allowed)
    sim = g.similar(chosen[0], k=5, where="country in ['NL', 'DE']")
    fol_f = {v: [u for u in us if u in allowed] for v, us in fol.items()}
    assert [(x["id"], x["common"]) for x in sim] == naive.similar_brute(fol_f, chosen[0], ids, k=5)


def test_runs_without_jit(tmp_path):
    code = ("from kolgraph import FollowerGraph; g = FollowerGraph.from_edges([1,2,3,3,4],[10,10,10,11,11]);"
            "r = g.reach([10, 11], view_rates=0.5); print(r.unique_reach, r.counts.tolist(),"
            " r.exactly.tolist(), round(r.expected_reach, 6))")
    env = {**__import__("os").environ, "NUMBA_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("[")[0].strip() == "4"
    assert "[[3, 1], [1, 2]] [0, 3, 1] 2.25" in out.stdout


@pytest.mark.parametrize("cmd", ["reach", "overlap", "similar", "complementary"])
def test_cli_help(cmd):
    r = run(cmd, "--help")
    assert r.returncode == 0 and "usage: kolgraph " + cmd in r.stdout


def test_cli_demo_reports_reach_and_writes_plots(tmp_path):
    r = run("demo", "--out", tmp_path / "demo.kg", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    rep = d["reach"]
    assert len(rep["creators"]) == 5
    assert [c["id"] for c in rep["creators"]] == [c["id"] for c in d["top_creators"][:5]]
    assert max(c["audience"] for c in rep["creators"]) <= rep["unique_reach"] <= rep["gross_reach"]
    for name in ("curve", "overlap", "upset"):
        path = Path(d["plots"][name])
        assert path.parent == tmp_path and path.stat().st_size > 0
    r = run("reach", tmp_path / "demo.kg", *[c["id"] for c in rep["creators"]], "--json")
    assert json.loads(r.stdout)["unique_reach"] == rep["unique_reach"]


@pytest.mark.parametrize("layout", ["table", "hashed", "python-threads"])
def test_every_kernel_path_through_reach(rng, monkeypatch, layout):
    import kolgraph.reach as kr

    if layout == "hashed":  # the hash table even for few creators
        monkeypatch.setattr(kr._k, "TABLE_MAX_K", 0)
    elif layout == "python-threads":  # account ranges counted on Python threads, then merged
        monkeypatch.setattr(kr, "THREADED_ENTRIES", 0)
        monkeypatch.setattr(kr._parallel, "threads", lambda requested=None: 3)
    n, m = 50_000, 20_000
    src = rng.integers(0, n, m)
    dst = rng.integers(0, 12, m) * 997
    g = FollowerGraph.from_edges(src, dst, nodes=np.arange(n))
    chosen = sorted(set(dst.tolist()))
    fol = naive.followers_by_account(src.tolist(), dst.tolist())
    assert_report_matches(g.reach(chosen), naive.reach_report(naive.audiences(fol, chosen)))
    keep = set(range(0, n, 3))
    g.set_accounts(pa.table({"id": np.arange(n), "flagged": np.arange(n) % 3 != 0}))
    assert_report_matches(g.reach(chosen, exclude_flagged=True),
                          naive.reach_report(naive.audiences(fol, chosen, keep)))


def test_where_on_timestamps_and_booleans():
    from datetime import datetime, timezone

    src = ["a", "b", "c", "d"]
    accounts = pa.table({"id": ["a", "b", "c", "d"],
                         "created_at": [datetime(2019, 5, 1, tzinfo=timezone.utc),
                                        datetime(2021, 1, 1, tzinfo=timezone.utc), None,
                                        datetime(2018, 1, 1, tzinfo=timezone.utc)],
                         "verified": [True, False, True, None]})
    g = FollowerGraph.from_edges(src, ["X"] * 4, accounts=accounts)
    assert g.reach(["X"], where="created_at < '2020-01-01'").unique_reach == 2
    assert g.reach(["X"], where="created_at >= '2020-06-01T00:00:00+00:00'").unique_reach == 1
    assert g.reach(["X"], where="verified").unique_reach == 2
    assert g.reach(["X"], where="not verified").unique_reach == 1
    assert g.reach(["X"], where="verified and created_at < '2020-01-01'").unique_reach == 1
    with pytest.raises(InputError):
        g.reach(["X"], where="created_at < 'soon'")


def test_where_date_arithmetic(monkeypatch):
    import pandas as pd

    import kolgraph.filters as kf

    now = pd.Timestamp("2025-06-01T12:00:00", tz="UTC")
    monkeypatch.setattr(kf, "_now", lambda: now)
    days = {"a": 400, "b": 10, "c": None, "d": 40, "e": 365.5}
    created = [None if d is None else (now - pd.Timedelta(days=d)).isoformat() for d in days.values()]
    accounts = pa.table({"id": list(days), "created_at": created})
    g = FollowerGraph.from_edges(list(days), ["X"] * len(days), accounts=accounts)

    def passing(where):
        r = g.reach(["X"], where=where)
        assert r.filters["now"] == now.isoformat()
        return r.unique_reach

    for where, want in [("created_at < now - 365d", lambda d: d > 365),
                        ("created_at >= now - 1y", lambda d: d <= 365),
                        ("now - 6w < created_at", lambda d: d < 42),
                        ("created_at < today - 2w + 36h", lambda d: d > 12.5),
                        ("account_age_days > 30", lambda d: d > 30),
                        ("account_age_days > 5 and account_age_days <= 40", lambda d: 5 < d <= 40),
                        ("created_at < now - 9600h", lambda d: d > 400),
                        ("created_at < now - 9599h", lambda d: d > 399.96)]:
        assert passing(where) == sum(1 for d in days.values() if d is not None and want(d)), where
    r = g.reach(["X"], where="created_at < '2025-01-01' + 2d")
    assert r.unique_reach == 2 and "now" not in r.filters  # a fixed date: nothing relative
    for bad, msg in [("created_at < 30d", "duration needs a date"), ("created_at < now + 'x'", "not a date"),
                     ("created_at < d('x')", "number and a unit"), ("account_age_days > now", "cannot be compared")]:
        with pytest.raises(InputError, match=msg):
            g.reach(["X"], where=bad)
    with pytest.raises(InputError, match="'30d' cannot be compared"):  # quoted text stays text
        g.reach(["X"], where="created_at > '30d'")
    no_dates = FollowerGraph.from_edges(["a"], ["X"], accounts=pa.table({"id": ["a"], "posts": [3]}))
    with pytest.raises(InputError, match="created_at"):
        no_dates.reach(["X"], where="account_age_days > 3")


def test_cli_view_rates_and_posts_per_creator(wiki_store):
    r = run("reach", wiki_store, 2565, 1549, "--view-rate", "0.5", "0.25", "--posts", "2", "1", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [c["view_rate"] for c in d["creators"]] == [0.5, 0.25]
    assert [c["posts"] for c in d["creators"]] == [2, 1]
    want = kolgraph.open(wiki_store).reach([2565, 1549], view_rates=[0.5, 0.25], posts=[2, 1])
    assert d["expected_reach"] == pytest.approx(want.expected_reach)
    r = run("reach", wiki_store, 2565, 1549, "--view-rate", "0.5", "0.25", "0.1")
    assert r.returncode == 3 and "view_rates" in r.stderr
    r = run("reach", wiki_store, 2565, "--json", "--csv")
    assert r.returncode == 2


def test_similar_and_complementary_among_creators_match_brute_force(rng):
    src, dst = random_graph(rng, n_accounts=400, n_creators=30, m=4000)
    ids = naive.sorted_ids(src + dst)
    creators = [ids[i] for i in rng.choice(len(ids), 60, replace=False)]
    lang = rng.choice(["nl", "en"], len(ids)).tolist()
    g = FollowerGraph.from_edges(src, dst, creators=pa.table({"id": creators}),
                                 accounts=pa.table({"id": ids, "language": lang}))
    fol = naive.followers_by_account(src, dst)
    keep = {i for i, x in zip(ids, lang, strict=True) if x == "nl"}
    fol_nl = {v: [u for u in us if u in keep] for v, us in fol.items()}
    for c in creators[:10]:
        for by in ("jaccard", "overlap"):
            got = [(x["id"], x["common"]) for x in g.similar(c, k=7, by=by)]
            assert got == naive.similar_brute(fol, c, naive.sorted_ids(creators), by=by, k=7)
            got = [(x["id"], x["common"]) for x in g.similar(c, k=7, by=by, where={"language": "nl"})]
            assert got == naive.similar_brute(fol_nl, c, naive.sorted_ids(creators), by=by, k=7)
    got = [(x["id"], x["incremental"]) for x in g.complementary(creators[:4], k=8)]
    assert got == naive.complementary_brute(fol, creators[:4], naive.sorted_ids(creators), k=8)
    g.set_creators(pa.table({"id": creators[:5]}))  # a new creator table: a new candidate set
    got = [x["id"] for x in g.similar(creators[0], k=10)]
    assert got == [v for v, _ in naive.similar_brute(fol, creators[0], naive.sorted_ids(creators[:5]), k=10)]


@pytest.mark.parametrize("table_max_k", [0, 20])
def test_table_and_hash_reports_match_sets(rng, monkeypatch, table_max_k):
    import kolgraph.reach as kr

    monkeypatch.setattr(kr._k, "TABLE_MAX_K", table_max_k)
    for _ in range(4):
        src, dst = random_graph(rng, n_accounts=int(rng.integers(50, 3000)), n_creators=25, m=6000)
        g = FollowerGraph.from_edges(src, dst)
        fol = naive.followers_by_account(src, dst)
        pool = sorted(fol, key=naive.id_key)
        chosen = [pool[i] for i in rng.choice(len(pool), min(len(pool), 18), replace=False)]
        assert_report_matches(g.reach(chosen), naive.reach_report(naive.audiences(fol, chosen)))


def test_docstring_examples_run():
    import doctest

    import kolgraph.reach

    result = doctest.testmod(kolgraph.reach)
    assert result.attempted >= 3 and result.failed == 0


def test_top_k_with_ties(rng):
    from kolgraph.reach import _top

    for _ in range(200):
        n = int(rng.integers(0, 30))
        score = rng.integers(0, 4, n).astype(float)
        idx = rng.permutation(100)[:n]
        k = int(rng.integers(1, 12))
        want = sorted(range(n), key=lambda i: (-score[i], idx[i]))[:k]
        assert _top(score, idx, k).tolist() == want
