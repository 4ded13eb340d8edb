"""``weighted_cascade: "observed"`` on ``POST /v1/spread`` and ``/v1/seeds`` against the real
server: the library's answer, the work budget, and a store without interactions."""

from __future__ import annotations

import json

import httpx
from test_service import assert_error, top_ids


def test_observed_spread_and_seeds_equal_the_library(server):
    g = server.graphs["alpha"]
    seeds = top_ids(g, 3)
    with server.client("plain") as c:
        r = c.post("/v1/spread", json={"seeds": seeds, "weighted_cascade": "observed",
                                       "runs": 300, "seed": 2})
        assert r.status_code == 200, r.text
        want = json.loads(json.dumps(g.spread(seeds, weighted_cascade="observed", runs=300,
                                              seed=2).to_dict()))
        got = r.json()
        for key in ("mean", "ci_low", "ci_high", "quantiles", "incremental", "params"):
            assert got[key] == want[key], key
        assert got["params"]["observed"]["shares"] > 0
        r = c.post("/v1/seeds", json={"k": 2, "weighted_cascade": "observed", "seed": 4})
        assert r.status_code == 200, r.text
        want = g.seeds(2, weighted_cascade="observed", seed=4).to_dict()
        assert r.json()["seeds"] == want["seeds"]
        assert_error(c.post("/v1/spread", json={"seeds": seeds, "model": "lt",
                                                "weighted_cascade": "observed"}), 422,
                     "invalid_input", "model='ic'")
        assert_error(c.post("/v1/spread", json={"seeds": seeds, "weighted_cascade": "seen"}),
                     422, "validation_error", "weighted_cascade")
    beta = server.graphs["beta"]
    with server.client("other") as c:
        assert_error(c.post("/v1/spread", json={"seeds": top_ids(beta, 1),
                                                "weighted_cascade": "observed"}), 422,
                     "invalid_input", "no interactions")


def test_observed_work_over_the_budget_is_refused(start_server, keys, server):
    srv = start_server(max_work=1_000)
    auth = {"Authorization": f"Bearer {keys.keys['plain']}"}
    with httpx.Client(base_url=srv.url, headers=auth, timeout=60) as c:
        assert_error(c.post("/v1/spread", json={"seeds": top_ids(server.graphs["alpha"], 3),
                                                "runs": 50_000, "weighted_cascade": "observed"}),
                     422, "too_much_work", "simulations")
