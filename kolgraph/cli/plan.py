"""``kolgraph plan``: the best creator mix for a budget."""

from __future__ import annotations

from kolgraph.cli._flags import add_command
from kolgraph.cli._output import console, emit, print_warnings, print_written, table


def register_plan(sub) -> None:
    sp = add_command(sub, "plan", cmd_plan, "the best creator mix for a budget (objective, tier quotas)",
                     "Choose creators within a budget to maximise unique, expected, effective "
                     "(R_k), target-audience or real (bot-free) reach, with tier quotas and other "
                     "constraints; lazy greedy with a stated guarantee, Shapley shares, the naive "
                     "plan and the Sainsbury estimate beside it.")
    sp.add_argument("store")
    sp.add_argument("--candidates", required=True, metavar="CSV",
                    help="prices: CSV/Parquet with id,price[,posts,view_rate,tier]; "
                         "cost = price x posts")
    sp.add_argument("--budget", type=float, required=True, help="total spend allowed")
    sp.add_argument("--objective", default="unique",
                    help="unique, expected, effective3 (any k: effective2, ...), target (needs "
                         "--where) or real (bot-flagged followers removed); default unique")
    sp.add_argument("--tier-quota", action="append", metavar="Q",
                    help="e.g. micro:>=5, mega:<=1, mid:==2, nano:>=20%% (share of the budget); "
                         "repeat for several")
    sp.add_argument("--include", nargs="+", metavar="ID", help="creators that must be in the plan")
    sp.add_argument("--exclude", nargs="+", metavar="ID", help="creators that must not be")
    sp.add_argument("--max-creators", type=int, help="at most this many creators")
    sp.add_argument("--max-overlap", type=float, metavar="X",
                    help="no two chosen creators share more than X of their audience")
    sp.add_argument("--overlap-by", default="overlap_coefficient",
                    choices=("overlap_coefficient", "jaccard"),
                    help="normalisation of --max-overlap (default overlap_coefficient)")
    sp.add_argument("--where", help="account filter of the counted followers, e.g. "
                                    "\"country == 'NL'\"")
    sp.add_argument("--exclude-flagged", action="store_true",
                    help="drop followers flagged as bots (account column 'flagged')")
    sp.add_argument("--method", default="greedy", choices=("greedy", "enumerate"),
                    help="greedy (lazy greedy + best single, default) or enumerate (partial "
                         "enumeration, <= 40 candidates)")
    sp.add_argument("--shapley", default="exact", choices=("exact", "montecarlo"),
                    help="Shapley values: exact (default) or Monte Carlo with confidence intervals")
    sp.add_argument("--permutations", type=int, default=1000,
                    help="random orders for --shapley montecarlo (default 1000)")
    sp.add_argument("--curve", metavar="PNG", help="write the reach/spend curve plot")


def cmd_plan(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    p = g.plan(args.candidates, budget=args.budget, objective=args.objective,
               tier_quota=args.tier_quota, must_include=args.include or (),
               must_exclude=args.exclude or (), max_creators=args.max_creators,
               max_overlap=args.max_overlap, overlap_by=args.overlap_by, where=args.where,
               exclude_flagged=args.exclude_flagged, method=args.method, shapley=args.shapley,
               permutations=args.permutations)
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
