"""``kolgraph spread`` and ``kolgraph seeds``: campaigns spreading through reshares."""

from __future__ import annotations

from pathlib import Path

from kolgraph.cli._flags import add_command, add_options, options_from_args
from kolgraph.cli._output import console, emit, print_warnings, print_written, progress
from kolgraph.propagation.options import SeedsOptions, SpreadOptions

EXCLUSIVE = (("p", "weighted_cascade"), ("view_rates",))  # one of each group


def _propagation_args(sp, model) -> None:
    """The store and ``model``'s flags: ``--p`` or ``--weighted-cascade``, and ``--view-rate``
    or ``--view-rates-from-table`` (first hop at the creator table's view rates)."""
    sp.add_argument("store")
    fields = set(model.model_fields)
    add_options(sp, model, exclude=fields - {"model"})
    groups = [sp.add_mutually_exclusive_group() for _ in EXCLUSIVE]
    for group, names in zip(groups, EXCLUSIVE, strict=True):
        add_options(group, model, exclude=fields - set(names))
    groups[-1].add_argument("--view-rates-from-table", action="store_true",
                            help="IC first hop at avg_views/followers from the creator table")
    add_options(sp, model, exclude={"model", *(n for names in EXCLUSIVE for n in names)})


def _propagation_options(args, model) -> dict:
    """The options the user set, for ``g.spread``/``g.seeds``, and a progress bar."""
    options = options_from_args(args, model)
    if args.view_rates_from_table:
        options["view_rates"] = True
    return {**options, "progress": progress(args)}


# --- spread -----------------------------------------------------------------------------------
def register_spread(sub) -> None:
    sp = add_command(sub, "spread", cmd_spread,
                     "expected spread of seed creators through reshares (Monte Carlo)",
                     "Expected number of accounts a campaign reaches through reshares "
                     "(independent cascade or linear threshold; information flows from followee "
                     "to follower), by Monte Carlo with a 95% confidence interval, the spread "
                     "distribution and each seed's incremental spread. Ctrl-C prints the "
                     "simulations finished so far.")
    _propagation_args(sp, SpreadOptions)
    sp.add_argument("--seeds", nargs="+", required=True, metavar="ID", help="seed account ids, in order")
    sp.add_argument("--plot", metavar="PNG", help="write a histogram of the spread distribution")


def cmd_spread(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    result = g.spread(args.seeds, **_propagation_options(args, SpreadOptions))
    d = result.to_dict()
    if args.plot:
        from kolgraph.propagation import spread_plot

        d["plots"] = {"histogram": str(spread_plot(result, args.plot))}
    emit(args, d, lambda p: _print_spread(p, console()))
    return 130 if result.interrupted else 0


def _print_spread(p: dict, c) -> None:
    state = " (interrupted)" if p["interrupted"] else ""
    c.print(f"[bold]expected spread[/bold] {p['mean']:,.1f}  95% CI [{p['ci_low']:,.1f}, "
            f"{p['ci_high']:,.1f}]  over {p['runs']:,} simulations{state} "
            f"({p['model'].upper()} {p['params']}, seed {p['seed']}, {p['threads']} threads, "
            f"{p['seconds']:.2f} s)", highlight=False)
    q = p["quantiles"]
    c.print(f"  distribution: min {p['min']:,}  p5 {q['5']:,.0f}  median {q['50']:,.0f}  "
            f"p95 {q['95']:,.0f}  max {p['max']:,}")
    for row in p["incremental"]:
        c.print(f"  {str(row['id']):<20} adds {row['mean']:>12,.1f}  "
                f"[{row['ci_low']:,.1f}, {row['ci_high']:,.1f}]")
    print_warnings(c, p["warnings"])
    print_written(c, p.get("plots", {}))


# --- seeds ------------------------------------------------------------------------------------
def register_seeds(sub) -> None:
    sp = add_command(sub, "seeds", cmd_seeds, "seed creators maximising expected spread (IMM)",
                     "Choose k seeds maximising expected spread with IMM (Tang, Shi, Xiao 2015): "
                     "a (1-1/e-epsilon) approximation with probability 1-1/n, from "
                     "reverse-reachable sets.")
    _propagation_args(sp, SeedsOptions)
    sp.add_argument("--candidates", metavar="FILE",
                    help="candidate ids: one per line, or a CSV/Parquet with an 'id' column")
    sp.add_argument("--among", default="creators", choices=("creators", "accounts"),
                    help="candidates without --candidates: the creator table (default) or all accounts")
    sp.add_argument("--costs", metavar="price|FILE",
                    help="budgeted variant: a creator-table column (e.g. price) or a CSV/Parquet "
                         "with id,cost")


def cmd_seeds(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    candidates = _read_id_file(args.candidates) if args.candidates else args.among
    costs = args.costs
    if costs is not None and Path(costs).suffix in (".csv", ".parquet"):
        costs = _read_costs(costs)
    options = _propagation_options(args, SeedsOptions)
    options.pop("k", None)
    result = g.seeds(args.k, candidates=candidates, costs=costs, **options)
    emit(args, result.to_dict(), lambda p: _print_seeds(p, console()))
    return 130 if result.interrupted else 0


def _print_seeds(p: dict, c) -> None:
    c.print(f"[bold]{len(p['seeds'])} seeds[/bold] ({p['method']}, {p['approximation']}; {p['rr_sets']:,} RR "
            f"sets, {p['candidates']:,} candidates, {p['seconds']:.2f} s): estimated spread "
            f"{p['spread']:,.1f}", highlight=False)
    for row in p["incremental"]:
        c.print(f"  {str(row['id']):<20} adds {row['spread']:>12,.1f}")
    if "evaluation" in p:
        e = p["evaluation"]
        c.print(f"  Monte Carlo check: {e['mean']:,.1f} [{e['ci_low']:,.1f}, {e['ci_high']:,.1f}] "
                f"over {e['runs']:,} simulations")
    print_warnings(c, p["warnings"])


def _read_id_file(path: str) -> list:
    """Ids from a text file (one per line, '#' comments) or a CSV/Parquet table's ``id`` column."""
    from kolgraph.exceptions import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    if p.suffix in (".csv", ".parquet"):
        from kolgraph.ingest import read_table_file

        table = read_table_file(p, "candidates")
        if "id" not in table.column_names:
            raise InputError(f"{path}: no 'id' column (columns: {', '.join(table.column_names)})")
        return table.column("id").to_pylist()
    ids = [ln.split("#", 1)[0].strip() for ln in p.read_text().splitlines()]
    return [x for x in ids if x]


def _read_costs(path: str) -> dict:
    """Cost per id from a CSV/Parquet table with columns ``id`` and ``cost``."""
    from kolgraph.exceptions import InputError
    from kolgraph.ingest import read_table_file

    table = read_table_file(path, "costs")
    missing = {"id", "cost"} - set(table.column_names)
    if missing:
        raise InputError(f"{path}: needs columns id and cost (missing {', '.join(sorted(missing))})")
    return dict(zip(table.column("id").to_pylist(), table.column("cost").to_pylist(), strict=True))
