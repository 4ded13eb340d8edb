"""A real uvicorn server on 127.0.0.1 (random free port) over two small synthetic stores.

``server`` (session): stores ``alpha`` (tenant acme; with synthetic interactions) and
``beta`` (tenant globex, without),
keys of several kinds, readiness polled before the first test. ``start_server``
starts another one with other settings (rate limit, time limit, blocked warm-up).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from kolgraph.api import create_app
from kolgraph.api.security import hash_key, new_key
from kolgraph.api.settings import KeyEntry, Settings

import kolgraph

READY_TIMEOUT = 180.0  # a fresh machine compiles the reach kernels during warm-up


class ServerThread:
    """uvicorn serving ``create_app(settings)`` on a thread, on a socket bound up front."""

    def __init__(self, settings: Settings):
        import uvicorn

        self.app = create_app(settings)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True, name="uvicorn-test")

    def start(self, ready: bool = True) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        path = "/readyz" if ready else "/healthz"
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the test server stopped during start-up")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not answering {path} after {READY_TIMEOUT} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@dataclass
class Keys:
    keys: dict[str, str] = field(default_factory=dict)
    entries: list[KeyEntry] = field(default_factory=list)

    def add(self, name: str, tenant: str, stores: tuple, *, method: str = "sha256",
            scopes: frozenset = frozenset(), min_count: int | None = None) -> None:
        key_id, key = new_key()
        self.keys[name] = key
        self.entries.append(KeyEntry(key_id, tenant, hash_key(key, method), stores, scopes,
                                     min_count))


@dataclass
class Service:
    url: str
    keys: dict[str, str]
    graphs: dict[str, kolgraph.FollowerGraph]
    settings: Settings

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="session")
def stores(tmp_path_factory) -> dict[str, str]:
    from kolgraph.synth import synth_store

    d = tmp_path_factory.mktemp("service-stores")
    return {
        "alpha": str(synth_store(d / "alpha.kg", accounts=20_000, creators=300, edges=150_000,
                                 seed=1, interactions=True)),
        "beta": str(synth_store(d / "beta.kg", accounts=5_000, creators=50, edges=30_000,
                                seed=2)),
    }


@pytest.fixture(scope="session")
def keys() -> Keys:
    k = Keys()
    k.add("full", "acme", ("alpha",), method="scrypt", scopes=frozenset({"followers"}))
    k.add("plain", "acme", ("alpha",))
    k.add("private", "acme", ("alpha",), min_count=20)
    k.add("other", "globex", ("beta",))
    k.add("ops", "ops", ("*",))
    return k


def service_settings(stores: dict, keys: Keys, **overrides) -> Settings:
    # many calls per key: the concurrency test sends 16 at once with one key
    base = dict(stores=stores, keys=tuple(keys.entries), max_creators=16, max_body_bytes=8192,
                rate_limit=10_000.0, rate_burst=10_000, request_timeout=30.0, max_key_calls=64)
    return Settings(**{**base, **overrides})


@pytest.fixture(scope="session")
def server(stores, keys):
    settings = service_settings(stores, keys)
    srv = ServerThread(settings).start()
    graphs = {name: kolgraph.open(path) for name, path in stores.items()}
    yield Service(srv.url, keys.keys, graphs, settings)
    srv.stop()


@pytest.fixture
def start_server(stores, keys):
    """``start_server(ready=True, **settings overrides) -> ServerThread`` (stopped afterwards)."""
    started: list[ServerThread] = []

    def start(ready: bool = True, **overrides) -> ServerThread:
        srv = ServerThread(service_settings(stores, keys, **overrides))
        started.append(srv)
        return srv.start(ready=ready)

    yield start
    for srv in started:
        srv.stop()

