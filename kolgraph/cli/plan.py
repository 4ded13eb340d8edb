"""``kolgraph plan``: the best creator mix for a budget."""

from __future__ import annotations

from kolgraph.cli._flags import add_command, add_options, options_from_args
from kolgraph.cli._output import console, emit, print_warnings, print_written, table
from kolgraph.plan.options import PlanOptions


def register_plan(sub) -> None:
    sp = add_command(sub, "plan", cmd_plan, "the best creator mix for a budget (objective, tier quotas)",
                     "Choose creators within a budget to maximise unique, expected, effective "
                     "(R_k), target-audience or real (bot-free) reach, or unique engaged people "
                     "or loyal fans (stores with interactions), with tier quotas and other "
                     "constraints; lazy greedy with a stated guarantee, Shapley shares, the naive "
                     "plan and the Sainsbury estimate beside it.")
    sp.add_argument("store")
    sp.add_argument("--candidates", required=True, metavar="CSV",
                    help="prices: CSV/Parquet with id,price[,posts,view_rate,tier]; "
                         "cost = price x posts")
    add_options(sp, PlanOptions, exclude=("tier_quota",))
    # repeatable, one quota each: options_from_args reads it back as the field tier_quota
    sp.add_argument("--tier-quota", action="append", metavar="Q",
                    help="e.g. micro:>=5, mega:<=1, mid:==2, nano:>=20%% (share of the budget); "
                         "repeat for several")
    sp.add_argument("--curve", metavar="PNG", help="write the reach/spend curve plot")


def cmd_plan(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    p = g.plan(args.candidates, **options_from_args(args, PlanOptions))  # --tier-quota too
    d = p.to_dict()
    if args.curve:
        from kolgraph.plan import plot_curve

        d["plots"] = {"curve": str(plot_curve(p, args.curve))}
    emit(args, d, lambda q: _print_plan(q, console()))
    return 0


def _print_plan(d: dict, console) -> None:
    t = table(f"plan: {d['objective']} for a budget of {d['budget']:,.0f} "
              "(in the order the greedy added them)",
              ("id", "tier", "cost", "audience", "gain", "cumul.", "shapley", "share"))
    shap = {str(s["id"]): s for s in d["shapley"]["values"]}
    for c, pt in zip(d["chosen"], d["curve"][1:], strict=True):
        s = shap[str(c["id"])]
        t.add_row(str(c["id"]), c["tier"], f"{c['cost']:,.0f}", f"{c['audience']:,}",
                  f"{c['marginal_gain']:,.1f}", f"{pt['value']:,.1f}", f"{s['value']:,.1f}",
                  f"{s['share']:.1%}")
    console.print(t)
    gu, nv = d["guarantee"], d["naive"]
    console.print(f"  chosen              {len(d['chosen']):>14,}   cost {d['cost']:,.2f}")
    console.print(f"  value               {d['value']:>14,.1f}   ({d['objective']})")
    console.print(f"  naive plan          {nv['value']:>14,.1f}   ({len(nv['chosen'])} creators by "
                  "followers per unit price)")
    console.print(f"  Sainsbury estimate  {d['sainsbury']:>14,.1f}   (independence, N = "
                  f"{d['population']:,})")
    if gu["upper_bound"] is not None:
        console.print(f"  optimum at most     {gu['upper_bound']:>14,.1f}   (certified "
                      f"{gu['certified_ratio']:.1%} of the optimum)")
    bound = f"{gu['bound']:.3f} of the optimum" if gu["applies"] else "no proven bound"
    console.print(f"  guarantee: {bound}: {gu['why']}", highlight=False)
    print_warnings(console, d["warnings"])
    print_written(console, d.get("plots", {}))
