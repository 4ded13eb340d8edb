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
                f"[bold]kolgraph export {out} --out edges.csv[/bold]; fraud review: "
                f"[bold]kolgraph fraud {out} --report fraud.html[/bold]; spread: "
                f"[bold]kolgraph spread {out} --seeds {ids}[/bold]; best seeds: "
                f"[bold]kolgraph seeds {out} -k 10[/bold]; service: "
                f"[bold]kolgraph serve {out}[/bold] (see the README)")
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
    if args.engine == "dask":
        return _reach_dask(args)
    if args.edges or args.scheduler:
        _error("--edges and --scheduler go with --engine dask")
        return 2
    if args.store is None:
        _error("give the store: kolgraph reach STORE ID... (or --engine dask --edges ...)")
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
    if args.csv:
        report.to_frame().to_csv(sys.stdout, index=False, lineterminator="\n")
        for w in d["warnings"]:
            sys.stderr.write(f"warning: {w}\n")
        return 0
    _emit(args, d, lambda p: _print_reach(p, _console()))
    return 0


def _reach_dask(args) -> int:
    from kolgraph import dask_engine

    if not args.edges:
        _error("--engine dask needs --edges 'DIR/*.parquet'")
        return 2
    ids = ([args.store] if args.store is not None else []) + list(args.ids)
    rates = _reach_options(args)
    with dask_engine.connect(args.scheduler, workers=args.workers,
                             processes=not args.threads) as client:
        if args.mode == "sketch":
            report = dask_engine.sketch_reach(client, args.edges, ids, confidence=args.confidence,
                                              min_count=args.min_count,
                                              view_rates=rates["view_rates"], posts=rates["posts"])
        else:
            report = dask_engine.exact_reach(client, args.edges, ids,
                                             view_rates=rates["view_rates"], posts=rates["posts"],
                                             skip_unknown=args.skip_unknown)
    d = report.to_dict()
    if args.csv:
        report.to_frame().to_csv(sys.stdout, index=False, lineterminator="\n")
        return 0
    _emit(args, d, lambda p: _print_reach(p, _console()))
    return 0


def cmd_sketch(args) -> int:
    import kolgraph
    from kolgraph import sketch

    if args.engine == "dask":
        return _sketch_dask(args)
    if args.edges or args.scheduler:
        _error("--edges and --scheduler go with --engine dask")
        return 2
    if args.store is None:
        _error("give the store: kolgraph sketch STORE (or --engine dask --edges ... --out DIR)")
        return 2
    t0 = time.perf_counter()
    g = kolgraph.open(args.store)
    sk = sketch.write_sketches(g, p=args.p, k=args.k, seed=args.seed)
    payload = {"store": str(args.store), **sk.meta(), "bytes": sk.nbytes,
               "seconds": round(time.perf_counter() - t0, 3)}
    if args.out:
        payload.update(sketch.export_sketches(g, args.out, args.ids or None,
                                              min_count=args.min_count))
    _emit(args, payload, lambda p: _console().print(
        f"[green]sketched[/green] {p['sketched']:,} creators of {p['store']} (HLL p={p['p']}, "
        f"KMV k={p['k']}, {_mib(p['bytes'])}) in {p['seconds']:.2f} s"
        + (f"; exported {p['exported']:,} to {p['out']} ({p['suppressed']:,} below --min-count)"
           if "out" in p else "")))
    return 0


def _sketch_dask(args) -> int:
    from kolgraph import dask_engine

    if not args.edges or not args.out:
        _error("--engine dask needs --edges 'DIR/*.parquet' and --out DIR")
        return 2
    if args.store is not None:
        _error("--engine dask reads --edges, not a store")
        return 2
    t0 = time.perf_counter()
    dask_engine.partitions(args.edges)  # bad input fails before a cluster starts
    with dask_engine.connect(args.scheduler, workers=args.workers,
                             processes=not args.threads) as client:
        sk, population = dask_engine.build_sketches(client, args.edges, creators=args.ids or None,
                                                    p=args.p, k=args.k, seed=args.seed)
    payload = {"engine": "dask", "edges": args.edges, **sk.meta(), "bytes": sk.nbytes,
               "population_estimate": population}
    payload.update(dask_engine.export_sketch_files(sk, args.out, min_count=args.min_count))
    payload["seconds"] = round(time.perf_counter() - t0, 3)
    _emit(args, payload, lambda p: _console().print(
        f"[green]sketched[/green] {p['sketched']:,} creators of {p['edges']} on Dask (HLL "
        f"p={p['p']}, KMV k={p['k']}) in {p['seconds']:.2f} s; exported {p['exported']:,} to "
        f"{p['out']} ({p['suppressed']:,} below --min-count)"))
    return 0


