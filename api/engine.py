"""The engine the routes call: the opened stores, the compute pool, readiness.

Stores are opened once (``kolgraph.open``: memory-mapped, so several worker
processes share the pages). Routes are ``async`` and hand their whole work
(engine call, report dict, response JSON) to :meth:`Engine.run`: one hop from
the event loop to a bounded thread pool, awaited with the per-request time
limit. The kernels release the GIL, so calls run in parallel on the pool.

Every call runs under a :class:`kolgraph._parallel.Deadline` of the request's time
limit: the library checks it between chunks of about 50 ms, so a call past the limit
stops (the request answers 504) instead of running on unobserved, and a call still
queued at its deadline never starts. One key may have at most ``max_key_calls``
calls queued or running (429 ``too_many_in_flight`` past it), so one key cannot fill
the pool; :attr:`Engine.running` counts the calls running now (``/metrics``).
(Sync routes would cost a threadpool hop per route and per sync dependency, plus
this one for the time limit: about a millisecond each on a busy machine.)

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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from kolgraph.api.errors import ApiError
from kolgraph.api.settings import Settings

import kolgraph
from kolgraph._parallel import Cancelled, Deadline, deadline

log = logging.getLogger("kolgraph.api")
T = TypeVar("T")
SLICE = 0.05  # seconds a heavy call computes before it lets a waiting one run


class FairSlots:
    """``n`` CPU slots for the heavy lane. A call holds one while it computes and, once it
    has computed for a slice (:data:`SLICE`, checked between chunks of about 50 ms), hands
    it to a waiting call and queues again: round-robin time slices, two levels as in a
    multi-level feedback queue. Calls that have not had a slice yet go first, so a small
    call waits for at most one slice of the call running, never for a budget-sized one;
    long calls share what is left, in turn."""

    def __init__(self, n: int):
        self._lock = threading.Lock()
        self._free = n
        self._fresh: deque[threading.Event] = deque()  # calls waiting for their first slice
        self._again: deque[threading.Event] = deque()  # calls that had one

    def _next(self) -> threading.Event | None:
        return (self._fresh or self._again or deque([None])).popleft()

    def _wait(self, turn: threading.Event, queue: deque, token: Deadline) -> None:
        """Wait for ``turn``; :class:`Cancelled` (not holding a slot) if ``token`` expires."""
        while not turn.wait(0.05):
            if token.expired:
                with self._lock:
                    if not turn.is_set():
                        queue.remove(turn)
                        raise Cancelled("the call was stopped while waiting for its turn")
                return

    def acquire(self, token: Deadline) -> None:
        with self._lock:
            if self._free > 0 and not self._fresh and not self._again:
                self._free -= 1
                return
            turn = threading.Event()
            self._fresh.append(turn)
        self._wait(turn, self._fresh, token)

    def release(self) -> None:
        with self._lock:
            turn = self._next()
            if turn is not None:
                turn.set()  # the slot passes straight on
            else:
                self._free += 1

    def pass_turn(self, token: Deadline) -> bool:
        """Let the next waiting call run, then wait for a turn again; False when this call
        lost its slot (its deadline passed while it waited)."""
        with self._lock:
            turn = self._next()
            if turn is None:
                return True
            turn.set()
            mine = threading.Event()
            self._again.append(mine)
        try:
            self._wait(mine, self._again, token)
        except Cancelled:
            return False
        return True


class Engine:
    """Opened stores plus a bounded compute pool with a time limit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.graphs: dict[str, kolgraph.FollowerGraph] = {
            name: kolgraph.open(path) for name, path in settings.stores.items()}
        threads = settings.compute_threads or os.cpu_count() or 1
        self.threads = threads
        self.key_calls = settings.max_key_calls or max(1, threads // 2)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kolgraph-compute")
        # the heavy lane: spread, seeds, plan and shared reviews run on fewer threads, so
        # reach, overlap and similar always find a thread free however many tenants are busy
        # and take turns on its CPU slots (FairSlots) in slices of about 50 ms
        self.heavy_threads = min(threads, settings.heavy_threads or max(1, threads // 2))
        self._slots = FairSlots(self.heavy_threads)
        self._heavy = ThreadPoolExecutor(max(8, 4 * self.heavy_threads),
                                         thread_name_prefix="kolgraph-heavy")
        # shared computations (a store's fraud review: long stages without checks inside)
        # run on a thread of their own, outside the heavy lane's slots
        self._background = ThreadPoolExecutor(1, thread_name_prefix="kolgraph-shared")
        self._shared: dict[tuple, tuple[Future, Deadline]] = {}
        self._failed: dict[tuple, tuple[float, BaseException]] = {}  # key -> (when, error)
        self._shared_lock = threading.Lock()
        self._calls: dict[str, int] = {}  # key id -> calls queued or running
        self._calls_lock = threading.Lock()
        self.running = 0  # engine calls running now (not queued)
        self.ready = threading.Event()
        self.warm_error: str | None = None
        self.warm_seconds: float | None = None

    def _admit(self, key: str | None) -> None:
        """Count one more call of ``key``; 429 when it has ``key_calls`` already."""
        if key is None:
            return
        with self._calls_lock:
            n = self._calls.get(key, 0)
            if n >= self.key_calls:
                raise ApiError(429, "too_many_in_flight",
                               f"this key already has {n} request(s) computing, the most this "
                               f"service allows per key ({self.key_calls}); wait for them to "
                               "finish", headers={"Retry-After": "1"}, limit=self.key_calls)
            self._calls[key] = n + 1

    def _release(self, key: str | None) -> None:
        if key is None:
            return
        with self._calls_lock:
            n = self._calls.get(key, 1) - 1
            if n > 0:
                self._calls[key] = n
            else:
                self._calls.pop(key, None)

    def _call(self, token: Deadline, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` under ``token`` on a pool thread; counted in :attr:`running`."""
        token.check()  # queued past its deadline: never starts
        with self._calls_lock:
            self.running += 1
        try:
            with deadline(token):
                return fn(*args)
        finally:
            with self._calls_lock:
                self.running -= 1

    def _heavy_call(self, token: Deadline, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`_call` holding a heavy-lane slot, passed on at each check when others wait."""
        self._slots.acquire(token)
        owner, held, since = threading.get_ident(), [True], [time.monotonic()]

        def turn() -> None:  # a slice is SLICE seconds: small calls finish within their first
            if threading.get_ident() == owner and held[0] and time.monotonic() - since[0] >= SLICE:
                held[0] = self._slots.pass_turn(token)
                if not held[0]:
                    raise Cancelled("the call was stopped while waiting for its turn")
                since[0] = time.monotonic()
        token.on_check = turn
        try:
            return self._call(token, fn, *args)
        finally:
            token.on_check = None
            if held[0]:
                self._slots.release()

    async def run(self, fn: Callable[..., T], *args: Any, key: str | None = None,
                  heavy: bool = False) -> T:
        """``fn(*args)`` on the compute pool under the request time limit: past it the call
        is stopped (at its next check, within about 50 ms) and the request answers 504.
        ``key``: the caller's key id, for the per-key limit on calls in flight; ``heavy``:
        on the heavy lane (spread, seeds, plan: work up to the budget)."""
        timeout = self.settings.request_timeout
        self._admit(key)
        token = Deadline(timeout)
        try:
            future = (self._heavy.submit(self._heavy_call, token, fn, *args) if heavy
                      else self._pool.submit(self._call, token, fn, *args))
        except BaseException:
            self._release(key)
            raise
        future.add_done_callback(lambda _f: self._release(key))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except (asyncio.TimeoutError, Cancelled):  # the builtin TimeoutError from Python 3.11
            token.cancel()  # queued: never starts; running: stops at its next check
            future.cancel()
            raise ApiError(504, "timeout",
                           f"the request took longer than the service's time limit of "
                           f"{timeout:g} s and was stopped; ask for fewer creators, fewer "
                           "runs or a narrower filter") from None
        except asyncio.CancelledError:  # the client went away: stop the work too
            token.cancel()
            future.cancel()
            raise

    async def shared(self, key: tuple, fn: Callable[[], T], what: str) -> T:
        """The result of ``fn()``, computed once per ``key`` on the compute pool and then kept
        (e.g. a store's fraud review, which takes a minute on 10M edges). A request that
        finds it still running past the time limit answers 503 with Retry-After while the
        computation goes on (up to ``shared_timeout``, then it is stopped). A failure is
        remembered for ``failure_ttl`` seconds (requests meanwhile get the same error, not
        a recomputation), then the next request tries again."""
        with self._shared_lock:
            failed = self._failed.get(key)
            if failed is not None:
                when, exc = failed
                if time.monotonic() - when >= self.settings.failure_ttl:
                    del self._failed[key]
                    failed = None
            entry = None if failed is not None else self._shared.get(key)
            started = failed is None and entry is None
            if started:
                token = Deadline(self.settings.shared_timeout)
                entry = self._shared[key] = (self._background.submit(self._call, token, fn), token)
        if started:  # outside the lock: a call that already ended runs the callback at once
            entry[0].add_done_callback(lambda f: self._shared_done(key, f))
        if failed is not None:
            future: Future = Future()
            future.set_exception(failed[1])
        else:
            future = entry[0]
        try:  # shield: a timed-out request must not cancel the shared computation
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                          self.settings.request_timeout)
        except asyncio.TimeoutError:
            raise ApiError(503, "computing", f"{what} is still being computed; retry shortly",
                           headers={"Retry-After": "30"}) from None
        except Cancelled:
            raise ApiError(503, "unavailable", f"{what} took longer than the service's limit "
                           f"of {self.settings.shared_timeout:g} s and was stopped; it is "
                           f"retried after {self.settings.failure_ttl:g} s",
                           headers={"Retry-After": str(int(self.settings.failure_ttl) + 1)}
                           ) from None

    def _shared_done(self, key: tuple, future: Future) -> None:
        """A failed shared computation is dropped and its error kept for ``failure_ttl``."""
        if future.cancelled() or future.exception() is None:
            return
        exc = future.exception()
        log.error("shared computation %s failed: %s: %s", key, type(exc).__name__, exc)
        with self._shared_lock:
            self._failed[key] = (time.monotonic(), exc)
            if self._shared.get(key, (None,))[0] is future:
                del self._shared[key]

    def warm_up(self) -> None:
        """Compile the kernels and fill the per-store caches with real calls on every store."""
        t0 = time.perf_counter()
        try:
            for name, g in self.graphs.items():
                _warm_graph(g, self.settings.max_creators)
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
        with self._shared_lock:
            for _, token in self._shared.values():
                token.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._heavy.shutdown(wait=False, cancel_futures=True)
        self._background.shutdown(wait=False, cancel_futures=True)


def _warm_graph(g: kolgraph.FollowerGraph, max_creators: int = 64) -> None:
    """One small call down every code path a route can take, so no request compiles a
    kernel: numba compiles at a path's first call (into its disk cache) holding the
    interpreter for seconds, which on a cold cache stalled every tenant mid-load.

    Reach of the 3 smallest, the 20 largest and ``max_creators`` creators (serial and
    threaded kernels, one- and multi-word region masks), similar among creators and among
    accounts (which builds the store's candidate rows once), and a small spread, seed
    selection and plan. A filter changes no kernel type (the account mask is a bool array
    either way), so it needs no call."""
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
    for sel in (idx[-3:], idx[:20], idx[:max_creators]):
        g.reach(g.external(sel))
    if g.interactions is not None:  # the interaction kernels, when the store has the layer
        g.engagement(g.external(idx[:3]))
        g.reach(g.external(idx[:3]), audience="loyal")
    for c in (idx[0], idx[-1]):
        g.similar(g.external([c])[0], k=10)
    g.similar(g.external([idx[0]])[0], k=10, among="accounts")
    _warm_models(g, g.external(idx[:8]))


def _warm_models(g: kolgraph.FollowerGraph, ext: list) -> None:
    """The heavy routes' kernels (and the work budget's pilot runs, which use the same)."""
    g.spread(ext[:3], p=0.05, runs=10, threads=1)
    g.seeds(k=2, p=0.05, epsilon=0.5, evaluate=10, threads=1)
    prices = pa.table({"id": pa.array(ext), "price": pa.array([100.0] * len(ext))})
    g.plan(prices, budget=300.0, objective="effective3")
    g.plan(prices, budget=300.0, objective="expected", max_overlap=0.9)  # exact Shapley
