"""The Dask backend: exact reach of the 20 largest creators from partitioned Parquet edges,
on a LocalCluster of 1 and of 2 workers, beside the single-machine engine on the store of
the same edges.

Group ``dask-reach-top20-<size>``. The synthetic store's edges are exported once (untimed,
cached beside the store) as ``PARTS`` Parquet files of ``follower, followee``. Clusters
(``processes=False``, one thread per worker) start outside the timing. Every workload's
report is checked equal to the single-machine one before timing.

- ``kolgraph.reach``: ``g.reach(top20)`` on the opened store (the reference);
- ``dask 1 worker`` / ``dask 2 workers``: ``dask_engine.exact_reach(client, files, top20)``:
  stream every file, bucket the selected creators' followers by follower id, count regions
  per bucket, sum (plus the population count over every account id).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks._harness import Workload, measure

TOP = 20
PARTS = 8
_CLIENTS: dict = {}
_STATE: dict = {}


def _export(g, out: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(g.ids.ints)
    indptr = np.asarray(g.in_indptr)
    bounds = np.linspace(0, g.n_accounts, PARTS + 1).astype(np.int64)
    for i in range(PARTS):  # partitioned by followee range, as a crawl would be
        lo, hi = indptr[bounds[i]], indptr[bounds[i + 1]]
        dst = np.repeat(np.arange(bounds[i], bounds[i + 1]), np.diff(indptr[bounds[i]:bounds[i + 1] + 1]))
        pq.write_table(pa.table({"follower": ids[np.asarray(g.in_indices[lo:hi])],
                                 "followee": ids[dst]}), tmp / f"part-{i}.parquet")
    tmp.rename(out)
    return out


def _top(g):
    from benchmarks.test_reach import top_creators

    return top_creators(g, TOP)[1]


def _client(workers: int):
    if workers not in _CLIENTS:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                               dashboard_address=":0")
        _CLIENTS[workers] = Client(cluster)
    return _CLIENTS[workers]


def single(path: Path, scratch: Path):
    import kolgraph

    g = kolgraph.open(_STATE["store"])
    return g.reach(_top(g)).to_dict()


def _dask(workers: int):
    def run(path: Path, scratch: Path):
        from kolgraph import dask_engine

        return dask_engine.exact_reach(_client(workers), str(path / "*.parquet"),
                                       _STATE["ids"]).to_dict()
    return run


def _summary(d):
    return {"unique_reach": d["unique_reach"], "gross_reach": d["gross_reach"]}


WORKLOADS = [
    Workload("kolgraph.reach", "peer", f"g.reach(top{TOP}) on the store (single machine)",
             single, _summary, rss=False),
    Workload("dask 1 worker", "kolgraph",
             f"dask_engine.exact_reach(client, {PARTS} Parquet files, top{TOP}), 1 worker",
             _dask(1), _summary, rss=False),
    Workload("dask 2 workers", "kolgraph",
             f"dask_engine.exact_reach(client, {PARTS} Parquet files, top{TOP}), 2 workers",
             _dask(2), _summary, rss=False, targets=[{"peer": "dask 1 worker", "min_speedup": 1}]),
]


@pytest.fixture(scope="module", autouse=True)
def _close_clusters():
    yield
    for client in _CLIENTS.values():
        cluster = client.cluster
        client.close()
        cluster.close()
    _CLIENTS.clear()


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_dask_reach(benchmark, request, workload, bench_size, synth_store, bench_data_dir,
                    scratch_dir):
    pytest.importorskip("distributed")
    store = Path(synth_store.path)
    parts = _export(synth_store, bench_data_dir / f"{store.name}-parquet{PARTS}")
    _STATE.update(store=store, ids=_top(synth_store))
    from benchmarks.test_reach import canon_kolgraph, check_equal

    want = synth_store.reach(_STATE["ids"]).to_dict()
    got = workload.run(parts, scratch_dir)
    # the counts must agree; view rates (the store has avg_views) and population (edges do not
    # list isolated accounts) differ by construction
    check_equal(workload.name, canon_kolgraph(got), canon_kolgraph(want))
    measure(benchmark, request, group=f"dask-reach-top{TOP}-{bench_size.label}",
            workload=workload, module=__name__, data_path=parts, scratch=scratch_dir,
            size=bench_size, edges=int(synth_store.n_edges), extra={"partitions": PARTS})
