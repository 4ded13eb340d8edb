"""Request and response models of the /v1 endpoints (they make the OpenAPI spec).

Requests forbid unknown fields, so a misspelt option is a 422 naming it rather
than silently ignored. Bounds here are the hard ones (e.g. 64 creators, the
reach engine's limit); the configured limits are checked by the routes.
"""

from __future__ import annotations

import ast
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    create_model,
)

from kolgraph.engagement import EngagementOptions
from kolgraph.filters import where_syntax
from kolgraph.measures import MEASURES
from kolgraph.options import FilterOptions, SkipUnknown
from kolgraph.plan.options import ServedPlanOptions
from kolgraph.propagation.options import (
    DiffusionOptions,
    SeedsServiceOptions,
    SpreadServiceOptions,
)
from kolgraph.reach import MAX_CREATORS, ReachOptions

MAX_SEED_CANDIDATES = 100_000

ExtId = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)] | Annotated[
    str, StringConstraints(min_length=1, max_length=256)]
StoreName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Posts = Annotated[int, Field(ge=0, le=10_000)]
Scalar = Annotated[str, StringConstraints(max_length=256)] | StrictInt | float | bool
MAX_WHERE_DEPTH = 64


def _shallow(text: str) -> str:
    """Refuse expressions nested deeper than ``MAX_WHERE_DEPTH`` (the engine's evaluator
    recurses); syntax errors are left to the engine, whose message says where."""
    try:  # durations rewritten first (30d -> d(30)), as the engine parses it
        tree = ast.parse(where_syntax(text.strip()), mode="eval")
    except SyntaxError:
        return text
    except (RecursionError, MemoryError, ValueError):
        raise ValueError(f"expression nested more than {MAX_WHERE_DEPTH} levels deep") from None
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_WHERE_DEPTH:
            raise ValueError(f"expression nested more than {MAX_WHERE_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return text


WhereExpr = Annotated[str, StringConstraints(max_length=2_000, pattern=r"^[^\x00]*$"),
                      AfterValidator(_shallow)]
WhereDict = Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=128)],
                           Scalar | Annotated[list[Scalar], Field(max_length=1_000)]],
                      Field(max_length=32)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(FilterOptions):
    """The library's filter options (:class:`kolgraph.options.FilterOptions`), with the
    service's limits on the expression's size and depth."""

    where: WhereExpr | WhereDict | None = Field(
        None, description=FilterOptions.model_fields["where"].description)
    skip_unknown: SkipUnknown = False


class OverlapRequest(Filters):
    store: StoreName | None = Field(None, description="store name; optional when the key "
                                    "reads one store")
    ids: list[ExtId] = Field(..., min_length=1, max_length=MAX_CREATORS,
                             description="creator ids, in booking order")


class ReachRequest(OverlapRequest, ReachOptions):
    """:class:`kolgraph.reach.ReachOptions` with the service's bounds on rates and posts."""

    view_rates: Rate | list[Rate] | dict[str, Rate] | None = Field(
        None, description=ReachOptions.model_fields["view_rates"].description)
    posts: Posts | list[Posts] | dict[str, Posts] | None = Field(
        None, description=ReachOptions.model_fields["posts"].description)


REACH_EXAMPLES = {
    "basic": {"summary": "three creators", "value": {"store": "demo", "ids": [1844, 830, 1841]}},
    "filtered": {"summary": "view rates, posts, a filter, bots excluded", "value": {
        "store": "demo", "ids": [1844, 830, 1841], "view_rates": [0.05, 0.1, 0.2], "posts": 2,
        "where": "country == 'NL' and posts > 0", "exclude_flagged": True}},
    "dict_filter": {"summary": "a dict filter and per-creator posts", "value": {
        "store": "demo", "ids": [1844, 830], "posts": {"1844": 3, "830": 1},
        "where": {"country": ["NL", "BE"], "verified": False}}},
    "engaged": {"summary": "reach of the people who commented in May 2024", "value": {
        "store": "demo", "ids": [1844, 830, 1841], "audience": "engaged", "since": "2024-05-01",
        "until": "2024-06-01", "kinds": ["comment"]}},
}
OVERLAP_EXAMPLES = {
    "basic": {"summary": "pairwise overlap of three creators",
              "value": {"store": "demo", "ids": [1844, 830, 1841]}},
}


