"""Benchmark fixtures: the size, the cached data, scratch space, and (later) synthetic stores.

Size: ``--size small|medium|large`` (comma-separated for several) or
``KOLGRAPH_BENCH_SIZE``; default ``small``. Every benchmark taking ``bench_size``
is parametrised with a readable id (``200k-edges``, ``10M-edges``, ``100M-edges``).

Data is generated on first use and cached in ``$KOLGRAPH_BENCH_DATA`` (default
``bench-data/`` in the repo root), written atomically and reused by later runs.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from benchmarks import _harness
from benchmarks._harness import generator_digest
from benchmarks.data import SIZES, EdgeSpec, Size, data_dir, edge_csv, resolve_size


def pytest_addoption(parser):
    group = parser.getgroup("kolgraph benchmarks")
    group.addoption("--size", default=None,
                    help=f"benchmark size: {'|'.join(SIZES)} (comma-separated for several; "
                         "default $KOLGRAPH_BENCH_SIZE or small)")
    group.addoption("--bench-rounds", type=int, default=None,
                    help="rounds for every workload (default: by size and workload speed)")
    group.addoption("--bench-no-rss", action="store_true",
                    help="do not measure peak RSS in child processes")
    group.addoption("--bench-skips", default=None,
                    help="write the skipped workloads (group, peer, reason) to this JSON file")


def pytest_report_header(config):
    sizes = resolve_size(config.getoption("--size"))
    lines = [f"kolgraph benchmarks: {s.describe()}" for s in sizes]
    lines.append(f"benchmark data cache: {data_dir()}")
    return lines


def pytest_generate_tests(metafunc):
    if "bench_size" in metafunc.fixturenames:
        sizes = resolve_size(metafunc.config.getoption("--size"))
        metafunc.parametrize("bench_size", sizes, ids=[s.label for s in sizes], scope="session")


def pytest_sessionfinish(session, exitstatus):
    out = session.config.getoption("--bench-skips")
    if out:
        Path(out).write_text(json.dumps(_harness.SKIPPED, indent=2))


@pytest.fixture(scope="session")
def bench_data_dir() -> Path:
    """The data cache directory (``$KOLGRAPH_BENCH_DATA`` or ``<repo>/bench-data``)."""
    return data_dir()


@pytest.fixture(scope="session")
def edge_csv_spec(bench_size: Size) -> EdgeSpec:
    """Parameters of the edge-list CSV for this size."""
    return EdgeSpec.for_size(bench_size)


@pytest.fixture(scope="session")
def edge_csv_path(edge_csv_spec: EdgeSpec, bench_data_dir: Path) -> Path:
    """An integer ``follower,followee`` CSV: heavy-tailed (Zipf) followees, uniform followers,
    about 5 edges per account; generated once per parameter set and cached."""
    return edge_csv(edge_csv_spec, bench_data_dir, log=print)


@pytest.fixture
def scratch_dir(bench_data_dir: Path):
    """A per-test directory for outputs such as stores, on the same disk as the data
    (``/tmp`` may be tmpfs, where fsync costs nothing); removed afterwards."""
    d = bench_data_dir / "scratch" / uuid.uuid4().hex[:12]
    d.mkdir(parents=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# --- graph stores (for the query benchmarks of later issues) ------------------------------
@pytest.fixture(scope="session")
def synth_store(bench_size: Size, bench_data_dir: Path):
    """A synthetic graph store for this size, opened with ``kolgraph.open``.

    Built with ``kolgraph.synth.synth_store`` and cached in the data directory
    under a name that includes the size, the seed and :func:`generator_digest`, so a
    changed generator never reuses an old store.
    Skips (with the reason) while ``kolgraph.synth`` is not available.
    """
    try:
        from kolgraph import synth
    except ImportError as exc:
        pytest.skip(f"kolgraph.synth is not importable yet ({exc}); synthetic-store benchmarks "
                    "need it")
    if not hasattr(synth, "synth_store"):
        pytest.skip("kolgraph.synth has no synth_store() yet; synthetic-store benchmarks need it")
    import kolgraph

    seed = 20_240_521
    digest = generator_digest()
    path = bench_data_dir / f"synth-{bench_size.name}-seed{seed}-{digest}.kg"
    if not path.exists():  # synth_store writes atomically (temp dir renamed into place)
        synth.synth_store(path, accounts=bench_size.accounts, creators=bench_size.creators,
                          edges=bench_size.edges, seed=seed, overwrite=True)
    return kolgraph.open(path)
