"""``GET /v1/stores``: the stores this key may read, with their sizes."""

from __future__ import annotations

from kolgraph.api.deps import CallerDep, EngineDep, v1_router
from kolgraph.api.schemas import Stores

router = v1_router(tags=["stores"])


@router.get("/stores", response_model=Stores, summary="Stores readable with this key")
async def list_stores(engine: EngineDep, caller: CallerDep):
    return {"stores": [
        {"name": name, "accounts": g.n_accounts, "edges": g.n_edges, "creators": g.n_creators,
         "id_kind": g.ids.kind,
         # the table itself loads lazily (only filters need it): ask whether there is one
         "has_account_attributes": g.has_account_attributes,
         "has_interactions": g.interactions is not None}
        for name, g in sorted(engine.graphs.items()) if caller.can_read(name)]}
