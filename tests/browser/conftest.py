"""The planner page in headless Chromium against a real ``kolgraph serve`` on loopback.

``served`` (module scope) runs ``python -m kolgraph serve`` in its own process over three
synthetic stores: ``alpha`` (tenant acme), ``beta`` (tenant globex) and ``gamma`` (with
interactions; its own key, so the acme key still reads one store). ``browser`` is
Debian's Chromium (``/usr/bin/chromium``) driven by Playwright: Playwright's own browser
download is never used. Every test gets a fresh page whose
console errors and uncaught exceptions are collected in ``page.errors``; screenshots go
to ``$KOLGRAPH_SCREENSHOTS`` (default: the test's tmp dir) as artefacts.

The service's time limit is short (1.5 s) so the first fraud review of ``alpha`` (1M follows:
about 3 s) answers 503 ``computing`` and the page has to show it and retry. Routes whose
kernels the service's warm-up does not compile (complementary, plan) are called until they
answer before the tests start, so a first compile past that limit cannot fail a test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("KOLGRAPH_CHROMIUM", "/usr/bin/chromium")
READY_TIMEOUT = 300.0
REQUEST_TIMEOUT = 1.5


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class Served:
    url: str
    keys: dict[str, str]
    stores: dict[str, str]
    proc: subprocess.Popen

    def graph(self, name: str):
        import kolgraph

        return kolgraph.open(self.stores[name])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(tmp: Path, stores: dict[str, str], keys: dict[str, tuple[str, list[str]]],
                request_timeout: float = REQUEST_TIMEOUT) -> Served:
    """``kolgraph serve`` as a child process; ``keys``: name -> (tenant, stores)."""
    import httpx
    from kolgraph.api.serve import api_key_entry, toml_entry

    out, entries = {}, []
    for name, (tenant, readable) in keys.items():
        out[name], entry = api_key_entry(tenant, readable, [], "sha256", None)
        entries.append(toml_entry(entry))
    cfg = tmp / "service.toml"
    cfg.write_text(f"[service]\nrequest_timeout = {request_timeout}\nrate_limit = 1000.0\n"
                   "rate_burst = 1000\n\n" + "\n\n".join(entries) + "\n")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOLGRAPH_API")}
    log = open(tmp / "serve.log", "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kolgraph", "serve", *(f"{n}={p}" for n, p in stores.items()),
         "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kolgraph serve exited: {(tmp / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                srv = Served(url, out, stores, proc)
                _warm(srv, deadline)
                return srv
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise TimeoutError("kolgraph serve did not become ready")


def _warm(srv: Served, deadline: float) -> None:
    """Call each route the page uses until it answers 200 (a 504 while numba compiles)."""
    import httpx

    for key, (tenant_store) in (("acme", "alpha"), ("gamma", "gamma")):
        headers = {"Authorization": f"Bearer {srv.keys[key]}"}
        plan = {"store": tenant_store, "budget": 100,
                "candidates": [{"id": 0, "price": 10}, {"id": 1, "price": 20}]}
        calls = [("GET", f"/v1/creators?store={tenant_store}&limit=5", None),
                 ("POST", "/v1/complementary", {"store": tenant_store, "ids": [0, 1]}),
                 ("POST", "/v1/plan", plan)]
        if tenant_store == "gamma":  # the engaged plan's kernels
            calls.append(("POST", "/v1/plan", {**plan, "objective": "engaged"}))
        for method, path, body in calls:
            while True:
                r = httpx.request(method, srv.url + path, json=body, headers=headers, timeout=30)
                if r.status_code == 200:
                    break
                if r.status_code not in (429, 504) or time.monotonic() > deadline:  # 429: a 504 call still running
                    raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
                time.sleep(0.5)


@pytest.fixture(scope="session")
def web_stores(tmp_path_factory) -> dict[str, str]:
    from kolgraph.synth import synth_store

    d = tmp_path_factory.mktemp("web-stores")
    return {"alpha": str(synth_store(d / "alpha.kg", accounts=150_000, creators=150,
                                     edges=1_000_000, seed=11)),
            "beta": str(synth_store(d / "beta.kg", accounts=3_000, creators=30, edges=15_000,
                                    seed=12)),
            # with an interactions part: engaged and loyal audiences beside followers
            "gamma": str(synth_store(d / "gamma.kg", accounts=20_000, creators=100,
                                     edges=120_000, seed=13, interactions=True))}


@pytest.fixture(scope="session")
def served(web_stores, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver "
                    "(or set KOLGRAPH_CHROMIUM)")
    srv = start_serve(tmp_path_factory.mktemp("web-serve"), web_stores,
                      {"acme": ("acme", ["alpha"]), "globex": ("globex", ["beta"]),
                       "gamma": ("acme", ["gamma"])})
    yield srv
    srv.proc.terminate()
    try:
        srv.proc.wait(15)
    except subprocess.TimeoutExpired:
        srv.proc.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    d = os.environ.get("KOLGRAPH_SCREENSHOTS")
    out = Path(d) if d else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def page(browser, served):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(f"console: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"exception: {e}"))
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()