def cmd_dask_bucket(args) -> int:
    from kolgraph import dask_engine

    t0 = time.perf_counter()
    dask_engine.partitions(args.edges)  # bad input fails before a cluster starts
    with dask_engine.connect(args.scheduler, workers=args.workers,
                             processes=not args.threads) as client:
        man = dask_engine.bucket_edges(client, args.edges, args.out, n_buckets=args.buckets,
                                       overwrite=args.overwrite)
    payload = {"out": str(args.out), "n_buckets": man["n_buckets"], "edges": man["edges"],
               "population": man["population"], "id_kind": man["id_kind"],
               "seconds": round(time.perf_counter() - t0, 3)}
    _emit(args, payload, lambda p: _console().print(
        f"[green]bucketed[/green] {p['edges']:,} edges ({p['population']:,} accounts) into "
        f"{p['n_buckets']} buckets by follower in {p['out']} in {p['seconds']:.2f} s"))
    return 0


def cmd_sketch_merge(args) -> int:
    from kolgraph import sketch

    sketches = [sketch.load_sketch(f) for f in args.files]
    for s, f in zip(sketches, args.files, strict=True):
        if s.id is None:
            s.id = Path(f).stem
    report = sketch.sketch_report(sketches, confidence=args.confidence, min_count=args.min_count)
    d = report.to_dict()
    if args.out:
        merged = sketches[0]
        for s in sketches[1:]:
            merged = merged.merge(s)
        merged.id = Path(args.out).stem
        merged.save(args.out)
        d["merged"] = str(args.out)
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


