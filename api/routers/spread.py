"""``POST /v1/spread``: expected campaign spread through reshares (Monte Carlo)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body
from kolgraph.api.deps import (
    CallerDep,
    EngineDep,
    SettingsDep,
    check_creator_count,
    json_response,
    store_for,
    v1_router,
)
from kolgraph.api.schemas import SPREAD_EXAMPLES, SpreadRequest, SpreadResponse

router = v1_router(tags=["propagation"])


@router.post("/spread", response_model=SpreadResponse, summary="Expected spread of seed creators")
async def spread(req: Annotated[SpreadRequest, Body(openapi_examples=SPREAD_EXAMPLES)],
                 engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Independent cascade (uniform p, weighted cascade, first hop at the view rate) or
    linear threshold, simulated `runs` times: the mean spread with its 95% interval, the
    distribution and each seed's incremental spread. Reproducible for a `seed`. Runs within
    the service's time limit (504 past it: ask for fewer runs)."""
    name, g = store_for(engine, caller, req.store)
    check_creator_count(req.seeds, settings)

    def work():
        r = g.spread(req.seeds, model=req.model, p=req.p,
                     weighted_cascade=req.weighted_cascade, view_rates=req.view_rates,
                     runs=req.runs, seed=req.seed, threads=1, skip_unknown=req.skip_unknown)
        return json_response(SpreadResponse, {"store": name, **r.to_dict()})
    return await engine.run(work)
