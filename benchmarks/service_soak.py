"""Soak of the service: sensible clients beside hostile ones (issue 15, "load and soak").

``kolgraph serve`` runs in its own process on loopback (one worker, the default limits:
compute threads, time limit, work budget, per-key calls) over a synthetic store. Every
client is a thread with its own key and keep-alive connection:

- *sensible* clients send what a planner's tool sends (reach and overlap of 3-20 large
  creators, similar creators, one creator, a small spread), with a short think time;
- *hostile* clients send, back to back, the heaviest requests the schema allows: spread
  and seeds at the schema's maxima (``runs``/``evaluate`` 100,000, ``p`` 1, epsilon 0.05),
  the largest spread the work budget admits (sized from the refusal's own estimate),
  reach and overlap of 64 creators under a 2,000-character filter, similar among every
  account, and a plan over as many candidates as the body limit lets through.

First the sensible clients run alone, then with the hostile ones, each for ``--seconds``.
Reported: the sensible clients' p50/p99 in both phases and their ratio (target ≤ 3),
status counts (target: no 5xx, no sensible timeouts), and the engine calls still running
1 s after the last request ended (target 0; ``kolgraph_engine_calls_running``).

Run: ``python -m benchmarks.service_soak --seconds 60`` (about 2.5 minutes); the test
suite runs a short version (``tests/service/test_soak.py``). Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

THINK = 0.05  # seconds a sensible client waits between requests
CLIENT_TIMEOUT = 60.0


class Client:
    """One keep-alive connection with one key."""

    def __init__(self, url: str, key: str):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.key = host, int(port), key
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=CLIENT_TIMEOUT)

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.key}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):  # a timeout or a dropped connection
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=CLIENT_TIMEOUT)
            return -1, b""


def _sensible_requests(ids: list, rng: np.random.Generator):
    """An endless stream of (method, path, body) a planner's tool would send."""
    while True:
        kind = rng.choice(["reach", "reach", "overlap", "similar", "creator", "spread"])
        pick = [ids[i] for i in rng.choice(min(len(ids), 300), int(rng.integers(3, 21)),
                                           replace=False)]
        if kind == "reach":
            yield "POST", "/v1/reach", {"ids": pick}
        elif kind == "overlap":
            yield "POST", "/v1/overlap", {"ids": pick[:8]}
        elif kind == "similar":
            yield "GET", f"/v1/creators/{pick[0]}/similar?k=10", None
        elif kind == "creator":
            yield "GET", f"/v1/creators/{pick[0]}", None
        else:
            yield "POST", "/v1/spread", {"seeds": pick[:3], "p": 0.01, "runs": 200}


def _hostile_requests(ids: list, client: Client):
    """An endless stream of the heaviest requests the schema allows."""
    top = ids[:64]
    terms = [f"posts > {i}" for i in range(200)]
    while len(" or ".join(terms)) > 2_000:  # the schema's longest filter
        terms.pop()
    where = " or ".join(terms)
    fit = None
    while True:
        yield "POST", "/v1/spread", {"seeds": top, "p": 1.0, "runs": 100_000}
        yield "POST", "/v1/seeds", {"k": 64, "p": 1.0, "epsilon": 0.05, "evaluate": 100_000}
        if fit is None:  # the largest spread the budget admits, from the refusal's estimate
            status, data = client.call("POST", "/v1/spread",
                                       {"seeds": top, "p": 0.05, "runs": 100_000})
            body = json.loads(data) if status == 422 else {}
            fit = int(100_000 * body.get("limit", 1) / body.get("estimate", 1) * 0.95) or 1
        yield "POST", "/v1/spread", {"seeds": top, "p": 0.05, "runs": max(1, min(fit, 100_000))}
        yield "POST", "/v1/reach", {"ids": top, "where": where}
        yield "POST", "/v1/overlap", {"ids": top, "where": where}
        yield "GET", f"/v1/creators/{top[0]}/similar?k=100&among=accounts", None
        cands = [{"id": i, "price": 100.0 + n} for n, i in enumerate(ids[:1400])]
        yield "POST", "/v1/plan", {"candidates": cands, "budget": 1e6, "objective": "effective3"}


