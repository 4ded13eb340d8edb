"""Synthetic graph generator: determinism, sizes, realism of the model, planted farms, store."""

from __future__ import annotations

import re
from contextlib import contextmanager
from itertools import combinations

import numba
import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import ks_2samp, spearmanr

import kolgraph
from kolgraph.exceptions import InputError
from kolgraph.store import read_manifest, read_truth
from kolgraph.synth import (
    AS_OF,
    CATEGORIES,
    FarmOptions,
    default_farms,
    generate,
    plant_farms,
    synth_store,
)
from kolgraph.tables import ACCOUNT_COLUMNS, CREATOR_COLUMNS

SMALL = dict(accounts=6_000, creators=60, edges=60_000, seed=11, farms=3)
# large enough for three tiers (a creator needs 100k followers to be "mid")
MODERATE = dict(accounts=400_000, creators=1_500, edges=4_000_000, seed=5)


@contextmanager
def numba_threads(n: int):
    """Run with ``n`` numba threads, restoring the previous count afterwards."""
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@pytest.fixture(scope="module")
def small():
    return generate(**SMALL)


@pytest.fixture(scope="module")
def moderate():
    return generate(**MODERATE)


def _same_graph(a, b) -> None:
    (ga, ta), (gb, tb) = a, b
    for name in ("in_indptr", "in_indices", "out_indptr", "out_indices", "followed_at"):
        np.testing.assert_array_equal(getattr(ga, name), getattr(gb, name), err_msg=name)
    assert ga.accounts.equals(gb.accounts)
    assert ga.creators.equals(gb.creators)
    assert ta.keys() == tb.keys()
    for key, value in ta.items():
        if isinstance(value, pa.Table):
            assert value.equals(tb[key]), key
        else:
            np.testing.assert_array_equal(value, tb[key], err_msg=key)


def _roles(graph, truth):
    n = graph.n_accounts
    farm = truth["farm_of_account"]
    creator = np.arange(n) < graph.n_creators
    fake = farm >= 0
    kinds = np.array(truth["farms"].column("kind").to_pylist() + [""], dtype=object)
    kind = kinds[np.where(fake, farm, -1)]
    return creator, ~creator & ~fake, kind == "cheap", kind == "premium"


# --- determinism ----------------------------------------------------------------------
def test_same_seed_gives_identical_arrays(small):
    _same_graph(small, generate(**SMALL))


def test_thread_count_does_not_change_the_graph(small):
    with numba_threads(1):
        one = generate(**SMALL)
    _same_graph(small, one)


def test_different_seed_gives_a_different_graph(small):
    g, truth = small
    other, other_truth = generate(**{**SMALL, "seed": SMALL["seed"] + 1})
    assert g.n_edges == other.n_edges
    assert not np.array_equal(g.in_indices, other.in_indices)
    assert not np.array_equal(truth["farm_of_account"], other_truth["farm_of_account"])
    assert g.accounts.column("username") != other.accounts.column("username")


