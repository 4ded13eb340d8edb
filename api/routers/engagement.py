"""``POST /v1/engagement``: engaged and loyal audiences, engagement and reply rates of creators."""

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
from kolgraph.api.privacy import suppress_engagement
from kolgraph.api.schemas import ENGAGEMENT_EXAMPLES, EngagementRequest, EngagementResponse

from kolgraph.engagement import EngagementOptions

router = v1_router(tags=["engagement"])


@router.post("/engagement", response_model=EngagementResponse,
             summary="Engaged and loyal audiences of creators")
async def engagement(req: Annotated[EngagementRequest, Body(openapi_examples=ENGAGEMENT_EXAMPLES)],
                     engine: EngineDep, caller: CallerDep, settings: SettingsDep):
    """Per creator, in the window ``[since, until)``: followers, engaged accounts (followers
    and non-followers), interactions by kind, engagement rate, loyal fans, reply rate and
    authentic share; see docs/interactions.md for every definition. A store without
    interactions answers 422; unknown ids answer 422 listing them. Counts of people below
    the key's minimum group size are held back (null)."""
    name, g = store_for(engine, caller, req.store)
    check_creator_count(req.ids, settings)

    def work():
        d = g.engagement(req.ids, **req.options_of(EngagementOptions))
        tally = suppress_engagement(d["creators"], caller.min_count)
        return json_response(EngagementResponse, {"store": name, **d, "suppression": tally})
    return await engine.run(work, key=caller.key_id)
