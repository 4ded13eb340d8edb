"""Engaged reach report of the 20 largest creators: kolgraph beside pyroaring.

Group ``engaged-reach-top20-<size>``. The data is the synthetic store with planted
interactions of ``benchmarks/test_engagement.py`` (cached in the benchmark data
directory); the creators are the 20 with the most followers; the audience of a creator
is its *engaged* accounts: the distinct accounts (other than itself) with an event of
any kind on it, over the whole span of the events. Before any timing each workload's
numbers (unique reach, audiences, 20 x 20 intersections, exclusive reach, frequency)
are checked, once and untimed, against the numpy oracle of ``test_reach`` over the
engaged sets computed with numpy from the events.

- ``kolgraph.reach engaged``: ``g.reach(ids, audience="engaged")`` on the opened store:
  the engaged sets from the interactions CSR (a window slice of each creator's row, the
  accounts' keys sorted), then the full report, all inside the timing.
- ``pyroaring``: one ``BitMap`` per creator of its engaged set, *prebuilt* outside the
  timing (the engaged sets themselves from the events, also untimed), then the same
  report as ``test_reach``'s pyroaring workload.
- ``pyroaring from the events``: the whole job for pyroaring: each creator's engaged set
  by ``np.unique`` over its rows of the memory-mapped events (what kolgraph reads), the
  bitmaps built, then the same report.

Target (issue 19): kolgraph at least 2x faster than pyroaring with prebuilt bitmaps of
the engaged sets, over 100M events. The sizes here are the benchmark sizes' stores
(``--size large``, about 66M events, is what this shared machine's memory allows beside
the other work; medium about 6.6M); the event count is in each row's ``extra_info``.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks._harness import Workload, measure
from benchmarks.test_engagement import _store_of, build_data
from benchmarks.test_reach import (
    canon_kolgraph,
    check_equal,
    oracle,
    report_of_bitmaps,
    top_creators,
)

TOP = 20


@functools.lru_cache(maxsize=2)
def inputs(events: Path):
    """``(graph, ids, engaged rows, bitmaps, build seconds)``, all untimed."""
    from pyroaring import BitMap

    import kolgraph

    g = kolgraph.open(_store_of(events))
    idx, ids = top_creators(g, TOP)
    rows = engaged_sets(g, idx)
    t0 = time.perf_counter()
    bms = [BitMap(r.astype(np.uint32)) for r in rows]
    return g, ids, rows, bms, time.perf_counter() - t0


def engaged_sets(g, idx) -> list[np.ndarray]:
    """Each creator's engaged accounts (any event, not itself), sorted: numpy on its rows."""
    inter = g.interactions
    rows = []
    for c in idx:
        acc = np.asarray(inter.c_account[inter.c_indptr[c]:inter.c_indptr[c + 1]])
        rows.append(np.unique(acc[acc != c]))
    return rows


def run_kolgraph(events: Path, scratch: Path):
    g, ids, _, _, _ = inputs(events)
    return g.reach(ids, audience="engaged")


def run_pyroaring(events: Path, scratch: Path) -> dict:
    return report_of_bitmaps(inputs(events)[3])


def run_pyroaring_from_events(events: Path, scratch: Path) -> dict:
    from pyroaring import BitMap

    g, ids, _, _, _ = inputs(events)
    rows = engaged_sets(g, g.index(ids))
    return report_of_bitmaps([BitMap(r.astype(np.uint32)) for r in rows])


@functools.lru_cache(maxsize=2)
def check_same(events: Path) -> None:
    want = oracle(inputs(events)[2])
    check_equal("kolgraph.reach engaged", canon_kolgraph(run_kolgraph(events, events)), want)
    check_equal("pyroaring", run_pyroaring(events, events), want)
    check_equal("pyroaring from the events", run_pyroaring_from_events(events, events), want)


WORKLOADS = [
    Workload("kolgraph.reach engaged", "kolgraph",
             "g.reach(ids of the 20 largest creators, audience='engaged'): engaged sets from the "
             "interactions, then union, pairs, exclusive, frequency", run_kolgraph,
             summarize=lambda r: {"unique_reach": int(r.unique_reach)},
             targets=[{"peer": "pyroaring", "min_speedup": 2}]),
    Workload("pyroaring", "peer",
             "pyroaring on prebuilt BitMaps of the engaged sets: union, intersection_cardinality, "
             "bit-sliced frequency, exclusive", run_pyroaring,
             summarize=lambda d: {"unique_reach": d["unique_reach"]}),
    Workload("pyroaring from the events", "peer",
             "numpy unique over each creator's event rows, BitMap build, then the pyroaring "
             "report", run_pyroaring_from_events,
             summarize=lambda d: {"unique_reach": d["unique_reach"]}),
]


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_engaged_reach_top20(benchmark, request, workload, bench_size, bench_data_dir,
                             scratch_dir):
    path = build_data(bench_size, bench_data_dir)
    g, _, rows, _, build_seconds = inputs(path)
    check_same(path)
    measure(benchmark, request, group=f"engaged-reach-top20-{bench_size.label}",
            workload=workload, module=__name__, data_path=path, scratch=scratch_dir,
            size=bench_size, edges=g.interactions.n_events,
            extra={"events": g.interactions.n_events, "creators": TOP,
                   "engaged": int(sum(len(r) for r in rows)),
                   "bitmap_build_seconds": round(build_seconds, 4)})
