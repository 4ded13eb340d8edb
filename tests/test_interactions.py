"""The interactions layer: engagement and engaged/loyal reach against plain-Python oracles
(tests/naive_interactions.py), on random events (hypothesis) and on synthetic truth."""

from __future__ import annotations

import naive_interactions as naive
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kolgraph import FollowerGraph, InputError
from kolgraph.interactions import build

KINDS = ["like", "comment", "share", "reply"]
T0 = 1_704_067_200  # Monday 2024-01-01 00:00 UTC
DAY = 86_400


def make_graph(n, follows, follow_times, events, with_posts=True):
    """Accounts ``0..n-1`` (external id = internal id), follows ``(u, v)`` and events as
    naive tuples; returns the graph with its interactions layer."""
    src = [u for u, _ in follows]
    dst = [v for _, v in follows]
    g = FollowerGraph.from_edges(src, dst, nodes=list(range(n)),
                                 followed_at=follow_times if follow_times is not None else None)
    ev = list(events)
    g.interactions = build(
        np.array([e[0] for e in ev], np.int64), np.array([e[1] for e in ev], np.int64),
        np.array([e[2] for e in ev], np.int64), np.array([KINDS.index(e[3]) for e in ev]),
        KINDS, g.n_accounts,
        post=np.array([-1 if e[4] is None else e[4] for e in ev]) if with_posts else None,
        reply_to=np.array([-1 if e[5] is None else e[5] for e in ev]))
    return g


def follow_facts(g):
    followers = {c: set(g.followers_idx(c).tolist()) for c in range(g.n_accounts)}
    times = None
    if g.followed_at is not None:
        times = {}
        for c in range(g.n_accounts):
            p0, p1 = g.in_indptr[c], g.in_indptr[c + 1]
            for u, t in zip(g.in_indices[p0:p1].tolist(), g.followed_at[p0:p1].tolist(), strict=True):
                times[(u, c)] = t
    return followers, times


@st.composite
def scenario(draw):
    n = draw(st.integers(2, 12))
    acc = st.integers(0, n - 1)
    follows = draw(st.lists(st.tuples(acc, acc).filter(lambda e: e[0] != e[1]), max_size=40,
                            unique=True))
    timed = draw(st.booleans())
    ftimes = [T0 - draw(st.integers(0, 90)) * DAY for _ in follows] if timed else None
    event = st.tuples(acc, acc, st.integers(T0, T0 + 70 * DAY), st.sampled_from(KINDS),
                      st.none() | st.integers(0, 5), st.none() | acc)
    events = draw(st.lists(event, max_size=80))
    events += draw(st.lists(event, max_size=5))  # repeats: exact duplicates count once
    events = [(a, c, t, k, p, r if k == "reply" else None) for a, c, t, k, p, r in events]
    events += events[: draw(st.integers(0, 3))]
    return n, follows, ftimes, events


def _window(draw_since, draw_until):
    return T0 + draw_since * DAY, T0 + draw_until * DAY


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.integers(0, 30), st.integers(30, 80), st.sampled_from([None, ["comment"],
       ["like", "share"]]), st.integers(1, 4), st.sampled_from([0.0, 30.0, 45.5]),
       st.sampled_from(["weeks", "posts"]))
def test_engagement_matches_the_oracle(sc, a, b, kinds, loyal_k, loyal_days, by):
    n, follows, ftimes, events = sc
    g = make_graph(n, follows, ftimes, events)
    followers, ftime = follow_facts(g)
    since, until = _window(a, b)
    out = g.engagement(list(range(n)), since=since, until=until, kinds=kinds, loyal_k=loyal_k,
                       loyal_days=loyal_days, loyal_by=by)
    for row in out["creators"]:
        c = row["id"]
        want = naive.engagement(events, c, followers[c], ftime, since, until, kinds, loyal_k,
                                loyal_days, by)
        want.pop("flagged_interactions")
        assert {k: row[k] for k in want} == want, c
        assert row["followers"] == len(followers[c])
        assert row["reply_rate"] == (row["answered_comments"] / row["comments"]
                                     if row["comments"] else None)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.sampled_from(["engaged", "loyal"]), st.integers(1, 3))
def test_engaged_reach_is_reach_over_the_oracle_sets(sc, audience, loyal_k):
    n, follows, ftimes, events = sc
    g = make_graph(n, follows, ftimes, events)
    followers, ftime = follow_facts(g)
    ids = list(range(min(n, 5)))
    span = [e[2] for e in events]
    since, until = (min(span), max(span) + 1) if span else (0, 0)
    by = "posts" if any(e[4] is not None for e in events) else "weeks"  # loyal_by="auto"
    sets = []
    for c in ids:
        units = naive.engaged_units(events, c, since, until, None, by)
        sets.append(set(units) if audience == "engaged" else
                    naive.loyal_set(units, c, followers[c], ftime, loyal_k, 30.0, until))
    r = g.reach(ids, audience=audience, loyal_k=loyal_k).to_dict()
    assert r["unique_reach"] == len(set().union(*sets))
    assert r["gross_reach"] == sum(len(s) for s in sets)
    for i, row in enumerate(r["creators"]):
        others = set().union(*(s for j, s in enumerate(sets) if j != i))
        assert row["audience"] == len(sets[i])
        assert row["exclusive"] == len(sets[i] - others)
        assert row["incremental"] == len(sets[i] - set().union(*sets[:i]))
        for j in range(len(ids)):
            assert r["overlap"]["counts"][i][j] == len(sets[i] & sets[j])
    assert r["filters"]["audience"] == audience


