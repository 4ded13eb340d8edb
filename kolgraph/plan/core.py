"""The planner's entry point :func:`plan`: check the request, build the instance, solve, report.

Each step is a helper of its own module (:mod:`~kolgraph.plan.options`,
:mod:`~kolgraph.plan.candidates`, :mod:`~kolgraph.plan.constraints`,
:mod:`~kolgraph.plan.instance`, :mod:`~kolgraph.plan.greedy`,
:mod:`~kolgraph.plan.effective`, :mod:`~kolgraph.plan.report`); this module says in
which order they run.
"""

from __future__ import annotations

import time

import numpy as np

from kolgraph._parallel import Job
from kolgraph.engagement import audience_filters, audiences
from kolgraph.exceptions import InputError
from kolgraph.filters import account_filter
from kolgraph.graph import graph_method
from kolgraph.kernels import plan as _k
from kolgraph.plan.candidates import _fill_view_rates, read_candidates
from kolgraph.plan.constraints import (
    _admit_included,
    _audience,
    _check_feasible,
    _check_method,
    _check_objective,
    _must,
    _quota_limits,
    _unmet,
    parse_objective,
    parse_tier_quota,
)
from kolgraph.plan.effective import _effective
from kolgraph.plan.greedy import _best_single, _enumerate, _greedy
from kolgraph.plan.instance import EPS, _complete, _instance, _Problem, _State, _value
from kolgraph.plan.options import PlanOptions
from kolgraph.plan.report import Plan, _naive, _report, _threaded


@graph_method
def plan(g, candidates, budget: float | None = None, objective: str | None = None,
         **options) -> Plan:
    """The best creator mix for a budget.

    Parameters
    ----------
    g : FollowerGraph
    candidates : prices of the candidates: a CSV/Parquet path or a table (pandas or
        pyarrow) with columns ``id, price`` and optionally ``posts`` (default 1),
        ``view_rate`` (default avg_views/followers, else 1) and ``tier`` (default from
        the follower count); a dict ``{id: price}``;
        or a list of ids priced from the creator table's ``price`` column.
        The cost of a candidate is ``price x posts``.
    budget : total spend allowed (required).
    objective : ``unique`` (default), ``expected``, ``effective3`` (``effective<k>``),
        ``target`` (needs ``where``), ``real`` (followers flagged as bots removed),
        ``engaged`` or ``loyal`` (unique engaged people or loyal fans in the interaction
        window; the store needs interactions).
    **options : the other fields of :class:`PlanOptions`, checked once:
        ``tier_quota`` (e.g. ``["micro:>=5", "mega:<=1", "nano:>=20%"]``, counts or shares
        of the budget, or ``{"micro": {"min": 5, "max_share": 0.5}}``), ``must_include``
        and ``must_exclude`` (candidate ids that must / must not be in the plan),
        ``max_creators``, ``max_overlap`` (no two chosen creators share more than this
        fraction of audience, by ``overlap_by``: ``overlap_coefficient``
        |A∩B|/min(|A|,|B|), or ``jaccard``, measured on the counted followers), ``where``
        and ``exclude_flagged`` (account filter of the counted followers, see
        :func:`kolgraph.reach.account_filter`), ``method`` (``greedy``: lazy greedy + best
        single creator, ½(1−1/e); ``enumerate``: partial enumeration, 1−1/e, at most 40
        candidates), ``shapley`` (``exact``, follower by follower, or ``montecarlo``:
        ``permutations`` random orders from ``seed``, 95% confidence intervals), ``k``
        (of a bare ``effective``), ``lazy`` (False recomputes every gain at every step:
        the plain greedy, the same plan, slower), ``exact`` (effective reach R_k, k >= 2,
        only: solve exactly with ``scipy.optimize.milp`` when at most 30 candidates are
        open; False: the heuristic alone), ``audience`` (``followers``, ``engaged`` or
        ``loyal``: whose people any objective but ``expected`` counts), and with engaged
        or loyal people the window of :class:`kolgraph.engagement.WindowOptions`:
        ``since``, ``until``, ``kinds``, ``loyal_k``, ``loyal_days``, ``loyal_by``.

    Returns
    -------
    Plan

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4, 5], [10, 10, 10, 11, 11, 12])
    >>> p = plan(g, {10: 300.0, 11: 100.0, 12: 100.0}, budget=250)
    >>> p.ids, p.cost, p.value
    ([11, 12], 200.0, 3.0)
    """
    t_start = time.perf_counter()
    given = {name: v for name, v in (("budget", budget), ("objective", objective))
             if v is not None}
    prob = _prepare(g, candidates, PlanOptions.check({**given, **options}))
    t_prep = time.perf_counter() - t_start

    # the naive plan needs nothing from the solver: on a second thread meanwhile
    naive_job = Job(_naive, (prob.inst, prob.cands), _threaded(int(prob.inst.degree.sum())))
    t0 = time.perf_counter()
    final, chosen_by, effective = _solve(prob)
    t_solve = time.perf_counter() - t0
    return _report(prob, final, chosen_by, effective, naive_job,
                   {"prepare": t_prep, "solve": t_solve}, t_start)


