"""Options of :func:`~kolgraph.propagation.spread` and :func:`~kolgraph.propagation.seeds`,
declared once for the library, ``kolgraph spread``/``kolgraph seeds`` and the service.

- :class:`DiffusionOptions`: the diffusion model and its reshare probability, and the random
  seed (both capabilities, everywhere);
- :class:`SpreadServiceOptions` / :class:`SeedsServiceOptions`: what ``POST /v1/spread`` and
  ``POST /v1/seeds`` also take (their request models narrow some bounds);
- :class:`SpreadOptions` / :class:`SeedsOptions`: every keyword option of the library calls
  (per-edge probabilities, threads, the budgeted variant, ...), checked once per call.

Checks that need the graph (edge counts, view rates against the seeds, linear-threshold
weights, candidates and costs) stay with the model resolution and the seeding.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, model_validator

from kolgraph.options import Options, SkipUnknown, _listify, cli


def _names(values: Any) -> Any:
    """The library takes the names of models and methods in any case (``"IC"``, ``"OPIM_C"``);
    the service wants them as declared."""
    if isinstance(values, dict):
        values = {name: v.lower().replace("_", "-") if name in ("model", "method") and
                  isinstance(v, str) else v for name, v in values.items()}
    return values


Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
FirstHop = Annotated[
    StrictBool | Literal["auto"] | float | list[float] | dict[Any, float] | None,
    BeforeValidator(_listify),
    Field(description="IC first hop: a seed's followers see its post at this rate (one "
          "value, or one per seed); at least p, then the reshare probability of later hops",
          json_schema_extra=cli("--view-rate", metavar="R", nargs="+"))]
EdgeProbs = Annotated[Any, Field(
    description="one probability (IC) or weight (LT) per propagation edge, aligned with "
    "g.in_indices", json_schema_extra=cli(hidden=True))]
Threads = Annotated[int | None, Field(ge=1, description="threads (default: all cores)")]


class DiffusionOptions(Options):
    """The diffusion model, its probabilities and the random seed: :func:`spread` and
    :func:`seeds` (and the service) take them alike."""

    model: Literal["ic", "lt"] = Field(
        "ic", description="independent cascade (default) or linear threshold")
    p: Probability | None = Field(
        None, description="uniform edge probability (IC default 0.01) or LT weight; with "
        "view rates, the reshare probability of later hops")
    weighted_cascade: bool | Literal["observed"] = Field(
        False, description="probability 1/d into an account following d accounts (LT default); "
        "'observed' (IC): each account's reshare probability estimated from the store's share "
        "events (shares per follower per post, shrunk toward the pooled rate)",
        json_schema_extra=cli(nargs="?", const=True))
    seed: int = Field(1, description="random seed (default 1): results are reproducible for "
                      "a seed, whatever the thread count")


def _one_diffusion(o) -> None:
    """One way of giving the probabilities; view rates only as the first hop of IC, with p."""
    given = [name for name, v in (("p", o.p), ("weighted_cascade", o.weighted_cascade or None),
                                  ("edge_probs", o.edge_probs)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give one of p, weighted_cascade and edge_probs, not "
                         f"{' and '.join(given)}")
    if o.weighted_cascade == "observed" and o.model != "ic":
        raise ValueError("weighted_cascade='observed' estimates independent-cascade reshare "
                         "probabilities; the linear threshold model takes weights, not "
                         "probabilities: use model='ic'")
    if o.view_rates is not None and o.model != "ic":
        raise ValueError("view rates (the first hop) apply to the independent cascade model only")
    if o.view_rates is not None and given and given[0] != "p":
        raise ValueError("view rates (first hop) combine with a uniform reshare probability p, "
                         f"not with {given[0]}")


class SpreadServiceOptions(DiffusionOptions):
    """The options of :func:`spread` that ``POST /v1/spread`` also takes."""

    view_rates: FirstHop = None
    runs: int = Field(10_000, ge=1, description="simulations (default 10000)")
    skip_unknown: SkipUnknown = False


class SpreadOptions(SpreadServiceOptions):
    """Options of :func:`spread` (and of ``kolgraph spread``)."""

    edge_probs: EdgeProbs = None
    threads: Threads = None

    @model_validator(mode="before")
    @classmethod
    def _case(cls, values):
        return _names(values)

    @model_validator(mode="after")
    def _diffusion(self):
        _one_diffusion(self)
        return self


class SeedsServiceOptions(DiffusionOptions):
    """The options of :func:`seeds` that ``POST /v1/seeds`` also takes."""

    k: int = Field(10, description="number of seeds (default 10); with costs and a budget, "
                   "the most seeds the budget buys", json_schema_extra=cli("-k"))
    epsilon: float = Field(0.5, gt=0.0, lt=1.0, description="approximation parameter "
                           "(default 0.5): the seeds are within 1 - 1/e - epsilon of the best")
    candidates: Any = Field(
        None, description="None or 'creators' (the creator table; every account without one), "
        "'accounts', or a list of ids", json_schema_extra=cli(hidden=True))
    method: Literal["imm", "opim-c"] = Field(
        "imm", description="IMM (default) or OPIM-C (same guarantee, usually fewer RR sets)")
    evaluate: int = Field(0, ge=0, description="also estimate the seeds' spread with this many "
                          "Monte Carlo simulations", json_schema_extra=cli(metavar="RUNS"))


class SeedsOptions(SeedsServiceOptions):
    """Options of :func:`seeds` (and of ``kolgraph seeds``)."""

    view_rates: FirstHop = None
    edge_probs: EdgeProbs = None
    threads: Threads = None
    ell: float = Field(1.0, gt=0.0, description="failure probability at most 1/n^ell "
                       "(default 1)")
    costs: Any = Field(
        None, description="budgeted variant: a cost per candidate, the name of a creator-table "
        "column (e.g. 'price'), a dict by id or an array aligned with the candidates",
        json_schema_extra=cli(hidden=True))
    budget: float | None = Field(None, ge=0.0, allow_inf_nan=False,
                                 description="total budget (with costs)")

    @model_validator(mode="before")
    @classmethod
    def _case(cls, values):
        return _names(values)

    @model_validator(mode="after")
    def _consistent(self):
        _one_diffusion(self)
        budgeted = self.costs is not None or self.budget is not None
        if budgeted and self.method == "opim-c":
            raise ValueError("the budgeted variant runs with method='imm'")
        if budgeted and (self.costs is None or self.budget is None):
            raise ValueError("the budgeted variant needs both costs and budget")
        if not budgeted and self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        return self
