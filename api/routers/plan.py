"""``POST /v1/plan``: the best creator mix for a budget (see the README, "Planner")."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
from fastapi import Body
from kolgraph.api.budget import check_plan
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
from kolgraph.api.errors import ApiError
from kolgraph.api.schemas import PLAN_EXAMPLES, PlanRequest, PlanResponse

from kolgraph.plan.options import ServedPlanOptions

router = v1_router(tags=["plan"])


def _candidates(req: PlanRequest) -> pa.Table:
    """The request's candidates as the planner's table (never a path: a client must not
    make the service read its files)."""
    rows = req.candidates
    cols = {"id": [c.id for c in rows], "price": [c.price for c in rows],
            "posts": [c.posts for c in rows]}
    if any(c.view_rate is not None for c in rows):
        if not all(c.view_rate is not None for c in rows):
            raise ApiError(422, "validation_error", "candidates: give view_rate for every "
                           "candidate or for none (the default applies to all)")
        cols["view_rate"] = [c.view_rate for c in rows]
    kinds = {type(i) for i in cols["id"]}
    if len(kinds) > 1:
        raise ApiError(422, "validation_error", "candidates: ids must be all numbers or all text")
    return pa.table(cols)


@router.post("/plan", response_model=PlanResponse, summary="Best creator mix for a budget")
async def plan(req: Annotated[PlanRequest, Body(openapi_examples=PLAN_EXAMPLES)],
               engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Chooses creators maximising the objective (unique, expected, effective R_k, target,
    real reach, or unique engaged people or loyal fans in a window; ``audience`` counts
    engaged or loyal people for the other objectives too) under the budget, tier quotas,
    must-include/exclude, a maximum number of creators and a maximum pairwise overlap;
    returns the plan, the reach/spend curve, Shapley shares, the naive plan and the
    guarantee that holds. An infeasible request answers 422 naming the constraint that
    cannot be met. Runs within the service's time limit (504 past it)."""
    name, g = store_for(engine, caller, req.store)
    if len(req.must_include) > settings.max_creators:
        raise ApiError(422, "too_many_creators", f"{len(req.must_include)} must-include "
                       f"creators; this service allows at most {settings.max_creators}",
                       limit=settings.max_creators)
    check_where(req.where, caller, settings)
    table = _candidates(req)

    engaged = req.objective in ("engaged", "loyal") or req.audience != "followers"

    def work():
        check_plan(g, [c.id for c in req.candidates], settings.max_work, engaged)
        with filter_errors(req.where):
            p = g.plan(table, **req.options_of(ServedPlanOptions))
        d = p.to_dict()
        passing, k = d["filters"].get("accounts_passing"), caller.min_count
        if passing is not None and k > 0 and (passing < k or (d["value"] or 0) < k):
            raise ApiError(422, "filter_too_narrow", f"the filter keeps {passing} accounts and "
                           f"a plan value of {d['value']:g}, fewer than this key's minimum "
                           f"group size of {k}; widen it")
        if engaged and 0 < (d["value"] or 0) < k:  # engaged people are not public: as a filter
            raise ApiError(422, "filter_too_narrow", f"the plan reaches {d['value']:g} "
                           f"{d['filters']['audience']} people, fewer than this key's minimum "
                           f"group size of {k}; widen the window or the kinds")
        return json_response(PlanResponse, {"store": name, **d})
    return await engine.run(work, key=caller.key_id, heavy=True)
