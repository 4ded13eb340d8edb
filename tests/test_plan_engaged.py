"""Issue 19: the planner's objectives ``engaged`` and ``loyal`` (and ``audience`` beside the
other objectives) against plain-Python sets (tests/naive_interactions.py) and the brute-force
optimum, on random events (hypothesis) and on the real-shaped set tests/data/interactions-hershey."""

from __future__ import annotations

import csv
import itertools
import json

import naive_interactions as naive
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_oracle import optimum
from test_interactions import DAY, T0, follow_facts, make_graph, scenario

from kolgraph import FollowerGraph, InputError
from kolgraph.cli import main
from kolgraph.ingest import ingest
from kolgraph.interactions import build
from kolgraph.plan import ENUMERATE_BOUND, GREEDY_BOUND

EPS = 1e-9


def oracle_sets(events, ids, followers, ftime, audience, since, until, kinds=None, loyal_k=3,
                loyal_days=30.0, by=None):
    """Each creator's engaged (or loyal) people as Python sets."""
    if by is None:  # loyal_by="auto"
        by = "posts" if any(e[4] is not None for e in events) else "weeks"
    out = []
    for c in ids:
        units = naive.engaged_units(events, c, since, until, kinds, by)
        out.append(set(units) if audience == "engaged" else
                   naive.loyal_set(units, c, followers[c], ftime, loyal_k, loyal_days, until))
    return out


def union(sets, chosen):
    return set().union(*(sets[i] for i in chosen))


def brute_force(sets, cost, budget, value=len):
    """The best value of any subset within the budget (every subset tried)."""
    best = 0.0
    for r in range(len(sets) + 1):
        for sub in itertools.combinations(range(len(sets)), r):
            if sum(cost[i] for i in sub) <= budget + EPS:
                best = max(best, float(value(union(sets, sub)) if value is len else value(sub)))
    return best


def check_plan(p, sets, cost, budget, method):
    """The plan's value is the union of the chosen sets; within the budget; the brute-force
    optimum lies between the plan's guaranteed share and the certified upper bound."""
    d = p.to_dict()
    pos = {c: i for i, c in enumerate(sorted(cost))}
    chosen = [pos[c] for c in p.ids]
    assert p.value == len(union(sets, chosen))
    assert d["measures"]["unique_reach"] == p.value
    assert p.cost <= budget + EPS
    assert [r["audience"] for r in d["chosen"]] == [len(sets[i]) for i in chosen]
    best = brute_force(sets, [cost[c] for c in sorted(cost)], budget)
    bound = GREEDY_BOUND if method == "greedy" else ENUMERATE_BOUND
    assert d["guarantee"]["applies"] and d["guarantee"]["bound"] == bound
    assert p.value >= bound * best - EPS
    assert best <= d["guarantee"]["upper_bound"] + EPS
    return chosen


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.sampled_from(["engaged", "loyal"]), st.integers(1, 3),
       st.sampled_from([None, ["comment"], ["like", "share"]]), st.integers(0, 40),
       st.sampled_from(["greedy", "enumerate"]), st.randoms(use_true_random=False))
def test_the_plan_is_the_union_of_the_oracle_sets(sc, objective, loyal_k, kinds, start, method,
                                                  rnd):
    n, follows, ftimes, events = sc
    g = make_graph(n, follows, ftimes, events)
    followers, ftime = follow_facts(g)
    ids = list(range(min(n, 8)))
    cost = {c: float(rnd.randint(1, 20)) for c in ids}
    budget = float(rnd.randint(int(min(cost.values())), int(sum(cost.values()))))
    since, until = T0 + start * DAY, T0 + (start + 30) * DAY
    p = g.plan(cost, budget=budget, objective=objective, since=since, until=until, kinds=kinds,
               loyal_k=loyal_k, method=method)
    sets = oracle_sets(events, ids, followers, ftime, objective, since, until, kinds, loyal_k)
    chosen = check_plan(p, sets, cost, budget, method)
    d = p.to_dict()
    assert d["measures"]["follower_reach"] == len(set().union(*(followers[c] for c in chosen)))
    assert d["filters"]["audience"] == objective
    assert (d["filters"]["since"], d["filters"]["until"]) == (since, until)
    assert d["naive"]["value"] == len(union(sets, [ids.index(c) for c in d["naive"]["chosen"]]))
    shapley = [s["value"] for s in d["shapley"]["values"]]
    assert sum(shapley) == pytest.approx(p.value)  # efficiency over the engaged sets


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.sampled_from(["engaged", "loyal"]), st.integers(2, 3),
       st.randoms(use_true_random=False))
