"""``kolgraph reach``, ``overlap``, ``similar`` and ``complementary``: audiences of creators."""

from __future__ import annotations

from kolgraph.cli import _dask
from kolgraph.cli._flags import add_command
from kolgraph.cli._output import (
    console,
    emit,
    error,
    json_and_csv,
    print_reach,
    print_warnings,
    print_written,
    table,
    warn,
    write_csv,
)

_AMONG_HELP = "candidates: the creator table (default; every account if there is none) or all accounts"


def _reach_args(sp, optional_store: bool = False) -> None:
    """The creators and the account filters of reach, overlap and complementary."""
    sp.add_argument("store", nargs="?" if optional_store else None,
                    help="graph store (omitted with --engine dask)" if optional_store else None)
    sp.add_argument("ids", nargs="+", metavar="ID", help="creator ids, in booking order")
    sp.add_argument("--where", help="account filter, e.g. \"country == 'NL' and language == 'nl'\"")
    sp.add_argument("--exclude-flagged", action="store_true",
                    help="drop followers flagged as bots (account column 'flagged')")
    sp.add_argument("--skip-unknown", action="store_true", help="skip unknown ids with a warning")


def _reach_options(args) -> dict:
    def one_or_many(values):
        if not values:
            return None
        return values[0] if len(values) == 1 else values
    return {"view_rates": one_or_many(getattr(args, "view_rate", None)),
            "posts": one_or_many(getattr(args, "posts", None)),
            "where": args.where, "exclude_flagged": args.exclude_flagged,
            "skip_unknown": args.skip_unknown}


# --- reach ----------------------------------------------------------------------------------
def register_reach(sub) -> None:
    sp = add_command(sub, "reach", cmd_reach,
                     "deduplicated reach, frequency and expected reach of creators",
                     "Unique and gross reach, exclusive and incremental reach per creator, "
                     "frequency R_k, expected reach with view rates and posts, and the "
                     "Sainsbury estimate.")
    _reach_args(sp, optional_store=True)
    sp.add_argument("--mode", choices=("exact", "sketch"), default="exact",
                    help="exact counts (default) or estimates with intervals from sketches")
    sp.add_argument("--confidence", type=float, default=0.95,
                    help="confidence of the sketch intervals (default 0.95)")
    sp.add_argument("--min-count", type=int, default=0,
                    help="sketch mode: hide regions estimated below this many followers")
    _dask.add_engine_flags(sp)
    sp.add_argument("--view-rate", type=float, nargs="+", metavar="R",
                    help="probability a follower sees one post: one value or one per creator "
                         "(default avg_views/followers, else 1)")
    sp.add_argument("--posts", type=int, nargs="+", metavar="N", help="posts booked: one or one per creator (default 1)")
    sp.add_argument("--csv", action="store_true", help="print the per-creator table as CSV")
    sp.add_argument("--curve", metavar="PNG", help="write the reach curve plot")


def cmd_reach(args) -> int:
    import kolgraph

    if json_and_csv(args):
        return 2
    if args.engine == "dask":
        return _reach_dask(args)
    if _dask.local_usage_error(
            args, "give the store: kolgraph reach STORE ID... (or --engine dask --edges ...)"):
        return 2
    g = kolgraph.open(args.store)
    options = _reach_options(args)
    if args.mode == "sketch":
        options.update(mode="sketch", confidence=args.confidence, min_count=args.min_count)
    report = g.reach(args.ids, **options)
    d = report.to_dict()
    if args.curve:
        from kolgraph.plots import reach_curve

        d["plots"] = {"curve": str(reach_curve(report, args.curve))}
    return _print_reach_report(args, report, d, warn_csv=True)


def _reach_dask(args) -> int:
    from kolgraph import dask_engine

    if not args.edges:
        error("--engine dask needs --edges 'DIR/*.parquet'")
        return 2
    ids = ([args.store] if args.store is not None else []) + list(args.ids)
    rates = _reach_options(args)
    with _dask.connect(args) as client:
        if args.mode == "sketch":
            report = dask_engine.sketch_reach(client, args.edges, ids, confidence=args.confidence,
                                              min_count=args.min_count,
                                              view_rates=rates["view_rates"], posts=rates["posts"])
        else:
            report = dask_engine.exact_reach(client, args.edges, ids,
                                             view_rates=rates["view_rates"], posts=rates["posts"],
                                             skip_unknown=args.skip_unknown)
    return _print_reach_report(args, report, report.to_dict(), warn_csv=False)


