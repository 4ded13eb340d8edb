"""``POST /v1/spread``: expected campaign spread through reshares (Monte Carlo);
``POST /v1/seeds``: the seed creators that maximise it (IMM, OPIM-C)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body
from kolgraph.api.budget import check_seeds, check_spread
from kolgraph.api.deps import (
    CallerDep,
    EngineDep,
    SettingsDep,
    check_creator_count,
    json_response,
    store_for,
    v1_router,
)
from kolgraph.api.schemas import (
    SEEDS_EXAMPLES,
    SPREAD_EXAMPLES,
    SeedsRequest,
    SeedsResponse,
    SpreadRequest,
    SpreadResponse,
)

from kolgraph.propagation.options import SeedsServiceOptions, SpreadServiceOptions

router = v1_router(tags=["propagation"])


@router.post("/spread", response_model=SpreadResponse, summary="Expected spread of seed creators")
async def spread(req: Annotated[SpreadRequest, Body(openapi_examples=SPREAD_EXAMPLES)],
                 engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Independent cascade (uniform p, weighted cascade, first hop at the view rate) or
    linear threshold, simulated `runs` times: the mean spread with its 95% interval, the
    distribution and each seed's incremental spread. Reproducible for a `seed`. A request
    whose estimated work (runs x the cascade size of a small pilot) exceeds the service's
    budget answers 422 `too_much_work`; it runs within the service's time limit (504 past
    it, and the work stops)."""
    name, g = store_for(engine, caller, req.store)
    check_creator_count(req.seeds, settings)

    def work():
        options = req.options_of(SpreadServiceOptions)
        check_spread(g, req.seeds, options, settings.max_work)
        r = g.spread(req.seeds, threads=1, **options)
        return json_response(SpreadResponse, {"store": name, **r.to_dict()})
    return await engine.run(work, key=caller.key_id, heavy=True)


@router.post("/seeds", response_model=SeedsResponse, summary="Seed creators maximising spread")
async def seeds(req: Annotated[SeedsRequest, Body(openapi_examples=SEEDS_EXAMPLES)],
                engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Influence maximisation by IMM (or OPIM-C) on reverse-reachable sets: the `k`
    candidates whose expected spread is within (1 - 1/e - epsilon) of the best, with high
    probability; each seed's incremental spread, and optionally a Monte Carlo check of the
    seeds' spread. Reproducible for a `seed`. A request whose estimated work (RR sets x
    their size, plus the evaluation) exceeds the service's budget answers 422
    `too_much_work`; it runs within the service's time limit (504 past it: ask for a
    larger epsilon)."""
    name, g = store_for(engine, caller, req.store)

    def work():
        options = req.options_of(SeedsServiceOptions)
        check_seeds(g, options, settings.max_work)
        r = g.seeds(threads=1, **options)
        return json_response(SeedsResponse, {"store": name, **r.to_dict()})
    return await engine.run(work, key=caller.key_id, heavy=True)
