"""``POST /v1/reach`` in sketch mode: the library's estimates and bounds, suppression."""

from __future__ import annotations

import json

from test_service import assert_error, top_ids


def test_sketch_mode_equals_the_library(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 5)
    with server.client("plain") as c:
        r = c.post("/v1/reach", json={"ids": ids, "mode": "sketch"})
        assert r.status_code == 200, r.text
        got = r.json()
        exact = c.post("/v1/reach", json={"ids": ids}).json()
    want = json.loads(json.dumps(g.reach(ids, mode="sketch").to_dict()))
    assert got.pop("store") == "alpha" and got.pop("mode") == "sketch" and want.pop("mode")
    got.pop("suppression")
    assert got == want
    assert got["unique_reach_low"] <= exact["unique_reach"] <= got["unique_reach_high"]
    assert "unique_reach_low" not in exact and "sketch" not in exact  # exact mode unchanged


def test_sketch_mode_refuses_filters_and_hides_small_bounds(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 6, skip=40)
    with server.client("plain") as c:
        assert_error(c.post("/v1/reach", json={"ids": ids, "mode": "sketch",
                                               "where": "posts > 1"}), 422, "invalid_input")
    with server.client("private") as c:  # min_count 20
        got = c.post("/v1/reach", json={"ids": ids, "mode": "sketch"}).json()
    ov = got["overlap"]
    for i, row in enumerate(ov["counts"]):
        for j, n in enumerate(row):
            if n is None:  # a suppressed cell hides its bounds too
                assert ov["counts_low"][i][j] is None and ov["counts_high"][i][j] is None
            elif i != j:
                assert not 0 < n < 20
    assert got["suppression"]["overlap_cells"] == sum(
        x is None for row in ov["counts"] for x in row)
