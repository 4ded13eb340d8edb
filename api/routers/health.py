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
    """Only the ready flag: it needs no key, so it names no store and no error (a failed
    warm-up is in the service's log)."""
    ready = engine.ready.is_set()
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request):
    m = request.app.state.metrics
    engine = request.app.state.engine
    m.ready.set(1 if engine.ready.is_set() else 0)
    m.calls_running.set(engine.running)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
