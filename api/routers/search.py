"""``GET /v1/creators`` (creator search with filters, sorting and paging) and
``POST /v1/complementary`` (the creators adding the most new followers to a set).

Both serve the planner page (``/``) and any other client. They take the same key,
limits and privacy rules as the other /v1 routes: a store of another tenant is a
404; audience quality and real reach (from the store's fraud review, computed on
the first ``quality=true`` request, 503 ``computing`` while it runs) are null when
the flagged group is below the key's ``min_count``; complementary rows adding
fewer than ``min_count`` followers are left out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Body, Query
from kolgraph.api.deps import (
    CallerDep,
    EngineDep,
    SettingsDep,
    check_creator_count,
    filter_errors,
    json_response,
    store_for,
    v1_router,
)
from kolgraph.api.errors import ApiError
from kolgraph.api.schemas import ExtId, Filters, IdOut, StoreName
from pydantic import BaseModel, Field

from kolgraph.reach import MAX_CREATORS, Among
from kolgraph.tiers import tier_of

router = v1_router(tags=["creators"])

StoreQuery = Annotated[StoreName | None, Query(description="store name; optional when the key "
                                               "reads one store")]
Text = Annotated[str | None, Query(max_length=256)]
SORTS = ("followers", "price", "name", "id", "tier")
FACETS = ("tier", "category", "platform")
TIER_ORDER = {"nano": 0, "micro": 1, "mid": 2, "macro": 3, "mega": 4}


class CreatorRow(BaseModel):
    id: IdOut
    name: str | None = None
    platform: str | None = None
    category: str | None = None
    tier: str
    followers: int
    price: float | None = None
    avg_views: float | None = None
    audience_quality: float | None = Field(None, description="share of followers not flagged "
                                           "(with quality=true; null below min_count)")
    real_reach: int | None = Field(None, description="followers minus flagged followers")


class CreatorPage(BaseModel):
    store: str
    total: int = Field(description="creators matching the filters")
    offset: int
    limit: int
    sort: str
    order: Literal["asc", "desc"]
    quality: bool = Field(description="whether audience quality and real reach are filled in")
    creators: list[CreatorRow]
    facets: dict[str, list[str]] = Field(description="values of tier, category and platform "
                                         "in the store, for filter menus")


def _table(g) -> pa.Table:
    """The creator table with ``followers`` (in-degree) and ``tier`` recomputed, never None."""
    c = g.creators
    if c is None or c.num_rows == 0:
        return pa.table({"id": pa.array([], pa.int64()), "idx": pa.array([], pa.int64())})
    idx = c.column("idx").to_numpy().astype(np.int64)
    followers = np.asarray(g.in_degree)[idx].astype(np.int64)
    c = c.drop_columns([n for n in ("followers", "tier") if n in c.column_names])
    return c.append_column("followers", pa.array(followers)).append_column(
        "tier", pa.array(tier_of(followers).astype(str)))


def _match(c: pa.Table, q: str | None, ids: list[str] | None, facets: dict,
           low: int | None, high: int | None) -> pa.Table:
    mask = pa.array(np.ones(c.num_rows, dtype=bool))
    id_text = pc.cast(c.column("id"), pa.string())
    if ids is not None:
        mask = pc.and_(mask, pc.is_in(id_text, value_set=pa.array(ids, pa.string())))
    if q:
        hit = pc.starts_with(id_text, q)
        if "name" in c.column_names:
            hit = pc.or_(hit, pc.fill_null(pc.match_substring(c.column("name"), q,
                                                              ignore_case=True), False))
        mask = pc.and_(mask, hit)
    for col, value in facets.items():
        if value is not None:
            if col not in c.column_names:
                raise ApiError(422, "invalid_input", f"{col}: this store's creator table has "
                               f"no {col!r} column")
            mask = pc.and_(mask, pc.fill_null(pc.equal(c.column(col), value), False))
    if low is not None:
        mask = pc.and_(mask, pc.greater_equal(c.column("followers"), low))
    if high is not None:
        mask = pc.and_(mask, pc.less_equal(c.column("followers"), high))
    return c.filter(mask)


def _sorted(c: pa.Table, sort: str, order: str) -> pa.Table:
    if sort not in c.column_names:
        raise ApiError(422, "invalid_input", f"sort: this store's creator table has no "
                       f"{sort!r} column")
    key = c.column(sort)
    if sort == "tier":
        key = pa.array([TIER_ORDER.get(t, -1) for t in key.to_pylist()])
    direction = "descending" if order == "desc" else "ascending"
    t = pa.table({"k": key, "i": c.column("idx")})
    order_idx = pc.sort_indices(t, sort_keys=[("k", direction), ("i", "ascending")])  # nulls last
    return c.take(order_idx)


def _facets(c: pa.Table) -> dict[str, list[str]]:
    out = {}
    for col in FACETS:
        if col in c.column_names:
            values = [v for v in pc.unique(c.column(col)).to_pylist() if v is not None]
            out[col] = sorted(values, key=lambda v: (TIER_ORDER.get(v, 99), str(v)))
    return out


def _with_quality(rows: list[dict], report, k: int) -> None:
    for r in rows:
        d = report.creator(r["id"])
        small = 0 < d["flagged_followers"] < k
        r["audience_quality"] = None if small else d["audience_quality"]
        r["real_reach"] = None if small else d["real_reach"]


@router.get("/creators", response_model=CreatorPage, summary="Search creators, a page at a time")
async def search_creators(
        engine: EngineDep, caller: CallerDep, store: StoreQuery = None,
        q: Annotated[str | None, Query(max_length=256, description="id prefix or part of "
                                       "the name (any case)")] = None,
        ids: Annotated[str | None, Query(max_length=20_000, description="comma-separated ids: "
                                         "only these creators")] = None,
        tier: Text = None, category: Text = None, platform: Text = None,
        min_followers: Annotated[int | None, Query(ge=0)] = None,
        max_followers: Annotated[int | None, Query(ge=0)] = None,
        sort: Annotated[Literal[SORTS], Query(description="sort key")] = "followers",
        order: Annotated[Literal["asc", "desc"], Query()] = "desc",
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1_000)] = 50,
        quality: Annotated[bool, Query(description="add audience quality and real reach from "
                                       "the store's fraud review (503 `computing` while the "
                                       "first review runs)")] = False):
    """Creators of the store's creator table matching the filters (id prefix or name part,
    tier, category, platform, follower range), sorted and paged, with followers, tier,
    price and the table's metadata; with `quality=true`, audience quality and real reach."""
    name, g = store_for(engine, caller, store)
    id_list = None if ids is None else [s.strip() for s in ids.split(",") if s.strip()]
    report = None
    if quality:
        report = await engine.shared((name, "fraud"), g.fraud,
                                     f"the fraud review of store {name!r}")

    def work():
        c = _table(g)
        hits = _sorted(_match(c, q, id_list, {"tier": tier, "category": category,
                                              "platform": platform},
                              min_followers, max_followers), sort, order)
        rows = hits.slice(offset, limit).drop_columns(["idx"]).to_pylist()
        if report is not None:
            _with_quality(rows, report, caller.min_count)
        return json_response(CreatorPage, {
            "store": name, "total": hits.num_rows, "offset": offset, "limit": limit,
            "sort": sort, "order": order, "quality": report is not None, "creators": rows,
            "facets": _facets(c)})
    return await engine.run(work)


