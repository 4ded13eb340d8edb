"""``GET /v1/creators/{creator_id}``, its ``/similar`` creators and (with the ``followers``
scope) its raw ``/followers`` list."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from fastapi import Path, Query
from kolgraph.api.deps import (
    CallerDep,
    EngineDep,
    SettingsDep,
    check_where,
    filter_errors,
    json_response,
    store_for,
    v1_router,
)
from kolgraph.api.errors import ApiError, not_found
from kolgraph.api.privacy import suppress_similar
from kolgraph.api.schemas import Creator, Followers, SimilarResponse, StoreName
from kolgraph.api.schemas import WhereExpr as _WhereExpr

from kolgraph.exceptions import UnknownAccountError
from kolgraph.reach import account_filter, resolve_ids
from kolgraph.tiers import tier_of

router = v1_router(tags=["creators"])

CreatorId = Annotated[str, Path(min_length=1, max_length=256, description="creator id",
                                examples=["1844"])]
StoreQuery = Annotated[StoreName | None, Query(description="store name; optional when the key "
                                               "reads one store")]
META = ("name", "platform", "category", "price", "avg_views")


def _index(g, creator_id: str) -> tuple[object, int]:
    """``(external id, internal id)``; 404 naming the id when the store does not have it."""
    try:
        ext, idx, _ = resolve_ids(g, [creator_id])
    except UnknownAccountError:
        raise not_found(f"no account {creator_id!r} in this store") from None
    return ext[0], int(idx[0])


def _creator_index(g, creator_id: str, caller) -> tuple[object, int, dict | None]:
    """``(external id, internal id, creator row)``. Without the ``followers`` scope only the
    creator table's accounts can be asked for: any other id answers the same 404 as an
    unknown one (so the answer does not tell whether an account is in the store)."""
    scoped = "followers" in caller.scopes or g.creators is None
    try:
        ext, i = _index(g, creator_id)
    except ApiError:
        if scoped:
            raise
        ext, i = None, -1
    row = _creator_row(g, i) if i >= 0 else None
    if row is None and not scoped:
        raise not_found(f"no creator {creator_id!r} in this store")
    return ext, i, row


def _creator_row(g, i: int) -> dict | None:
    c = g.creators
    if c is None or c.num_rows == 0:
        return None
    hit = np.flatnonzero(c.column("idx").to_numpy() == i)
    if len(hit) == 0:
        return None
    pos = int(hit[0])
    return c.slice(pos, 1).to_pylist()[0]


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


@router.get("/creators/{creator_id}", response_model=Creator, summary="One creator")
async def get_creator(creator_id: CreatorId, engine: EngineDep, caller: CallerDep,
                      store: StoreQuery = None):
    """Follower and following counts, tier and the creator table's metadata
    (name, platform, category, price, avg_views) where present. Keys with the `followers`
    scope may ask for any account of the store (`is_creator` says whether the creator
    table lists it); other keys for the creator table's accounts only (any other id
    answers the same 404 as an unknown one)."""
    name, g = store_for(engine, caller, store)

    def work():
        ext, i, row = _creator_index(g, creator_id, caller)
        followers = int(g.in_degree[i])
        out = {"id": ext, "store": name, "is_creator": row is not None, "followers": followers,
               "following": int(g.out_degree[i]), "tier": str(tier_of(np.array([followers]))[0])}
        if row is not None:
            out.update({k: _clean(row.get(k)) for k in META if k in row})
        return json_response(Creator, out)
    return await engine.run(work, key=caller.key_id)


@router.get("/creators/{creator_id}/similar", response_model=SimilarResponse,
            summary="Creators with the most similar audiences")
async def get_similar(creator_id: CreatorId, engine: EngineDep, caller: CallerDep,
                      settings: SettingsDep, store: StoreQuery = None,
                k: Annotated[int, Query(ge=1, le=1000, description="how many")] = 10,
                by: Annotated[Literal["jaccard", "overlap"], Query(
                    description="rank by Jaccard or overlap coefficient")] = "jaccard",
                among: Annotated[Literal["creators", "accounts"], Query(
                    description="candidates: the creator table (default) or every account")
                ] = "creators",
                where: Annotated[_WhereExpr | None, Query(description="account filter "
                                                         "expression (as in /v1/reach)")] = None,
                exclude_flagged: Annotated[bool, Query(description="drop flagged followers")
                                           ] = False):
    """Top-k accounts by exact audience overlap with this creator (common followers,
    Jaccard, overlap coefficient). With a filter, a key with a minimum group size gets 422
    `filter_too_narrow` when fewer followers of the creator pass it, and no `suppressed`
    count (null)."""
    if k > settings.max_k:
        raise ApiError(422, "k_too_large", f"k={k}: this service allows at most "
                       f"{settings.max_k}", limit=settings.max_k)
    check_where(where, caller, settings)
    name, g = store_for(engine, caller, store)

    def work():
        ext, i, _ = _creator_index(g, creator_id, caller)
        filtered = where is not None or exclude_flagged
        if filtered and caller.min_count > 0:
            _refuse_narrow(g, i, where, exclude_flagged, caller.min_count)
        with filter_errors(where):
            rows = g.similar(ext, k=k, by=by, among=among, where=where,
                             exclude_flagged=exclude_flagged)
        rows, n = suppress_similar(rows, caller.min_count)
        return json_response(SimilarResponse, {"id": ext, "store": name, "by": by, "among": among,
                                               "similar": rows,
                                               "suppressed": None if filtered else n})
    return await engine.run(work, key=caller.key_id)


def _refuse_narrow(g, i: int, where, exclude_flagged: bool, k: int) -> None:
    """422 when fewer than ``k`` accounts, or followers of account ``i``, pass the filter."""
    with filter_errors(where):
        mask, _, _ = account_filter(g, where, exclude_flagged=exclude_flagged)
    if mask is None:
        return
    kept = min(int(mask.sum()), int(mask[np.asarray(g.followers_idx(i))].sum()))
    if kept < k:
        raise ApiError(422, "filter_too_narrow", f"the filter keeps {kept} of this creator's "
                       f"followers (or accounts), fewer than this key's minimum group size of "
                       f"{k}; widen it")


@router.get("/creators/{creator_id}/followers", response_model=Followers,
            summary="Raw follower ids (needs the `followers` scope)")
async def get_followers(creator_id: CreatorId, engine: EngineDep, caller: CallerDep,
                  store: StoreQuery = None,
                  offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
                  where: Annotated[_WhereExpr | None, Query(description="account filter")] = None):
    """The creator's follower ids (sorted by internal id), a page at a time. Only keys
    with the `followers` scope may read raw follower lists: others get 403."""
    if "followers" not in caller.scopes:
        raise ApiError(403, "forbidden", "this key may not read raw follower ids "
                       "(it lacks the 'followers' scope)")
    name, g = store_for(engine, caller, store)

    def work():
        ext, i = _index(g, creator_id)
        rows = np.asarray(g.followers_idx(i))
        if where is not None:
            with filter_errors(where):
                mask, _, _ = account_filter(g, where)
            if mask is not None:
                rows = rows[mask[rows]]
        return json_response(Followers, {"id": ext, "store": name, "total": len(rows),
                                         "offset": offset,
                                         "followers": g.external(rows[offset: offset + limit])})
    return await engine.run(work, key=caller.key_id)
