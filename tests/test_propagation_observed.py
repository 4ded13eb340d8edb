"""``weighted_cascade="observed"``: reshare probabilities from share events, against a
plain-Python estimator (hypothesis), the spread against the exact expectation of tiny
graphs and a slow pure-Python cascade, and the error paths (library, CLI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_interactions import DAY, KINDS, T0, make_graph
from test_propagation import Z, exact_ic, naive_ic, prop_edges

from kolgraph import FollowerGraph, InputError
from kolgraph.cli import main
from kolgraph.interactions import build
from kolgraph.propagation import seeds, spread
from kolgraph.propagation.observed import reshare_rates


# --- the oracle: the estimator in plain Python ------------------------------------------------
def naive_rates(n, follows, events, posts, since, until):
    """``(rates, mu, kappa)`` as docs/propagation.md states them; ``posts`` is a list of
    ``(creator, time, post)`` or None (then distinct post ids of the creator's events)."""
    followers = {c: {u for u, v in follows if v == c} for c in range(n)}
    inside = [e for e in events if since <= e[2] < until]
    rows = []
    for c in range(n):
        if posts is not None:
            p_c = len({(t, p) for cc, t, p in posts if cc == c and since <= t < until})
        else:
            p_c = len({e[4] for e in inside if e[1] == c and e[4] is not None})
        shares = [e for e in inside if e[1] == c and e[3] == "share" and e[0] != c
                  and e[0] in followers[c]]
        s_c = len({(e[0], e[4]) for e in shares if e[4] is not None})
        s_c += len({e for e in shares if e[4] is None})  # exact duplicates are one event
        n_c = len(followers[c]) * p_c
        if n_c:
            rows.append((c, min(s_c, n_c), n_c))
    total_s, total_n = sum(r[1] for r in rows), sum(r[2] for r in rows)
    if total_s == 0:
        return None
    mu = total_s / total_n
    kappa = None
    spread_n = total_n - sum(r[2] ** 2 for r in rows) / total_n
    if len(rows) >= 2 and mu < 1 and spread_n > 0:
        q = sum(nc * (sc / nc - mu) ** 2 for _, sc, nc in rows)
        tau2 = (q - (len(rows) - 1) * mu * (1 - mu)) / spread_n
        if tau2 > 0:
            kappa = max(mu * (1 - mu) / tau2 - 1, 1.0)
    rates = [mu] * n
    if kappa is not None:
        for c, sc, nc in rows:
            rates[c] = (sc + kappa * mu) / (nc + kappa)
    return rates, mu, kappa


@st.composite
def share_scenario(draw):
    n = draw(st.integers(2, 10))
    acc = st.integers(0, n - 1)
    follows = draw(st.lists(st.tuples(acc, acc).filter(lambda e: e[0] != e[1]), min_size=1,
                            max_size=40, unique=True))
    post = st.none() | st.integers(0, 6) if draw(st.booleans()) else st.integers(0, 6)
    event = st.tuples(acc, acc, st.integers(T0, T0 + 40 * DAY),
                      st.sampled_from(["share", "share", "like", "comment"]), post, st.none())
    events = draw(st.lists(event, max_size=80))
    posts = None
    if draw(st.booleans()):
        posts = draw(st.lists(st.tuples(acc, st.integers(T0, T0 + 40 * DAY), st.integers(0, 6)),
                              min_size=1, max_size=30))
    return n, follows, events, posts


def _with_posts(g, posts):
    if posts is None:
        return g
    inter = g.interactions
    cols = [np.asarray(getattr(inter, a)) for a in ("c_account", "c_time", "c_kind", "c_post")]
    creator = np.repeat(np.arange(g.n_accounts), np.diff(inter.c_indptr))
    g.interactions = build(cols[0], creator, cols[1], cols[2], inter.kinds, g.n_accounts,
                           post=cols[3], posts=tuple(np.array([p[i] for p in posts], np.int64)
                                                     for i in range(3)))
    return g


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(share_scenario(), st.integers(0, 20), st.integers(20, 41))
def test_rates_match_the_oracle(sc, a, b):
    n, follows, events, posts = sc
    g = _with_posts(make_graph(n, follows, None, events), posts)
    since, until = T0 + a * DAY, T0 + b * DAY
    if not events:
        with pytest.raises(InputError, match="have none"):
            reshare_rates(g, since=since, until=until)
        return
    if posts is None and all(e[4] is None for e in events):
        with pytest.raises(InputError, match="neither posts"):
            reshare_rates(g, since=since, until=until)
        return
    want = naive_rates(n, follows, events, posts, since, until)
    if want is None:
        with pytest.raises(InputError, match="no 'share' event|have none"):
            reshare_rates(g, since=since, until=until)
        return
    fit = reshare_rates(g, since=since, until=until)
    rates, mu, kappa = want
    assert fit.pooled_rate == pytest.approx(mu, rel=1e-12)
    assert (fit.prior_strength is None) == (kappa is None)
    if kappa is not None:
        assert fit.prior_strength == pytest.approx(kappa, rel=1e-9)
    np.testing.assert_allclose(fit.rates, rates, rtol=1e-9)


def test_the_prior_shrinks_few_trials_more():
    """Two creators with the same raw rate (1/10 and 10/100) and a third much lower: the
    one with fewer trials is pulled further toward the pooled rate."""
    follows = ([(u, 0) for u in range(10, 20)] + [(u, 1) for u in range(10, 110)]
               + [(u, 2) for u in range(10, 210)])
    events = [(10, 0, T0, "share", 0, None)]
    events += [(u, 1, T0, "share", 0, None) for u in range(10, 20)]
    events += [(u, 2, T0, "share", 0, None) for u in range(10, 12)]
    g = make_graph(210, follows, None, events)
    fit = reshare_rates(g)
    mu = 13 / 310
    assert fit.pooled_rate == pytest.approx(mu)
    assert fit.prior_strength is not None
    r0, r1 = fit.rates[0], fit.rates[1]
    assert mu < r0 < r1 < 0.1 and abs(r0 - 0.1) > abs(r1 - 0.1)
    assert fit.rates[50] == pytest.approx(mu)  # posts nothing: the pooled rate


# --- the spread with the estimated probabilities ----------------------------------------------
def _tiny():
    """Creators 0 (followers 2, 3) and 1 (followers 3, 4); 3 is followed by 5; shares on
    two posts of each creator."""
    follows = [(2, 0), (3, 0), (3, 1), (4, 1), (5, 3)]
    events = [(2, 0, T0, "share", 0, None), (3, 0, T0 + DAY, "share", 1, None),
              (2, 0, T0 + DAY, "share", 1, None), (4, 1, T0, "share", 7, None),
              (0, 1, T0, "like", 7, None), (1, 1, T0, "share", 8, None)]
    return make_graph(6, follows, None, events), follows, events


def test_spread_matches_the_exact_expectation_and_a_slow_cascade():
    g, follows, events = _tiny()
    rates = naive_rates(6, follows, events, None, T0, T0 + 2 * DAY)[0]
    probs = np.array([rates[v] for v in range(g.n_accounts)
                      for _ in range(g.in_indptr[v], g.in_indptr[v + 1])])
    edges = prop_edges(g, probs)
    for seed_set in ([0], [1], [0, 1]):
        ours = spread(g, seed_set, weighted_cascade="observed", runs=40_000, seed=5)
        exact = exact_ic(g.n_accounts, edges, seed_set)
        slow = naive_ic(g.n_accounts, edges, seed_set, runs=20_000, seed=6)
        assert abs(ours.mean - exact) < Z * ours.stderr + 1e-9
        se = np.hypot(ours.stderr, slow.std() / np.sqrt(len(slow)))
        assert abs(ours.mean - slow.mean()) < Z * se
        assert ours.params["weighted_cascade"] == "observed"
        assert ours.params["observed"]["shares"] == 3 + 1  # creator 1's own share is not counted


def test_seeds_with_observed_equal_seeds_with_the_same_edge_probs():
    g, _, _ = _tiny()
    fit = reshare_rates(g)
    probs = np.repeat(fit.rates.astype(np.float32), np.diff(g.in_indptr))
    a = seeds(g, 2, weighted_cascade="observed", candidates="accounts", evaluate=500, seed=3)
    b = seeds(g, 2, edge_probs=probs, candidates="accounts", evaluate=500, seed=3)
    assert a.seeds == b.seeds and a.spread == b.spread
    assert a.evaluation.mean == b.evaluation.mean
    assert a.evaluation.params["weighted_cascade"] == "observed"


# --- errors -----------------------------------------------------------------------------------
def test_error_paths():
    g = FollowerGraph.from_edges([1, 2], [0, 0])
    with pytest.raises(InputError, match="no interactions"):
        spread(g, [0], weighted_cascade="observed")
    g.interactions = build(np.array([1]), np.array([0]), np.array([T0]), np.array([0]),
                           ["like"], g.n_accounts, post=np.array([0]))
    with pytest.raises(InputError, match="'share' events; this store's interactions have none"):
        seeds(g, 1, weighted_cascade="observed", candidates="accounts")
    g.interactions = build(np.array([1]), np.array([0]), np.array([T0]), np.array([0]),
                           ["share"], g.n_accounts)
    with pytest.raises(InputError, match="neither posts"):
        spread(g, [0], weighted_cascade="observed")
    gg, _, _ = _tiny()
    with pytest.raises(InputError, match="no 'share' event by a follower"):
        reshare_rates(gg, since=T0 + 5 * DAY, until=T0 + 9 * DAY)
    with pytest.raises(InputError, match="ends before it starts"):
        reshare_rates(gg, since=T0 + 5 * DAY, until=T0)
    with pytest.raises(InputError, match="model='ic'"):
        spread(gg, [0], model="lt", weighted_cascade="observed")
    with pytest.raises(InputError, match="one of p, weighted_cascade"):
        spread(gg, [0], p=0.1, weighted_cascade="observed")
    with pytest.raises(InputError, match="view rates"):
        spread(gg, [0], view_rates=0.5, weighted_cascade="observed")
    with pytest.raises(InputError, match="weighted_cascade"):
        spread(gg, [0], weighted_cascade="measured")
    assert set(KINDS) >= {"share"}


def test_cli_observed_spread_and_seeds(tmp_path, capsys):
    edges = tmp_path / "edges.csv"
    edges.write_text("follower,followee\n2,0\n3,0\n3,1\n4,1\n5,3\n")
    ev = tmp_path / "ev.csv"
    ev.write_text("account,creator,time,kind,post\n2,0,1704067200,share,a\n3,0,1704153600,share,b\n"
                  "4,1,1704067200,share,c\n1,1,1704067200,like,c\n")
    store = tmp_path / "s.kg"
    assert main(["ingest", str(edges), "--out", str(store), "--interactions", str(ev), "-q"]) == 0
    capsys.readouterr()
    assert main(["spread", str(store), "--seeds", "0", "1", "--weighted-cascade", "observed",
                 "--runs", "300", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    import kolgraph
    want = kolgraph.open(store).spread([0, 1], weighted_cascade="observed", runs=300)
    assert out["params"]["weighted_cascade"] == "observed" and out["mean"] == want.mean
    assert main(["seeds", str(store), "-k", "1", "--among", "accounts", "--weighted-cascade",
                 "observed", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["params"]["observed"]["creators"] == 2
    assert main(["seeds", str(store), "-k", "1", "--weighted-cascade", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == {"weighted_cascade": True}
    assert main(["spread", str(store), "--seeds", "0", "--model", "lt", "--weighted-cascade",
                 "observed", "--json", "-q"]) != 0
    assert "model='ic'" in capsys.readouterr().err


# --- planted cascades (benchmarks/cascade_calibration.py) -------------------------------------
ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_the_estimator_recovers_planted_cascade_rates(monkeypatch):
    """Cascades drawn with known per-account reshare probabilities: each creator's estimate
    lies within 4 binomial standard errors of its true rate (plus the prior's pull)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.cascade_calibration import plant_cascades
    from kolgraph.synth import generate

    g, _ = generate(4_000, 40, 30_000, seed=3, farms=0)
    truth = plant_cascades(g, np.random.default_rng(5), mean_rate=0.02, sigma=0.8)
    fit = reshare_rates(g)
    n = fit.followers * fit.posts.astype(float)
    true = truth["rates"][fit.creators]
    se = np.sqrt(true * (1 - true) / n)
    pull = fit.prior_strength * np.abs(fit.pooled_rate - true) / (n + fit.prior_strength)
    assert len(fit.creators) >= 30
    assert (np.abs(fit.rates[fit.creators] - true) <= 4 * se + pull + 1e-4).all()
    assert np.corrcoef(fit.rates[fit.creators], true)[0, 1] > 0.9


def test_the_calibration_evaluation_runs(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import cascade_calibration as cc

    assert cc.main(["--accounts", "3000", "--creators", "20", "--edges", "20000", "--runs", "100",
                    "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("| synthetic cascades |") == 4 and out.count("| hershey") == 4
