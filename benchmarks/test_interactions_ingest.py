"""Ingest of interaction events: ``kolgraph add-interactions`` beside reading the same
Parquet file with pyarrow.

Group ``interactions-ingest-<size>``. The events are those the engagement benchmark plants
(:func:`benchmarks.test_engagement.build_data`: the synthetic store with interactions),
written once as a typed Parquet file the way an export would hold them: external account
and creator ids (int64), a UTC timestamp, the kind as text, an int32 post id. The follow
graph they go into is the same synthetic graph without interactions (the suite's
``synth_store``), copied into the scratch directory before each round (untimed).

- ``kolgraph.add_interactions``: read and check the file, map ids, grow the account
  table if needed, drop duplicates, build both CSRs, write the store part with checksums
  and swap it in atomically.
- ``pyarrow.read_table``: the plain read of the same file, no checks: the floor.

Target (issue 19): at most 4x pyarrow's read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks._harness import Workload, measure
from benchmarks.test_engagement import build_data

STORE_NAME = "bench-inter.kg"
_BASE: dict[str, Path] = {}


def export_events(events: Path) -> Path:
    """The engagement benchmark's events with external ids, as an export would hold them."""
    out = events.with_name(events.name.replace("-events.parquet", "-export.parquet"))
    if out.exists():
        return out
    import kolgraph

    g = kolgraph.open(events.with_name(events.name.replace("-events.parquet", ".kg")))
    t = pq.read_table(events)
    ext = pa.array(g.external(np.arange(g.n_accounts)), pa.int64())
    table = pa.table({
        "account": ext.take(t["account"]), "creator": ext.take(t["creator"]),
        "time": t["time"].cast(pa.int64()).cast(pa.timestamp("s", tz="UTC")),
        "kind": t["kind"].cast(pa.string()), "post": t["post"].cast(pa.int32())})
    tmp = out.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.rename(out)
    return out


def _copy_base(scratch: Path) -> None:
    shutil.rmtree(scratch / STORE_NAME, ignore_errors=True)
    shutil.copytree(_BASE["store"], scratch / STORE_NAME)


def run_kolgraph(path: Path, scratch: Path):
    from kolgraph.interactions_io import add_interactions

    return add_interactions(scratch / STORE_NAME, path)


def run_pyarrow(path: Path, scratch: Path):
    return pq.read_table(path)


WORKLOADS = [
    Workload("kolgraph.add_interactions", "kolgraph",
             "add_interactions(store copy, events.parquet): checks, id mapping, dedup, both "
             "CSRs, checksummed atomic write", run_kolgraph, setup=_copy_base,
             summarize=lambda r: {"events": r["events"], "duplicates": r["duplicate_events"]},
             targets=[{"peer": "pyarrow.read_table", "max_slowdown": 4}]),
    Workload("pyarrow.read_table", "peer", "pyarrow.parquet.read_table(events.parquet)",
             run_pyarrow, summarize=lambda t: {"rows": t.num_rows}),
]


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_interactions_ingest(benchmark, request, workload, bench_size, bench_data_dir,
                             scratch_dir, synth_store):
    path = export_events(build_data(bench_size, bench_data_dir))
    _BASE["store"] = Path(synth_store.path)
    rows = pq.ParquetFile(path).metadata.num_rows
    measure(benchmark, request, group=f"interactions-ingest-{bench_size.label}",
            workload=workload, module=__name__, data_path=path, scratch=scratch_dir,
            size=bench_size, edges=rows, extra={"events": rows})
