"""The app factory: ``create_app(settings)`` builds the FastAPI app.

The stores are opened in ``lifespan`` (memory-mapped, once per process); the
kernel warm-up then runs on a background thread and ``/readyz`` turns ready when
it is done. ``app_from_env`` is the factory uvicorn workers call
(``kolgraph serve`` passes the settings through the environment).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from kolgraph.api import errors
from kolgraph.api.engine import Engine
from kolgraph.api.middleware import Metrics, ServiceMiddleware
from kolgraph.api.routers import all_routers
from kolgraph.api.security import KeyRing, RateLimiter
from kolgraph.api.settings import Settings, check_settings, get_settings

from kolgraph import __version__

log = logging.getLogger("kolgraph.api")

DESCRIPTION = """Deduplicated reach, audience overlap and similar creators over kolgraph
stores. Every /v1 call needs an API key (`Authorization: Bearer kg_<id>_<secret>`);
a key reads only its tenant's stores. Errors are JSON: `{"error": code, "message": ...}`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service over the stores and keys of ``settings`` (default: :func:`get_settings`)."""
    settings = check_settings(settings if settings is not None else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = Engine(settings)  # opens every store: a missing or corrupted one fails start-up
        app.state.engine = engine
        engine.start_warm_up()
        try:
            yield
        finally:
            engine.close()

    # /docs and /redoc: self-hosted assets (routers/web.py), never a CDN
    app = FastAPI(title="kolgraph", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    async def _settings() -> Settings:  # async: no threadpool hop
        return settings

    app.dependency_overrides[get_settings] = _settings
    app.state.settings = settings
    app.state.keyring = KeyRing(settings.keys, settings.min_count)
    app.state.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
    app.state.failures = RateLimiter(settings.rate_limit, settings.rate_burst)  # per id+address
    app.state.metrics = Metrics()
    if not settings.keys:
        log.warning("no API keys configured: every /v1 request will answer 401")
    errors.install(app)
    for router in all_routers():
        app.include_router(router)
    app.add_middleware(ServiceMiddleware, metrics=app.state.metrics,
                       max_body_bytes=settings.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from ``$KOLGRAPH_API_CONFIG`` etc."""
    return create_app(get_settings())
