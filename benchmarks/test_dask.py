"""The Dask backend: exact reach of the 20 largest creators from Parquet edges bucketed by
follower id, on a LocalCluster of 1 and of 2 workers, beside the single-machine engine on
the store of the same edges.

Group ``dask-reach-top20-<size>``. The synthetic store's edges are written once (untimed,
cached beside the store) as ``BUCKETS`` Parquet buckets by a hash of the follower id
(``dask_engine.write_buckets``, streamed from the store's following lists in chunks, so
the 100M-edge size fits in memory). Clusters (``processes=True``, one thread per worker)
start outside the timing. Every workload's report is checked equal to the single-machine
one before timing.

- ``kolgraph.reach``: ``g.reach(top20)`` on the opened store (the reference);
- ``dask 1 worker`` / ``dask 2 workers``: ``dask_engine.exact_reach(client, buckets, top20)``:
  one task per bucket reads its files (pyarrow, which releases the GIL), keeps the edges
  into the selected creators, ORs a membership mask per follower and returns only the
  region counts; the driver sums them (the population comes from the bucket manifest).

Where the time of the earlier layout went (8 files partitioned by followee range, shuffled
per query): one file held 90% of the edges (creators have the low ids), so one task did
nearly all the work whatever the worker count, and most of it was sorting every account
id for the population count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks._harness import Workload, measure

TOP = 20
BUCKETS = 16
CHUNK_EDGES = 8_000_000
_CLIENTS: dict = {}
_STATE: dict = {}


def _export(g, out: Path) -> Path:
    """The store's edges as buckets by follower, written once (atomically) into the cache."""
    from kolgraph import dask_engine

    if out.exists():
        return out
    ids = np.asarray(g.ids.ints)
    indptr = np.asarray(g.out_indptr)
    indices = g.out_indices

    def chunks():
        a = 0
        while a < g.n_accounts:
            b = int(np.searchsorted(indptr, indptr[a] + CHUNK_EDGES, side="right")) - 1
            b = min(max(b, a + 1), g.n_accounts)
            fol = np.repeat(ids[a:b], np.diff(indptr[a:b + 1]))
            yield fol, ids[np.asarray(indices[indptr[a]:indptr[b]])]
            a = b

    dask_engine.write_buckets(chunks(), out, "int", n_buckets=BUCKETS)
    return out


def _top(g):
    from benchmarks.test_reach import top_creators

    return top_creators(g, TOP)[1]


def _client(workers: int):
    if workers not in _CLIENTS:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
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

        return dask_engine.exact_reach(_client(workers), path, _STATE["ids"]).to_dict()
    return run


def _summary(d):
    return {"unique_reach": d["unique_reach"], "gross_reach": d["gross_reach"]}


WORKLOADS = [
    Workload("kolgraph.reach", "peer", f"g.reach(top{TOP}) on the store (single machine)",
             single, _summary, rss=False),
    Workload("dask 1 worker", "kolgraph",
             f"dask_engine.exact_reach(client, {BUCKETS} follower buckets, top{TOP}), 1 worker",
             _dask(1), _summary, rss=False),
    Workload("dask 2 workers", "kolgraph",
             f"dask_engine.exact_reach(client, {BUCKETS} follower buckets, top{TOP}), 2 workers",
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
    parts = _export(synth_store, bench_data_dir / f"{store.name}-byfollower{BUCKETS}")
    _STATE.update(store=store, ids=_top(synth_store))
    from benchmarks.test_reach import canon_kolgraph, check_equal

    want = synth_store.reach(_STATE["ids"]).to_dict()
    got = workload.run(parts, scratch_dir)
    # the counts must agree; view rates (the store has avg_views) and population (edges do not
    # list isolated accounts) differ by construction
    check_equal(workload.name, canon_kolgraph(got), canon_kolgraph(want))
    measure(benchmark, request, group=f"dask-reach-top{TOP}-{bench_size.label}",
            workload=workload, module=__name__, data_path=parts, scratch=scratch_dir,
            size=bench_size, edges=int(synth_store.n_edges), extra={"buckets": BUCKETS})