def test_a_worked_example():
    """Creator 0 with followers 1 and 2 (followed 60 and 10 days before the window ends)."""
    end = T0 + 28 * DAY
    follows, ftimes = [(1, 0), (2, 0)], [end - 60 * DAY, end - 10 * DAY]
    events = [(1, 0, T0 + d * DAY, "comment", None, None) for d in (0, 8, 15)]  # 3 weeks
    events += [(2, 0, T0 + d * DAY, "like", None, None) for d in (1, 9, 16)]  # 3 weeks, new follower
    events += [(3, 0, T0 + 2 * DAY, "share", None, None)]  # a non-follower
    events += [(0, 0, T0 + 20 * DAY, "reply", None, 1)]  # the creator answers fan 1 once
    g = make_graph(4, follows, ftimes, events, with_posts=False)
    row = g.engagement([0], since=T0, until=end)["creators"][0]
    assert (row["engaged"], row["engaged_followers"], row["engaged_non_followers"]) == (3, 2, 1)
    assert row["interactions"] == 7 and row["by_kind"] == {"comment": 3, "like": 3, "share": 1}
    assert row["loyal_fans"] == 1  # fan 2 is too recent a follower
    assert (row["comments"], row["answered_comments"], row["reply_rate"]) == (3, 1, 1 / 3)
    assert row["rate_basis"] == "per_day_per_follower"
    assert row["engagement_rate"] == pytest.approx(7 / 28 / 2)
    assert row["authentic_share"] is None


def test_engagement_rate_per_post_and_authentic_share():
    g = make_graph(3, [(1, 0), (2, 0)], None, [(1, 0, T0 + 5, "like", 0, None),
                                              (2, 0, T0 + 9, "like", 1, None)])
    inter = g.interactions
    g.interactions = build(inter.c_account, np.zeros(2, np.int64), inter.c_time, inter.c_kind,
                           KINDS, 3, post=inter.c_post,
                           posts=(np.zeros(4, np.int64), T0 + np.arange(4), np.arange(4)))
    g.set_account_column("flagged", [False, False, True])
    row = g.engagement([0], since=T0 + 2, until=T0 + 10)["creators"][0]
    assert row["posts"] == 2  # posts at T0 + 2 and T0 + 3
    assert row["rate_basis"] == "per_post_per_follower"
    assert row["engagement_rate"] == pytest.approx(2 / 2 / 2)
    assert g.engagement([0])["creators"][0]["posts"] == 0  # the default window starts at T0 + 5
    assert row["flagged_interactions"] == 1 and row["authentic_share"] == 0.5


def test_errors_name_the_problem():
    g = FollowerGraph.from_edges([1], [2])
    with pytest.raises(InputError, match="add-interactions"):
        g.engagement([2])
    g = make_graph(3, [(1, 0)], None, [(1, 0, T0, "like", None, None)])
    with pytest.raises(InputError, match="since"):
        g.engagement([0], since="last tuesday")
    with pytest.raises(InputError, match="ends before it starts"):
        g.engagement([0], since=T0 + 10, until=T0)
    with pytest.raises(InputError, match="only with audience"):
        g.reach([0], since=T0)
    with pytest.raises(InputError, match="sketches hold follower audiences"):
        g.reach([0], audience="engaged", mode="sketch")
    out = g.engagement([0], kinds="comment,nope")
    assert any("'nope'" in w for w in out["warnings"])
    assert g.engagement([0], since="2024-01-01", until="2024-01-01T00:00:01Z")["creators"][0][
        "interactions"] == 1


# --- the kernels' sorts and searches on rows long enough for the radix path -------------
@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6000), st.integers(1, 62), st.integers(0, 2**31))
def test_radix_sort_equals_numpy_sort(n, bits, seed):
    from kolgraph.kernels.interactions import _radix_sort

    keys = np.random.default_rng(seed).integers(0, 2**bits, n, dtype=np.int64)
    got = keys.copy()
    _radix_sort(got, n, bits, np.empty(n, np.int64))
    assert (got == np.sort(keys)).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5000), max_size=400, unique=True),
       st.lists(st.integers(0, 5100), max_size=200, unique=True))
def test_galloping_follower_search_equals_a_set_lookup(row, asked):
    from kolgraph.kernels.interactions import _follow_from

    row = np.array(sorted(row), np.int32)
    j = 0
    for u in sorted(asked):
        j, found = _follow_from(row, j, len(row), u)
        assert found == (u in set(row.tolist()))
        assert j == np.searchsorted(row, u)


