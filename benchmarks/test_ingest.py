"""Ingest of an integer edge-list CSV: kolgraph beside what users run today, in one run.

Group ``ingest-csv-<size>``; every workload reads the same cached CSV
(``follower,followee``, heavy-tailed followees, see :mod:`benchmarks.data`):

- ``kolgraph.read_graph``: CSV to an in-memory FollowerGraph (ids mapped,
  self-follows and duplicates dropped, sorted CSR both ways): the like-for-like
  comparison with the peers, which also end with an in-memory graph.
- ``kolgraph.ingest``: the same, then written as a store on disk (checksums,
  fsync, atomic rename).
- ``pandas+networkx``: what users do today. ``pandas.read_csv`` then
  ``DiGraph().add_edges_from(zip(...tolist()))``, the fastest networkx build
  measured here (``from_pandas_edgelist`` was about 1.4x slower at 1M edges).
  Skipped above ``NETWORKX_MAX_EDGES``.
- ``pandas+igraph``: ``pandas.read_csv`` then ``igraph.Graph.DataFrame(df,
  use_vids=False)`` (maps arbitrary ids to vertices; faster here than
  ``pd.factorize`` + ``Graph(edges)``). It keeps duplicate edges, so it does less
  work than kolgraph.
- ``pyarrow.read_csv``: the plain multithreaded CSV read, no graph: the floor.

Targets (from the issue): ``kolgraph.read_graph`` at least 20x faster than
pandas+networkx and at most 4x pyarrow's raw read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks._harness import Workload, measure

NETWORKX_MAX_EDGES = 20_000_000
NETWORKX_BYTES_PER_EDGE = 260  # measured here: DiGraph of 1M follower edges, about 260 MB
NETWORKX_EDGES_PER_SECOND = 200_000  # measured here, read + build
STORE_NAME = "bench.kg"


# --- kolgraph -----------------------------------------------------------------------------
def kolgraph_read_graph(path: Path, scratch: Path):
    from kolgraph.ingest import read_graph

    return read_graph(path)


def kolgraph_ingest(path: Path, scratch: Path):
    from kolgraph.ingest import ingest

    return ingest(path, scratch / STORE_NAME, overwrite=True)


def _remove_store(scratch: Path) -> None:
    shutil.rmtree(scratch / STORE_NAME, ignore_errors=True)


def _graph_summary(g) -> dict:
    rep = g.report
    out = {"accounts": int(g.n_accounts), "edges": int(g.n_edges),
           "duplicate_edges": rep.get("duplicate_edges"), "self_follows": rep.get("self_follows"),
           "parser": rep.get("parser")}
    for k in ("read_seconds", "build_seconds", "write_seconds"):
        if k in rep:
            out[k] = rep[k]
    manifest = getattr(g, "manifest", None)
    if manifest:
        out["store_bytes"] = int(sum(f["size"] for f in manifest["files"].values()))
    return out


def warm_jit() -> None:
    """Compile (or load from numba's cache) the ingest kernels on a tiny graph."""
    from kolgraph import FollowerGraph

    FollowerGraph.from_edges(np.array([1, 2, 3, 5]), np.array([2, 3, 1, 1]))
    FollowerGraph.from_edges(np.array([1, 2, 1 << 40]), np.array([2, 1 << 40, 1]))


# --- peers --------------------------------------------------------------------------------
def pyarrow_read_csv(path: Path, scratch: Path):
    import pyarrow.csv as pacsv

    return pacsv.read_csv(path)


def pandas_networkx(path: Path, scratch: Path):
    import networkx as nx
    import pandas as pd

    df = pd.read_csv(path)
    G = nx.DiGraph()
    G.add_edges_from(zip(df["follower"].tolist(), df["followee"].tolist(), strict=True))
    return G


def pandas_igraph(path: Path, scratch: Path):
    import igraph as ig
    import pandas as pd

    df = pd.read_csv(path)
    return ig.Graph.DataFrame(df, directed=True, use_vids=False)


def _networkx_skip_reason() -> str:
    return (f"pandas+networkx is skipped above {NETWORKX_MAX_EDGES / 1e6:.0f}M edges: at about "
            f"{NETWORKX_BYTES_PER_EDGE} bytes and 1/{NETWORKX_EDGES_PER_SECOND:,} s per edge, "
            f"100M edges need about {100e6 * NETWORKX_BYTES_PER_EDGE / 2**30:.0f} GiB and "
            f"{100e6 / NETWORKX_EDGES_PER_SECOND / 60:.0f} min per round")


WORKLOADS = [
    Workload(
        "kolgraph.read_graph", "kolgraph",
        "kolgraph.ingest.read_graph(csv) -> in-memory FollowerGraph",
        kolgraph_read_graph, _graph_summary, jit_warm="benchmarks.test_ingest:warm_jit",
        targets=[{"peer": "pandas+networkx", "min_speedup": 20},
                 {"peer": "pyarrow.read_csv", "max_slowdown": 4}]),
    Workload(
        "kolgraph.ingest", "kolgraph",
        "kolgraph.ingest.ingest(csv, out, overwrite=True) -> store on disk (sha256, fsync, rename)",
        kolgraph_ingest, _graph_summary, setup=_remove_store,
        jit_warm="benchmarks.test_ingest:warm_jit"),
    Workload(
        "pyarrow.read_csv", "peer", "pyarrow.csv.read_csv(csv): the raw read, no graph (floor)",
        pyarrow_read_csv, lambda t: {"rows": t.num_rows}),
    Workload(
        "pandas+igraph", "peer",
        "pd.read_csv(csv); igraph.Graph.DataFrame(df, directed=True, use_vids=False) "
        "(duplicates kept)",
        pandas_igraph, lambda g: {"accounts": g.vcount(), "edges": g.ecount()}, slow=True),
    Workload(
        "pandas+networkx", "peer",
        "pd.read_csv(csv); nx.DiGraph().add_edges_from(zip(df.follower.tolist(), "
        "df.followee.tolist()))",
        pandas_networkx, lambda G: {"accounts": G.number_of_nodes(), "edges": G.number_of_edges()},
        slow=True, max_edges=NETWORKX_MAX_EDGES, skip_reason=_networkx_skip_reason()),
]


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_ingest_csv(benchmark, request, workload, bench_size, edge_csv_spec, edge_csv_path,
                    scratch_dir):
    info = measure(benchmark, request, group=f"ingest-csv-{bench_size.label}", workload=workload,
                   module=__name__, data_path=edge_csv_path, scratch=scratch_dir, size=bench_size,
                   edges=edge_csv_spec.edges,
                   extra={"accounts_generated": edge_csv_spec.accounts,
                          "creators_generated": edge_csv_spec.creators})
    got = info["summary"]
    if not got:  # --benchmark-disable: nothing to check
        return
    n = edge_csv_spec.edges
    if "rows" in got:
        assert got["rows"] == n
    elif workload.name == "pandas+igraph":
        assert got["edges"] == n  # a multigraph: every input row is an edge
    else:  # deduplicated graphs keep most edges; nearly every account appears
        assert 0.9 * n <= got["edges"] <= n, got
        assert 0.9 * edge_csv_spec.accounts <= got["accounts"] <= edge_csv_spec.accounts, got
