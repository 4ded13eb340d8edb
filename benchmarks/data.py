"""Benchmark data: sizes, the cache directory, and the synthetic edge-list CSV.

The edge list imitates a follower crawl: ``accounts`` accounts each follow about
``edges / accounts`` others (followers drawn uniformly), 90% of the follows go to
``creators`` creator accounts with a Zipf(``zipf_s``) popularity over creator
rank (a few mega creators, a long tail of nano ones), and 10% go to arbitrary
accounts (followers follow each other too). Duplicate follows and self-follows
occur naturally, as in real crawls, so ingest has real deduplication to do.

Account ids are the integers ``0..accounts-1`` in shuffled order (SNAP/KONECT
style), so creators are scattered over the id range rather than bunched at the
low end. ``id_style="sparse"`` draws platform-like ids spread over ``[0, 2**40)``.

Files are written atomically (a temporary file renamed into place) under the
cache directory and reused by later runs: the name encodes every generator
parameter, so a changed parameter never reuses a stale file.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "KOLGRAPH_BENCH_DATA"
SIZE_ENV = "KOLGRAPH_BENCH_SIZE"
GENERATOR_VERSION = 1  # bump when the generator's output changes for the same parameters
_CHUNK = 5_000_000


@dataclass(frozen=True)
class Size:
    """One benchmark size: how many edges, accounts and creators the data has."""

    name: str
    edges: int
    accounts: int
    creators: int
    label: str  # readable pytest id, e.g. "10M-edges"
    purpose: str

    def describe(self) -> str:
        return (f"{self.name}: {self.edges:,} edges, {self.accounts:,} accounts, "
                f"{self.creators:,} creators ({self.purpose})")


SIZES: dict[str, Size] = {
    "small": Size("small", 200_000, 40_000, 2_000, "200k-edges", "CI smoke run, seconds"),
    "medium": Size("medium", 10_000_000, 2_000_000, 50_000, "10M-edges",
                   "a national campaign graph; peers all still fit"),
    "large": Size("large", 100_000_000, 20_000_000, 200_000, "100M-edges",
                  "the engine's design point; pure-Python peers are skipped"),
}


@dataclass(frozen=True)
class EdgeSpec:
    """Every parameter the edge-list generator takes (all of them name the cached file)."""

    edges: int
    accounts: int
    creators: int
    seed: int = 20_240_521
    zipf_s: float = 0.8
    creator_share: float = 0.9
    id_style: str = "dense"  # "dense" shuffled 0..n-1, or "sparse" over [0, 2**40)

    @classmethod
    def for_size(cls, size: Size, **overrides) -> EdgeSpec:
        return cls(edges=size.edges, accounts=size.accounts, creators=size.creators, **overrides)

    def filename(self) -> str:
        return (f"edges-v{GENERATOR_VERSION}-e{self.edges}-a{self.accounts}-c{self.creators}"
                f"-z{self.zipf_s:g}-s{self.creator_share:g}-{self.id_style}-seed{self.seed}.csv")


def resolve_size(name: str | None) -> list[Size]:
    """Sizes from ``--size`` / ``KOLGRAPH_BENCH_SIZE`` (comma-separated; default small)."""
    raw = name or os.environ.get(SIZE_ENV) or "small"
    out = []
    for part in raw.split(","):
        part = part.strip().lower()
        if part not in SIZES:
            raise ValueError(f"unknown benchmark size {part!r}; choose from {', '.join(SIZES)} "
                             f"(--size or {SIZE_ENV})")
        out.append(SIZES[part])
    return out


def data_dir() -> Path:
    """The cache directory: ``$KOLGRAPH_BENCH_DATA`` or ``bench-data/`` in the repo root."""
    d = Path(os.environ.get(DATA_ENV) or REPO_ROOT / "bench-data")
    d.mkdir(parents=True, exist_ok=True)
    return d


def edge_csv(spec: EdgeSpec, directory: Path | None = None, *, log=None) -> Path:
    """Path of the CSV for ``spec``, generating it (atomically) on first use."""
    directory = Path(directory) if directory is not None else data_dir()
    path = directory / spec.filename()
    if path.is_file():
        return path
    t0 = time.perf_counter()
    tmp = directory / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        write_edge_csv(spec, tmp)
        meta = {**asdict(spec), "generator_version": GENERATOR_VERSION, "bytes": tmp.stat().st_size,
                "seconds": round(time.perf_counter() - t0, 2)}
        meta_tmp = tmp.with_suffix(".json")
        meta_tmp.write_text(json.dumps(meta, indent=2))
        os.replace(meta_tmp, path.with_suffix(".json"))
        os.replace(tmp, path)  # last: the CSV's presence means the data is complete
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".json").unlink(missing_ok=True)
    if log is not None:
        log(f"generated {path} ({path.stat().st_size / 1e6:,.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s")
    return path


def account_ids(spec: EdgeSpec, rng: np.random.Generator) -> np.ndarray:
    """External id of every account (position = generator's account number)."""
    if spec.id_style == "dense":
        return rng.permutation(spec.accounts).astype(np.int64)
    if spec.id_style == "sparse":
        ids = np.unique(rng.integers(0, 1 << 40, size=int(spec.accounts * 1.01) + 16))
        while len(ids) < spec.accounts:  # collisions are rare; top up until there are enough
            ids = np.unique(np.concatenate([ids, rng.integers(0, 1 << 40, size=spec.accounts)]))
        return rng.permutation(ids)[: spec.accounts]
    raise ValueError(f"id_style must be 'dense' or 'sparse', not {spec.id_style!r}")


def generate_edges(spec: EdgeSpec):
    """Yield ``(follower_ids, followee_ids)`` int64 chunks of the edge list for ``spec``."""
    rng = np.random.default_rng(spec.seed)
    ids = account_ids(spec, rng)
    creator_acct = rng.choice(spec.accounts, size=spec.creators, replace=False)
    ranks = np.arange(1, spec.creators + 1, dtype=np.float64)
    cdf = np.cumsum(ranks ** -spec.zipf_s)
    cdf /= cdf[-1]
    for start in range(0, spec.edges, _CHUNK):
        m = min(_CHUNK, spec.edges - start)
        follower = rng.integers(0, spec.accounts, size=m)
        to_creator = rng.random(m) < spec.creator_share
        followee = rng.integers(0, spec.accounts, size=m)
        k = int(to_creator.sum())
        rank = np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), spec.creators - 1)
        followee[to_creator] = creator_acct[rank]
        yield ids[follower], ids[followee]


def write_edge_csv(spec: EdgeSpec, path: Path) -> None:
    """Write the ``follower,followee`` CSV for ``spec`` with pyarrow (unquoted header)."""
    schema = pa.schema([("follower", pa.int64()), ("followee", pa.int64())])
    opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with pa.OSFile(str(path), "wb") as sink:
        sink.write(b"follower,followee\n")  # pyarrow < 20 always quotes header names
        with pacsv.CSVWriter(sink, schema, write_options=opts) as w:
            for src, dst in generate_edges(spec):
                w.write_table(pa.table([pa.array(src), pa.array(dst)], schema=schema))
