"""The engine the routes call: the opened stores, the compute pool, readiness.

Stores are opened once (``kolgraph.open``: memory-mapped, so several worker
processes share the pages). Routes are ``async`` and hand their whole work
(engine call, report dict, response JSON) to :meth:`Engine.run`: one hop from
the event loop to a bounded thread pool, awaited with the per-request time
limit. The kernels release the GIL, so calls run in parallel on the pool; a call
past the limit answers 504 while it finishes in the background, and since the
pool is bounded, runaway calls hold back new ones (which then time out too)
rather than piling up. (Sync routes would cost a threadpool hop per route and
per sync dependency, plus this one for the time limit: about a millisecond each
on a busy machine.)

Readiness: :meth:`Engine.warm_up` compiles (or loads from numba's cache) the
kernels and builds the per-store caches with real calls on every store, on a
background thread, so ``/healthz`` answers at once and ``/readyz`` turns ready
when it is done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from kolgraph.api.errors import ApiError
from kolgraph.api.settings import Settings

import kolgraph

log = logging.getLogger("kolgraph.api")
T = TypeVar("T")


class Engine:
    """Opened stores plus a bounded compute pool with a time limit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.graphs: dict[str, kolgraph.FollowerGraph] = {
            name: kolgraph.open(path) for name, path in settings.stores.items()}
        threads = settings.compute_threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kolgraph-compute")
        self._shared: dict[tuple, Future] = {}
        self._shared_lock = threading.Lock()
        self.ready = threading.Event()
        self.warm_error: str | None = None
        self.warm_seconds: float | None = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the compute pool, awaited within the request time limit."""
        future = self._pool.submit(fn, *args, **kwargs)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future),
                                          self.settings.request_timeout)
        except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11
            future.cancel()  # still queued: never starts; running: finishes unobserved
            raise ApiError(504, "timeout",
                           f"the request took longer than the service's time limit of "
                           f"{self.settings.request_timeout:g} s; ask for fewer creators or a "
                           "narrower filter") from None

    async def shared(self, key: tuple, fn: Callable[[], T], what: str) -> T:
        """The result of ``fn()``, computed once per ``key`` on the compute pool and then kept
        (e.g. a store's fraud review, which takes a minute on 10M edges). A request that
        finds it still running past the time limit answers 503 with Retry-After while the
        computation goes on; a failed computation is retried by the next request."""
        with self._shared_lock:
            future = self._shared.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self._shared[key] = self._pool.submit(fn)
        try:  # shield: a timed-out request must not cancel the shared computation
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                          self.settings.request_timeout)
        except asyncio.TimeoutError:
            raise ApiError(503, "computing", f"{what} is still being computed; retry shortly",
                           headers={"Retry-After": "30"}) from None

    def warm_up(self) -> None:
        """Compile the kernels and fill the per-store caches with real calls on every store."""
        t0 = time.perf_counter()
        try:
            for name, g in self.graphs.items():
                _warm_graph(g)
                log.info("warmed store %s", name)
        except Exception as exc:  # readiness reports it; the service stays not ready
            log.exception("warm-up failed")
            self.warm_error = f"{type(exc).__name__}: {exc}"
            return
        self.warm_seconds = time.perf_counter() - t0
        self.ready.set()

    def start_warm_up(self) -> threading.Thread | None:
        if not self.settings.warm_up:
            self.ready.set()
            return None
        t = threading.Thread(target=self.warm_up, name="kolgraph-warm-up", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _warm_graph(g: kolgraph.FollowerGraph) -> None:
    """Reach of the 3 smallest and of the 20 largest creators (serial and threaded kernel
    paths) and similar (which builds the store's candidate rows once). A filter changes
    no kernel type (the account mask is a bool array either way), so it needs no call."""
    if g.n_accounts == 0:
        return
    if g.creators is not None and g.creators.num_rows:
        idx = g.creators.column("idx").to_numpy().astype(np.int64)
    else:
        idx = np.arange(g.n_accounts, dtype=np.int64)
    deg = g.in_degree[idx]
    order = np.argsort(-deg, kind="stable")
    idx = idx[order][deg[order] > 0]
    if len(idx) == 0:
        return
    for sel in (idx[-3:], idx[:20]):
        g.reach(g.external(sel))
    for c in (idx[0], idx[-1]):
        g.similar(g.external([c])[0], k=10)