def _print_plan(d: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"plan: {d['objective']} for a budget of {d['budget']:,.0f} "
                        "(in the order the greedy added them)")
    for col in ("id", "tier", "cost", "audience", "gain", "cumul.", "shapley", "share"):
        table.add_column(col, justify="left" if col in ("id", "tier") else "right")
    shap = {str(s["id"]): s for s in d["shapley"]["values"]}
    for c, pt in zip(d["chosen"], d["curve"][1:], strict=True):
        s = shap[str(c["id"])]
        table.add_row(str(c["id"]), c["tier"], f"{c['cost']:,.0f}", f"{c['audience']:,}",
                      f"{c['marginal_gain']:,.1f}", f"{pt['value']:,.1f}", f"{s['value']:,.1f}",
                      f"{s['share']:.1%}")
    console.print(table)
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
    for w in d["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    for name, path in d.get("plots", {}).items():
        console.print(f"[green]wrote[/green] {name} {path}")


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
    _emit(args, d, lambda q: _print_plan(q, _console()))
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


def cmd_fraud(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    creators = args.creator or None
    report = g.fraud(creators=creators, top=args.top, max_blocks=args.max_blocks,
                     bot_threshold=args.bot_threshold, mass_following=args.mass_following,
                     progress=_progress(args))
    d = report.to_dict()
    if args.export:
        d["exported"] = report.export(args.export)
    if args.report:
        d["report"] = str(report.html(args.report, args.creator[0] if args.creator else None))
    if args.write_flags:
        d["flags_written"] = report.write_flags()

    def human(p):
        from rich.table import Table

        c = _console()
        c.print(f"[bold]{len(p['clusters'])} lockstep cluster(s)[/bold], "
                f"{len(p['lockstep_groups'])} temporal lockstep group(s), "
                f"{p['flagged']['accounts']:,} flagged accounts "
                f"({', '.join(f'{k} {v:,}' for k, v in p['flagged']['by_kind'].items())})")
        for cl in p["clusters"]:
            c.print(f"  cluster {cl['id']}: {cl['followers_count']:,} followers x {cl['creators_count']} "
                    f"creators, density {cl['density']:.2f}, lift {cl['significance']['lift']:.1f}, "
                    f"farm customers {len(cl['fingerprint']):,}")
        table = Table(title=f"creators ({len(p['creators'])} of {p['creators_total']:,} with flagged followers)")
        for col in ("id", "followers", "flagged", "audience quality", "real reach", "clusters", "spikes"):
            table.add_column(col, justify="left" if col == "id" else "right")
        for r in p["creators"]:
            table.add_row(str(r["id"]), f"{r['followers']:,}", f"{r['flagged_followers']:,}",
                          f"{r['audience_quality']:.1%}", f"{r['real_reach']:,}",
                          " ".join(str(h["id"]) for h in r["clusters"]), str(len(r["spikes"])))
        c.print(table)
        for s in p["skipped"]:
            c.print(f"[yellow]skipped:[/yellow] {s}", highlight=False)
        for w in p["warnings"]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
        for name, path in p.get("exported", {}).items():
            c.print(f"[green]wrote[/green] {name} {path}")
        if "report" in p:
            c.print(f"[green]wrote[/green] HTML report {p['report']}")
        if "flags_written" in p:
            fw = p["flags_written"]
            c.print(f"[green]wrote[/green] account column '{fw['column']}' ({fw['flagged']:,} flagged) "
                    f"into {fw['store']}")
    _emit(args, d, human)
    return 0


def cmd_score_accounts(args) -> int:
    import warnings

    from kolgraph import botscore

    if args.json and args.csv:
        _error("choose one of --json and --csv")
        return 2
    if args.evaluate:
        paths = botscore.default_datasets()
        paths.update({k: v for k, v in (("mib", args.mib), ("instagram", args.instagram)) if v})
        table = botscore.evaluate(paths)
        summary = botscore.beats_every_rule(table)
        if args.csv:
            table.to_csv(sys.stdout, index=False, lineterminator="\n")
            return 0
        payload = {"evaluation": _records(table), "summary": _records(summary),
                   "datasets": {k: str(v) for k, v in paths.items()}}
        _emit(args, payload, lambda p: _print_bot_evaluation(table, summary, _console()))
        return 0
    if not args.accounts:
        _error("give an ACCOUNTS table (CSV/Parquet with an id column) or --evaluate")
        return 2
    rules = botscore.BotRules()
    if args.threshold is not None:
        if not 0 <= args.threshold <= 1:
            _error(f"--threshold must be in [0, 1], got {args.threshold}")
            return 2
        rules = botscore.BotRules(threshold=args.threshold)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = botscore.score_accounts(args.accounts, rules=rules)
    for w in caught:
        sys.stderr.write(f"warning: {w.message}\n")
    df.insert(2, "flagged", df["score"] >= rules.threshold)
    if args.csv:
        df.to_csv(sys.stdout, index=False, lineterminator="\n")
        return 0
    rule_cols = [c for c in df.columns if c not in ("id", "score", "flagged", "reasons")]
    payload = {
        "accounts": [{"id": _plain(r.id), "score": float(r.score), "flagged": bool(r.flagged),
                      "reasons": r.reasons.split("; ") if r.reasons else [],
                      "contributions": {c: float(getattr(r, c)) for c in rule_cols}}
                     for r in df.itertuples(index=False)],
        "threshold": rules.threshold, "flagged": int(df["flagged"].sum()),
        "rules_used": df.attrs["rules_used"], "rules_skipped": df.attrs["rules_skipped"],
        "ignored_columns": df.attrs["ignored_columns"], "rules": df.attrs["rules"]}
    _emit(args, payload, lambda p: _print_scores(p, _console(), args.top))
    return 0


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _records(df) -> list[dict]:
    return [{k: (None if isinstance(v, float) and v != v else _plain(v)) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def _print_scores(p: dict, console, top: int) -> None:
    from rich.table import Table

    n = len(p["accounts"])
    console.print(f"{n:,} accounts scored, [bold]{p['flagged']:,}[/bold] at or above "
                  f"{p['threshold']:g}; rules used: {', '.join(p['rules_used']) or 'none'}")
    if p["rules_skipped"]:
        console.print(f"[yellow]skipped (missing columns):[/yellow] {', '.join(p['rules_skipped'])}")
    ranked = sorted(p["accounts"], key=lambda a: -a["score"])[:top]
    table = Table(title=f"top {len(ranked)} by score")
    for col in ("id", "score", "reasons"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for a in ranked:
        table.add_row(str(a["id"]), f"{a['score']:.3f}", "; ".join(a["reasons"]) or "-")
    console.print(table)


def _print_bot_evaluation(table, summary, console) -> None:
    from rich.table import Table

    for (ds, w), g in table.groupby(["dataset", "weights"], sort=False):
        t = Table(title=f"{ds} ({g['accounts'].iloc[0]:,} accounts), weights: {w}")
        for col in ("rule", "flagged", "precision", "recall", "F1", "ROC AUC"):
            t.add_column(col, justify="left" if col == "rule" else "right")
        for r in g.itertuples(index=False):
            if not r.available:
                t.add_row(r.rule, "-", "n/a (no column)", "", "", "")
                continue
            t.add_row(f"[bold]{r.rule}[/bold]" if r.rule == "combined" else r.rule, f"{r.flagged:,}",
                      f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.f1:.3f}", f"{r.roc_auc:.3f}")
        console.print(t)
    for r in summary.itertuples(index=False):
        verdict = lambda ok: "[green]beats[/green]" if ok else "[red]does not beat[/red]"  # noqa: E731
        console.print(f"{r.dataset}, {r.weights}: combined F1 {r.combined_f1:.3f} {verdict(r.beats_f1)} "
                      f"the best rule ({r.best_f1_rule} {r.best_rule_f1:.3f}); combined AUC "
                      f"{r.combined_auc:.3f} {verdict(r.beats_auc)} {r.best_rule_auc:.3f}")
def cmd_serve(args) -> int:
    from kolgraph.api.serve import serve

    serve(args.stores, config=args.config, host=args.host, port=args.port, workers=args.workers,
          log_level=args.log_level)
    return 0


def cmd_api_key(args) -> int:
    from kolgraph.api.serve import api_key_entry, toml_entry

    key, entry = api_key_entry(args.tenant, args.stores, args.scope or [], args.hash,
                               args.min_count)
    payload = {"key": key, "entry": entry, "toml": toml_entry(entry)}

    def human(p):
        sys.stdout.write(f"# API key (shown once; give it to the client):\n# {p['key']}\n"
                         f"# add to the service config:\n{p['toml']}\n")
    _emit(args, payload, human)
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

    def reach_args(sp, optional_store=False):
        sp.add_argument("store", nargs="?" if optional_store else None,
                        help="graph store (omitted with --engine dask)" if optional_store else None)
        sp.add_argument("ids", nargs="+", metavar="ID", help="creator ids, in booking order")
        sp.add_argument("--where", help="account filter, e.g. \"country == 'NL' and language == 'nl'\"")
        sp.add_argument("--exclude-flagged", action="store_true",
                        help="drop followers flagged as bots (account column 'flagged')")
        sp.add_argument("--skip-unknown", action="store_true", help="skip unknown ids with a warning")

    sp = add("reach", cmd_reach, "deduplicated reach, frequency and expected reach of creators",
             "Unique and gross reach, exclusive and incremental reach per creator, frequency "
             "R_k, expected reach with view rates and posts, and the Sainsbury estimate.")
    reach_args(sp, optional_store=True)
    sp.add_argument("--mode", choices=("exact", "sketch"), default="exact",
                    help="exact counts (default) or estimates with intervals from sketches")
    sp.add_argument("--confidence", type=float, default=0.95,
                    help="confidence of the sketch intervals (default 0.95)")
    sp.add_argument("--min-count", type=int, default=0,
                    help="sketch mode: hide regions estimated below this many followers")
    sp.add_argument("--engine", choices=("local", "dask"), default="local",
                    help="local (the store, default) or dask (partitioned Parquet edges)")
    sp.add_argument("--edges", help="dask: Parquet edge files, e.g. 'edges/*.parquet' "
                                    "(columns follower, followee)")
    sp.add_argument("--scheduler", help="dask: scheduler address (default: a LocalCluster)")
    sp.add_argument("--workers", type=int, default=2, help="dask: LocalCluster workers (default 2)")
    sp.add_argument("--threads", action="store_true",
                    help="dask: LocalCluster workers as threads of this process (faster start)")
    sp.add_argument("--view-rate", type=float, nargs="+", metavar="R",
                    help="probability a follower sees one post: one value or one per creator "
                         "(default avg_views/followers, else 1)")
    sp.add_argument("--posts", type=int, nargs="+", metavar="N", help="posts booked: one or one per creator (default 1)")
    sp.add_argument("--csv", action="store_true", help="print the per-creator table as CSV")
    sp.add_argument("--curve", metavar="PNG", help="write the reach curve plot")

    sp = add("sketch", cmd_sketch, "build mergeable audience sketches (HLL + KMV) into a store",
             "Build every creator's HyperLogLog and KMV/Theta sketch in one pass, keep them in "
             "the store (for reach --mode sketch) and optionally export one versioned .kgsk file "
             "per creator, holding no follower id. With --engine dask, from Parquet edge "
             "partitions instead of a store (the same sketches, exported to --out).")
    sp.add_argument("store", nargs="?", help="graph store (omitted with --engine dask)")
    sp.add_argument("--out", "-o", help="export directory for <id>.kgsk files")
    sp.add_argument("--engine", choices=("local", "dask"), default="local",
                    help="local (the store, default) or dask (partitioned Parquet edges)")
    sp.add_argument("--edges", help="dask: Parquet edge files, e.g. 'edges/*.parquet' "
                                    "(columns follower, followee)")
    sp.add_argument("--scheduler", help="dask: scheduler address (default: a LocalCluster)")
    sp.add_argument("--workers", type=int, default=2, help="dask: LocalCluster workers (default 2)")
    sp.add_argument("--threads", action="store_true",
                    help="dask: LocalCluster workers as threads of this process (faster start)")
    sp.add_argument("--ids", nargs="+", metavar="ID", help="export only these creators")
    sp.add_argument("--p", type=int, default=12, help="HyperLogLog precision (2**p registers, default 12)")
    sp.add_argument("--k", type=int, default=4096, help="KMV size (default 4096)")
    sp.add_argument("--seed", type=int, default=0, help="hash seed (parties merging must share it)")
    sp.add_argument("--min-count", type=int, default=0, help="do not export audiences below this size")

    sp = add("dask-bucket", cmd_dask_bucket, "rewrite Parquet edges as buckets by follower (Dask)",
             "Rewrite Parquet edge partitions once as buckets by a hash of the follower id, so "
             "that reach --engine dask --edges DIR reads each bucket in one local task, with no "
             "shuffle per query. Written to a temporary directory and renamed into place.")
    sp.add_argument("--edges", required=True, help="Parquet edge files, e.g. 'edges/*.parquet'")
    sp.add_argument("--out", "-o", required=True, help="bucket directory to write")
    sp.add_argument("--buckets", type=int, default=16, help="number of buckets (default 16)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing directory")
    sp.add_argument("--scheduler", help="scheduler address (default: a LocalCluster)")
    sp.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    sp.add_argument("--threads", action="store_true", help="LocalCluster workers as threads")

    sp = add("sketch-merge", cmd_sketch_merge, "reach report and union of exported sketch files",
             "Read .kgsk sketch files (e.g. from another party), print their reach report "
             "with intervals, and optionally write the sketch of their union.")
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.add_argument("--out", "-o", help="write the merged (union) sketch here")
    sp.add_argument("--confidence", type=float, default=0.95, help="interval confidence (default 0.95)")
    sp.add_argument("--min-count", type=int, default=0, help="hide regions estimated below this size")

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

    sp = add("plan", cmd_plan, "the best creator mix for a budget (objective, tier quotas)",
             "Choose creators within a budget to maximise unique, expected, effective (R_k), "
             "target-audience or real (bot-free) reach, with tier quotas and other constraints; "
             "lazy greedy with a stated guarantee, Shapley shares, the naive plan and the "
             "Sainsbury estimate beside it.")
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

    sp = add("fraud", cmd_fraud, "fraud review: lockstep clusters, spikes, audience quality, real reach",
             "Find bot-like follower clusters (Fraudar dense blocks, temporal lockstep when the store "
             "has follow times), growth spikes, bot scores and mass followers; report audience quality "
             "and real reach per creator. JSON keys: clusters, creators, creators_total, spikes, "
             "lockstep_groups, flagged, skipped, warnings, params, timings (see README).")
    sp.add_argument("store")
    sp.add_argument("--creator", action="append", metavar="ID",
                    help="report on this creator (repeatable; default: the creators with the lowest audience quality)")
    sp.add_argument("--top", type=int, default=100, help="creators listed without --creator (default 100)")
    sp.add_argument("--max-blocks", type=int, default=10, help="dense blocks to peel (default 10)")
    sp.add_argument("--bot-threshold", type=float, default=0.9, help="flag bot scores at least this (default 0.9)")
    sp.add_argument("--mass-following", type=int, default=1500,
                    help="flag accounts following more than this (default 1500)")
    sp.add_argument("--report", metavar="HTML", help="write a self-contained HTML report for the (first) creator")
    sp.add_argument("--export", metavar="DIR", help="write report.json and CSVs of clusters and flagged accounts")
    sp.add_argument("--write-flags", action="store_true",
                    help="write the account column 'flagged' into the store (used by --exclude-flagged)")

    sp = add("score-accounts", cmd_score_accounts, "score accounts 0-1 for bot likeness from profile attributes",
             "Score an account attribute table (CSV/Parquet: id plus any of posts, followers, following, "
             "has_avatar, username, bio, private, created_at, verified, ...) with transparent rules: "
             "one row per account with id, score and the reasons. --evaluate prints precision, recall, "
             "F1 and ROC AUC of every rule and the combined score on the labelled MIB and Instagram sets.")
    sp.add_argument("accounts", nargs="?", help="account attribute table (CSV or Parquet)")
    sp.add_argument("--csv", action="store_true", help="print one CSV row per account (with each rule's contribution)")
    sp.add_argument("--threshold", type=float, default=None, help="flag accounts scoring at least T (default 0.5)")
    sp.add_argument("--top", type=int, default=20, help="accounts listed in the readable output (default 20)")
    sp.add_argument("--evaluate", action="store_true", help="evaluate the rules on the labelled profile sets")
    sp.add_argument("--mib", help="MIB folder for --evaluate (default: the copy in tests/data)")
    sp.add_argument("--instagram", help="Instagram train.csv for --evaluate (default: the copy in tests/data)")
    sp = add("serve", cmd_serve, "serve stores over HTTP (the FastAPI service)",
             "Serve stores over HTTP with uvicorn: /v1/reach, /v1/overlap, /v1/creators/..., "
             "/healthz, /readyz, /metrics. API keys, limits and more stores come from --config "
             "(TOML or JSON); see the README, 'The service'.", json_flag=False)
    sp.add_argument("stores", nargs="*", metavar="STORE", help="store directories (PATH or NAME=PATH)")
    sp.add_argument("--config", "-c", help="service config file (TOML or JSON): keys, limits, stores")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sp.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    sp.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))

    sp = add("api-key", cmd_api_key, "create an API key and its hashed config entry")
    sp.add_argument("--tenant", required=True, help="tenant the key belongs to")
    sp.add_argument("--stores", nargs="+", required=True, metavar="NAME",
                    help="store names the key may read ('*' for all)")
    sp.add_argument("--scope", action="append", choices=("followers",),
                    help="extra scope: 'followers' allows raw follower id lists")
    sp.add_argument("--hash", default="scrypt", choices=("scrypt", "sha256"),
                    help="how the key is stored (default scrypt)")
    sp.add_argument("--min-count", type=int, help="suppress groups smaller than this for this key")

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
