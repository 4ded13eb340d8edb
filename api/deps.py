"""Dependencies the routers declare: settings, engine, caller, store.

``Annotated`` aliases so a route reads ``async def f(engine: EngineDep, caller: CallerDep)``.
They are all ``async`` and cheap: FastAPI runs a sync dependency on the threadpool,
and on a busy machine each such hop costs about a millisecond. The one slow step,
a first scrypt check of a key, goes to the threadpool explicitly.
Order of checks for a /v1 request: a key that names a configured key id (else
401), the failed-attempt bucket of that key id and client address (429, before any
hashing), the key's hash (401, charged to that bucket), the key's own rate limit
(429, charged only now, so junk secrets cannot lock the tenant out), readiness
(503), then the store the caller may read (404 otherwise, whether it exists or
belongs to another tenant).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated

import pyarrow as pa
from fastapi import APIRouter, Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from kolgraph.api.engine import Engine
from kolgraph.api.errors import ApiError, not_found
from kolgraph.api.security import Principal
from kolgraph.api.settings import Settings, get_settings
from pydantic import BaseModel

import kolgraph
from kolgraph.exceptions import InputError
from kolgraph.filters import where_columns

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer kg_<id>_<secret>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="or `X-API-Key: kg_<id>_<secret>`")


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


async def authenticate(request: Request,
                 bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
                 header: Annotated[str | None, Security(_header)]) -> Principal:
    """The caller of this request, from its API key; 401 / 429 otherwise."""
    key = bearer.credentials if bearer is not None else header
    unauthorized = ApiError(401, "unauthorized",
                            "a valid API key is required: `Authorization: Bearer <key>` "
                            "or `X-API-Key: <key>`", headers={"WWW-Authenticate": "Bearer"})
    if not key:
        raise unauthorized
    ring = request.app.state.keyring
    key_id = ring.entry_id(key)
    if key_id is None:
        raise unauthorized
    failures = request.app.state.failures
    attempt = (key_id, request.client.host if request.client else "")
    too_many = (f"too many failed attempts with this key id from this address "
                f"({failures.rate:g}/s after a burst of {failures.burst:g}); retry later")
    if ring.is_slow(key_id, key):  # scrypt: only while this id and address may still fail
        wait = failures.take(attempt, cost=0.0)  # look only: a failure is charged below
        if wait > 0:
            raise _limited(wait, too_many)
        caller = await run_in_threadpool(ring.verify, key_id, key)
    else:  # a key verified before (or a sha256 hash): one sha256, always checked
        caller = ring.verify(key_id, key)
    if caller is None:
        wait = failures.take(attempt)
        if wait > 0:
            raise _limited(wait, too_many)
        raise unauthorized
    limiter = request.app.state.limiter
    wait = limiter.take(key_id)
    if wait > 0:
        raise _limited(wait, f"rate limit of this key reached ({limiter.rate:g} requests/s); "
                       "retry later")
    return caller


def _limited(wait: float, message: str) -> ApiError:
    return ApiError(429, "rate_limited", message, headers={"Retry-After": str(int(wait) + 1)},
                    retry_after=round(wait, 3))


CallerDep = Annotated[Principal, Depends(authenticate)]


async def require_ready(engine: EngineDep) -> None:
    if not engine.ready.is_set():
        raise ApiError(503, "warming_up", "the service is starting (compiling kernels); "
                       "retry shortly", headers={"Retry-After": "1"})


def store_for(engine: Engine, caller: Principal, name: str | None) -> tuple[str, kolgraph.FollowerGraph]:
    """``(name, graph)`` of the store the request names, if the caller may read it.

    Without a name, the caller's only readable store is used. A store that is not
    configured and one of another tenant answer the same 404.
    """
    if name is None:
        readable = [s for s in engine.graphs if caller.can_read(s)]
        if len(readable) != 1:
            raise ApiError(422, "store_required",
                           f"name the store: this key reads {len(readable)} stores ({readable})")
        name = readable[0]
    if name not in engine.graphs or not caller.can_read(name):
        raise not_found(f"no store named {name!r}")
    return name, engine.graphs[name]


def v1_router(**kwargs) -> APIRouter:
    """An ``APIRouter`` under ``/v1``: readiness required, the error responses documented."""
    from kolgraph.api.errors import ERROR_RESPONSES

    return APIRouter(prefix="/v1", dependencies=[Depends(require_ready)],
                     responses=ERROR_RESPONSES, **kwargs)


def json_response(model: type[BaseModel], data: dict, exclude_unset: bool = False) -> Response:
    """``data`` checked against ``model`` and serialised by pydantic-core in one pass.

    Routes still declare ``response_model`` (the OpenAPI spec); returning a Response
    skips FastAPI's generic encoder, which costs ~10x more on a 20-creator report.
    """
    return Response(model.model_validate(data).model_dump_json(exclude_unset=exclude_unset),
                    media_type="application/json")


@contextmanager
def filter_errors(where):
    """Arrow type errors while evaluating a filter are the filter's fault: 422, not 500.

    (The engine's filter compiler lets a few mismatches through to Arrow, e.g. a
    number column compared with ``True`` or an integer beyond int64.)
    """
    try:
        yield
    except (pa.ArrowException, OverflowError) as exc:
        if where is None:
            raise
        raise InputError(f"where: cannot be evaluated on these columns: {exc}") from None


def check_where(where, caller: Principal, settings: Settings) -> None:
    """422 ``forbidden_column`` when ``where`` names an identifying column (``id``,
    ``username``, the service's ``identifying_columns``) and the key lacks the ``followers``
    scope: such a filter singles out accounts, and a count over it says whom they follow."""
    if where is None or "followers" in caller.scopes:
        return
    for column in sorted(where_columns(where) & set(settings.identifying_columns)):
        raise ApiError(422, "forbidden_column",
                       f"where: column {column!r} identifies accounts; filtering on it needs "
                       "a key with the 'followers' scope", column=column)


def check_creator_count(ids: list, settings: Settings) -> None:
    if len(ids) > settings.max_creators:
        raise ApiError(422, "too_many_creators",
                       f"{len(ids)} creators in one request; this service allows at most "
                       f"{settings.max_creators}", limit=settings.max_creators)