def _run_clients(url: str, keys: list[str], ids: list, seconds: float, hostile: int,
                 sensible: int) -> dict:
    stop = time.monotonic() + seconds
    out = {"sensible": [], "sensible_status": Counter(), "hostile_status": Counter(),
           "by_route": {}}
    lock = threading.Lock()

    def sensible_loop(n: int):
        c = Client(url, keys[n])
        rng = np.random.default_rng(n)
        for method, path, body in _sensible_requests(ids, rng):
            if time.monotonic() >= stop:
                return
            t0 = time.perf_counter()
            status, _ = c.call(method, path, body)
            dt = time.perf_counter() - t0
            route = path.split("?")[0].rsplit("/", 1)[-1] if "similar" in path or \
                path.startswith("/v1/") and "creators" not in path else "creator"
            with lock:
                out["sensible"].append(dt)
                out["sensible_status"][status] += 1
                out["by_route"].setdefault(route, []).append(dt)
                if status != 200:
                    out.setdefault("failed", []).append(
                        (route, status, round(time.monotonic() - stop + seconds, 1)))
            time.sleep(THINK)

    def hostile_loop(n: int):
        c = Client(url, keys[sensible + n])
        for method, path, body in _hostile_requests(ids, c):
            if time.monotonic() >= stop:
                return
            status, _ = c.call(method, path, body)
            with lock:
                out["hostile_status"][f"{path.split('?')[0].rsplit('/', 1)[-1]} {status}"] += 1

    threads = [threading.Thread(target=sensible_loop, args=(n,)) for n in range(sensible)]
    threads += [threading.Thread(target=hostile_loop, args=(n,)) for n in range(hostile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["ended"] = time.monotonic()
    return out


def _running(url: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    m = re.search(r"^kolgraph_engine_calls_running (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else -1


def _percentiles(lat: list) -> dict:
    a = np.array(lat) if lat else np.zeros(1)
    return {"requests": len(lat), "p50_ms": round(float(np.percentile(a, 50)) * 1e3, 1),
            "p99_ms": round(float(np.percentile(a, 99)) * 1e3, 1)}


def start_server(store: Path, n_keys: int, tmp: Path, extra: str = "") -> tuple:
    from kolgraph.api.serve import api_key_entry, toml_entry

    keys, entries = [], []
    for n in range(n_keys):
        key, entry = api_key_entry(f"tenant{n}", ["soak"], [], "sha256", None)
        keys.append(key)
        entries.append(toml_entry(entry))
    cfg = tmp / "service.toml"
    cfg.write_text("[service]\nrate_limit = 1e6\nrate_burst = 100000\n" + extra + "\n"
                   + "\n\n".join(entries) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kolgraph", "serve", f"soak={store}", "--config", str(cfg),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("KOLGRAPH_API")})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kolgraph serve exited: {proc.stderr.read()[-2000:]}")
        try:
            host, p = url.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(p), timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, url, keys
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError("kolgraph serve did not become ready")


def _warm(url: str, key: str, ids: list, limit: float = 300.0) -> None:
    """Small requests on every route either stream uses, each until it answers: numba
    compiles a kernel at its first call (into the cache), holding the interpreter meanwhile,
    which on a cold cache would stall the measured phases by seconds."""
    c = Client(url, key)
    top = ids[:8]
    calls = [("POST", "/v1/reach", {"ids": top, "where": "posts > 1 or posts > 2"}),
             ("POST", "/v1/overlap", {"ids": top}),
             ("GET", f"/v1/creators/{top[0]}/similar?k=10&among=accounts", None),
             ("GET", f"/v1/creators/{top[0]}", None),
             ("POST", "/v1/spread", {"seeds": top[:3], "p": 0.05, "runs": 10}),
             ("POST", "/v1/seeds", {"k": 2, "p": 0.05, "epsilon": 0.5, "evaluate": 10}),
             ("POST", "/v1/plan", {"candidates": [{"id": i, "price": 100.0} for i in top],
                                   "budget": 300.0, "objective": "effective3"})]
    deadline = time.monotonic() + limit
    for method, path, body in calls:
        while time.monotonic() < deadline:
            status, _ = c.call(method, path, body)
            if status in (200, 422):
                break
            time.sleep(0.5)
    # one round of the hostile stream too: 64 creators, the long filter and 1,400 candidates
    # take other code paths (kernel signatures) than the small calls above; any answer but a
    # 429 (the key's previous call still winding down) means the path has run
    hostile = _hostile_requests(ids, c)
    for _ in range(8):
        method, path, body = next(hostile)
        while time.monotonic() < deadline and c.call(method, path, body)[0] == 429:
            time.sleep(0.5)


def soak(store: Path, seconds: float, sensible: int = 8, hostile: int = 4,
         extra: str = "") -> dict:
    """Run both phases against a fresh server; the summary dict."""
    import kolgraph

    g = kolgraph.open(store)
    c = g.creators
    order = np.argsort(-c.column("followers").to_numpy(), kind="stable")
    ids = c.column("id").take(order).to_pylist()
    with tempfile.TemporaryDirectory(prefix="kolgraph-soak-") as tmp:
        proc, url, keys = start_server(store, sensible + hostile, Path(tmp), extra)
        try:
            _warm(url, keys[-1], ids)
            _run_clients(url, keys, ids, min(3.0, seconds), 0, sensible)  # caches warm
            alone = _run_clients(url, keys, ids, seconds, 0, sensible)
            mixed = _run_clients(url, keys, ids, seconds, hostile, sensible)
            time.sleep(max(0.0, mixed["ended"] + 1.0 - time.monotonic()))
            live = _running(url)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    a, m = _percentiles(alone["sensible"]), _percentiles(mixed["sensible"])
    statuses = mixed["sensible_status"] + alone["sensible_status"]
    server_errors = sum(n for s, n in statuses.items() if s >= 500) + sum(
        n for s, n in mixed["hostile_status"].items() if s.endswith(("500", "502", "503")))
    return {
        "store": {"accounts": g.n_accounts, "edges": g.n_edges, "creators": g.n_creators},
        "seconds": seconds, "sensible_clients": sensible, "hostile_clients": hostile,
        "alone": a, "with_hostile": m,
        "with_hostile_by_route": {r: _percentiles(v) for r, v in sorted(mixed["by_route"].items())},
        "alone_by_route": {r: _percentiles(v) for r, v in sorted(alone["by_route"].items())},
        "p99_ratio": round(m["p99_ms"] / max(a["p99_ms"], 1e-9), 2),
        "sensible_status": {str(k): v for k, v in sorted(statuses.items())},
        "hostile_status": dict(sorted(mixed["hostile_status"].items())),
        "server_errors_5xx": server_errors,
        "sensible_timeouts": statuses.get(504, 0) + statuses.get(-1, 0),
        "engine_calls_running_1s_after": live,
        "sensible_failures": mixed.get("failed", []) + alone.get("failed", []),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    ap.add_argument("--sensible", type=int, default=8)
    ap.add_argument("--hostile", type=int, default=4)
    ap.add_argument("--timeout", type=float, help="the service's request_timeout (default: "
                    "its default, 10 s)")
    ap.add_argument("--store", help="store to serve (default: a synthetic 100k-account, "
                    "1M-edge store, generated once under $TMPDIR)")
    args = ap.parse_args(argv)
    if args.store:
        store = Path(args.store)
    else:
        from kolgraph.synth import synth_store

        store = Path(tempfile.gettempdir()) / "kolgraph-soak-100k.kg"
        if not store.exists():
            synth_store(store, accounts=100_000, creators=1_000, edges=1_000_000, seed=7)
    extra = f"request_timeout = {args.timeout}\n" if args.timeout else ""
    print(json.dumps(soak(store, args.seconds, args.sensible, args.hostile, extra), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