def _prepare(g, candidates, o: PlanOptions) -> _Problem:
    """Check what the options alone cannot (the objective's data, the candidates, the ids,
    the quotas) and build the solver's instance; an impossible request raises
    :class:`InputError` naming the constraint."""
    kind, k = parse_objective(o.objective, o.k)
    objective = o.objective.strip().lower()
    audience = _audience(g, objective, o)
    exclude_flagged = _check_objective(g, objective, o.where) or o.exclude_flagged
    cands = read_candidates(g, candidates)
    _check_method(o.method, len(cands.ids))
    include, exclude, excluded = _must(g, cands, o.must_include, o.must_exclude, o.budget)
    if kind == _k.EXPECTED:  # elsewhere view rates are only reported, for the chosen
        _fill_view_rates(g, cands, np.arange(len(cands.ids)))
    mask, filters, warnings = account_filter(g, o.where, exclude_flagged=exclude_flagged)
    population = int(mask.sum()) if mask is not None else int(g.n_accounts)
    quotas = parse_tier_quota(o.tier_quota)
    rows = None
    if audience != "followers":
        indptr, indices, w = audiences(g, cands.idx, audience, o)
        rows = (indptr, indices)
        warnings += w["warnings"]
        filters.update(audience_filters(audience, o, w))
    inst = _instance(g, cands, mask, kind, k, o, excluded, _quota_limits(quotas, o.budget), rows)
    _check_feasible(inst, cands, quotas)
    return _Problem(inst, cands, o, objective, quotas, include, exclude, population, filters,
                    warnings, audience, mask)


def _solve(prob: _Problem) -> tuple[_State, str, dict | None]:
    """The plan, what chose it, and (effective reach R_k, k >= 2) the search's report."""
    inst, include, o = prob.inst, prob.include, prob.options
    base = _State(inst)
    for c in include:
        _admit_included(inst, base, c, prob.cands)
    effective = None
    if inst.kind == _k.EFFECTIVE and inst.k > 1:
        final, chosen_by, effective = _effective(inst, base, include, o.lazy, o.exact)
    elif o.method == "enumerate":
        final, chosen_by = _enumerate(inst, base, o.lazy), "enumeration"
    else:
        single, single_value = _best_single(inst, base)
        final, chosen_by = _greedy(inst, base, lazy=o.lazy), "greedy"
        if single >= 0 and (not _complete(inst, final)
                            or single_value > _value(inst, final) + EPS):
            final, chosen_by = _State(inst), "best single creator"
            for c in include + [single]:
                final.add(c)
    if not _complete(inst, final):
        raise InputError(_unmet(inst, final, prob.quotas))
    return final, chosen_by, effective