# --- sizes and report -----------------------------------------------------------------
def test_edge_count_matches_the_request(rng):
    for _ in range(6):
        n = int(rng.integers(200, 4_000))
        c = int(rng.integers(1, max(2, n // 20)))
        e = int(rng.integers(0, 15 * n))
        g, truth = generate(n, c, e, seed=int(rng.integers(1_000)))
        assert abs(g.n_edges - e) <= 0.01 * e, (n, c, e, g.report)
        assert g.report["input_edges"] == g.n_edges
        assert g.report["self_follows"] == g.report["duplicate_edges"] == 0
        assert g.report["accounts"] == g.n_accounts == n
        assert g.n_creators == c
        src, dst = g.edge_arrays()
        assert not np.any(src == dst)
        assert len(truth["farm_of_account"]) == n


def test_report_and_farm_counts(small):
    g, truth = small
    assert g.report["edges"] == SMALL["edges"]
    assert g.report["warnings"] == []
    farms = truth["farms"]
    assert farms.num_rows == SMALL["farms"] == g.report["farms"]
    fake = truth["farm_of_account"] >= 0
    assert int(fake.sum()) == sum(farms.column("accounts").to_pylist()) == g.report["fake_accounts"]
    assert not fake[: SMALL["creators"]].any(), "creators are never fakes"
    assert set(farms.column("kind").to_pylist()) == {"cheap", "premium"}


def test_farms_zero_plants_none():
    g, truth = generate(3_000, 30, 20_000, seed=2, farms=0)
    assert (truth["farm_of_account"] == -1).all()
    assert truth["farms"].num_rows == 0
    assert default_farms(300_000, 2_000) == 6 and default_farms(1_000, 10) == 0


# --- the model --------------------------------------------------------------------------
def test_tiers_are_heavy_tailed(moderate):
    g, _ = moderate
    tiers = g.info()["tiers"]
    assert tiers["nano"] > tiers["micro"] > tiers["mid"] > 0, tiers
    followers = np.sort(g.creators.column("followers").to_numpy())[::-1]
    assert followers[0] > 0.25 * g.n_accounts                 # a top creator holds a large share
    assert followers[0] > 100 * np.median(followers)
    top = followers[: len(followers) // 100].sum() / followers.sum()
    assert top > 0.2, f"top 1% of creators hold only {top:.0%} of creator follows"


def test_same_category_audiences_overlap_beyond_independence(small):
    g, _ = small
    n = g.n_accounts
    cr = g.creators
    category = cr.column("category").to_pylist()
    ids = cr.column("id").to_pylist()
    audience = {c: set(g.followers(c)) for c in ids}           # naive: Python sets
    lift = {True: [], False: []}
    for a, b in combinations(range(len(ids)), 2):
        A, B = audience[ids[a]], audience[ids[b]]
        if len(A) < 50 or len(B) < 50:
            continue
        expected = len(A) * len(B) / n                          # independence
        lift[category[a] == category[b]].append(len(A & B) / expected)
    same, other = np.median(lift[True]), np.median(lift[False])
    assert len(lift[True]) >= 10 and len(lift[False]) >= 10
    assert same > 2.0, same
    assert same > 1.5 * other, (same, other)


def test_farm_out_degrees_match_honest_ones(moderate):
    g, truth = moderate
    _, honest, cheap, premium = _roles(g, truth)
    outd = g.out_degree
    fake = cheap | premium
    assert fake.sum() > 1_000
    ks = ks_2samp(outd[honest], outd[fake]).statistic
    assert ks < 0.05, ks
    assert abs(np.median(outd[fake]) - np.median(outd[honest])) <= 1
    assert abs(outd[fake].mean() / outd[honest].mean() - 1) < 0.1


def test_farm_accounts_follow_their_paying_creators_in_lockstep(moderate, rng):
    g, truth = moderate
    farm_of = truth["farm_of_account"]
    _, honest, _, _ = _roles(g, truth)
    honest_ids = np.flatnonzero(honest)
    for farm in truth["farms"].to_pylist():
        paying = np.array(farm["paying_creators"])
        members = np.flatnonzero(farm_of == farm["farm"])
        assert len(members) == farm["accounts"]
        covered = np.array([np.isin(paying, g.following_idx(u)).sum() for u in members])
        assert (covered >= 1).all()
        assert covered.mean() / len(paying) >= 0.5, farm
        # pairs of farm accounts share paying creators; honest accounts hardly follow 2 of them
        pairs = rng.choice(members, size=(200, 2))
        shared = [np.intersect1d(g.following_idx(a), g.following_idx(b)).size for a, b in pairs
                  if a != b]
        assert np.mean(shared) >= 1.5
        sample = rng.choice(honest_ids, size=2_000, replace=False)
        honest_cover = np.array([np.isin(paying, g.following_idx(u)).sum() for u in sample])
        assert (honest_cover >= 2).mean() < 0.02
        assert (covered >= 2).mean() > 0.6 or len(paying) < 3


def test_paying_follows_fall_in_short_windows(moderate):
    g, truth = moderate
    farm_of = truth["farm_of_account"]
    times = np.asarray(g.followed_at)
    for farm in truth["farms"].to_pylist():
        start = int(farm["window_start"].timestamp())
        end = int(farm["window_end"].timestamp())
        assert 3_600 <= end - start <= 5 * 86_400 + 1
        for c in farm["paying_creators"]:
            lo, hi = g.in_indptr[c], g.in_indptr[c + 1]
            followers, t = g.in_indices[lo:hi], times[lo:hi]
            mine = farm_of[followers] == farm["farm"]
            assert mine.any()
            assert (t[mine] >= start).all() and (t[mine] <= end).all()
            honest_t = t[farm_of[followers] < 0]
            assert np.ptp(honest_t) > 365 * 86_400          # the creator's real audience is spread out


def test_followed_at_after_both_accounts_exist(small):
    g, _ = small
    created = g.accounts.column("created_at").cast(pa.int64()).to_numpy()
    src, dst = g.edge_arrays()
    t = np.asarray(g.followed_at)
    assert (t >= np.maximum(created[src], created[dst])).all()
    assert (t <= AS_OF).all()


def test_account_attributes_are_plausible(moderate):
    g, truth = moderate
    creator, honest, cheap, premium = _roles(g, truth)
    acc = g.accounts
    assert (acc.column("followers").to_numpy() >= g.in_degree).all()
    assert (acc.column("following").to_numpy() >= g.out_degree).all()
    usernames = acc.column("username").to_pylist()
    assert len(set(usernames)) == len(usernames)
    assert all(re.fullmatch(r"[a-z0-9._]+", u) for u in usernames[:50_000])
    digits = np.array([sum(ch.isdigit() for ch in u) / len(u) for u in usernames])
    avatar = acc.column("has_avatar").to_numpy(zero_copy_only=False)
    created = acc.column("created_at").cast(pa.int64()).to_numpy()
    posts = acc.column("posts").to_numpy()
    # cheap farms look like bots, premium farms like people
    assert digits[cheap].mean() > 0.3 > 0.15 > digits[honest].mean()
    assert avatar[cheap].mean() < 0.3 < 0.85 < avatar[honest].mean()
    assert abs(avatar[premium].mean() - avatar[honest].mean()) < 0.05
    assert np.median(AS_OF - created[cheap]) < 0.5 * np.median(AS_OF - created[honest])
    assert np.median(posts[cheap]) <= 1 < np.median(posts[honest])
    assert np.median(posts[creator]) > 10 * np.median(posts[honest])
    verified = acc.column("verified").to_numpy(zero_copy_only=False)
    assert verified[creator].mean() > 10 * max(verified[honest].mean(), 1e-4)
    assert acc.column("country").null_count > 0
    assert set(acc.column("language").unique().to_pylist()) >= {"en", "pt", "es"}


def test_creator_table(moderate):
    g, truth = moderate
    cr = g.creators
    assert cr.column("id").to_pylist() == list(range(g.n_creators))
    assert set(cr.column("category").to_pylist()) <= set(CATEGORIES)
    followers = cr.column("followers").to_numpy()
    price = cr.column("price").to_numpy()
    views = cr.column("avg_views").to_numpy()
    assert (price > 0).all() and (views <= followers).all()
    assert spearmanr(price, followers).statistic > 0.6
    # bought followers do not watch: paying creators get fewer views per follower
    paying = np.unique(np.concatenate(truth["farms"].column("paying_creators").to_pylist()))
    rate = views / np.maximum(followers, 1)
    others = np.setdiff1d(np.arange(g.n_creators), paying)
    assert np.median(rate[paying]) < np.median(rate[others])


# --- store ------------------------------------------------------------------------------
def test_store_round_trip(tmp_path, small):
    g, truth = small
    path = synth_store(tmp_path / "synth.kg", **SMALL)
    opened = kolgraph.open(path)
    assert opened.n_edges == g.n_edges and opened.n_accounts == g.n_accounts
    np.testing.assert_array_equal(opened.in_indices, g.in_indices)
    np.testing.assert_array_equal(opened.followed_at, g.followed_at)
    raw = opened.raw_accounts()
    assert "id" not in raw.column_names
    for name, typ in ACCOUNT_COLUMNS.items():
        assert raw.schema.field(name).type == typ, name
    for name, typ in CREATOR_COLUMNS.items():
        assert opened.creators.schema.field(name).type == typ, name
    assert opened.creators.column("tier").to_pylist() == g.creators.column("tier").to_pylist()
    stored = read_truth(path)
    np.testing.assert_array_equal(stored["farm_of_account"], truth["farm_of_account"])
    assert stored["farms"].to_pylist() == truth["farms"].to_pylist()
    manifest = read_manifest(path)
    assert manifest["synth"]["seed"] == SMALL["seed"]
    assert manifest["synth"]["farms"] == SMALL["farms"]
    assert kolgraph.verify(path)["ok"]
    with pytest.raises(kolgraph.StoreError, match="already exists"):
        synth_store(path, **SMALL)
    synth_store(path, **{**SMALL, "seed": 12}, overwrite=True)
    assert read_manifest(path)["synth"]["seed"] == 12


# --- arguments --------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(accounts=100, creators=101, edges=10), "creators=101 is more than accounts=100"),
    (dict(accounts=100, creators=10, edges=-1), "edges must be at least 0"),
    (dict(accounts=0, creators=0, edges=0), "accounts must be at least 1"),
    (dict(accounts=100, creators=0, edges=10), "creators must be at least 1"),
    (dict(accounts=100, creators=10, edges=10**9), "more than the graph can hold"),
    (dict(accounts=100.5, creators=10, edges=10), r"accounts must be a whole number"),
    (dict(accounts=True, creators=10, edges=10), r"accounts must be a whole number"),
    (dict(accounts="100", creators=10, edges=10), r"accounts must be a whole number"),
    (dict(accounts=100, creators=10, edges=10, seed=-3), "seed must be at least 0"),
    (dict(accounts=1_000, creators=10, edges=10, farms=-1), "farms must be at least 0"),
    (dict(accounts=1_000, creators=10, edges=10, farms=50), "use at most 19 farms"),
    (dict(accounts=1_000, creators=10, edges=10, peer_share=1.5), "peer_share must be between 0 and 1"),
])
def test_bad_arguments_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        generate(**kwargs)


def test_edges_up_to_the_capacity_are_placed():
    g, _ = generate(40, 4, 40 * 20, seed=1, farms=0)         # dense: half of every row
    assert g.n_edges == 800
    with pytest.raises(InputError, match="at most 800 follows"):
        generate(40, 4, 801, seed=1, farms=0)


# --- plant_farms -------------------------------------------------------------------------
def _base_edges(seed=0, n=3_000, e=40_000):
    """A popularity-skewed edge list without duplicates or self-follows."""
    r = np.random.default_rng(seed)
    src = r.integers(0, n, e)
    dst = np.minimum((r.pareto(1.2, e) * 20).astype(np.int64), n - 1)
    keep = src != dst
    pairs = np.unique(np.stack([src[keep], dst[keep]], 1), axis=0)
    return pairs[:, 0], pairs[:, 1]


@pytest.mark.parametrize("opts", [
    FarmOptions(farms=2, size=350, customers=40, audience="small", share=0.6),
    FarmOptions(farms=3, size=50, customers=5, audience="small", share=0.9, camouflage="uniform"),
    FarmOptions(farms=1, size=200, customers=30, audience="mid", share=0.3),
    FarmOptions(farms=2, size=60, customers=8, audience="new", share=0.5),
])
def test_plant_farms_structure(opts):
    src, dst = _base_edges()
    p = plant_farms(src, dst, opts, seed=5)
    assert np.array_equal(p.src[:len(src)], src) and np.array_equal(p.dst[:len(dst)], dst)
    new_src, new_dst = p.src[len(src):], p.dst[len(dst):]
    assert len(p.fakes) == len(p.customers) == opts.farms
    assert all(len(f) == opts.size for f in p.fakes)
    assert all(len(c) == len(np.unique(c)) == opts.customers for c in p.customers)
    assert len(np.unique(p.customer_ids)) == opts.farms * opts.customers  # farms share none
    assert len(np.unique(p.fake_ids)) == opts.farms * opts.size
    assert p.fake_ids.min() > max(src.max(), dst.max())
    # no duplicate follows, no self-follows, nobody follows a fake
    pairs = new_src * (1 << 32) + new_dst
    assert len(np.unique(pairs)) == len(pairs) and not (new_src == new_dst).any()
    assert not np.isin(p.dst, p.fake_ids).any()
    out_deg = np.bincount(src)
    honest = set(out_deg[out_deg > 0].tolist())
    n_follow = max(1, round(opts.share * opts.customers))
    in_deg = np.bincount(dst, minlength=int(max(src.max(), dst.max())) + 1)
    lo, hi = {"small": (5, 60), "mid": (61, 500), "new": (0, 0)}[opts.audience]
    for f in range(opts.farms):
        cust = p.customers[f]
        if opts.audience == "new":
            assert cust.min() > max(src.max(), dst.max())
        else:
            assert ((in_deg[cust] >= lo) & (in_deg[cust] <= hi)).all()
        shares = []
        for fake, d in zip(p.fakes[f].tolist(), p.degree[f].tolist(), strict=True):
            follows = new_dst[new_src == fake]
            assert d in honest
            assert len(follows) == max(d, n_follow)  # the drawn honest degree, or its farm follows
            shares.append(np.isin(follows, cust).sum() / opts.customers)
        assert abs(np.mean(shares) - opts.share) <= 0.5 / opts.customers + 1e-9


def test_plant_farms_is_deterministic_and_seeded():
    src, dst = _base_edges(1)
    a = plant_farms(src, dst, seed=3, size=50, customers=5)
    b = plant_farms(src, dst, FarmOptions(size=50, customers=5), seed=3)
    c = plant_farms(src, dst, seed=4, size=50, customers=5)
    assert np.array_equal(a.src, b.src) and np.array_equal(a.dst, b.dst)
    assert not np.array_equal(a.dst, c.dst)


def test_plant_farms_popularity_camouflage_favours_popular_accounts():
    src, dst = _base_edges(2)
    pop = plant_farms(src, dst, seed=1, size=400, customers=5, share=0.2)
    uni = plant_farms(src, dst, seed=1, size=400, customers=5, share=0.2, camouflage="uniform")
    in_deg = np.bincount(dst, minlength=4_000)

    def mean_pop(p):
        d = p.dst[len(dst):]
        return in_deg[d[~np.isin(d, p.customer_ids)]].mean()
    assert mean_pop(pop) > 3 * mean_pop(uni)


def test_plant_farms_rejects_bad_options():
    src, dst = _base_edges()
    with pytest.raises(InputError, match="audience"):
        plant_farms(src, dst, audience="huge")
    with pytest.raises(InputError, match="share"):
        plant_farms(src, dst, share=1.5)
    with pytest.raises(InputError, match="too few"):
        plant_farms(src[:50], dst[:50], customers=100)
