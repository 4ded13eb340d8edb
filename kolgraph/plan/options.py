"""The planner's options, declared once: :class:`PlanOptions` (and the part the service takes).

Each option's type, bounds, default and description live here; :func:`kolgraph.plan.plan`
checks a call's options with ``PlanOptions.check``, ``kolgraph plan`` builds its flags from
the fields, and ``POST /v1/plan`` subclasses :class:`ServedPlanOptions`. What needs the graph
or the candidates (the objective's name, the tier quotas, ids among the candidates) is read
in :mod:`kolgraph.plan.constraints` and :mod:`kolgraph.plan.candidates`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from kolgraph.engagement import WindowOptions
from kolgraph.options import FilterOptions, cli

SHAPLEY_PERMUTATIONS = 1000
ENUMERATE_MAX = 40  # partial enumeration runs O(m^3) greedy completions
EXACT_MAX = 30  # free candidates up to which R_k is solved exactly (scipy.optimize.milp)


def _number_check(test: Callable[[float], bool], text: str) -> BeforeValidator:
    """Run before pydantic's own checks: a number failing ``test`` is refused with ``text``
    (``{value}`` is the number); anything else goes on to pydantic's checks and messages."""
    def check(value):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not test(float(value)):
            raise PydanticCustomError("out_of_range", text, {"value": value})
        return value
    return BeforeValidator(check)


def _as_list(value: Any) -> Any:
    """Ids as a list: one id (a string or a number) becomes a list of one; arrays, tuples,
    sets and other iterables become lists."""
    if isinstance(value, str | bytes | numbers.Integral):
        return [value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list) or not hasattr(value, "__iter__"):
        return value
    return list(value)


Budget = Annotated[float, Field(gt=0, allow_inf_nan=False, description="total spend allowed"),
                   _number_check(lambda x: math.isfinite(x) and x > 0,
                                 "must be a positive number, got {value}")]
Fraction = Annotated[float | None,
                     _number_check(lambda x: 0 <= x <= 1, "must be between 0 and 1, got {value}")]
Ids = Annotated[list[Any], BeforeValidator(_as_list)]
TierQuota = str | list[str] | dict[str, Any] | None


class ServedPlanOptions(FilterOptions, WindowOptions):
    """The options of :func:`~kolgraph.plan.plan` that ``POST /v1/plan`` takes too: the
    budget, the objective and the constraints (and the account filter, the audience and
    its interaction window)."""

    budget: Budget
    objective: str = Field(
        "unique", description="unique, expected, effective3 (any k: effective2, ...), target "
        "(needs --where), real (bot-flagged followers removed), engaged or loyal (unique "
        "engaged people or loyal fans in the window --since/--until, of --kinds); default unique")
    audience: Literal["followers", "engaged", "loyal"] = Field(
        "followers", description="whose people the objective counts: followers (default), or "
        "the accounts engaged with (loyal fans of) each creator in the window; objective "
        "engaged is unique with audience engaged")
    tier_quota: TierQuota = Field(
        None, description="e.g. micro:>=5, mega:<=1, mid:==2, nano:>=20% (share of the "
        "budget); a list of them, or {tier: {min, max, min_share, max_share}}",
        json_schema_extra=cli(metavar="Q"))
    must_include: Ids = Field(default_factory=list,
                              description="creators that must be in the plan",
                              json_schema_extra=cli("--include", metavar="ID"))
    must_exclude: Ids = Field(default_factory=list, description="creators that must not be",
                              json_schema_extra=cli("--exclude", metavar="ID"))
    max_creators: int | None = Field(None, ge=1, description="at most this many creators")
    max_overlap: Fraction = Field(
        None, ge=0, le=1, description="no two chosen creators share more than X of their audience "
        "(counted followers)", json_schema_extra=cli(metavar="X"))
    method: Literal["greedy", "enumerate"] = Field(
        "greedy", description="greedy (lazy greedy + best single, default) or enumerate "
        f"(partial enumeration, <= {ENUMERATE_MAX} candidates)")


class PlanOptions(ServedPlanOptions):
    """Every keyword option of :func:`~kolgraph.plan.plan` (and of ``kolgraph plan``):
    :class:`ServedPlanOptions` plus how overlap is measured, how Shapley values are
    computed and, library only, the solver's switches."""

    overlap_by: Literal["overlap_coefficient", "jaccard"] = Field(
        "overlap_coefficient", description="normalisation of --max-overlap (default "
        "overlap_coefficient)")
    shapley: Literal["exact", "montecarlo"] = Field(
        "exact", description="Shapley values: exact (default) or Monte Carlo with confidence "
        "intervals")
    permutations: int = Field(
        SHAPLEY_PERMUTATIONS, description="random orders for --shapley montecarlo (default "
        f"{SHAPLEY_PERMUTATIONS}, at least 2)")
    # library only
    k: int | None = Field(None, ge=1, le=100, description="the k of effective reach R_k when "
                          "the objective is 'effective' (default 3)",
                          json_schema_extra=cli(hidden=True))
    seed: int = Field(0, ge=0, description="random seed of the Monte Carlo Shapley values",
                      json_schema_extra=cli(hidden=True))
    lazy: bool = Field(True, description="False recomputes every gain at every step (plain "
                       "greedy: the same plan, slower)", json_schema_extra=cli(hidden=True))
    exact: bool = Field(True, description="effective reach R_k (k >= 2) only: solve exactly "
                        f"with scipy.optimize.milp when at most {EXACT_MAX} candidates are open (False: "
                        "the heuristic alone)", json_schema_extra=cli(hidden=True))

    @field_validator("permutations")
    @classmethod
    def _enough_permutations(cls, n: int, info: ValidationInfo) -> int:
        if info.data.get("shapley") == "montecarlo" and n < 2:
            raise PydanticCustomError("too_few", "Monte Carlo Shapley values need at least 2 "
                                      "permutations, got {n}", {"n": n})
        return n
