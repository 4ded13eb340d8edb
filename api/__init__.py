"""kolgraph.api: the FastAPI service over kolgraph stores.

Run it with ``kolgraph serve STORE... --config service.toml`` (see docs/service.md), or build the app in Python::

    from kolgraph.api import create_app
    from kolgraph.api.settings import Settings, load_settings
    app = create_app(load_settings("service.toml", stores={"demo": "demo.kg"}))

Layout (after the FastAPI docs, "bigger applications"):

- ``app.py``: the factory ``create_app(settings)``; stores opened in ``lifespan``;
- ``settings.py``: :class:`Settings` (pydantic-settings) from the config file and
  environment (cached ``get_settings()``; tests pass their own to ``create_app``);
- ``engine.py``: opened stores, the bounded compute pool with the time limit, warm-up;
- ``deps.py``: ``EngineDep``, ``CallerDep`` (API key, rate limit), ``SettingsDep``,
  ``store_for`` (the tenant's store or 404), ``v1_router()``;
- ``errors.py``: every exception mapped to ``{"error", "message", ...}`` in one place;
- ``security.py``: key hashing and verification, the token-bucket rate limiter;
- ``privacy.py``: minimum-count suppression; ``schemas.py``: request/response models;
- ``middleware.py``: Prometheus metrics and the body size limit;
- ``routers/``: one module per resource, each exposing ``router``.

Adding an endpoint
------------------
1. Add ``api/routers/<resource>.py`` with ``router = v1_router(tags=["<resource>"])``
   (under ``/v1``, readiness checked, error responses documented); it is found and
   included automatically (``routers.all_routers``).
2. Write a plain ``def`` route (it runs on the threadpool) taking
   ``engine: EngineDep, caller: CallerDep`` (and ``settings: SettingsDep`` for limits);
   get the graph with ``name, g = store_for(engine, caller, req.store)`` and run the
   work with ``engine.run(fn, ...)`` (the per-request time limit; 504 past it).
3. Request/response models in ``schemas.py`` (``extra="forbid"`` requests, OpenAPI
   examples via ``Body(openapi_examples=...)``); raise :mod:`kolgraph.exceptions`
   from the library (mapped in ``errors.py``), ``ApiError`` for HTTP refusals.
   Apply ``privacy.py`` suppression to any count of a small group of followers,
   and never return follower ids without the ``followers`` scope.
4. Tests: a module in ``tests/service/`` using the ``server`` fixture of
   ``tests/service/conftest.py`` (a real uvicorn server); the schemathesis run covers
   the new route by itself.
"""

from __future__ import annotations


def create_app(settings=None):
    """The FastAPI app; see :func:`kolgraph.api.app.create_app` (imported lazily, so
    ``import kolgraph.api`` does not need FastAPI)."""
    from kolgraph.api.app import create_app as _create

    return _create(settings)


__all__ = ["create_app"]
