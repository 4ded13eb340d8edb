"""Fraud endpoints against the real server: the library's review, scopes, suppression."""

from __future__ import annotations

import json

import numpy as np
from test_service import assert_error


def test_clusters_equal_the_library_and_hide_members_without_scope(server):
    g = server.graphs["alpha"]
    want = json.loads(json.dumps(g.fraud().to_dict(max_members=50)))
    assert want["clusters"], "the synthetic store has planted farms"
    with server.client("plain") as c:
        r = c.get("/v1/fraud/clusters", params={"max_members": 50})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["flagged"] == want["flagged"] and got["suppressed"] == 0
    assert len(got["clusters"]) == min(20, len(want["clusters"]))
    for a, b in zip(got["clusters"], want["clusters"], strict=False):
        assert a["followers"] is None  # no `followers` scope: no raw ids
        assert {k: v for k, v in a.items() if k != "followers"} == {
            k: v for k, v in b.items() if k != "followers"}
    with server.client("full") as c:
        got = c.get("/v1/fraud/clusters", params={"max_members": 50}).json()
    assert [x["followers"] for x in got["clusters"]] == [
        x["followers"] for x in want["clusters"][:20]]


def test_audience_quality_equals_the_library(server):
    g = server.graphs["alpha"]
    report = g.fraud()
    worst = report.to_dict()["creators"][0]
    top = g.external([int(np.argmax(g.in_degree))])[0]
    with server.client("plain") as c:
        for ext in (worst["id"], top):
            r = c.get(f"/v1/creators/{ext}/audience-quality")
            assert r.status_code == 200, r.text
            got = r.json()
            assert got.pop("store") == "alpha" and got.pop("skipped") == report.skipped
            assert got == json.loads(json.dumps(report.creator(ext)))
            assert got["real_reach"] == got["followers"] - got["flagged_followers"]
        assert_error(c.get("/v1/creators/999999999/audience-quality"), 404, "not_found")
    with server.client("other") as c:  # another tenant's store: 404, as if it did not exist
        assert_error(c.get("/v1/fraud/clusters", params={"store": "alpha"}), 404, "not_found")


def test_small_groups_are_suppressed(server):
    g = server.graphs["alpha"]
    report = g.fraud()
    creators = report.to_dict()["creators"]
    small = next(c for c in creators if 0 < c["flagged_followers"] < 20)
    with server.client("private") as c:  # min_count 20
        got = c.get("/v1/fraud/clusters").json()
        assert all(x["followers_count"] >= 20 for x in got["clusters"])
        assert got["suppressed"] == sum(0 < x.followers.size < 20 for x in report.clusters)
        q = c.get(f"/v1/creators/{small['id']}/audience-quality").json()
        assert q["flagged_followers"] is None and q["audience_quality"] is None
        assert q["real_reach"] is None and q["followers"] == small["followers"]


def test_a_review_still_running_answers_503_then_its_result(start_server, keys, server,
                                                            monkeypatch):
    """A fresh server computes the store's review on the first request; when the review
    outlasts the time limit, that request answers 503 + Retry-After, and a later one the
    kept result (computed once)."""
    import time

    import httpx

    import kolgraph

    real, calls = kolgraph.FollowerGraph.fraud, []
    monkeypatch.setattr(kolgraph.FollowerGraph, "fraud",  # a review slower than the limit
                        lambda self, **kw: (calls.append(1), time.sleep(1.0), real(self, **kw))[2])
    srv = start_server(request_timeout=0.3)
    with httpx.Client(base_url=srv.url, timeout=60,
                      headers={"Authorization": f"Bearer {keys.keys['plain']}"}) as c:
        r = c.get("/v1/fraud/clusters")
        assert_error(r, 503, "computing", "fraud review")
        assert r.headers["Retry-After"] == "30"
        deadline = time.monotonic() + 120
        while (r := c.get("/v1/fraud/clusters")).status_code == 503:
            assert time.monotonic() < deadline, "the review never finished"
            time.sleep(0.2)
    assert r.status_code == 200, r.text
    assert len(calls) == 1  # every request waited on the one review
    want = real(server.graphs["alpha"]).to_dict()
    assert [x["edges"] for x in r.json()["clusters"]] == [x["edges"] for x in want["clusters"]]


def test_pods_equal_the_library_and_hide_members_without_scope(server):
    """The alpha store has interactions with planted engagement pods."""
    g = server.graphs["alpha"]
    want = json.loads(json.dumps(g.fraud().to_dict(max_members=50)))["pods"]
    assert want, "the synthetic store has planted pods"
    with server.client("plain") as c:
        got = c.get("/v1/fraud/clusters", params={"max_members": 50}).json()
    assert got["pods_suppressed"] == 0 and len(got["pods"]) == min(20, len(want))
    for a, b in zip(got["pods"], want, strict=False):
        assert a["accounts"] is None  # no `followers` scope: no raw ids
        assert {k: v for k, v in a.items() if k != "accounts"} == {
            k: v for k, v in b.items() if k != "accounts"}
    with server.client("full") as c:
        got = c.get("/v1/fraud/clusters", params={"max_members": 50}).json()
    assert [p["accounts"] for p in got["pods"]] == [p["accounts"] for p in want[:20]]
    with server.client("private") as c:  # min_count 20: pods of fewer accounts held back
        got = c.get("/v1/fraud/clusters").json()
    assert all(p["accounts_count"] >= 20 for p in got["pods"])
    assert got["pods_suppressed"] == sum(p["accounts_count"] < 20 for p in want)
    creator = want[0]["creators"][0]["id"]
    with server.client("plain") as c:
        q = c.get(f"/v1/creators/{creator}/audience-quality").json()
    assert q["engagement"] == json.loads(json.dumps(g.fraud().creator(creator)["engagement"]))
    assert q["engagement"]["pod_interactions"] > 0
