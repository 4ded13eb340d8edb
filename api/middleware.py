"""Request metrics (Prometheus) and the request body size limit, as one plain ASGI middleware.

Plain ASGI rather than ``BaseHTTPMiddleware``: no extra task per request.
Metrics are labelled by the route *template* (``/v1/creators/{creator_id}``),
never the raw path, so label cardinality stays bounded; unmatched paths count
as ``<unmatched>``.
"""

from __future__ import annotations

import json
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self):
        disable_created_metrics()  # no *_created series: they double the output for nothing
        self.registry = CollectorRegistry()
        self.requests = Counter("kolgraph_http_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("kolgraph_http_request_duration_seconds",
                                 "time from request start to the last response byte",
                                 ["method", "route"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.errors = Counter("kolgraph_http_errors_total",
                              "responses with status >= 400, by error class",
                              ["route", "status_class"], registry=self.registry)
        self.in_flight = Gauge("kolgraph_http_requests_in_flight", "requests being answered",
                               registry=self.registry)
        self.calls_running = Gauge("kolgraph_engine_calls_running",
                                   "engine calls running now (a call past its deadline stops "
                                   "within about 50 ms)", registry=self.registry)
        self.ready = Gauge("kolgraph_ready", "1 once stores are open and kernels compiled",
                           registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, f"{status // 100}xx").inc()


class ServiceMiddleware:
    """Counts and times every request; refuses bodies above ``max_body_bytes`` with 413."""

    def __init__(self, app, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500  # unless a response starts: an exception becomes the server's 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            if scope["method"] in _BODY_METHODS:
                body = await self._read_body(scope, receive)
                if body is None:
                    status = 413
                    await _send_json(send, 413, {
                        "error": "body_too_large",
                        "message": f"request body larger than {self.max_body_bytes} bytes"})
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # bounded labels
            self.metrics.observe(method, template, status, time.perf_counter() - t0)

    async def _read_body(self, scope, receive) -> bytes | None:
        """The whole body, or None as soon as it is known to be too large."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as the server's would

    return replay


async def _send_json(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
