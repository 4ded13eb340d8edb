"""``GET /healthz`` (the process answers), ``GET /readyz`` (stores open, kernels compiled)
and ``GET /metrics`` (Prometheus text). No API key: keep them on an internal network."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from kolgraph.api.deps import EngineDep
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: stores open and kernels compiled",
            responses={503: {"description": "still warming up, or warm-up failed"}})
async def readyz(engine: EngineDep):
    ready = engine.ready.is_set()
    body = {"ready": ready, "stores": sorted(engine.graphs)}
    if engine.warm_seconds is not None:
        body["warm_up_seconds"] = round(engine.warm_seconds, 3)
    if engine.warm_error:
        body["error"] = engine.warm_error
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request):
    m = request.app.state.metrics
    m.ready.set(1 if request.app.state.engine.ready.is_set() else 0)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
