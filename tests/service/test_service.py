"""The service against a real uvicorn server: answers equal the library's, auth, tenancy,
limits, error shapes, suppression, readiness, metrics, concurrent requests."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from kolgraph.api.privacy import MATRICES


def top_ids(g, n: int, skip: int = 0) -> list:
    c = g.creators
    order = np.argsort(-c.column("followers").to_numpy(), kind="stable")[skip: skip + n]
    return c.column("id").take(order).to_pylist()


def assert_error(r, status: int, code: str, *needles: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    for n in needles:
        assert n in body["message"], (n, body["message"])
    return body


# --- answers equal the library's -----------------------------------------------------------
def test_reach_equals_the_library(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 6)
    body = {"store": "alpha", "ids": ids, "view_rates": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "posts": {str(ids[0]): 3}, "where": "country == 'US' or posts > 3"}
    with server.client("plain") as c:
        r = c.post("/v1/reach", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = g.reach(ids, view_rates=body["view_rates"], posts={ids[0]: 3},
                   where=body["where"]).to_dict()
    assert got.pop("store") == "alpha" and got.pop("mode") == "exact"
    assert got.pop("suppression") == {"min_count": 0, "regions": 0, "overlap_cells": 0,
                                      "exclusive": 0, "figures": 0}
    assert got == json.loads(json.dumps(want))
    assert got["filters"]["accounts_passing"] < g.n_accounts  # the filter did filter


def test_reach_dict_filter_and_defaults(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 3, skip=10)
    with server.client("plain") as c:
        r = c.post("/v1/reach", json={"ids": ids, "where": {"country": ["US", "DE"]},
                                      "exclude_flagged": True})
    assert r.status_code == 200, r.text  # the key reads one store: no store needed
    want = g.reach(ids, where={"country": ["US", "DE"]}, exclude_flagged=True).to_dict()
    got = r.json()
    assert got["unique_reach"] == want["unique_reach"]
    assert got["creators"] == json.loads(json.dumps(want["creators"]))
    assert any("flagged" in w for w in got["warnings"])  # synthetic stores have no flags yet


def test_overlap_equals_the_library(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 5)
    with server.client("plain") as c:
        r = c.post("/v1/overlap", json={"store": "alpha", "ids": ids})
    assert r.status_code == 200, r.text
    got, want = r.json(), g.reach(ids).to_dict()
    assert set(want["overlap"]) <= set(MATRICES) | {"ids"}
    for name in want["overlap"]:
        assert got[name] == want["overlap"][name], name
    assert "counts_low" not in got  # the bounds are sketch mode's
    assert got["unique_reach"] == want["unique_reach"]
    assert got["regions"] == json.loads(json.dumps(want["regions"]))


def test_creator_and_similar_equal_the_library(server):
    g = server.graphs["alpha"]
    cid = top_ids(g, 1)[0]
    with server.client("plain") as c:
        one = c.get(f"/v1/creators/{cid}", params={"store": "alpha"})
        sim = c.get(f"/v1/creators/{cid}/similar", params={"k": 7, "by": "overlap"})
        acc = c.get("/v1/creators/19999")  # not a creator: as unknown without the scope
        unknown = c.get("/v1/creators/987654321")
    with server.client("full") as c:  # the followers scope may ask for any account
        full = c.get("/v1/creators/19999")
    assert one.status_code == 200, one.text
    row = g.creators.to_pylist()[[r["id"] for r in g.creators.to_pylist()].index(cid)]
    d = one.json()
    assert d["is_creator"] and d["followers"] == row["followers"] == len(g.followers(cid))
    assert d["following"] == len(g.following(cid))
    assert {k: d[k] for k in ("name", "category", "tier", "price")} == \
        {k: row[k] for k in ("name", "category", "tier", "price")}
    assert sim.status_code == 200, sim.text
    assert sim.json()["similar"] == json.loads(json.dumps(g.similar(cid, k=7, by="overlap")))
    assert acc.status_code == unknown.status_code == 404
    assert acc.json()["message"] == unknown.json()["message"].replace("987654321", "19999")
    assert full.status_code == 200 and full.json()["is_creator"] is False


def test_followers_need_the_scope(server):
    g = server.graphs["alpha"]
    cid = top_ids(g, 1)[0]
    with server.client("plain") as c:
        assert_error(c.get(f"/v1/creators/{cid}/followers"), 403, "forbidden", "followers")
    with server.client("full") as c:  # scrypt-hashed key with the followers scope
        r = c.get(f"/v1/creators/{cid}/followers", params={"offset": 5, "limit": 10})
    assert r.status_code == 200, r.text
    assert r.json()["followers"] == g.followers(cid)[5:15]
    assert r.json()["total"] == len(g.followers(cid))


def test_stores_lists_only_readable_ones(server):
    with server.client("plain") as c:
        assert [s["name"] for s in c.get("/v1/stores").json()["stores"]] == ["alpha"]
    with server.client("ops") as c:
        assert [s["name"] for s in c.get("/v1/stores").json()["stores"]] == ["alpha", "beta"]
        assert_error(c.post("/v1/reach", json={"ids": [1]}), 422, "store_required", "name the store")


# --- auth and tenancy ----------------------------------------------------------------------
def test_no_key_or_a_wrong_key_is_401(server):
    g = server.graphs["alpha"]
    body = {"store": "alpha", "ids": top_ids(g, 2)}
    good = server.keys["plain"]
    key_id = good.split("_")[1]
    wrong = [None, "nonsense", f"kg_{key_id}_{'x' * 43}", "kg_ffffffff_" + "y" * 43,
             good[:-1] + ("A" if good[-1] != "A" else "B")]
    with server.client() as c:
        for key in wrong:
            headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
            r = c.post("/v1/reach", json=body, headers=headers)
            assert_error(r, 401, "unauthorized", "API key")
            assert r.headers["www-authenticate"] == "Bearer"
        r = c.post("/v1/reach", json=body, headers={"X-API-Key": good})
        assert r.status_code == 200, r.text
        r = c.get("/v1/creators/1", headers={"Authorization": f"Basic {good}"})
        assert r.status_code == 401


def test_another_tenants_store_is_404_like_a_missing_one(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 2)
    with server.client("other") as c:  # globex reads beta only
        theirs = c.post("/v1/reach", json={"store": "alpha", "ids": ids})
        missing = c.post("/v1/reach", json={"store": "gamma", "ids": ids})
        for path in (f"/v1/creators/{ids[0]}", f"/v1/creators/{ids[0]}/similar"):
            assert_error(c.get(path, params={"store": "alpha"}), 404, "not_found", "'alpha'")
        own = c.post("/v1/reach", json={"ids": top_ids(server.graphs["beta"], 2)})
    a = assert_error(theirs, 404, "not_found")
    b = assert_error(missing, 404, "not_found")
    assert a["message"].replace("alpha", "X") == b["message"].replace("gamma", "X")
    assert own.status_code == 200 and own.json()["store"] == "beta"


# --- errors: 4xx JSON saying what was wrong --------------------------------------------------
def test_unknown_ids_are_listed(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 2)
    with server.client("plain") as c:
        body = assert_error(c.post("/v1/reach", json={"ids": [*ids, 987654321, "nobody"]}),
                            422, "unknown_ids", "987654321")
        assert sorted(map(str, body["unknown_ids"])) == ["987654321", "nobody"]
        skipped = c.post("/v1/reach", json={"ids": [*ids, 987654321], "skip_unknown": True})
        assert skipped.status_code == 200 and len(skipped.json()["creators"]) == 2
        assert any("987654321" in w for w in skipped.json()["warnings"])
        assert_error(c.get("/v1/creators/987654321"), 404, "not_found", "987654321")
        assert_error(c.get("/v1/creators/987654321/similar"), 404, "not_found", "987654321")


@pytest.mark.parametrize("body, code, needle", [
    ({}, "validation_error", "body.ids"),
    ({"ids": []}, "validation_error", "body.ids"),
    ({"ids": "1844"}, "validation_error", "body.ids"),
    ({"ids": [1.5]}, "validation_error", "body.ids"),
    ({"ids": [1], "colour": "red"}, "validation_error", "body.colour"),
    ({"ids": [1], "view_rates": 1.5}, "validation_error", "body.view_rates"),
    ({"ids": [1], "posts": -1}, "validation_error", "body.posts"),
    ({"ids": [1], "mode": "hll"}, "validation_error", "body.mode"),
    ({"ids": [1], "store": "../etc"}, "validation_error", "body.store"),
    ({"ids": list(range(17))}, "too_many_creators", "at most 16"),
    ({"ids": [0, 1], "view_rates": [0.1]}, "invalid_input", "view_rates"),
    ({"ids": [0, 1], "posts": {"77777": 2}}, "invalid_input", "77777"),
    ({"ids": [0], "where": "country =="}, "invalid_input", "where: cannot parse"),
    ({"ids": [0], "where": "shoe_size > 3"}, "invalid_input", "shoe_size"),
    ({"ids": [0], "where": "__import__('os')"}, "invalid_input", "unsupported"),
    ({"ids": [0], "where": {"posts": "many"}}, "invalid_input", "many"),
    ({"ids": [0], "where": "posts == True"}, "invalid_input", "cannot be compared"),
    ({"ids": [0], "where": {"country": True}}, "invalid_input", "where"),
    ({"ids": [0], "where": "posts in [True]"}, "invalid_input", "where"),
    ({"ids": [0], "where": "posts == 99999999999999999999999"}, "invalid_input", "where"),
    ({"ids": [0], "where": "-" * 1999 + "1"}, "validation_error", "nested more than 64"),
    ({"ids": [0], "where": "posts == " + "-" * 1990 + "1"}, "validation_error", "nested"),
])
def test_bad_reach_input_is_422_naming_the_problem(server, body, code, needle):
    with server.client("plain") as c:
        r = c.post("/v1/reach", json=body)
    got = assert_error(r, 422, code, needle)
    if code == "validation_error":
        assert got["details"] and all({"loc", "msg", "type"} <= set(d) for d in got["details"])


def test_malformed_bodies_and_routes(server):
    with server.client("plain") as c:
        assert_error(c.post("/v1/reach", content=b"{not json",
                            headers={"content-type": "application/json"}), 422, "validation_error")
        assert_error(c.post("/v1/reach", content=b"\xff\xfe", headers={
            "content-type": "application/json"}), 422, "validation_error")
        assert_error(c.post("/v1/reach", content=json.dumps({"ids": ["x" * 9000]}).encode(),
                            headers={"content-type": "application/json"}), 413, "body_too_large")
        assert_error(c.get("/v1/nothing-here"), 404, "not_found")
        assert_error(c.get("/v1/reach"), 405, "method_not_allowed")
        assert_error(c.get("/v1/creators/1/similar", params={"k": 0}), 422, "validation_error",
                     "query.k")
        assert_error(c.get("/v1/creators/1/similar", params={"k": 500}), 422, "k_too_large")
        assert_error(c.get("/v1/creators/1/similar", params={"by": "cosine"}), 422,
                     "validation_error", "query.by")
        assert_error(c.get("/v1/creators/1/similar", params={"where": "posts == True"}), 422,
                     "invalid_input", "where")


def test_chunked_body_over_the_limit_is_413(server):
    def chunks():
        for _ in range(20):
            yield b" " * 1000
    with server.client("plain") as c:
        r = c.post("/v1/reach", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "body_too_large", "8192")


# --- suppression --------------------------------------------------------------------------
def test_small_groups_are_suppressed_for_keys_with_min_count(server):
    g = server.graphs["alpha"]
    ids = top_ids(g, 3) + top_ids(g, 3, skip=150)  # big and small audiences: small overlaps
    want = g.reach(ids).to_dict()
    with server.client("private") as c:
        got = c.post("/v1/reach", json={"ids": ids}).json()
        sim = c.get(f"/v1/creators/{ids[-1]}/similar", params={"k": 50}).json()
    k = 20
    assert got["suppression"]["min_count"] == k
    small_regions = [r for r in want["regions"] if 0 < r["count"] < k]
    assert small_regions, "the test needs small regions"
    # small ones are held back, and so is what would give them away (test_privacy_api.py)
    assert got["suppression"]["regions"] >= len(small_regions)
    assert all(r["count"] >= k for r in got["regions"])
    assert all(r in want["regions"] for r in got["regions"])
    cells = 0
    for i, row in enumerate(want["overlap"]["counts"]):
        for j, n in enumerate(row):
            small = i != j and 0 < n < k
            cells += got["overlap"]["counts"][i][j] is None and i != j
            for name in want["overlap"]:
                if name != "ids":
                    assert got["overlap"][name][i][j] in (None, want["overlap"][name][i][j])
                    assert not small or got["overlap"][name][i][j] is None
    assert cells == got["suppression"]["overlap_cells"] > 0
    for cr, w in zip(got["creators"], want["creators"], strict=True):
        assert cr["exclusive"] in (None, w["exclusive"])
        assert not 0 < w["exclusive"] < k or cr["exclusive"] is None
    with server.client("private") as c:  # identifying columns need the followers scope
        one = g.accounts["username"][0].as_py()
        assert_error(c.post("/v1/reach", json={"ids": ids, "where": f"username == {one!r}"}),
                     422, "forbidden_column", "followers")
        # a filter keeping 1..19 accounts: every count is small
        assert_error(c.post("/v1/reach", json={"ids": ids, "where": "posts > 5000"}),
                     422, "filter_too_narrow", "20")
    full = g.similar(ids[-1], k=50)
    assert [r["id"] for r in sim["similar"]] == [r["id"] for r in full if r["common"] >= k]
    assert sim["suppressed"] == sum(1 for r in full if r["common"] < k)


# --- limits, time limit, readiness --------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after(start_server, keys):
    srv = start_server(rate_limit=0.01, rate_burst=2)  # no refill within the test
    headers = {"Authorization": f"Bearer {keys.keys['plain']}"}
    import httpx

    with httpx.Client(base_url=srv.url, headers=headers) as c:
        codes = [c.get("/v1/stores").status_code for _ in range(4)]
        r = c.get("/v1/stores")
        other = c.get("/v1/stores", headers={"Authorization": f"Bearer {keys.keys['ops']}"})
    assert codes[:2] == [200, 200] and codes[2:] == [429, 429]
    body = assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1 and body["retry_after"] > 0
    assert other.status_code == 200  # buckets are per key


def test_time_limit_answers_504(start_server, keys, server, monkeypatch):
    import time

    import httpx
    from kolgraph.api.routers import reach

    real = reach._report
    monkeypatch.setattr(reach, "_report", lambda *a, **k: (time.sleep(2.0), real(*a, **k))[1])
    srv = start_server(request_timeout=0.1)
    ids = top_ids(server.graphs["alpha"], 4)
    with httpx.Client(base_url=srv.url,
                      headers={"Authorization": f"Bearer {keys.keys['plain']}"}) as c:
        t0 = time.perf_counter()
        r = c.post("/v1/reach", json={"ids": ids})
        assert_error(r, 504, "timeout", "time limit of 0.1 s")
        assert time.perf_counter() - t0 < 1.5  # answered before the slow call finished
        assert c.get(f"/v1/creators/{ids[0]}").status_code == 200  # other routes still answer


def test_not_ready_until_warm(start_server, keys, monkeypatch):
    import httpx
    from kolgraph.api import engine

    gate = threading.Event()
    real = engine._warm_graph
    monkeypatch.setattr(engine, "_warm_graph", lambda g, *a: (gate.wait(60), real(g, *a)))
    srv = start_server(ready=False)
    with httpx.Client(base_url=srv.url,
                      headers={"Authorization": f"Bearer {keys.keys['plain']}"}) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["ready"] is False
        assert_error(c.post("/v1/reach", json={"ids": [1]}), 503, "warming_up")
        assert "kolgraph_ready 0.0" in c.get("/metrics").text
        gate.set()
        for _ in range(600):
            if c.get("/readyz").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert c.get("/readyz").json()["ready"] is True
        assert c.post("/v1/reach", json={"ids": [1]}).status_code == 200


# --- concurrency and metrics --------------------------------------------------------------
def test_concurrent_requests_all_answer_correctly(server):
    g = server.graphs["alpha"]
    sets = [top_ids(g, k, skip=s) for k, s in ((2, 0), (5, 3), (8, 20), (12, 40))]
    want = [g.reach(ids).to_dict()["unique_reach"] for ids in sets]
    n_requests = 64

    def one(i: int):
        with server.client("plain") as c:
            r = c.post("/v1/reach", json={"ids": sets[i % len(sets)]})
            return i, r.status_code, r.json().get("unique_reach")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(n_requests)))
    assert all(code == 200 for _, code, _ in results), results
    assert all(u == want[i % len(sets)] for i, _, u in results)


def test_metrics_count_requests_latencies_and_errors(server):
    with server.client("plain") as c:
        c.get("/v1/stores")
        c.get("/v1/creators/987654321")
    with server.client() as c:
        text = c.get("/metrics").text
    assert re.search(r'kolgraph_http_requests_total\{method="GET",route="/v1/stores",'
                     r'status="200"\} [1-9]', text)
    assert re.search(r'kolgraph_http_requests_total\{method="GET",'
                     r'route="/v1/creators/\{creator_id\}",status="404"\} [1-9]', text)
    assert re.search(r'kolgraph_http_errors_total\{route="/v1/creators/\{creator_id\}",'
                     r'status_class="4xx"\} [1-9]', text)
    assert 'kolgraph_http_request_duration_seconds_bucket{le="0.005",method="GET",' \
           'route="/v1/stores"}' in text
    assert "kolgraph_ready 1.0" in text
    assert "987654321" not in text  # raw paths never become labels
