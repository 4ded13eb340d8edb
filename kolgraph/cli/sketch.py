"""``kolgraph sketch``, ``dask-bucket`` and ``sketch-merge``: mergeable audience sketches."""

from __future__ import annotations

import time
from pathlib import Path

from kolgraph.cli import _dask
from kolgraph.cli._flags import add_command
from kolgraph.cli._output import console, emit, error, mib, print_reach


def register_sketch(sub) -> None:
    sp = add_command(sub, "sketch", cmd_sketch, "build mergeable audience sketches (HLL + KMV) into a store",
                     "Build every creator's HyperLogLog and KMV/Theta sketch in one pass, keep "
                     "them in the store (for reach --mode sketch) and optionally export one "
                     "versioned .kgsk file per creator, holding no follower id. With --engine "
                     "dask, from Parquet edge partitions instead of a store (the same sketches, "
                     "exported to --out).")
    sp.add_argument("store", nargs="?", help="graph store (omitted with --engine dask)")
    sp.add_argument("--out", "-o", help="export directory for <id>.kgsk files")
    _dask.add_engine_flags(sp)
    sp.add_argument("--ids", nargs="+", metavar="ID", help="export only these creators")
    sp.add_argument("--p", type=int, default=12, help="HyperLogLog precision (2**p registers, default 12)")
    sp.add_argument("--k", type=int, default=4096, help="KMV size (default 4096)")
    sp.add_argument("--seed", type=int, default=0, help="hash seed (parties merging must share it)")
    sp.add_argument("--min-count", type=int, default=0, help="do not export audiences below this size")


def cmd_sketch(args) -> int:
    import kolgraph
    from kolgraph import sketch

    if args.engine == "dask":
        return _sketch_dask(args)
    if _dask.local_usage_error(
            args, "give the store: kolgraph sketch STORE (or --engine dask --edges ... --out DIR)"):
        return 2
    t0 = time.perf_counter()
    g = kolgraph.open(args.store)
    sk = sketch.write_sketches(g, p=args.p, k=args.k, seed=args.seed)
    payload = {"store": str(args.store), **sk.meta(), "bytes": sk.nbytes,
               "seconds": round(time.perf_counter() - t0, 3)}
    if args.out:
        payload.update(sketch.export_sketches(g, args.out, args.ids or None,
                                              min_count=args.min_count))
    emit(args, payload, lambda p: console().print(
        f"[green]sketched[/green] {p['sketched']:,} creators of {p['store']} (HLL p={p['p']}, "
        f"KMV k={p['k']}, {mib(p['bytes'])}) in {p['seconds']:.2f} s"
        + (f"; exported {p['exported']:,} to {p['out']} ({p['suppressed']:,} below --min-count)"
           if "out" in p else "")))
    return 0


def _sketch_dask(args) -> int:
    from kolgraph import dask_engine

    if not args.edges or not args.out:
        error("--engine dask needs --edges 'DIR/*.parquet' and --out DIR")
        return 2
    if args.store is not None:
        error("--engine dask reads --edges, not a store")
        return 2
    t0 = time.perf_counter()
    dask_engine.partitions(args.edges)  # bad input fails before a cluster starts
    with _dask.connect(args) as client:
        sk, population = dask_engine.build_sketches(client, args.edges, creators=args.ids or None,
                                                    p=args.p, k=args.k, seed=args.seed)
    payload = {"engine": "dask", "edges": args.edges, **sk.meta(), "bytes": sk.nbytes,
               "population_estimate": population}
    payload.update(dask_engine.export_sketch_files(sk, args.out, min_count=args.min_count))
    payload["seconds"] = round(time.perf_counter() - t0, 3)
    emit(args, payload, lambda p: console().print(
        f"[green]sketched[/green] {p['sketched']:,} creators of {p['edges']} on Dask (HLL "
        f"p={p['p']}, KMV k={p['k']}) in {p['seconds']:.2f} s; exported {p['exported']:,} to "
        f"{p['out']} ({p['suppressed']:,} below --min-count)"))
    return 0


def register_dask_bucket(sub) -> None:
    sp = add_command(sub, "dask-bucket", cmd_dask_bucket,
                     "rewrite Parquet edges as buckets by follower (Dask)",
                     "Rewrite Parquet edge partitions once as buckets by a hash of the follower "
                     "id, so that reach --engine dask --edges DIR reads each bucket in one local "
                     "task, with no shuffle per query. Written to a temporary directory and "
                     "renamed into place.")
    sp.add_argument("--edges", required=True, help="Parquet edge files, e.g. 'edges/*.parquet'")
    sp.add_argument("--out", "-o", required=True, help="bucket directory to write")
    sp.add_argument("--buckets", type=int, default=16, help="number of buckets (default 16)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing directory")
    sp.add_argument("--scheduler", help="scheduler address (default: a LocalCluster)")
    sp.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    sp.add_argument("--threads", action="store_true", help="LocalCluster workers as threads")


def cmd_dask_bucket(args) -> int:
    from kolgraph import dask_engine

    t0 = time.perf_counter()
    dask_engine.partitions(args.edges)  # bad input fails before a cluster starts
    with _dask.connect(args) as client:
        man = dask_engine.bucket_edges(client, args.edges, args.out, n_buckets=args.buckets,
                                       overwrite=args.overwrite)
    payload = {"out": str(args.out), "n_buckets": man["n_buckets"], "edges": man["edges"],
               "population": man["population"], "id_kind": man["id_kind"],
               "seconds": round(time.perf_counter() - t0, 3)}
    emit(args, payload, lambda p: console().print(
        f"[green]bucketed[/green] {p['edges']:,} edges ({p['population']:,} accounts) into "
        f"{p['n_buckets']} buckets by follower in {p['out']} in {p['seconds']:.2f} s"))
    return 0


def register_sketch_merge(sub) -> None:
    sp = add_command(sub, "sketch-merge", cmd_sketch_merge,
                     "reach report and union of exported sketch files",
                     "Read .kgsk sketch files (e.g. from another party), print their reach "
                     "report with intervals, and optionally write the sketch of their union.")
    sp.add_argument("files", nargs="+", metavar="FILE")
    sp.add_argument("--out", "-o", help="write the merged (union) sketch here")
    sp.add_argument("--confidence", type=float, default=0.95, help="interval confidence (default 0.95)")
    sp.add_argument("--min-count", type=int, default=0, help="hide regions estimated below this size")


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
    emit(args, d, lambda p: print_reach(p, console()))
    return 0
