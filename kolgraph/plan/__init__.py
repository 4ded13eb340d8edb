"""Creator-mix planner: the best set of creators for a budget, with tier quotas.

The front-end of :mod:`kolgraph.kernels.plan`. Candidates come with a price per
post (cost = price x posts booked); the planner picks a set within the budget
that maximises one objective (definitions as in DESIGN.md and
:mod:`kolgraph.reach`):

- ``unique``: unique reach ``|∪ F(c)|``;
- ``expected``: expected reach ``Σ_u 1 − Π_{c∋u} (1 − r_c)^{n_c}`` (view rates, posts);
- ``effective<k>`` (``effective`` = ``effective3``): R_k, followers reached by at
  least k chosen creators;
- ``target``: unique reach among the accounts passing ``where``;
- ``real``: unique reach without the accounts flagged as bots (account column
  ``flagged``);
- ``engaged`` / ``loyal``: unique reach over the creators' engaged accounts (loyal fans) in
  an interaction window (:mod:`kolgraph.engagement`); ``audience`` carries those audiences
  to the other objectives but ``expected``.

``where`` filters the counted followers of any objective.

Method: lazy (CELF) greedy on marginal gain per unit of cost, started from the
must-include creators, compared with the best single-creator plan (method ``greedy``), or
greedy completions of every feasible 3-creator seed plus every plan of at most 2
creators (method ``enumerate``, partial enumeration). For a monotone submodular
objective (all but R_k; engaged and loyal reach are coverage too) under the budget alone
these carry the known guarantees ½(1 − 1/e) ≈ 0.316 and 1 − 1/e ≈ 0.632 of the optimum
(Khuller, Moss & Naor 1999; Leskovec et al. 2007 for the lazy evaluation; Sviridenko
2004 for submodular functions). Side constraints (tier quotas, a maximum number of
creators, a maximum pairwise overlap) void the proof, so the plan says when the bound
applies; it always reports a data-dependent upper bound on the optimum of any submodular
objective (the plan's value plus the best fractional knapsack of the remaining marginal
gains), valid under every constraint.

Constraints are kept, never silently dropped: an admissibility test reserves the
budget and the slots that the unmet tier minimums still need (the cheapest
eligible creators of each short tier), so the greedy never spends what a quota
needs; a request that cannot be met raises :class:`InputError` naming the
constraint.
"""

# Modules: ``options`` (PlanOptions, declared once), ``candidates`` (the candidate table),
# ``constraints`` (objective, tier quotas, feasibility), ``instance`` (the solver's arrays and
# partial plans), ``greedy`` (greedy, enumeration, upper bound), ``effective`` (R_k: local
# search, exact), ``report`` (Plan, guarantee, Shapley, naive plan), ``core`` (plan()).
from kolgraph.plan.candidates import read_candidates
from kolgraph.plan.constraints import parse_objective, parse_tier_quota
from kolgraph.plan.core import plan
from kolgraph.plan.effective import EXACT_REGIONS, EXACT_SECONDS, LOCAL_SEARCH_WORK
from kolgraph.plan.instance import EPS, PARALLEL_GAINS
from kolgraph.plan.options import (
    ENUMERATE_MAX,
    EXACT_MAX,
    SHAPLEY_PERMUTATIONS,
    PlanOptions,
    ServedPlanOptions,
)
from kolgraph.plan.report import ENUMERATE_BOUND, GREEDY_BOUND, REPLAY_PARTS, THREADED_WORK, Plan
from kolgraph.plots import plot_curve

__all__ = ["ENUMERATE_BOUND", "ENUMERATE_MAX", "EPS", "EXACT_MAX", "EXACT_REGIONS",
           "EXACT_SECONDS", "GREEDY_BOUND", "LOCAL_SEARCH_WORK", "PARALLEL_GAINS", "Plan",
           "PlanOptions", "REPLAY_PARTS", "SHAPLEY_PERMUTATIONS", "ServedPlanOptions",
           "THREADED_WORK", "parse_objective", "parse_tier_quota", "plan", "plot_curve",
           "read_candidates"]
