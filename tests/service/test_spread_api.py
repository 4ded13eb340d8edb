"""``POST /v1/spread`` against the real server: the library's simulation, errors."""

from __future__ import annotations

import json

from test_service import assert_error, top_ids


def test_spread_equals_the_library(server):
    g = server.graphs["alpha"]
    seeds = top_ids(g, 3)
    body = {"seeds": seeds, "model": "ic", "p": 0.05, "runs": 400, "seed": 3}
    with server.client("plain") as c:
        r = c.post("/v1/spread", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = json.loads(json.dumps(g.spread(seeds, p=0.05, runs=400, seed=3).to_dict()))
    assert got.pop("store") == "alpha"
    for key in ("mean", "ci_low", "ci_high", "std", "quantiles", "histogram", "incremental",
                "seeds", "runs", "model", "params"):
        assert got[key] == want[key], key  # reproducible for a seed, whatever the threads
    assert got["ci_low"] <= got["mean"] <= got["ci_high"] and got["mean"] >= len(seeds)


def test_linear_threshold_and_bad_input(server):
    g = server.graphs["alpha"]
    seeds = top_ids(g, 2)
    with server.client("plain") as c:
        r = c.post("/v1/spread", json={"seeds": seeds, "model": "lt", "runs": 200})
        assert r.status_code == 200, r.text
        assert r.json()["mean"] == g.spread(seeds, model="lt", runs=200).to_dict()["mean"]
        assert_error(c.post("/v1/spread", json={"seeds": seeds, "p": 1.5}), 422,
                     "validation_error", "body.p")
        assert_error(c.post("/v1/spread", json={"seeds": seeds, "runs": 10**7}), 422,
                     "validation_error", "body.runs")
        assert_error(c.post("/v1/spread", json={"seeds": seeds, "model": "sir"}), 422,
                     "validation_error", "body.model")
        assert_error(c.post("/v1/spread", json={"seeds": [10**12]}), 422, "unknown_ids",
                     str(10**12))