class ComplementaryRequest(Filters):
    store: StoreName | None = Field(None, description="store name; optional when the key "
                                    "reads one store")
    ids: list[ExtId] = Field(..., min_length=1, max_length=MAX_CREATORS,
                             description="the current selection")
    k: Annotated[int, Field(ge=1, le=1_000)] = Field(10, description="how many")
    among: Among = "creators"


class ComplementaryRow(BaseModel):
    id: IdOut
    name: str | None = None
    incremental: int = Field(description="followers it adds that the selection does not reach")
    audience: int
    tier: str


class ComplementaryResponse(BaseModel):
    store: str
    ids: list[IdOut]
    among: str
    complementary: list[ComplementaryRow]
    suppressed: int = Field(description="rows left out for adding fewer than min_count "
                            "followers")


def _names(g, ids: list[Any]) -> dict[Any, str | None]:
    c = g.creators
    if c is None or "name" not in c.column_names or not ids:
        return {}
    hit = c.filter(pc.is_in(c.column("id"), value_set=pa.array(ids, c.column("id").type)))
    return dict(zip(hit.column("id").to_pylist(), hit.column("name").to_pylist(), strict=True))


@router.post("/complementary", response_model=ComplementaryResponse,
             summary="Creators adding the most new followers to a selection")
async def complementary(req: Annotated[ComplementaryRequest, Body(openapi_examples={
        "basic": {"summary": "top 10 next creators", "value": {"ids": [1844, 830]}}})],
                        engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Top-k creators (or accounts) by incremental reach over the selection: the followers
    each would add that no selected creator reaches (`kolgraph complementary`)."""
    if req.k > settings.max_k:
        raise ApiError(422, "k_too_large", f"k={req.k}: this service allows at most "
                       f"{settings.max_k}", limit=settings.max_k)
    name, g = store_for(engine, caller, req.store)
    check_creator_count(req.ids, settings)

    def work():
        with filter_errors(req.where):
            rows = g.complementary(req.ids, k=req.k, among=req.among, where=req.where,
                                   exclude_flagged=req.exclude_flagged,
                                   skip_unknown=req.skip_unknown)
        kept = [r for r in rows if not 0 < r["incremental"] < caller.min_count]
        names = _names(g, [r["id"] for r in kept])
        for r in kept:
            r["name"] = names.get(r["id"])
        return json_response(ComplementaryResponse, {
            "store": name, "ids": req.ids, "among": req.among, "complementary": kept,
            "suppressed": len(rows) - len(kept)})
    return await engine.run(work)