def _print_reach_report(args, report, d: dict, warn_csv: bool) -> int:
    if args.csv:
        write_csv(report.to_frame())
        for w in d["warnings"] if warn_csv else ():
            warn(w)
        return 0
    emit(args, d, lambda p: print_reach(p, console()))
    return 0


# --- overlap ----------------------------------------------------------------------------------
def register_overlap(sub) -> None:
    sp = add_command(sub, "overlap", cmd_overlap, "pairwise audience overlap and Venn/UpSet regions")
    _reach_args(sp)
    sp.add_argument("--plot", metavar="PNG", help="write an annotated overlap heatmap")
    sp.add_argument("--by", default="jaccard",
                    choices=("jaccard", "overlap_coefficient", "directional", "lift", "counts"),
                    help="heatmap normalisation (default jaccard)")
    sp.add_argument("--upset", metavar="PNG", help="write an UpSet plot of the largest regions")


def cmd_overlap(args) -> int:
    import kolgraph
    from kolgraph import plots

    g = kolgraph.open(args.store)
    report = g.reach(args.ids, **_reach_options(args))
    d = report.to_dict()
    payload = {**d["overlap"], "unique_reach": d["unique_reach"], "regions": d["regions"],
               "warnings": d["warnings"], "plots": {}}
    if args.plot:
        payload["plots"]["heatmap"] = str(plots.overlap_heatmap(report, args.plot, by=args.by))
    if args.upset:
        payload["plots"]["upset"] = str(plots.upset(report, args.upset))

    def human(p):
        c = console()
        _print_matrix(c, "common followers |A∩B|", p["ids"], p["counts"], lambda v: f"{v:,}")
        _print_matrix(c, "Jaccard |A∩B|/|A∪B|", p["ids"], p["jaccard"], lambda v: f"{v:.3f}")
        _print_matrix(c, "directional |A∩B|/|A| (row A)", p["ids"], p["directional"],
                      lambda v: f"{v:.3f}")
        print_warnings(c, p["warnings"])
        print_written(c, p["plots"])
    emit(args, payload, human)
    return 0


def _print_matrix(console, title: str, ids: list, mat: list, fmt) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("")
    for c in ids:
        table.add_column(str(c), justify="right")
    for c, row in zip(ids, mat, strict=True):
        table.add_row(str(c), *[fmt(v) for v in row])
    console.print(table)


# --- similar and complementary ---------------------------------------------------------------
def register_similar(sub) -> None:
    sp = add_command(sub, "similar", cmd_similar, "accounts whose audiences overlap most with a creator")
    sp.add_argument("store")
    sp.add_argument("id", help="creator id")
    sp.add_argument("-k", type=int, default=10, help="how many (default 10)")
    sp.add_argument("--by", default="jaccard", choices=("jaccard", "overlap"),
                    help="rank by Jaccard or overlap coefficient (default jaccard)")
    sp.add_argument("--among", default="creators", choices=("creators", "accounts"), help=_AMONG_HELP)


def cmd_similar(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    rows = g.similar(args.id, k=args.k, by=args.by, among=args.among)
    payload = {"id": args.id, "by": args.by, "among": args.among, "similar": rows}

    def human(p):
        t = table(f"accounts most similar to {p['id']} (by {p['by']})",
                       ("id", "tier", "audience", "common", "jaccard", "overlap coef."))
        for r in p["similar"]:
            t.add_row(str(r["id"]), r["tier"], f"{r['audience']:,}", f"{r['common']:,}",
                      f"{r['jaccard']:.3f}", f"{r['overlap_coefficient']:.3f}")
        console().print(t)
    emit(args, payload, human)
    return 0


def register_complementary(sub) -> None:
    sp = add_command(sub, "complementary", cmd_complementary,
                     "accounts adding the most new followers to a set")
    _reach_args(sp)
    sp.add_argument("-k", type=int, default=10, help="how many (default 10)")
    sp.add_argument("--among", default="creators", choices=("creators", "accounts"), help=_AMONG_HELP)


def cmd_complementary(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    rows = g.complementary(args.ids, k=args.k, among=args.among, where=args.where,
                           exclude_flagged=args.exclude_flagged, skip_unknown=args.skip_unknown)
    payload = {"ids": args.ids, "among": args.among, "complementary": rows}

    def human(p):
        t = table("accounts adding the most new followers to the set (incremental reach)",
                       ("id", "tier", "audience", "incremental"))
        for r in p["complementary"]:
            t.add_row(str(r["id"]), r["tier"], f"{r['audience']:,}", f"{r['incremental']:,}")
        console().print(t)
    emit(args, payload, human)
    return 0

