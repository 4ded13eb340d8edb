"""``GET /v1/creators`` (search) and ``POST /v1/complementary`` against the real server,
plus the page's files and the self-hosted ``/docs`` and ``/redoc``: same keys, limits
and privacy rules as the other /v1 routes."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest


def _table(g):
    c = g.creators
    idx = c.column("idx").to_numpy()
    return {"id": c.column("id").to_pylist(), "name": c.column("name").to_pylist(),
            "category": c.column("category").to_pylist(),
            "platform": c.column("platform").to_pylist(), "idx": idx,
            "followers": np.asarray(g.in_degree)[idx]}


def test_search_pages_sorted_by_followers(server):
    g = server.graphs["alpha"]
    t = _table(g)
    want = [t["id"][i] for i in np.lexsort((t["idx"], -t["followers"]))]
    got = []
    with server.client("plain") as c:
        for offset in range(0, len(want), 100):
            r = c.get("/v1/creators", params={"store": "alpha", "limit": 100, "offset": offset})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["total"] == len(want) and body["offset"] == offset
            got += [row["id"] for row in body["creators"]]
    assert got == want
    row = body["creators"][0]
    i = t["id"].index(row["id"])
    assert row["followers"] == t["followers"][i] and row["name"] == t["name"][i]
    assert set(body["facets"]) == {"tier", "category", "platform"}
    assert body["facets"]["category"] == sorted(set(t["category"]))


def test_search_filters_and_sorts(server):
    g = server.graphs["alpha"]
    t = _table(g)
    cat, plat = t["category"][0], t["platform"][0]
    lo, hi = np.percentile(t["followers"], [25, 75]).astype(int)
    with server.client("plain") as c:
        r = c.get("/v1/creators", params={"category": cat, "platform": plat, "min_followers": lo,
                                          "max_followers": hi, "sort": "price", "order": "asc",
                                          "limit": 1000})
    assert r.status_code == 200, r.text
    rows = r.json()["creators"]
    want = {t["id"][i] for i in range(len(t["id"])) if t["category"][i] == cat
            and t["platform"][i] == plat and lo <= t["followers"][i] <= hi}
    assert {x["id"] for x in rows} == want and r.json()["total"] == len(want)
    prices = [x["price"] for x in rows]
    assert prices == sorted(prices)
    # a name part, any case, and an id prefix
    part = t["name"][3][1:4].upper()
    with server.client("plain") as c:
        names = c.get("/v1/creators", params={"q": part, "limit": 1000}).json()["creators"]
        ids = c.get("/v1/creators", params={"ids": f"{t['id'][5]},{t['id'][7]}"}).json()
    assert {x["id"] for x in names} == {t["id"][i] for i, n in enumerate(t["name"])
                                        if part.lower() in n.lower()
                                        or str(t["id"][i]).startswith(part)}
    assert {x["id"] for x in ids["creators"]} == {t["id"][5], t["id"][7]}


@pytest.mark.parametrize("params, code", [
    ({"sort": "shoe_size"}, "validation_error"), ({"limit": 1001}, "validation_error"),
    ({"offset": -1}, "validation_error"), ({"min_followers": -3}, "validation_error")])
def test_search_refuses_bad_parameters(server, params, code):
    with server.client("plain") as c:
        r = c.get("/v1/creators", params=params)
    assert r.status_code == 422 and r.json()["error"] == code


def test_search_needs_a_key_and_the_tenants_store(server):
    with server.client() as c:
        assert c.get("/v1/creators", params={"store": "alpha"}).status_code == 401
    with server.client("other") as c:  # globex: beta only
        r = c.get("/v1/creators", params={"store": "alpha"})
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        assert c.post("/v1/complementary", json={"store": "alpha", "ids": [1]}).status_code == 404
        assert c.get("/v1/creators").json()["store"] == "beta"


def _quality(client, params):
    """Retry while the fraud review answers 503 ``computing``, as the page does."""
    for _ in range(120):
        r = client.get("/v1/creators", params={**params, "quality": "true"})
        if r.status_code != 503:
            return r
        assert r.json()["error"] == "computing" and r.headers["Retry-After"]
        time.sleep(0.5)
    raise AssertionError("the fraud review never finished")


def test_search_with_quality_is_the_fraud_review(server):
    g = server.graphs["alpha"]
    with server.client("plain") as c:
        r = _quality(c, {"limit": 20})
    assert r.status_code == 200, r.text
    review = g.fraud()
    for row in r.json()["creators"]:
        want = review.creator(row["id"])
        assert row["audience_quality"] == pytest.approx(want["audience_quality"])
        assert row["real_reach"] == want["real_reach"]
    # with min_count 20, a creator with fewer than 20 flagged followers shows none
    with server.client("private") as c:
        rows = _quality(c, {"limit": 300}).json()["creators"]
    small = [x for x in rows if 0 < review.creator(x["id"])["flagged_followers"] < 20]
    assert small and all(x["audience_quality"] is None and x["real_reach"] is None
                         for x in small)


def test_complementary_equals_the_library(server):
    g = server.graphs["alpha"]
    ids = _table(g)["id"][:3]
    with server.client("plain") as c:
        r = c.post("/v1/complementary", json={"store": "alpha", "ids": ids, "k": 15})
    assert r.status_code == 200, r.text
    want = g.complementary(ids, k=15)
    got = r.json()["complementary"]
    assert [(x["id"], x["incremental"], x["audience"], x["tier"]) for x in got] == \
        [(w["id"], w["incremental"], w["audience"], w["tier"]) for w in want]
    assert got[0]["name"] == _table(g)["name"][_table(g)["id"].index(got[0]["id"])]
    where = "country == 'NL'"
    with server.client("plain") as c:
        r = c.post("/v1/complementary", json={"ids": ids, "where": where})
    assert [x["id"] for x in r.json()["complementary"]] == \
        [w["id"] for w in g.complementary(ids, k=10, where=where)]


def test_complementary_limits_and_privacy(server):
    g = server.graphs["alpha"]
    ids = _table(g)["id"][:3]
    with server.client("plain") as c:
        assert c.post("/v1/complementary", json={"ids": ids, "k": 500}).json()["error"] == \
            "k_too_large"
        r = c.post("/v1/complementary", json={"ids": list(range(17))})
        assert r.json()["error"] == "too_many_creators"
        r = c.post("/v1/complementary", json={"ids": ids, "where": "shoe_size > 3"})
        assert r.status_code == 422 and "shoe_size" in r.json()["message"]
        r = c.post("/v1/complementary", json={"ids": [10**12]})
        assert r.json()["error"] == "unknown_ids"
        assert c.post("/v1/complementary", json={"ids": ids, "colour": 1}).status_code == 422
    everyone = g.complementary(ids, k=100)
    with server.client("private") as c:  # min_count 20: rows adding fewer are left out
        body = c.post("/v1/complementary", json={"ids": ids, "k": 100}).json()
    small = sum(0 < w["incremental"] < 20 for w in everyone)
    assert body["suppressed"] == small and all(x["incremental"] >= 20
                                               for x in body["complementary"])


def test_page_and_docs_are_served_without_a_cdn(server):
    with server.client() as c:
        page = c.get("/")
        assert page.status_code == 200 and "kolgraph planner" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            if src.startswith("#"):
                continue
            assert src.startswith("/"), src  # same origin only
            assert c.get(src).status_code == 200, src
        assert c.get("/web/../app.py").status_code == 404
        assert c.get("/web/nothing.js").status_code == 404
        for path in ("/docs", "/redoc"):
            html = c.get(path).text
            assert "cdn." not in html and "https://" not in html.split("<body")[0], path
            for src in re.findall(r'(?:src|href)="([^"]+)"', html):
                assert src.startswith("/docs-static/"), src
                assert c.get(src).status_code == 200
        assert b"cdn.redoc.ly" not in c.get("/docs-static/redoc.standalone.js").content
        spec = c.get("/openapi.json").json()
    assert "/v1/creators" in spec["paths"] and "/v1/complementary" in spec["paths"]
    assert "/" not in spec["paths"] and "/docs" not in spec["paths"]