def test_audience_carries_to_effective_reach_and_filters(sc, audience, k, rnd):
    """``audience`` with effective<k> (R_k over engaged people: the exact MILP optimum on
    small instances) and with ``real`` (the flagged accounts left out)."""
    n, follows, ftimes, events = sc
    g = make_graph(n, follows, ftimes, events)
    followers, ftime = follow_facts(g)
    flagged = [rnd.random() < 0.3 for _ in range(n)]
    g.set_account_column("flagged", flagged)
    ids = list(range(min(n, 7)))
    cost = {c: float(rnd.randint(1, 9)) for c in ids}
    budget = float(sum(cost.values())) / 2 + 1
    span = [e[2] for e in events]
    since, until = (min(span), max(span) + 1) if span else (0, 0)
    sets = oracle_sets(events, ids, followers, ftime, audience, since, until)
    p = g.plan(cost, budget=budget, objective=f"effective{k}", audience=audience)
    freq = {}
    for i in [ids.index(c) for c in p.ids]:
        for u in sets[i]:
            freq[u] = freq.get(u, 0) + 1
    assert p.value == sum(1 for v in freq.values() if v >= k)
    best = optimum(sets, [cost[c] for c in ids], budget, "effective", k)
    assert p.value <= best + EPS and best <= p.to_dict()["guarantee"]["upper_bound"] + EPS
    real = [{u for u in s if not flagged[u]} for s in sets]
    p = g.plan(cost, budget=budget, objective="real", audience=audience)
    assert p.value == len(union(real, [ids.index(c) for c in p.ids]))
    assert p.value >= GREEDY_BOUND * brute_force(real, [cost[c] for c in ids], budget) - EPS


def test_a_worked_example():
    """Engaged: 10 -> {1, 6}, 11 -> {3, 7}, 12 -> {4, 6}; 11 and 12 are the best pair."""
    g = FollowerGraph.from_edges([1, 2, 3, 8, 3, 4, 5], [10, 10, 10, 10, 11, 11, 12],
                                 nodes=[6, 7])
    g.interactions = build(g.index([1, 6, 7, 3, 4, 6]), g.index([10, 10, 11, 11, 12, 12]),
                           [0, 1, 2, 3, 4, 5], [0] * 6, ["comment"], g.n_accounts)
    prices = {10: 300.0, 11: 100.0, 12: 100.0}
    p = g.plan(prices, budget=250, objective="engaged")
    assert p.ids == [11, 12] and p.value == 4
    assert p.to_dict()["measures"]["follower_reach"] == 3  # followers 3, 4 and 5
    assert g.plan(prices, budget=300).ids == [10]  # by followers: 10 has four
    assert g.plan(prices, budget=250, objective="unique", audience="engaged").value == 4
    assert g.plan(prices, budget=600, objective="effective2", audience="engaged").value == 1


