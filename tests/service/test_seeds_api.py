"""``POST /v1/seeds`` against the real server: the library's seeds, limits, errors."""

from __future__ import annotations

import json

from test_service import assert_error, top_ids


def test_seeds_equal_the_library(server):
    g = server.graphs["alpha"]
    body = {"k": 3, "weighted_cascade": True, "epsilon": 0.5, "seed": 4, "evaluate": 200}
    with server.client("plain") as c:
        r = c.post("/v1/seeds", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = json.loads(json.dumps(g.seeds(3, weighted_cascade=True, epsilon=0.5, seed=4,
                                         evaluate=200).to_dict()))
    assert got.pop("store") == "alpha"
    for key in ("seeds", "spread", "incremental", "rr_sets", "lower_bound", "candidates",
                "approximation", "evaluation", "method", "model", "params"):
        assert got[key] == want[key], key  # reproducible for a seed, whatever the threads
    assert len(got["seeds"]) == 3 and got["evaluation"]["runs"] == 200


def test_seeds_among_given_candidates_and_bad_input(server):
    g = server.graphs["alpha"]
    pool = top_ids(g, 6)
    with server.client("plain") as c:
        r = c.post("/v1/seeds", json={"k": 2, "candidates": pool, "method": "opim-c"})
        assert r.status_code == 200, r.text
        assert set(r.json()["seeds"]) <= set(pool) and r.json()["method"] == "opim-c"
        assert_error(c.post("/v1/seeds", json={"k": 7, "candidates": pool}), 422,
                     "invalid_input", "7")
        assert_error(c.post("/v1/seeds", json={"k": 2, "epsilon": 0.01}), 422,
                     "validation_error", "body.epsilon")
        assert_error(c.post("/v1/seeds", json={"k": 0}), 422, "validation_error", "body.k")
        assert_error(c.post("/v1/seeds", json={"k": 2, "p": -0.1}), 422,
                     "validation_error", "body.p")
        assert_error(c.post("/v1/seeds", json={"k": 1, "candidates": [10**12]}), 422,
                     "unknown_ids", str(10**12))
