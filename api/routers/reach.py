"""``POST /v1/reach`` (the full reach report) and ``POST /v1/overlap`` (pairwise overlap)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body
from kolgraph.api.deps import (
    CallerDep,
    EngineDep,
    SettingsDep,
    check_creator_count,
    check_where,
    filter_errors,
    json_response,
    store_for,
    v1_router,
)
from kolgraph.api.privacy import suppress_report
from kolgraph.api.schemas import (
    OVERLAP_EXAMPLES,
    REACH_EXAMPLES,
    Filters,
    OverlapRequest,
    OverlapResponse,
    ReachRequest,
    ReachResponse,
)

from kolgraph.reach import ReachOptions

router = v1_router(tags=["reach"])


def _report(g, req: OverlapRequest):
    options = req.options_of(ReachOptions if isinstance(req, ReachRequest) else Filters)
    with filter_errors(req.where):
        return g.reach(req.ids, **options).to_dict()


@router.post("/reach", response_model=ReachResponse, summary="Deduplicated reach of creators")
async def reach(req: Annotated[ReachRequest, Body(openapi_examples=REACH_EXAMPLES)],
                engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Unique and gross reach, exclusive and incremental reach per creator, pairwise overlap
    (counts, Jaccard, overlap coefficient, directional, lift), frequency R_k, Venn regions,
    expected reach with view rates and posts, and the Sainsbury estimate; see docs/reach.md
    for every definition. Unknown ids answer 422 listing them."""
    name, g = store_for(engine, caller, req.store)
    check_creator_count(req.ids, settings)
    check_where(req.where, caller, settings)

    def work():
        d = _report(g, req)
        return json_response(ReachResponse, {"store": name, "mode": req.mode,
                                             **suppress_report(d, caller.min_count)},
                             exclude_unset=True)  # the sketch-only bounds stay out of exact
    return await engine.run(work, key=caller.key_id)


@router.post("/overlap", response_model=OverlapResponse, summary="Pairwise audience overlap")
async def overlap(req: Annotated[OverlapRequest, Body(openapi_examples=OVERLAP_EXAMPLES)],
                  engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Common followers of every pair of creators with each normalisation labelled, the
    unique reach and the Venn/UpSet regions."""
    name, g = store_for(engine, caller, req.store)
    check_creator_count(req.ids, settings)
    check_where(req.where, caller, settings)

    def work():
        d = suppress_report(_report(g, req), caller.min_count)
        return json_response(OverlapResponse, {
            "store": name, **d["overlap"], "unique_reach": d["unique_reach"],
            "population": d["population"], "regions": d["regions"],
            "suppression": d["suppression"], "warnings": d["warnings"]}, exclude_unset=True)
    return await engine.run(work, key=caller.key_id)