@pytest.mark.parametrize("by", ["weeks", "posts"])
def test_engagement_of_long_rows_matches_the_oracle(by):
    """Creators with thousands of events in the window (the radix-sorted path)."""
    rng = np.random.default_rng(7)
    n, m = 3000, 20_000
    follows = sorted({(int(u), int(rng.integers(0, 3))) for u in rng.integers(3, n, 4000)})
    events = [(int(a), int(c), int(t), KINDS[int(k)], None if p < 0 else int(p), None)
              for a, c, t, k, p in zip(rng.integers(0, n, m), rng.integers(0, 3, m),
                                       rng.integers(T0, T0 + 200 * DAY, m), rng.integers(0, 3, m),
                                       rng.integers(-1, 40, m), strict=True)]
    events += [(0, 0, T0 + i * DAY, "reply", None, int(a)) for i, a in enumerate(rng.integers(3, n, 50))]
    g = make_graph(n, follows, None, events)
    followers, ftime = follow_facts(g)
    out = g.engagement([0, 1, 2], loyal_k=3, loyal_by=by)
    for row in out["creators"]:
        c = row["id"]
        want = naive.engagement(events, c, followers[c], ftime, 0, 2**62, None, 3, 0.0, by)
        want.pop("flagged_interactions")
        assert row["engaged"] > 500 and row["loyal_fans"] > 0
        assert {k: row[k] for k in want} == want, c


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 400), st.integers(1, 6), st.integers(1, 30), st.integers(0, 2**31))
def test_event_order_equals_a_lexsort_of_the_six_columns(m, creators, span, seed):
    from kolgraph.interactions import _event_order, _packed_order

    rng = np.random.default_rng(seed)
    cr = rng.integers(0, creators, m).astype(np.int32)
    t = (T0 + rng.integers(0, span, m)).astype(np.int64)
    acc, kd = rng.integers(0, 6, m).astype(np.int32), rng.integers(0, 3, m).astype(np.uint8)
    po, rt = rng.integers(-1, 3, m).astype(np.int32), rng.integers(-1, 2, m).astype(np.int32)
    assert (_event_order(cr, t, acc, kd, po, rt) == np.lexsort((rt, po, kd, acc, t, cr))).all()
    assert (_packed_order(acc, t) == np.lexsort((t, acc))).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40_000), st.integers(1, 20), st.integers(0, 2**31), st.booleans())
def test_sparse_regions_equal_the_table_kernel(n, k, seed, filtered):
    from kolgraph.kernels import reach as kr
    from kolgraph.kernels.reach_sparse import regions_sparse

    rng = np.random.default_rng(seed)
    rows = [np.unique(rng.integers(0, n, rng.integers(0, 400))) for _ in range(k)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    indices = np.concatenate(rows).astype(np.int32) if rows else np.empty(0, np.int32)
    sel = np.arange(k, dtype=np.int64)
    allowed = rng.random(n) < 0.7 if filtered else np.zeros(1, np.bool_)
    want = kr.regions_table(indptr, indices, sel, 0, n, allowed, filtered,
                            np.full(k, -1, np.int64), np.zeros((0, 1), np.uint64))
    table = np.zeros(1 << k, np.int64)
    got = regions_sparse(indptr, indices, sel, 0, n, table, allowed, filtered)
    assert [a.tolist() for a in got] == [a.tolist() for a in want]
    assert not table.any()  # left zero for the next call
    cut = int(rng.integers(0, n + 1))  # two account ranges, as two threads count them
    parts = [regions_sparse(indptr, indices, sel, a0, a1, table, allowed, filtered)
             for a0, a1 in ((0, cut), (cut, n))]
    merged = {}
    for masks, counts in parts:
        for m, c in zip(masks.tolist(), counts.tolist(), strict=True):
            merged[m] = merged.get(m, 0) + c
    assert sorted(merged.items()) == list(zip(*[a.tolist() for a in want], strict=True))


def test_default_window_audiences_are_kept_and_follow_new_events():
    events = [(1, 0, T0, "comment", 1, None), (2, 0, T0, "like", 1, None),
              (3, 5, T0 + DAY, "like", 2, None)]
    g = make_graph(8, [(1, 0), (4, 5)], None, events)
    first = g.reach([0, 5], audience="engaged").to_dict()
    assert first["unique_reach"] == 3
    assert g.reach([0, 5], audience="engaged").to_dict() == first  # from the kept index
    windowed = g.reach([0, 5], audience="engaged", since=T0 + 1).to_dict()
    assert windowed["unique_reach"] == 1  # a window is computed, not read from the index
    g2 = make_graph(8, [(1, 0), (4, 5)], None, events + [(6, 5, T0, "share", 2, None)])
    g.interactions = g2.interactions  # a new layer on the same graph: a new index
    assert g.reach([0, 5], audience="engaged").to_dict()["unique_reach"] == 4
