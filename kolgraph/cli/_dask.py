"""The ``--engine dask`` flags shared by ``reach`` and ``sketch``, and the cluster they start."""

from __future__ import annotations

from kolgraph.cli._output import error


def add_engine_flags(sp) -> None:
    sp.add_argument("--engine", choices=("local", "dask"), default="local",
                    help="local (the store, default) or dask (partitioned Parquet edges)")
    sp.add_argument("--edges", help="dask: Parquet edge files, e.g. 'edges/*.parquet' "
                                    "(columns follower, followee)")
    sp.add_argument("--scheduler", help="dask: scheduler address (default: a LocalCluster)")
    sp.add_argument("--workers", type=int, default=2, help="dask: LocalCluster workers (default 2)")
    sp.add_argument("--threads", action="store_true",
                    help="dask: LocalCluster workers as threads of this process (faster start)")


def local_usage_error(args, usage: str) -> bool:
    """Dask-only flags or no store with the local engine: says so (a usage error)."""
    if args.edges or args.scheduler:
        error("--edges and --scheduler go with --engine dask")
        return True
    if args.store is None:
        error(usage)
        return True
    return False


def connect(args):
    """A client of ``--scheduler``, else of a LocalCluster of ``--workers`` (``--threads``)."""
    from kolgraph import dask_engine

    return dask_engine.connect(args.scheduler, workers=args.workers, processes=not args.threads)