# --- responses ---------------------------------------------------------------------------
IdOut = int | str


NULLABLE = "null when held back (below min_count, or it would give a held-back count away)"
NULLABLE_GROUP = "people counted; null when held back (below min_count, or the other part of a " \
    "split would give it away)"


class CreatorReach(BaseModel):
    id: IdOut
    audience: int | None = Field(description="null when held back (a filtered audience below "
                                 "min_count)")
    exclusive: int | None = Field(description=NULLABLE)
    incremental: int | None = Field(description=NULLABLE)
    share: float | None
    tier: str
    view_rate: float
    posts: int
    exclusive_low: int | None = Field(None, description="sketch mode: bounds")
    exclusive_high: int | None = None
    incremental_low: int | None = None
    incremental_high: int | None = None


class _OverlapBounds(BaseModel):
    ids: list[IdOut]
    counts_low: list[list[int | None]] | None = Field(None, description="sketch mode: bounds")
    counts_high: list[list[int | None]] | None = None
    jaccard_low: list[list[float | None]] | None = None
    jaccard_high: list[list[float | None]] | None = None


# one matrix per measure of kolgraph.measures; null cells are suppressed (below min_count)
Overlap = create_model("Overlap", __base__=_OverlapBounds, **{
    name: (list[list[int | None]] if m.integer else list[list[float | None]],
           Field(description=f"{m.label}; null cells are suppressed (below min_count)"))
    for name, m in MEASURES.items()})


class Frequency(BaseModel):
    exactly: list[int | None] = Field(description=f"followers reached exactly f times; {NULLABLE}")
    at_least: list[int | None]
    average: float | None
    exactly_low: list[int | None] | None = Field(None, description="sketch mode: bounds")
    exactly_high: list[int | None] | None = None
    at_least_low: list[int | None] | None = None
    at_least_high: list[int | None] | None = None


class ExpectedFrequency(BaseModel):
    exactly: list[float | None]
    at_least: list[float | None]
    average: float | None


class Region(BaseModel):
    creators: list[IdOut]
    count: int
    count_low: int | None = Field(None, description="sketch mode: bounds")
    count_high: int | None = None


class Suppression(BaseModel):
    min_count: int = Field(description="threshold in force (0 = off)")
    regions: int = Field(description="regions left out")
    overlap_cells: int = Field(description="overlap cells set to null")
    exclusive: int = Field(description="exclusive counts set to null")
    figures: int = Field(0, description="figures held back in all (counts below min_count and "
                         "those they could be derived from)")


class ReachResponse(BaseModel):
    store: str
    mode: Literal["exact", "sketch"]
    unique_reach: int | None = Field(description=NULLABLE)
    unique_reach_low: int | None = Field(None, description="sketch mode: bounds at the "
                                         "stated confidence")
    unique_reach_high: int | None = None
    sketch: dict[str, Any] | None = Field(None, description="sketch mode: confidence, "
                                          "method, sketch sizes")
    gross_reach: int | None
    duplication: float | None
    creators: list[CreatorReach]
    overlap: Overlap
    frequency: Frequency
    regions: list[Region]
    expected_reach: float | None
    expected_frequency: ExpectedFrequency
    sainsbury_reach: float | None
    population: int
    filters: dict[str, Any]
    suppression: Suppression
    warnings: list[str]


class OverlapResponse(Overlap):
    store: str
    unique_reach: int | None = Field(description=NULLABLE)
    population: int
    regions: list[Region]
    suppression: Suppression
    warnings: list[str]


class Creator(BaseModel):
    id: IdOut
    store: str
    is_creator: bool = Field(description="listed in the store's creator table")
    followers: int
    following: int
    tier: str
    name: str | None = None
    platform: str | None = None
    category: str | None = None
    price: float | None = None
    avg_views: float | None = None


class SimilarRow(BaseModel):
    id: IdOut
    common: int
    audience: int
    jaccard: float
    overlap_coefficient: float
    tier: str