def test_errors_name_the_problem():
    g = FollowerGraph.from_edges([1, 2], [10, 11])
    with pytest.raises(InputError, match="interactions part.*add-interactions"):
        g.plan({10: 1.0}, budget=5, objective="engaged")
    with pytest.raises(InputError, match="interactions part"):
        g.plan({10: 1.0}, budget=5, audience="loyal")
    g = make_graph(3, [(1, 0)], None, [(1, 0, T0, "like", None, None)])
    with pytest.raises(InputError, match="since, kinds: only with objective 'engaged'"):
        g.plan({0: 1.0}, budget=5, since=T0, kinds="like")
    with pytest.raises(InputError, match="'expected'.*audience='engaged'"):
        g.plan({0: 1.0}, budget=5, objective="expected", audience="engaged")
    with pytest.raises(InputError, match="cannot take audience='loyal'"):
        g.plan({0: 1.0}, budget=5, objective="engaged", audience="loyal")
    with pytest.raises(InputError, match="ends before it starts"):
        g.plan({0: 1.0}, budget=5, objective="loyal", since=T0 + 10, until=T0)
    with pytest.raises(InputError, match="unknown objective.*engaged or loyal"):
        g.plan({0: 1.0}, budget=5, objective="fans")


def _events(path):
    return [(int(r["account"]), int(r["creator"]), int(r["time"]), r["kind"], r["post"] or None,
             int(r["reply_to"]) if r["reply_to"] else None) for r in csv.DictReader(open(path))]


def test_the_real_shaped_set_library_and_cli(data_dir, tmp_path, capsys):
    """tests/data/interactions-hershey (drawn interactions on a real follow graph): the plan
    over its 20 creators against the oracle sets and the exact optimum, by Python and CLI."""
    folder = data_dir / "interactions-hershey"
    store = tmp_path / "h.kg"
    g = ingest(data_dir / "twitter-brand-follower-graphs" / "hersheycareers.json", store,
               interactions=folder / "interactions.csv", posts=folder / "posts.csv")
    events = _events(folder / "interactions.csv")
    creators = sorted({e[1] for e in events})
    rng = np.random.default_rng(19)
    cost = dict(zip(creators, np.round(rng.lognormal(3, 0.7, len(creators)), 2).tolist(),
                    strict=True))
    budget = sum(cost.values()) / 4
    since, until = T0 + 7 * DAY, T0 + 70 * DAY
    followers = {c: set(g.followers(c)) for c in creators}
    for objective, kinds in (("engaged", ["comment", "share"]), ("loyal", None)):
        p = g.plan(cost, budget=budget, objective=objective, since=since, until=until,
                   kinds=kinds, loyal_k=3)
        sets = oracle_sets(events, creators, followers, None, objective, since, until, kinds, 3,
                           by="posts")
        chosen = [creators.index(c) for c in p.ids]
        assert p.value == len(union(sets, chosen)) > 0
        best = optimum(sets, [cost[c] for c in creators], budget)
        d = p.to_dict()
        assert GREEDY_BOUND * best - EPS <= p.value <= best + EPS
        assert best <= d["guarantee"]["upper_bound"] + EPS
        assert d["measures"]["follower_reach"] == len(set().union(*(followers[c] for c in p.ids)))
        assert d["measures"]["follower_reach"] > p.value  # engaged people are fewer
    table = tmp_path / "cands.csv"
    table.write_text("id,price\n" + "".join(f"{c},{v}\n" for c, v in cost.items()))
    assert main(["plan", str(store), "--candidates", str(table), "--budget", str(budget),
                 "--objective", "engaged", "--since", str(since), "--until", str(until),
                 "--kinds", "comment,share", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = g.plan(cost, budget=budget, objective="engaged", since=since, until=until,
                  kinds=["comment", "share"]).to_dict()
    assert got["chosen"] == json.loads(json.dumps(want["chosen"]))
    assert got["value"] == want["value"] and got["filters"]["kinds"] == ["comment", "share"]
    assert main(["plan", str(store), "--candidates", str(table), "--budget", str(budget),
                 "--objective", "loyal", "--loyal-k", "2", "--loyal-by", "weeks"]) == 0
    assert "loyal" in capsys.readouterr().out
