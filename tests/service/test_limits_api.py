"""Issue 15, finding 1: no tenant can stall the others. Against a real server: a call past
its deadline stops (its CPU stops too), requests over the work budget are refused before
they start, and one key may have only so many calls in flight."""

from __future__ import annotations

import re
import threading
import time

import httpx
from test_service import assert_error, top_ids

HEAVY = {"model": "ic", "p": 1.0, "runs": 100_000, "seed": 1}  # the heaviest the schema allows


def running(c: httpx.Client) -> int:
    m = re.search(r"^kolgraph_engine_calls_running (\S+)$", c.get("/metrics").text, re.M)
    assert m, "the /metrics page has no kolgraph_engine_calls_running gauge"
    return int(float(m.group(1)))


def wait_idle(c: httpx.Client, seconds: float) -> float:
    """Seconds until no engine call runs (``inf`` if one still runs after ``seconds``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if running(c) == 0:
            return time.monotonic() - t0
        time.sleep(0.02)
    return float("inf")


def test_a_call_past_its_deadline_stops(start_server, keys, server):
    srv = start_server(request_timeout=0.5, max_work=10**15, compute_threads=2)
    seeds = top_ids(server.graphs["alpha"], 3)
    auth = {"Authorization": f"Bearer {keys.keys['plain']}"}
    with httpx.Client(base_url=srv.url, headers=auth, timeout=60) as c:
        small = {"seeds": seeds, "p": 0.01, "runs": 10}
        deadline = time.monotonic() + 300  # a cold numba cache compiles past the 0.5 s limit
        for path, body in (("/v1/spread", small), ("/v1/seeds", {"k": 2, "p": 0.01})):
            while c.post(path, json=body).status_code != 200:  # kernels compiled
                assert time.monotonic() < deadline
                time.sleep(0.5)
        t0 = time.monotonic()
        r = c.post("/v1/spread", json={"seeds": seeds, **HEAVY})  # about 40 s of work
        assert_error(r, 504, "timeout", "0.5 s", "stopped")
        assert time.monotonic() - t0 < 2.0
        assert wait_idle(c, 1.0) <= 1.0  # stopped within 1 s of the answer
        cpu0 = time.process_time()  # the server runs in this process
        time.sleep(1.0)
        assert time.process_time() - cpu0 < 0.5  # and nothing computes on unobserved
        # the same for seeds (RR sets) and for a heavy plan request's greedy
        r = c.post("/v1/seeds", json={"k": 16, "p": 1.0, "epsilon": 0.05, "evaluate": 100_000})
        assert_error(r, 504, "timeout")
        assert wait_idle(c, 1.0) <= 1.0


def test_work_over_the_budget_is_refused_before_it_starts(server):
    g = server.graphs["alpha"]
    seeds = top_ids(g, 3)
    with server.client("plain") as c:
        t0 = time.monotonic()
        body = assert_error(c.post("/v1/spread", json={"seeds": seeds, **HEAVY}), 422,
                            "too_much_work", "100,000 simulations", "fewer runs")
        assert time.monotonic() - t0 < 2.0  # refused by the estimate, not after the work
        assert body["estimate"] > body["limit"] == server.settings.max_work
        assert_error(c.post("/v1/seeds", json={"k": 16, "p": 1.0, "epsilon": 0.05}), 422,
                     "too_much_work", "RR sets", "larger epsilon")
        assert_error(c.post("/v1/seeds", json={"k": 2, "p": 1.0, "evaluate": 100_000,
                                               "candidates": seeds}), 422,
                     "too_much_work", "simulations of the chosen seeds")
        ok = c.post("/v1/spread", json={"seeds": seeds, "p": 0.01, "runs": 2000})
        assert ok.status_code == 200, ok.text  # sensible requests fit
        assert c.post("/v1/seeds", json={"k": 5, "p": 0.01}).status_code == 200


def test_one_key_cannot_fill_the_pool(start_server, keys, server):
    srv = start_server(request_timeout=3.0, max_work=10**15, compute_threads=2, max_key_calls=1)
    seeds = top_ids(server.graphs["alpha"], 3)
    plain = {"Authorization": f"Bearer {keys.keys['plain']}"}
    ops = {"Authorization": f"Bearer {keys.keys['ops']}"}
    with httpx.Client(base_url=srv.url, headers=plain, timeout=60) as c:
        slow: list = []
        t = threading.Thread(target=lambda: slow.append(
            c.post("/v1/spread", json={"seeds": seeds, **HEAVY})))
        t.start()
        deadline = time.monotonic() + 2.0
        while running(c) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        r = c.post("/v1/reach", json={"ids": seeds})
        body = assert_error(r, 429, "too_many_in_flight", "1 request(s) computing")
        assert body["limit"] == 1 and r.headers["retry-after"] == "1"
        other = c.post("/v1/reach", json={"store": "alpha", "ids": seeds}, headers=ops)
        assert other.status_code == 200, other.text  # another key still gets the pool
        t.join(30)
        assert_error(slow[0], 504, "timeout")
        assert wait_idle(c, 1.0) <= 1.0
        assert c.post("/v1/reach", json={"ids": seeds}).status_code == 200  # released
