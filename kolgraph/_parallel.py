"""Threads for kernels that release the GIL: how many, and the three ways work is shared.

numba kernels run with ``nogil=True``, so Python threads run them in parallel.
Every capability sizes its threads with :func:`threads` (numba's thread count,
so ``numba.set_num_threads(1)`` keeps a whole call on one core) and shares work
in one of three ways:

- :func:`split_map`: a fixed split into parts (account ranges, slices of a row),
  the calling thread taking the first part;
- :func:`run_chunks`: an adaptive stream of chunks (Monte Carlo runs, RR sets)
  whose results do not depend on the chunking, with live progress and Ctrl-C;
- :class:`Job`: one call on a background thread beside the caller's own work.

A call can carry a :class:`Deadline` (``with deadline(Deadline(10.0)): ...``, as the
service does for every engine call): :func:`run_chunks` checks it between chunks
(each about 50 ms), and long loops elsewhere call :func:`check_deadline`, so a call
whose deadline passed (or that was cancelled) stops with :class:`Cancelled` soon after.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numba

from kolgraph.exceptions import InputError, KolgraphError


class Cancelled(KolgraphError):
    """The call was cancelled or its deadline passed; nothing of it is returned."""


class Deadline:
    """A cancel token with an optional time limit (``seconds`` from now, monotonic)."""

    def __init__(self, seconds: float | None = None):
        self.at = None if seconds is None else time.monotonic() + float(seconds)
        self._cancelled = threading.Event()
        self.on_check: Callable[[], None] | None = None  # e.g. a scheduler's time slice

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def expired(self) -> bool:
        return self._cancelled.is_set() or (self.at is not None and time.monotonic() >= self.at)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the call was cancelled or is past its deadline (after
        ``on_check``, which may wait for a turn)."""
        if self.on_check is not None:
            self.on_check()
        if self.expired:
            raise Cancelled("the call was stopped: its deadline passed or it was cancelled")


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "kolgraph_deadline", default=None)


@contextmanager
def deadline(token: Deadline | None) -> Iterator[Deadline | None]:
    """Run the block (and the threads :func:`run_chunks`, :func:`split_map` and :class:`Job`
    start from it) under ``token``."""
    reset = _DEADLINE.set(token)
    try:
        yield token
    finally:
        _DEADLINE.reset(reset)


def check_deadline() -> None:
    """Raise :class:`Cancelled` if the current call's deadline passed (no-op without one)."""
    token = _DEADLINE.get()
    if token is not None:
        token.check()

# Work runs on the calling thread until it has used this much CPU time and as much again
# is left (by the rate so far): smaller jobs never pay for starting threads. CPU time, not
# wall time, so a loaded machine does not push small jobs onto threads.
SERIAL_SECONDS = 0.02


def threads(requested: int | None = None) -> int:
    """``requested`` (checked), else numba's thread count."""
    if requested is not None:
        if int(requested) < 1:
            raise InputError(f"threads must be at least 1, got {requested}")
        return int(requested)
    return max(1, int(numba.get_num_threads()))


def split_map(fn: Callable[[int], Any], parts: int) -> list:
    """``[fn(0), ..., fn(parts - 1)]``, the parts on threads (the caller runs part 0)."""
    check_deadline()
    if parts < 2:
        out = [fn(0)]
    else:
        with ThreadPoolExecutor(parts - 1) as pool:
            futures = [pool.submit(contextvars.copy_context().run, fn, t)
                       for t in range(1, parts)]
            first = fn(0)
            out = [first] + [f.result() for f in futures]
    check_deadline()
    return out


_BACKGROUND: list[ThreadPoolExecutor] = []
_BACKGROUND_LOCK = threading.Lock()


def _background() -> ThreadPoolExecutor:
    with _BACKGROUND_LOCK:
        if not _BACKGROUND:
            _BACKGROUND.append(ThreadPoolExecutor(1, thread_name_prefix="kolgraph-bg"))
        return _BACKGROUND[0]


class Job:
    """``fn(*args)`` on the background thread when ``threaded``, else at once; ``seconds``
    is its own run time."""

    def __init__(self, fn: Callable, args: tuple, threaded: bool):
        self.seconds = 0.0
        self._fn, self._args = fn, args
        self._future = (_background().submit(contextvars.copy_context().run, self._run)
                        if threaded else None)
        if not threaded:
            self._value = self._run()

    def _run(self):
        t0 = time.perf_counter()
        try:
            return self._fn(*self._args)
        finally:
            self.seconds = time.perf_counter() - t0

    def result(self):
        return self._future.result() if self._future is not None else self._value


def run_chunks(total: int, threads: int, make_state: Callable[[], Any],
                work: Callable[[Any, int, int], Any], task, target_seconds: float = 0.05
                ) -> tuple[dict[int, Any], bool]:
    """Run ``work(state, start, count)`` over ``0..total-1`` in chunks on ``threads`` threads.

    Each thread owns one ``make_state()`` (its scratch buffers). Chunk sizes adapt so
    each takes about ``target_seconds`` (progress stays live and Ctrl-C is answered
    quickly); results do not depend on them. Returns ``({start: result}, interrupted)``:
    on KeyboardInterrupt the finished chunks are kept and the running ones completed.
    Past the current :class:`Deadline` no chunk starts and :class:`Cancelled` is raised.
    """
    token = _DEADLINE.get()
    lock = threading.Lock()
    nxt = [0]
    stop = threading.Event()
    done: dict[int, Any] = {}
    errors: list[BaseException] = []

    def worker(serial: bool = False):
        try:
            state = make_state()
            size = 1
            cpu0, ran = time.thread_time(), 0
            while not stop.is_set():
                if token is not None:
                    token.check()
                if serial:
                    cpu = time.thread_time() - cpu0
                    if cpu >= SERIAL_SECONDS and (total - nxt[0]) * cpu / max(ran, 1) >= SERIAL_SECONDS:
                        return
                with lock:
                    start = nxt[0]
                    left = total - start
                    # guided: near the end chunks shrink, so threads finish together
                    count = min(size, left, left if threads == 1 else max(1, left // (2 * threads)))
                    nxt[0] += max(count, 0)
                if count <= 0:
                    return
                t0 = time.perf_counter()
                out = work(state, start, count)
                dt = time.perf_counter() - t0
                with lock:
                    done[start] = (count, out)
                ran += count
                task.advance(count)
                size = max(1, min(1 << 20, int(count * target_seconds / max(dt, 1e-6)),
                                  4 * count))
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the caller
            errors.append(exc)
            stop.set()

    interrupted = False
    if threads > 1:  # short jobs stay on the calling thread: starting threads costs more
        worker(serial=True)
    if threads == 1:  # on the calling thread, where Ctrl-C arrives (the worker catches it)
        worker()
    elif nxt[0] < total and not stop.is_set():
        pool: list[threading.Thread] = []
        try:  # Ctrl-C may come while the threads start: stop the ones already running
            for _ in range(threads):
                pool.append(threading.Thread(target=worker, daemon=True))
                pool[-1].start()
            for t in pool:
                while t.is_alive():
                    t.join(0.1)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for t in pool:
                if t.ident is not None:
                    t.join()
    if errors and not isinstance(errors[0], KeyboardInterrupt):
        raise errors[0]
    return done, interrupted or bool(errors)
