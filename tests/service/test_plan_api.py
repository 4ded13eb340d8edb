"""``POST /v1/plan`` against the real server: the library's plan, constraints, errors."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from test_service import assert_error


def priced(g, n: int) -> tuple[list[dict], list[str]]:
    """``n`` creators spread over the follower ranking, priced by followers; their tiers."""
    c = g.creators
    order = np.argsort(-c.column("followers").to_numpy(), kind="stable")
    order = order[:: max(1, len(order) // n)][:n]
    ids = c.column("id").take(order).to_pylist()
    followers = c.column("followers").take(order).to_numpy()
    tiers = c.column("tier").take(order).to_pylist()
    return ([{"id": i, "price": float(10 + f // 10)} for i, f in zip(ids, followers, strict=True)],
            tiers)


def test_plan_equals_the_library(server):
    g = server.graphs["alpha"]
    cands, tiers = priced(g, 40)
    budget = sum(c["price"] for c in cands) / 4
    small = min(set(tiers), key=lambda t: (tiers.count(t) < 2, tiers.count(t)))
    quota = [f"{small}:>=2"]  # the rarest tier with two candidates: a quota that binds
    body = {"candidates": cands, "budget": budget, "objective": "unique",
            "tier_quota": quota, "max_creators": 12}
    with server.client("plain") as c:
        r = c.post("/v1/plan", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    table = pa.table({"id": [c["id"] for c in cands], "price": [c["price"] for c in cands],
                      "posts": [1] * len(cands)})
    want = json.loads(json.dumps(g.plan(table, budget=budget, tier_quota=quota,
                                        max_creators=12).to_dict()))
    assert got["store"] == "alpha"
    for key in ("chosen", "cost", "value", "curve", "shapley", "naive", "guarantee"):
        assert got[key] == want[key], key
    assert 0 < got["cost"] <= budget and len(got["chosen"]) <= 12
    assert sum(row["tier"] == small for row in got["chosen"]) >= 2
    # the plan's value is the reach the reach engine measures for the chosen creators
    assert got["value"] == g.reach([row["id"] for row in got["chosen"]]).unique_reach


def test_plan_errors_name_the_problem(server):
    g = server.graphs["alpha"]
    cands, _ = priced(g, 5)
    with server.client("plain") as c:
        cheap = min(x["price"] for x in cands)
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": cheap / 2}),
                     422, "invalid_input", "budget", "cheapest")
        assert_error(c.post("/v1/plan", json={"candidates": cands + [{"id": 10**12, "price": 5}],
                                              "budget": 1e6}), 422, "unknown_ids", str(10**12))
        assert_error(c.post("/v1/plan", json={"candidates": [{"id": cands[0]["id"],
                                                              "price": -1}], "budget": 10}),
                     422, "validation_error", "price")
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": 1e9,
                                              "tier_quota": ["mega:>=50"]}),
                     422, "invalid_input", "mega")
        assert_error(c.post("/v1/plan", json={"candidates": cands, "budget": 1e9,
                                              "objective": "target"}),
                     422, "invalid_input", "where")
        # a path instead of candidates is not accepted: the service reads no client paths
        assert_error(c.post("/v1/plan", json={"candidates": "/etc/passwd", "budget": 10}),
                     422, "validation_error", "candidates")
    with server.client() as c:
        assert c.post("/v1/plan", json={"candidates": cands, "budget": 100}).status_code == 401