class SimilarResponse(BaseModel):
    id: IdOut
    store: str
    by: Literal["jaccard", "overlap"]
    among: Literal["creators", "accounts"]
    similar: list[SimilarRow]
    suppressed: int | None = Field(description="rows left out for fewer than min_count common "
                                   "followers; null for a filtered call (it would tell whether "
                                   "the filtered accounts follow the creator)")


class Followers(BaseModel):
    id: IdOut
    store: str
    total: int
    offset: int
    followers: list[IdOut]


class StoreInfo(BaseModel):
    name: str
    accounts: int
    edges: int
    creators: int
    id_kind: str
    has_account_attributes: bool
    has_interactions: bool = Field(description="the store has an interactions part: engaged "
                                   "and loyal audiences (reach `audience`, plan objectives "
                                   "`engaged` and `loyal`, /v1/engagement)")


class Stores(BaseModel):
    stores: list[StoreInfo]


# --- planner (POST /v1/plan) ---------------------------------------------------------------
Price = Annotated[float, Field(gt=0.0, le=1e12, allow_inf_nan=False)]


class PlanCandidate(_Request):
    id: ExtId
    price: Price = Field(..., description="price per post")
    posts: Annotated[int, Field(ge=1, le=10_000)] = Field(1, description="posts booked")
    view_rate: Rate | None = Field(None, description="chance a follower sees one post "
                                   "(default avg_views/followers, else 1)")


class PlanRequest(Filters, ServedPlanOptions):
    """:class:`kolgraph.plan.ServedPlanOptions` with the candidates and the service's limits
    (sizes of the budget, the lists and the objective's k)."""

    store: StoreName | None = Field(None, description="store name; optional when the key "
                                    "reads one store")
    candidates: list[PlanCandidate] = Field(..., min_length=1, max_length=20_000,
                                            description="creators to choose from, with prices")
    budget: Annotated[float, Field(gt=0.0, le=1e15, allow_inf_nan=False)] = Field(
        description=ServedPlanOptions.model_fields["budget"].description)
    objective: Annotated[str, StringConstraints(
        pattern=r"^(unique|expected|target|real|engaged|loyal|effective[1-9][0-9]?)$")] = Field(
        "unique", description="unique | expected | effective3 (effective<k>) | target "
        "(needs `where`) | real (bot-flagged followers removed) | engaged | loyal (unique "
        "engaged people or loyal fans in the window `since`..`until`, of `kinds`)")
    tier_quota: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        [], max_length=10, description="e.g. `micro:>=5`, `mega:<=1`, `nano:>=20%`")
    must_include: list[ExtId] = Field(
        [], max_length=1_000, description=ServedPlanOptions.model_fields["must_include"].description)
    must_exclude: list[ExtId] = Field(
        [], max_length=20_000, description=ServedPlanOptions.model_fields["must_exclude"].description)
    max_creators: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        None, description=ServedPlanOptions.model_fields["max_creators"].description)


class PlanResponse(BaseModel):
    store: str
    objective: str
    budget: float
    method: str
    chosen: list[dict[str, Any]] = Field(description="chosen creators in the order the "
                                         "greedy adds them, with cost and marginal gain")
    cost: float
    value: float
    measures: dict[str, Any] = Field(description="the plan's unique reach, effective reach R_k, "
                                     "expected reach, gross reach and, beside an engaged or "
                                     "loyal plan, the followers it reaches (follower_reach)")
    curve: list[dict[str, Any]] = Field(description="objective and spend as creators are added")
    shapley: dict[str, Any]
    naive: dict[str, Any] = Field(description="top followers per unit price until the budget "
                                  "runs out, for comparison")
    sainsbury: float | None
    guarantee: dict[str, Any]
    tiers: dict[str, Any]
    population: int
    filters: dict[str, Any]
    warnings: list[str]


PLAN_EXAMPLES = {"budget": {"summary": "best mix for a budget with a tier quota", "value": {
    "candidates": [{"id": 1844, "price": 1200.0}, {"id": 1901, "price": 300.0, "posts": 2},
                   {"id": 1777, "price": 150.0}],
    "budget": 1500, "objective": "unique", "tier_quota": []}}}


