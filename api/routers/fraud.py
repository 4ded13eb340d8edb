"""``GET /v1/fraud/clusters`` and ``GET /v1/creators/{id}/audience-quality``.

Both read one fraud review per store (``g.fraud()`` with its defaults), computed on
the first request and kept: it takes about a minute on 10M edges, so a request that
finds it still running answers 503 with Retry-After.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from kolgraph.api.deps import CallerDep, EngineDep, json_response, store_for, v1_router
from kolgraph.api.errors import not_found
from kolgraph.api.schemas import AudienceQuality, ClustersResponse, StoreName

from kolgraph.exceptions import UnknownAccountError
from kolgraph.reach import resolve_ids

router = v1_router(tags=["fraud"])

StoreQuery = Annotated[StoreName | None, Query(description="store name; optional when the key "
                                               "reads one store")]
CreatorId = Annotated[str, Path(min_length=1, max_length=256, description="creator id",
                                examples=["1844"])]


async def _review(engine, name: str, g):
    return await engine.shared((name, "fraud"), g.fraud, f"the fraud review of store {name!r}")


def _small(n: int, k: int) -> bool:
    return 0 < n < k


@router.get("/fraud/clusters", response_model=ClustersResponse,
            summary="Lockstep follower clusters (dense blocks) and engagement pods of a store")
async def clusters(engine: EngineDep, caller: CallerDep, store: StoreQuery = None,
                   limit: Annotated[int, Query(ge=1, le=100, description="clusters")] = 20,
                   max_members: Annotated[int, Query(ge=0, le=10_000, description="member ids "
                                          "per cluster (needs the `followers` scope)")] = 1_000):
    """Blocks of followers who follow the same creators (Fraudar peeling with camouflage-
    resistant weights, plus a co-following stage), each with its density, score,
    significance against the background and farm fingerprint; the engagement pods (groups
    of accounts interacting with the same posts in lockstep, stores with interactions),
    each with its creators and per post its lockstep times; and how many accounts each
    signal flags. Member ids only for keys with the `followers` scope."""
    name, g = store_for(engine, caller, store)
    report = await _review(engine, name, g)

    def work():
        d = report.to_dict(max_members=max_members)
        kept = [c for c in d["clusters"] if not _small(c["followers_count"], caller.min_count)]
        pods = [p for p in d["pods"] if not _small(p["accounts_count"], caller.min_count)]
        if "followers" not in caller.scopes:
            for c in kept:
                c["followers"] = None
            for p in pods:
                p["accounts"] = None
        return json_response(ClustersResponse, {
            "store": name, "clusters": kept[:limit], "suppressed": len(d["clusters"]) - len(kept),
            "pods": pods[:limit], "pods_suppressed": len(d["pods"]) - len(pods),
            "flagged": d["flagged"], "skipped": d["skipped"], "warnings": d["warnings"]})
    return await engine.run(work, key=caller.key_id)


@router.get("/creators/{creator_id}/audience-quality", response_model=AudienceQuality,
            summary="Audience quality and real reach of one creator")
async def audience_quality(creator_id: CreatorId, engine: EngineDep, caller: CallerDep,
                           store: StoreQuery = None):
    """Share of the creator's followers not flagged (cluster members, lockstep followers,
    high bot scores, mass followers), suspicious followers by kind, the clusters that hit
    the creator, its bot-free real reach and its follower-growth spikes."""
    name, g = store_for(engine, caller, store)
    try:
        ext = resolve_ids(g, [creator_id])[0][0]
    except UnknownAccountError:
        raise not_found(f"no account {creator_id!r} in this store") from None
    report = await _review(engine, name, g)

    def work():
        d = report.creator(ext)
        k = caller.min_count
        if _small(d["flagged_followers"], k):
            d.update(audience_quality=None, flagged_followers=None, real_reach=None)
        d["suspicious"] = {kind: None if _small(n, k) else n for kind, n in d["suspicious"].items()}
        d["clusters"] = [c for c in d["clusters"] if not _small(c["followers"], k)]
        return json_response(AudienceQuality, {"store": name, **d,
                                               "skipped": list(report.skipped)})
    return await engine.run(work, key=caller.key_id)

