"""Issue 19: ``POST /v1/engagement``, ``audience`` on ``/v1/reach`` and the objectives
``engaged`` and ``loyal`` on ``/v1/plan`` over a real server
(tests/service/conftest.py), under the same auth, limits and suppression as the other routes."""

from __future__ import annotations

import json

import httpx
import pytest
from test_service import assert_error, top_ids

K = 20  # the `private` key's min_count


def test_engagement_is_the_library_answer(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 4)
    body = {"store": "alpha", "ids": ids, "since": "2020-01-01", "kinds": ["comment", "like"],
            "loyal_k": 2}
    with server.client("full") as c:
        r = c.post("/v1/engagement", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = g.engagement(ids, since="2020-01-01", kinds=["comment", "like"], loyal_k=2)
    assert got["creators"] == want["creators"] and got["window"] == want["window"]
    assert got["suppression"] == {"min_count": 0, "figures": 0}
    assert all(row["engaged"] > 0 and row["loyal_fans"] > 0 for row in got["creators"])


def test_engaged_reach_is_the_library_report(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 3)
    with server.client("full") as c:
        r = c.post("/v1/reach", json={"store": "alpha", "ids": ids, "audience": "loyal"})
    assert r.status_code == 200, r.text
    got = r.json()
    want = g.reach(ids, audience="loyal").to_dict()
    assert got["unique_reach"] == want["unique_reach"] > 0
    assert [c["audience"] for c in got["creators"]] == [c["audience"] for c in want["creators"]]
    assert got["filters"]["audience"] == "loyal"
    assert got["unique_reach"] < g.reach(ids).unique_reach


def test_small_groups_are_held_back(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 12, skip=150)  # small creators: small engaged groups
    with server.client("private") as c:
        eng = c.post("/v1/engagement", json={"store": "alpha", "ids": ids}).json()
        reach = c.post("/v1/reach", json={"store": "alpha", "ids": ids[:3],
                                          "audience": "engaged"}).json()
    assert eng["suppression"]["min_count"] == K and eng["suppression"]["figures"] > 0
    for row in eng["creators"]:
        for name in ("engaged", "engaged_followers", "engaged_non_followers", "loyal_fans",
                     "loyal_followers"):
            assert row[name] is None or row[name] == 0 or row[name] >= K, (name, row)
        if row["engaged_followers"] is None:  # engaged = followers + non-followers
            assert row["engaged_non_followers"] is None
        assert row["followers"] == int(g.in_degree[g.index([row["id"]])[0]])  # public
    for c in reach["creators"]:  # engaged audiences are not public: small ones go
        assert c["audience"] is None or c["audience"] == 0 or c["audience"] >= K


@pytest.mark.parametrize(("body", "code", "needle"), [
    ({"store": "alpha", "ids": [987654321]}, "unknown_ids", "987654321"),
    ({"store": "alpha", "ids": [1], "since": "soon"}, "invalid_input", "ISO 8601"),
    ({"store": "alpha", "ids": [1], "loyal_k": 0}, "validation_error", "loyal_k"),
    ({"store": "alpha", "ids": [1], "colour": "red"}, "validation_error", "colour"),
])
def test_bad_engagement_input_is_422(server, body, code, needle):
    with server.client("full") as c:
        assert_error(c.post("/v1/engagement", json=body), 422, code, needle)


def test_a_store_without_interactions_says_so(server):
    g = server.graphs["beta"]
    with server.client("other") as c:
        assert_error(c.post("/v1/engagement", json={"store": "beta", "ids": top_ids(g, 1)}), 422,
                     "invalid_input", "add-interactions")
        assert_error(c.post("/v1/reach", json={"store": "beta", "ids": top_ids(g, 1),
                                               "audience": "engaged"}), 422, "invalid_input",
                     "no interactions")


def test_engagement_needs_a_key_and_keeps_to_its_stores(server):
    with server.client() as c:
        assert_error(c.post("/v1/engagement", json={"store": "alpha", "ids": [1]}), 401,
                     "unauthorized")
    with server.client("other") as c:
        assert c.post("/v1/engagement", json={"store": "alpha", "ids": [1]}).status_code == 404
    with server.client("full") as c:
        too_many = top_ids(server.graphs["alpha"], 17)
        assert_error(c.post("/v1/engagement", json={"store": "alpha", "ids": too_many}), 422,
                     "too_many_creators")


# --- POST /v1/plan with the objectives engaged and loyal -------------------------------------
def _priced(g, n):
    from test_plan_api import priced

    cands, _ = priced(g, n)
    return cands, sum(c["price"] for c in cands) / 4


def test_engaged_plan_is_the_library_plan(server):
    g = server.graphs["alpha"]
    cands, budget = _priced(g, 30)
    prices = {c["id"]: c["price"] for c in cands}
    window = {"since": "2025-01-20", "kinds": ["comment", "like"]}
    with server.client("private") as c:  # engaged people of big plans pass min_count
        r = c.post("/v1/plan", json={"store": "alpha", "candidates": cands, "budget": budget,
                                     "objective": "engaged", **window})
        loyal = c.post("/v1/plan", json={"store": "alpha", "candidates": cands,
                                         "budget": budget, "objective": "unique",
                                         "audience": "loyal", "loyal_k": 2})
    assert r.status_code == 200, r.text
    got = r.json()
    want = json.loads(json.dumps(g.plan(prices, budget=budget, objective="engaged",
                                        **window).to_dict()))
    for key in ("chosen", "cost", "value", "curve", "guarantee", "filters"):
        assert got[key] == want[key], key
    ids = [row["id"] for row in got["chosen"]]
    assert got["value"] == g.reach(ids, audience="engaged", **window).unique_reach >= K
    assert got["filters"]["audience"] == "engaged" and got["guarantee"]["applies"]
    assert loyal.status_code == 200, loyal.text
    assert loyal.json()["value"] == g.plan(prices, budget=budget, objective="loyal",
                                           loyal_k=2).value


def test_a_small_engaged_plan_is_refused_under_min_count(server):
    g = server.graphs["alpha"]
    cands, budget = _priced(g, 30)
    body = {"store": "alpha", "candidates": cands, "budget": budget, "objective": "engaged",
            "kinds": ["share"], "since": g.interactions.time_span()[1] - 3 * 86_400}
    value = g.plan({c["id"]: c["price"] for c in cands}, budget=budget, objective="engaged",
                   kinds=["share"], since=body["since"]).value
    assert 0 < value < K  # the case under test
    with server.client("private") as c:
        assert_error(c.post("/v1/plan", json=body), 422, "filter_too_narrow", "engaged people")
    with server.client("plain") as c:  # no minimum group size: answered
        assert c.post("/v1/plan", json=body).json()["value"] == value


def test_engaged_plan_errors_and_limits(server, start_server):
    beta = server.graphs["beta"]
    with server.client("other") as c:
        assert_error(c.post("/v1/plan", json={"store": "beta", "budget": 100, "objective": "loyal",
                                              "candidates": [{"id": top_ids(beta, 1)[0],
                                                              "price": 10}]}),
                     422, "invalid_input", "interactions part")
    g = server.graphs["alpha"]
    cands, budget = _priced(g, 10)
    with server.client("plain") as c:
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": budget,
                                              "since": "2025-01-01"}),
                     422, "invalid_input", "only with objective 'engaged'")
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": budget,
                                              "objective": "fans"}), 422, "validation_error",
                     "objective")
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": budget,
                                              "objective": "engaged", "loyal_k": 0}),
                     422, "validation_error", "loyal_k")
    with server.client() as c:
        assert c.post("/v1/plan", json={"candidates": cands, "budget": budget,
                                        "objective": "engaged"}).status_code == 401
    srv = start_server(max_work=1_000)
    with httpx.Client(base_url=srv.url, timeout=60,
                      headers={"Authorization": f"Bearer {server.keys['plain']}"}) as c:
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": budget,
                                              "objective": "engaged"}),
                     422, "too_much_work", "interaction events")