# --- propagation (POST /v1/spread, POST /v1/seeds) ------------------------------------------
class _Propagation(DiffusionOptions):
    """:class:`kolgraph.propagation.options.DiffusionOptions` with the store and the service's
    bounds on the random seed."""

    store: StoreName | None = Field(None, description="store name; optional when the key "
                                    "reads one store")
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        1, description=DiffusionOptions.model_fields["seed"].description)


class SpreadRequest(_Propagation, SpreadServiceOptions):
    """:class:`kolgraph.propagation.options.SpreadServiceOptions` with the seeds and the
    service's bounds on view rates and runs."""

    seeds: list[ExtId] = Field(..., min_length=1, max_length=MAX_CREATORS,
                               description="seed creators (their order gives incremental spread)")
    view_rates: Rate | list[Rate] | dict[str, Rate] | None = Field(
        None, description="first hop (IC): chance a seed's follower sees its post")
    runs: Annotated[int, Field(ge=1, le=100_000)] = Field(
        2_000, description="Monte Carlo simulations")


class SpreadIncrement(BaseModel):
    id: IdOut
    mean: float
    ci_low: float
    ci_high: float


class SpreadResponse(BaseModel):
    store: str
    model: str
    params: dict[str, Any]
    seeds: list[IdOut]
    runs: int
    mean: float = Field(description="expected number of accounts activated, seeds included")
    ci_low: float = Field(description="95% confidence interval of the mean")
    ci_high: float
    std: float
    quantiles: dict[str, Any]
    histogram: dict[str, Any]
    incremental: list[SpreadIncrement]
    seed: int
    warnings: list[str]


SPREAD_EXAMPLES = {"ic": {"summary": "independent cascade, p = 0.01", "value": {
    "seeds": [1844, 1901], "model": "ic", "p": 0.01, "runs": 2000, "seed": 1}}}


class SeedsRequest(_Propagation, SeedsServiceOptions):
    """:class:`kolgraph.propagation.options.SeedsServiceOptions` with the service's bounds on
    k, epsilon, the candidates and the evaluation runs."""

    k: Annotated[int, Field(ge=1, le=MAX_CREATORS)] = Field(..., description="seeds to choose")
    epsilon: Annotated[float, Field(ge=0.05, lt=1.0, allow_inf_nan=False)] = Field(
        0.5, description="the (1 - 1/e - epsilon) guarantee; RR sets grow as 1/epsilon^2, "
        "so the service accepts 0.05 and above")
    candidates: Literal["creators"] | list[ExtId] = Field(
        "creators", max_length=MAX_SEED_CANDIDATES,
        description="`creators` (the creator table) or a list of account ids")
    evaluate: Annotated[int, Field(ge=0, le=100_000)] = Field(
        0, description="also simulate the chosen seeds' spread this many times")


class SeedIncrement(BaseModel):
    id: IdOut
    spread: float


class SeedsEvaluation(BaseModel):
    mean: float
    ci_low: float
    ci_high: float
    runs: int


class SeedsResponse(BaseModel):
    store: str
    seeds: list[IdOut]
    spread: float = Field(description="expected spread of the seeds, estimated on the RR sets")
    method: str
    incremental: list[SeedIncrement]
    model: str
    params: dict[str, Any]
    epsilon: float
    ell: float
    rr_sets: int
    lower_bound: float | None
    candidates: int
    approximation: str
    interrupted: bool
    seconds: float
    phases: dict[str, float]
    warnings: list[str]
    evaluation: SeedsEvaluation | None = None


SEEDS_EXAMPLES = {"wc": {"summary": "20 seeds, weighted cascade", "value": {
    "k": 20, "weighted_cascade": True, "epsilon": 0.5, "seed": 1}}}


# --- fraud review (GET /v1/fraud/clusters, GET /v1/creators/{id}/audience-quality) ------
class ClusterOut(BaseModel):
    id: int
    followers: list[IdOut] | None = Field(description="member ids (only for keys with the "
                                          "`followers` scope, at most `max_members`)")
    followers_count: int
    creators: list[IdOut] = Field(description="the creators the block targets")
    creators_count: int
    edges: int
    density: float
    score: float = Field(description="Fraudar's g(S) = f(S)/|S| with 1/log(x + c) weights")
    significance: dict[str, float | str] = Field(
        description="the block test (its name under 'test'; statistic, log10 p and threshold, "
        "expected edges from the degrees without the block's own edges, alpha) and the evidence "
        "beside it: lift, background density, reciprocity, audience share")
    fingerprint: list[dict[str, Any]] = Field(description="every creator the block's followers "
                                              "follow, with how many: who bought from the farm")


