"""The ``kolgraph`` command line.

Every subcommand prints a readable summary by default and JSON with
``--json``. Errors print one line (``error: ...``) and exit with a code that
says what went wrong; ``--debug`` shows the traceback instead.

Exit codes: 0 ok, 1 unexpected failure, 2 bad command line, 3 bad input data,
4 store missing or corrupted, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kolgraph import __version__
from kolgraph.exceptions import KolgraphError

DEMO_STORE = "demo.kg"
DEMO_SIZE = {"accounts": 300_000, "creators": 2_000, "edges": 3_000_000}


# --- output helpers -------------------------------------------------------------------
def _console():
    from rich.console import Console

    return Console(soft_wrap=True)  # piped output keeps whole lines


def _emit(args, payload: dict, human: Callable[[dict], None]) -> None:
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=2, default=_json_default)
        sys.stdout.write("\n")
    else:
        human(payload)


def _json_default(obj: Any):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _progress(args):
    from kolgraph.progress import for_terminal

    return for_terminal(quiet=getattr(args, "quiet", False) or getattr(args, "json", False))


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _print_report(report: dict, console) -> None:
    rows = [("input edges", report.get("input_edges")), ("kept edges", report.get("edges")),
            ("accounts", report.get("accounts")), ("self-follows dropped", report.get("self_follows")),
            ("duplicate edges dropped", report.get("duplicate_edges")),
            ("malformed rows skipped", report.get("bad_rows"))]
    for label, value in rows:
        if value is not None:
            console.print(f"  {label:<26}{value:>14,}")
    if report.get("peak_rss_bytes"):
        console.print(f"  {'peak memory':<26}{_mib(report['peak_rss_bytes']):>14}")
    for w in report.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _print_info(info: dict, console) -> None:
    from rich.table import Table

    console.print(f"[bold]{info.get('path', 'graph')}[/bold]: {info['accounts']:,} accounts, "
                  f"{info['edges']:,} follow edges, {info['creators']:,} creators "
                  f"({info['id_kind']} ids{', with follow times' if info['has_followed_at'] else ''}"
                  f"{', with account attributes' if info['has_account_attributes'] else ''})")
    for key, label in (("followers", "followers per account"), ("following", "follows per account")):
        s = info[key]
        console.print(f"  {label}: mean {s['mean']:.1f}, median {s['median']:.0f}, "
                      f"p99 {s['p99']:.0f}, max {s['max']:,}")
    tiers = info.get("tiers") or info.get("tiers_all_accounts")
    if tiers:
        what = "creators" if "tiers" in info else "accounts"
        console.print(f"  {what} by tier: " + ", ".join(f"{t} {c:,}" for t, c in tiers.items()))
    top = info.get("top_creators") or info.get("top_accounts") or []
    if top:
        table = Table(title="top creators by followers" if "top_creators" in info else "top accounts by followers")
        cols = [c for c in ("id", "name", "category", "tier", "followers") if c in top[0]]
        for c in cols:
            table.add_column(c, justify="right" if c == "followers" else "left")
        for row in top:
            table.add_row(*[f"{row[c]:,}" if c == "followers" else str(row[c]) for c in cols])
        console.print(table)


# --- subcommands ------------------------------------------------------------------------
def cmd_ingest(args) -> int:
    from kolgraph.ingest import ingest

    g = ingest(args.edges, args.out, creators=args.creators, accounts=args.accounts,
               overwrite=args.force, progress=_progress(args), follower_col=_col(args.follower_col),
               followee_col=_col(args.followee_col), time_col=_col(args.time_col),
               edge_times=args.edge_times, header=args.header, delimiter=_delim(args.delimiter),
               id_type=args.id_type, skip_bad=args.skip_bad)
    payload = {"store": str(args.out), **g.report}

    def human(p):
        c = _console()
        c.print(f"[green]wrote[/green] {args.out}")
        _print_report(p, c)
    _emit(args, payload, human)
    return 0


def cmd_export(args) -> int:
    import kolgraph
    from kolgraph.ingest import export_edges

    out = export_edges(kolgraph.open(args.store), args.out, progress=_progress(args))
    _emit(args, out, lambda p: _console().print(f"[green]wrote[/green] {p['edges']:,} edges to {p['path']}"))
    return 0


def cmd_info(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    info = {"path": str(args.store), **g.info(top=args.top)}
    _emit(args, info, lambda p: _print_info(p, _console()))
    return 0


def cmd_verify(args) -> int:
    import kolgraph

    t0 = time.perf_counter()
    out = {"store": str(args.store), **kolgraph.verify(args.store),
           "seconds": round(time.perf_counter() - t0, 3)}
    _emit(args, out, lambda p: _console().print(
        f"[green]ok[/green] {p['store']}: {p['files']} files, {_mib(p['bytes'])}, every sha256 matches"))
    return 0


def cmd_synth(args) -> int:
    from kolgraph.ingest import peak_rss_bytes
    from kolgraph.synth import synth_store

    t0 = time.perf_counter()
    synth_store(args.out, accounts=args.accounts, creators=args.creators, edges=args.edges,
                seed=args.seed, farms=args.farms, overwrite=args.force, progress=_progress(args))
    import kolgraph

    g = kolgraph.open(args.out)
    payload = {"store": str(args.out), "seconds": round(time.perf_counter() - t0, 3),
               "peak_rss_bytes": peak_rss_bytes(), **g.info(top=5)}

    def human(p):
        c = _console()
        c.print(f"[green]wrote[/green] {p['store']} in {p['seconds']:.1f} s "
                f"(peak memory {_mib(p['peak_rss_bytes'])})")
        _print_info(p, c)
    _emit(args, payload, human)
    return 0


def cmd_demo(args) -> int:
    import kolgraph
    from kolgraph.synth import synth_store

    out = Path(args.out)
    t0 = time.perf_counter()
    synth_store(out, seed=args.seed, overwrite=True, progress=_progress(args), **DEMO_SIZE)
    g = kolgraph.open(out)
    payload = {"store": str(out), "seconds": round(time.perf_counter() - t0, 3), **g.info(top=10)}
    top5 = [row["id"] for row in payload.get("top_creators", payload.get("top_accounts", []))[:5]]
    payload.update(_demo_reach(g, out, top5))

    def human(p):
        c = _console()
        c.print(f"[green]built the demo store[/green] {out} in {p['seconds']:.1f} s "
                f"(synthetic, seed {args.seed})")
        _print_info({"path": str(out), **p}, c)
        c.print("\n[bold]reach of the 5 largest creators[/bold]")
        _print_reach(p["reach"], c)
        for name, path in p["plots"].items():
            c.print(f"[green]wrote[/green] {name} plot {path}")
        ids = " ".join(str(x) for x in top5)
        c.print(f"\nnext: [bold]kolgraph info {out}[/bold], [bold]kolgraph reach {out} {ids}[/bold], "
                f"[bold]kolgraph similar {out} {top5[0] if top5 else 'ID'}[/bold], "
                f"[bold]kolgraph export {out} --out edges.csv[/bold]")
    _emit(args, payload, human)
    return 0


def _demo_reach(g, out: Path, ids: list) -> dict:
    """Reach report of ``ids`` and its plots, written next to the store."""
    from kolgraph import plots

    report = g.reach(ids)
    stem = out.parent / out.name.removesuffix(".kg")
    written = {"curve": plots.reach_curve(report, f"{stem}-reach-curve.png"),
               "overlap": plots.overlap_heatmap(report, f"{stem}-overlap.png"),
               "upset": plots.upset(report, f"{stem}-upset.png")}
    return {"reach": report.to_dict(), "plots": {k: str(v) for k, v in written.items()}}


def _reach_options(args) -> dict:
    def one_or_many(values):
        if not values:
            return None
        return values[0] if len(values) == 1 else values
    return {"view_rates": one_or_many(getattr(args, "view_rate", None)),
            "posts": one_or_many(getattr(args, "posts", None)),
            "where": args.where, "exclude_flagged": args.exclude_flagged,
            "skip_unknown": args.skip_unknown}


def _print_reach(d: dict, console) -> None:
    from rich.table import Table

    table = Table(title="reach by creator (added = incremental reach in the order given; r = view rate)")
    for col in ("id", "tier", "audience", "exclusive", "added", "cumul.", "share", "r"):
        table.add_column(col, justify="left" if col in ("id", "tier") else "right")
    cum = 0
    for c in d["creators"]:
        cum += c["incremental"]
        table.add_row(str(c["id"]), c["tier"], f"{c['audience']:,}", f"{c['exclusive']:,}",
                      f"{c['incremental']:,}", f"{cum:,}", f"{c['share']:.1%}", f"{c['view_rate']:.3f}")
    console.print(table)
    f = d["frequency"]
    at = f["at_least"]
    r3 = at[3] if len(at) > 3 else 0
    console.print(f"  unique reach        {d['unique_reach']:>14,}")
    console.print(f"  gross reach         {d['gross_reach']:>14,}   duplication {d['duplication']:.2f}x")
    console.print(f"  reached ≥3 times    {r3:>14,}   average frequency {f['average']:.2f}")
    console.print(f"  expected reach      {d['expected_reach']:>14,.0f}   (view rates x posts)")
    console.print(f"  Sainsbury estimate  {d['sainsbury_reach']:>14,.0f}   (independence, N = "
                  f"{d['population']:,})")
    if d["filters"]:
        console.print(f"  filters: {d['filters']}", highlight=False)
    for w in d["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _print_matrix(console, title: str, ids: list, mat: list, fmt) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("")
    for c in ids:
        table.add_column(str(c), justify="right")
    for c, row in zip(ids, mat, strict=True):
        table.add_row(str(c), *[fmt(v) for v in row])
    console.print(table)


def cmd_reach(args) -> int:
    import kolgraph

    if args.json and args.csv:
        _error("choose one of --json and --csv")
        return 2
    g = kolgraph.open(args.store)
    report = g.reach(args.ids, **_reach_options(args))
    d = report.to_dict()
    if args.curve:
        from kolgraph.plots import reach_curve

        d["plots"] = {"curve": str(reach_curve(report, args.curve))}
    if args.csv:
        report.to_frame().to_csv(sys.stdout, index=False, lineterminator="\n")
        for w in d["warnings"]:
            sys.stderr.write(f"warning: {w}\n")
        return 0
    _emit(args, d, lambda p: _print_reach(p, _console()))
    return 0


def cmd_overlap(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    report = g.reach(args.ids, **_reach_options(args))
    d = report.to_dict()
    payload = {**d["overlap"], "unique_reach": d["unique_reach"], "regions": d["regions"],
               "warnings": d["warnings"], "plots": {}}
    from kolgraph import plots

    if args.plot:
        payload["plots"]["heatmap"] = str(plots.overlap_heatmap(report, args.plot, by=args.by))
    if args.upset:
        payload["plots"]["upset"] = str(plots.upset(report, args.upset))

    def human(p):
        c = _console()
        _print_matrix(c, "common followers |A∩B|", p["ids"], p["counts"], lambda v: f"{v:,}")
        _print_matrix(c, "Jaccard |A∩B|/|A∪B|", p["ids"], p["jaccard"], lambda v: f"{v:.3f}")
        _print_matrix(c, "directional |A∩B|/|A| (row A)", p["ids"], p["directional"],
                      lambda v: f"{v:.3f}")
        for w in p["warnings"]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
        for name, path in p["plots"].items():
            c.print(f"[green]wrote[/green] {name} {path}")
    _emit(args, payload, human)
    return 0


def cmd_similar(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    rows = g.similar(args.id, k=args.k, by=args.by, among=args.among)
    payload = {"id": args.id, "by": args.by, "among": args.among, "similar": rows}

    def human(p):
        from rich.table import Table

        table = Table(title=f"accounts most similar to {p['id']} (by {p['by']})")
        for col in ("id", "tier", "audience", "common", "jaccard", "overlap coef."):
            table.add_column(col, justify="left" if col in ("id", "tier") else "right")
        for r in p["similar"]:
            table.add_row(str(r["id"]), r["tier"], f"{r['audience']:,}", f"{r['common']:,}",
                          f"{r['jaccard']:.3f}", f"{r['overlap_coefficient']:.3f}")
        _console().print(table)
    _emit(args, payload, human)
    return 0


def cmd_complementary(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    rows = g.complementary(args.ids, k=args.k, among=args.among, where=args.where,
                           exclude_flagged=args.exclude_flagged, skip_unknown=args.skip_unknown)
    payload = {"ids": args.ids, "among": args.among, "complementary": rows}

    def human(p):
        from rich.table import Table

        table = Table(title="accounts adding the most new followers to the set (incremental reach)")
        for col in ("id", "tier", "audience", "incremental"):
            table.add_column(col, justify="left" if col in ("id", "tier") else "right")
        for r in p["complementary"]:
            table.add_row(str(r["id"]), r["tier"], f"{r['audience']:,}", f"{r['incremental']:,}")
        _console().print(table)
    _emit(args, payload, human)
    return 0


def cmd_profiles(args) -> int:
    from kolgraph import datasets
    from kolgraph.ingest import write_table_file

    load = {"mib": datasets.mib_accounts, "instagram": datasets.instagram_accounts}[args.kind]
    table = load(args.path)
    write_table_file(table, args.out)
    labels = table.column("label").to_numpy()
    payload = {"path": str(args.out), "accounts": table.num_rows, "fake": int(labels.sum()),
               "columns": table.column_names}
    _emit(args, payload, lambda p: _console().print(
        f"[green]wrote[/green] {p['accounts']:,} accounts ({p['fake']:,} labelled fake) to {p['path']}: "
        f"{', '.join(p['columns'])}"))
    return 0


def _propagation_options(args) -> dict:
    view_rates = None
    if getattr(args, "view_rate", None):
        view_rates = args.view_rate[0] if len(args.view_rate) == 1 else args.view_rate
    elif getattr(args, "view_rates_from_table", False):
        view_rates = True
    return {"model": args.model, "p": args.p, "weighted_cascade": args.weighted_cascade or False,
            "view_rates": view_rates, "seed": args.seed, "threads": args.threads,
            "progress": _progress(args)}


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


def cmd_spread(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    result = g.spread(args.seeds, runs=args.runs, skip_unknown=args.skip_unknown,
                      **_propagation_options(args))
    d = result.to_dict()
    if args.plot:
        from kolgraph.propagation import spread_plot

        d["plots"] = {"histogram": str(spread_plot(result, args.plot))}

    def human(p):
        c = _console()
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
        for w in p["warnings"]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
        for name, path in p.get("plots", {}).items():
            c.print(f"[green]wrote[/green] {name} {path}")
    _emit(args, d, human)
    return 130 if result.interrupted else 0


def cmd_seeds(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    candidates = _read_id_file(args.candidates) if args.candidates else args.among
    costs = args.costs
    if costs is not None and Path(costs).suffix in (".csv", ".parquet"):
        from kolgraph.ingest import read_table_file

        table = read_table_file(costs, "costs")
        missing = {"id", "cost"} - set(table.column_names)
        if missing:
            from kolgraph.exceptions import InputError

            raise InputError(f"{costs}: needs columns id and cost (missing {', '.join(sorted(missing))})")
        costs = dict(zip(table.column("id").to_pylist(), table.column("cost").to_pylist(), strict=True))
    result = g.seeds(args.k, epsilon=args.epsilon, method=args.method, candidates=candidates, costs=costs,
                     budget=args.budget, evaluate=args.evaluate, **_propagation_options(args))
    d = result.to_dict()

    def human(p):
        c = _console()
        c.print(f"[bold]{len(p['seeds'])} seeds[/bold] ({p['method']}, {p['approximation']}; {p['rr_sets']:,} RR "
                f"sets, {p['candidates']:,} candidates, {p['seconds']:.2f} s): estimated spread "
                f"{p['spread']:,.1f}", highlight=False)
        for row in p["incremental"]:
            c.print(f"  {str(row['id']):<20} adds {row['spread']:>12,.1f}")
        if "evaluation" in p:
            e = p["evaluation"]
            c.print(f"  Monte Carlo check: {e['mean']:,.1f} [{e['ci_low']:,.1f}, {e['ci_high']:,.1f}] "
                    f"over {e['runs']:,} simulations")
        for w in p["warnings"]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    _emit(args, d, human)
    return 130 if result.interrupted else 0


def _col(value: str | None):
    return int(value) if value is not None and value.isdigit() else value


def _delim(value: str | None) -> str | None:
    if value is None or value == "whitespace":
        return None
    return {"tab": "\t", "\\t": "\t", "comma": ","}.get(value, value)


# --- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kolgraph",
        description="Audience-overlap graph engine for influencer (KOL) marketing.",
        epilog="Start with `kolgraph demo`. Exit codes: 0 ok, 1 failure, 2 usage, 3 bad input, "
               "4 store missing/corrupted.")
    p.add_argument("--version", action="version", version=f"kolgraph {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func, help_: str, description: str | None = None, json_flag: bool = True):
        sp = sub.add_parser(name, help=help_, description=description or help_)
        sp.set_defaults(func=func)
        if json_flag:
            sp.add_argument("--json", action="store_true", help="print JSON to stdout")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")
        return sp

    sp = add("ingest", cmd_ingest, "read an edge list into a store",
             "Read a follower edge list (CSV/TSV/whitespace text, .gz, or Parquet; one row per "
             "'follower followee') into a graph store. Malformed rows fail the ingest with their "
             "line numbers unless --skip-bad.")
    sp.add_argument("edges", help="edge list file")
    sp.add_argument("--out", "-o", required=True, help="store directory to write (e.g. graph.kg)")
    sp.add_argument("--creators", help="creator table (CSV/Parquet with id[,name,platform,category,price,avg_views])")
    sp.add_argument("--accounts", help="account attribute table (CSV/Parquet with id and canonical columns)")
    sp.add_argument("--edge-times", action="store_true", help="the third column is followed_at")
    sp.add_argument("--time-col", help="followed_at column (name or 0-based position)")
    sp.add_argument("--follower-col", help="follower column (name or 0-based position)")
    sp.add_argument("--followee-col", help="followee column (name or 0-based position)")
    hdr = sp.add_mutually_exclusive_group()
    hdr.add_argument("--header", dest="header", action="store_true", default=None, help="first row is a header")
    hdr.add_argument("--no-header", dest="header", action="store_false", help="no header row")
    sp.add_argument("--delimiter", help="',', 'tab', ';' or 'whitespace' (default: detected)")
    sp.add_argument("--id-type", choices=("int", "str"), help="read ids as integers or text (default: detected)")
    sp.add_argument("--skip-bad", action="store_true", help="skip malformed rows (counted and reported)")
    sp.add_argument("--force", "-f", action="store_true", help="replace an existing store")

    sp = add("export", cmd_export, "write a store's edge list (CSV/TSV/.gz/Parquet by extension)")
    sp.add_argument("store")
    sp.add_argument("--out", "-o", required=True, help="output file, e.g. edges.csv, edges.tsv.gz, edges.parquet")

    sp = add("info", cmd_info, "summarise a store: counts, degrees, tiers, top creators")
    sp.add_argument("store")
    sp.add_argument("--top", type=int, default=10, help="how many top creators to list (default 10)")

    sp = add("verify", cmd_verify, "check every file of a store against its manifest checksums")
    sp.add_argument("store")

    sp = add("synth", cmd_synth, "write a synthetic follower graph with planted bot farms",
             "Generate a realistic synthetic follower graph (heavy-tailed creator audiences across "
             "tiers, category-correlated overlap, follower-to-follower edges, account attributes, "
             "follow times, planted bot farms with ground truth) straight into a store.")
    sp.add_argument("--accounts", type=int, required=True, help="number of accounts")
    sp.add_argument("--creators", type=int, required=True, help="number of creators")
    sp.add_argument("--edges", type=int, required=True, help="approximate number of follow edges")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--farms", type=int, default=None, help="planted bot farms (default: scales with size; 0 = none)")
    sp.add_argument("--out", "-o", required=True, help="store directory to write")
    sp.add_argument("--force", "-f", action="store_true", help="replace an existing store")

    def reach_args(sp):
        sp.add_argument("store")
        sp.add_argument("ids", nargs="+", metavar="ID", help="creator ids, in booking order")
        sp.add_argument("--where", help="account filter, e.g. \"country == 'NL' and language == 'nl'\"")
        sp.add_argument("--exclude-flagged", action="store_true",
                        help="drop followers flagged as bots (account column 'flagged')")
        sp.add_argument("--skip-unknown", action="store_true", help="skip unknown ids with a warning")

    sp = add("reach", cmd_reach, "deduplicated reach, frequency and expected reach of creators",
             "Unique and gross reach, exclusive and incremental reach per creator, frequency "
             "R_k, expected reach with view rates and posts, and the Sainsbury estimate.")
    reach_args(sp)
    sp.add_argument("--view-rate", type=float, nargs="+", metavar="R",
                    help="probability a follower sees one post: one value or one per creator "
                         "(default avg_views/followers, else 1)")
    sp.add_argument("--posts", type=int, nargs="+", metavar="N", help="posts booked: one or one per creator (default 1)")
    sp.add_argument("--csv", action="store_true", help="print the per-creator table as CSV")
    sp.add_argument("--curve", metavar="PNG", help="write the reach curve plot")

    sp = add("overlap", cmd_overlap, "pairwise audience overlap and Venn/UpSet regions")
    reach_args(sp)
    sp.add_argument("--plot", metavar="PNG", help="write an annotated overlap heatmap")
    sp.add_argument("--by", default="jaccard",
                    choices=("jaccard", "overlap_coefficient", "directional", "lift", "counts"),
                    help="heatmap normalisation (default jaccard)")
    sp.add_argument("--upset", metavar="PNG", help="write an UpSet plot of the largest regions")

    sp = add("similar", cmd_similar, "accounts whose audiences overlap most with a creator")
    sp.add_argument("store")
    sp.add_argument("id", help="creator id")
    sp.add_argument("-k", type=int, default=10, help="how many (default 10)")
    sp.add_argument("--by", default="jaccard", choices=("jaccard", "overlap"),
                    help="rank by Jaccard or overlap coefficient (default jaccard)")
    sp.add_argument("--among", default="creators", choices=("creators", "accounts"),
                    help="candidates: the creator table (default; every account if there is none) or all accounts")

    sp = add("complementary", cmd_complementary, "accounts adding the most new followers to a set")
    reach_args(sp)
    sp.add_argument("-k", type=int, default=10, help="how many (default 10)")
    sp.add_argument("--among", default="creators", choices=("creators", "accounts"),
                    help="candidates: the creator table (default; every account if there is none) or all accounts")

    def propagation_args(sp):
        sp.add_argument("store")
        sp.add_argument("--model", default="ic", choices=("ic", "lt"),
                        help="independent cascade (default) or linear threshold")
        probs = sp.add_mutually_exclusive_group()
        probs.add_argument("--p", type=float, default=None,
                           help="uniform edge probability (IC default 0.01) or LT weight; with "
                                "view rates, the reshare probability of later hops")
        probs.add_argument("--weighted-cascade", action="store_true",
                           help="probability 1/d into an account following d accounts (LT default)")
        rates = sp.add_mutually_exclusive_group()
        rates.add_argument("--view-rate", type=float, nargs="+", metavar="R",
                           help="IC first hop: a seed's followers see its post with this rate "
                                "(one value, or one per seed for spread)")
        rates.add_argument("--view-rates-from-table", action="store_true",
                           help="IC first hop at avg_views/followers from the creator table")
        sp.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        sp.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")

    sp = add("spread", cmd_spread, "expected spread of seed creators through reshares (Monte Carlo)",
             "Expected number of accounts a campaign reaches through reshares (independent cascade "
             "or linear threshold; information flows from followee to follower), by Monte Carlo "
             "with a 95% confidence interval, the spread distribution and each seed's incremental "
             "spread. Ctrl-C prints the simulations finished so far.")
    propagation_args(sp)
    sp.add_argument("--seeds", nargs="+", required=True, metavar="ID", help="seed account ids, in order")
    sp.add_argument("--runs", type=int, default=10_000, help="simulations (default 10000)")
    sp.add_argument("--skip-unknown", action="store_true", help="skip unknown ids with a warning")
    sp.add_argument("--plot", metavar="PNG", help="write a histogram of the spread distribution")

    sp = add("seeds", cmd_seeds, "seed creators maximising expected spread (IMM)",
             "Choose k seeds maximising expected spread with IMM (Tang, Shi, Xiao 2015): a "
             "(1-1/e-epsilon) approximation with probability 1-1/n, from reverse-reachable sets.")
    propagation_args(sp)
    sp.add_argument("-k", type=int, default=10, help="number of seeds (default 10)")
    sp.add_argument("--epsilon", type=float, default=0.5, help="approximation parameter (default 0.5)")
    sp.add_argument("--method", default="imm", choices=("imm", "opim-c"),
                    help="IMM (default) or OPIM-C (same guarantee, usually fewer RR sets)")
    sp.add_argument("--candidates", metavar="FILE",
                    help="candidate ids: one per line, or a CSV/Parquet with an 'id' column")
    sp.add_argument("--among", default="creators", choices=("creators", "accounts"),
                    help="candidates without --candidates: the creator table (default) or all accounts")
    sp.add_argument("--costs", metavar="price|FILE",
                    help="budgeted variant: a creator-table column (e.g. price) or a CSV/Parquet "
                         "with id,cost")
    sp.add_argument("--budget", type=float, help="total budget (with --costs)")
    sp.add_argument("--evaluate", type=int, default=0, metavar="RUNS",
                    help="also estimate the seeds' spread with RUNS Monte Carlo simulations")

    sp = add("profiles", cmd_profiles, "convert a labelled public profile set to canonical account columns",
             "Map the MIB 'Fame for sale' profiles (a folder with users.csv and fusers.csv) or the "
             "Instagram fake/genuine train.csv to kolgraph's canonical account columns plus 'label' "
             "(1 = fake), for `kolgraph ingest --accounts` and bot scoring.")
    sp.add_argument("kind", choices=("mib", "instagram"))
    sp.add_argument("path", help="MIB folder or Instagram CSV")
    sp.add_argument("--out", "-o", required=True, help="output table (.parquet or .csv)")

    sp = add("demo", cmd_demo, "build the demo store and print a first summary",
             f"Build the embedded demo graph ({DEMO_SIZE['accounts']:,} accounts, "
             f"{DEMO_SIZE['creators']:,} creators, ~{DEMO_SIZE['edges']:,} edges, synthetic) and summarise it.")
    sp.add_argument("--out", "-o", default=DEMO_STORE, help=f"store directory (default {DEMO_STORE})")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.func(args)
    except KolgraphError as exc:
        if debug:
            raise
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `kolgraph info --json | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- keep the interpreter from re-raising at exit
        return 0
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        _error(f"{type(exc).__name__}: {exc}")
        return 1


def _error(msg: str) -> None:
    sys.stderr.write(f"error: {msg}\n")


if __name__ == "__main__":
    sys.exit(main())
