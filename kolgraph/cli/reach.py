"""``kolgraph reach``, ``overlap``, ``similar`` and ``complementary``: audiences of creators."""

from __future__ import annotations

from kolgraph.cli import _dask
from kolgraph.cli._flags import add_command, add_options, options_from_args
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
from kolgraph.measures import MEASURE_NAMES
from kolgraph.reach import ComplementaryOptions, ReachOptions, SimilarOptions, SketchModeOptions


def _creators(sp, optional_store: bool = False) -> None:
    """The store and the creators of reach, overlap and complementary."""
    sp.add_argument("store", nargs="?" if optional_store else None,
                    help="graph store (omitted with --engine dask)" if optional_store else None)
    sp.add_argument("ids", nargs="+", metavar="ID", help="creator ids, in booking order")


# --- reach ----------------------------------------------------------------------------------
def register_reach(sub) -> None:
    sp = add_command(sub, "reach", cmd_reach,
                     "deduplicated reach, frequency and expected reach of creators",
                     "Unique and gross reach, exclusive and incremental reach per creator, "
                     "frequency R_k, expected reach with view rates and posts, and the "
                     "Sainsbury estimate.")
    _creators(sp, optional_store=True)
    add_options(sp, SketchModeOptions)
    _dask.add_engine_flags(sp)
    sp.add_argument("--csv", action="store_true", help="print the per-creator table as CSV")
    sp.add_argument("--raw", action="store_true", help="write text cells as they are (by default "
                    "cells starting with = + - @, tab or CR get a leading ' so spreadsheets do "
                    "not run them as formulas)")
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
    report = g.reach(args.ids, **options_from_args(args, SketchModeOptions))
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
    o = SketchModeOptions.check(options_from_args(args, SketchModeOptions))
    if o.where or o.exclude_flagged:
        error("--engine dask reads edges only: filters (--where, --exclude-flagged) need a store")
        return 2
    with _dask.connect(args) as client:
        if o.mode == "sketch":
            sketch = {n: getattr(o, n) for n in ("confidence", "min_count") if getattr(o, n) is not None}
            report = dask_engine.sketch_reach(client, args.edges, ids, view_rates=o.view_rates,
                                              posts=o.posts, **sketch)
        else:
            report = dask_engine.exact_reach(client, args.edges, ids, view_rates=o.view_rates,
                                             posts=o.posts, skip_unknown=o.skip_unknown)
    return _print_reach_report(args, report, report.to_dict(), warn_csv=False)


def _print_reach_report(args, report, d: dict, warn_csv: bool) -> int:
    if args.csv:
        write_csv(report.to_frame(), raw=args.raw)
        for w in d["warnings"] if warn_csv else ():
            warn(w)
        return 0
    emit(args, d, lambda p: print_reach(p, console()))
    return 0


# --- overlap ----------------------------------------------------------------------------------
_OVERLAP_EXCLUDES = ("view_rates", "posts", "mode")  # overlap counts followers, not exposures


def register_overlap(sub) -> None:
    sp = add_command(sub, "overlap", cmd_overlap, "pairwise audience overlap and Venn/UpSet regions")
    _creators(sp)
    add_options(sp, ReachOptions, exclude=_OVERLAP_EXCLUDES)
    sp.add_argument("--plot", metavar="PNG", help="write an annotated overlap heatmap")
    sp.add_argument("--by", default="jaccard", choices=MEASURE_NAMES,
                    help="heatmap normalisation (default jaccard)")
    sp.add_argument("--upset", metavar="PNG", help="write an UpSet plot of the largest regions")


def cmd_overlap(args) -> int:
    import kolgraph
    from kolgraph import plots

    g = kolgraph.open(args.store)
    report = g.reach(args.ids, **options_from_args(args, ReachOptions))
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
    add_options(sp, SimilarOptions)


def cmd_similar(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    rows = g.similar(args.id, **options_from_args(args, SimilarOptions))
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
    _creators(sp)
    add_options(sp, ComplementaryOptions)


def cmd_complementary(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    rows = g.complementary(args.ids, **options_from_args(args, ComplementaryOptions))
    payload = {"ids": args.ids, "among": args.among, "complementary": rows}

    def human(p):
        t = table("accounts adding the most new followers to the set (incremental reach)",
                       ("id", "tier", "audience", "incremental"))
        for r in p["complementary"]:
            t.add_row(str(r["id"]), r["tier"], f"{r['audience']:,}", f"{r['incremental']:,}")
        console().print(t)
    emit(args, payload, human)
    return 0