class PodPostOut(BaseModel):
    creator: IdOut
    post: IdOut | None = Field(description="the post id; null for events without one")
    first: str = Field(description="the pod's first interaction in its tightest window (UTC)")
    last: str
    seconds: int = Field(description="last - first")
    accounts: int = Field(description="pod accounts in that window")
    delay: int | None = Field(description="seconds from the post to `first`; null without posts")


class PodOut(BaseModel):
    id: int
    accounts: list[IdOut] | None = Field(description="member ids (only for keys with the "
                                         "`followers` scope, at most `max_members`)")
    accounts_count: int
    creators: list[dict[str, IdOut]] = Field(description="the creators whose posts it works, "
                                             "with how many posts")
    posts_count: int
    posts: list[PodPostOut] = Field(description="per post, when the pod interacted in lockstep")


class ClustersResponse(BaseModel):
    store: str
    clusters: list[ClusterOut]
    suppressed: int = Field(description="clusters left out (fewer followers than min_count)")
    pods: list[PodOut] = Field(description="engagement pods (stores with interactions)")
    pods_suppressed: int = Field(description="pods left out (fewer accounts than min_count)")
    flagged: dict[str, Any]
    skipped: list[str]
    warnings: list[str]


class AudienceQuality(BaseModel):
    store: str
    id: IdOut
    followers: int
    audience_quality: float | None = Field(description="share of followers not flagged; null "
                                           "when the flagged group is below min_count")
    flagged_followers: int | None
    suspicious: dict[str, int | None] = Field(description="flagged followers by kind: cluster, "
                                              "lockstep, bot_score, mass_following")
    clusters: list[dict[str, int]]
    real_reach: int | None = Field(description="followers minus flagged followers")
    spikes: list[dict[str, Any]]
    engagement: dict[str, int | float | None] | None = Field(
        description="interactions of its fans, those from flagged accounts and from engagement "
        "pods, authentic share; null when the store has no interactions")
    skipped: list[str]


# --- engagement ------------------------------------------------------------------------
class EngagementRequest(_Request, EngagementOptions):
    """:class:`kolgraph.engagement.EngagementOptions` with the store and the creators."""

    store: StoreName | None = Field(None, description="store name; optional when the key "
                                    "reads one store")
    ids: list[ExtId] = Field(..., min_length=1, max_length=MAX_CREATORS, description="creator ids")


class EngagementRow(BaseModel):
    id: IdOut
    followers: int
    engaged: int | None = Field(description=NULLABLE_GROUP)
    engaged_followers: int | None = Field(description=NULLABLE_GROUP)
    engaged_non_followers: int | None = Field(description=NULLABLE_GROUP)
    interactions: int
    weighted_interactions: float
    by_kind: dict[str, int]
    posts: int | None = Field(description="posts in the window; null when the store has no posts")
    engagement_rate: float
    rate_basis: Literal["per_post_per_follower", "per_day_per_follower"]
    loyal_fans: int | None = Field(description=NULLABLE_GROUP)
    loyal_followers: int | None = Field(description=NULLABLE_GROUP)
    comments: int
    answered_comments: int
    reply_rate: float | None = Field(description="null when the store has no reply events or "
                                     "the creator got no comments")
    flagged_interactions: int | None
    authentic_share: float | None


class EngagementResponse(BaseModel):
    store: str
    window: dict[str, Any]
    loyalty: dict[str, Any]
    creators: list[EngagementRow]
    suppression: dict[str, int]
    warnings: list[str]


ENGAGEMENT_EXAMPLES = {
    "basic": {"summary": "two creators, comments and shares in May 2024", "value": {
        "store": "demo", "ids": [1844, 830], "since": "2024-05-01", "until": "2024-06-01",
        "kinds": ["comment", "share"]}},
}
