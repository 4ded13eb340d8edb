"""Edges bucketed by a hash of the follower id, written once and queried many times: each
bucket holds every edge of its followers, so a report reads it in one local task."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from kolgraph.dask_engine.parts import (
    FOLLOWEE,
    FOLLOWER,
    _batches,
    _bucket_of,
    _count_values,
    _np,
    _or_by_key,
    _split,
    _unique,
    partitions,
)
from kolgraph.exceptions import InputError

BUCKETS = "_kolgraph_buckets.json"  # the manifest that marks such a directory
BUCKET_FORMAT = "kolgraph-edges-by-follower"
DEFAULT_BUCKETS = 16


class BucketWriter:
    """Appends edges to ``root/bucket-BBBBB/part-<tag>.parquet`` by a hash of the follower
    id (one open Parquet writer per bucket), and the distinct followees of each bucket's
    hash to ``ids-<tag>.parquet``, so a bucket's followers and accounts are all local."""

    def __init__(self, root: str | Path, n_buckets: int, kind: str, tag: str):
        self.root, self.n, self.kind, self.tag = Path(root), int(n_buckets), kind, tag
        self.writers: dict[int, Any] = {}
        self.followees: list[np.ndarray] = []
        self.edges = 0

    def _dir(self, b: int) -> Path:
        d = self.root / f"bucket-{b:05d}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def add(self, follower, followee) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        fol, fee = _np(follower, self.kind), _np(followee, self.kind)
        self.edges += len(fol)
        self.followees.append(_unique(fee))
        for b, (fo, fe) in enumerate(_split(self.n, _bucket_of(fol, self.n), fol, fee)):
            if len(fo) == 0:
                continue
            t = pa.table({FOLLOWER: fo, FOLLOWEE: fe})
            if b not in self.writers:
                self.writers[b] = pq.ParquetWriter(self._dir(b) / f"part-{self.tag}.parquet",
                                                   t.schema)
            self.writers[b].write_table(t)

    def close(self) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for w in self.writers.values():
            w.close()
        ids = _unique(np.concatenate(self.followees)) if self.followees else np.zeros(0, np.int64)
        for b, (x,) in enumerate(_split(self.n, _bucket_of(ids, self.n), ids)):
            if len(x):
                pq.write_table(pa.table({"id": x}), self._dir(b) / f"ids-{self.tag}.parquet")
        return self.edges


def _write_file_buckets(path: str, kind: str, root: str, n_buckets: int, tag: str) -> int:
    w = BucketWriter(root, n_buckets, kind, tag)
    for batch in _batches(path, [FOLLOWER, FOLLOWEE]):
        w.add(batch.column(0), batch.column(1))
    return w.close()


def _bucket_population(root: str, b: int, kind: str) -> int:
    """Distinct accounts of bucket b: its followers and the followees hashed to it."""
    import pyarrow.parquet as pq

    d = Path(root) / f"bucket-{b:05d}"
    parts = [_np(pq.read_table(f, columns=[FOLLOWER]).column(0), kind)
             for f in sorted(d.glob("part-*.parquet"))]
    parts += [_np(pq.read_table(f).column(0), kind) for f in sorted(d.glob("ids-*.parquet"))]
    return len(_unique(np.concatenate(parts))) if parts else 0


def _finish_buckets(tmp: Path, out: Path, n_buckets: int, kind: str, edges: int,
                    populations: list[int]) -> Path:
    files = [sorted(str(f.relative_to(tmp)) for f in (tmp / f"bucket-{b:05d}").glob("part-*.parquet"))
             if (tmp / f"bucket-{b:05d}").is_dir() else [] for b in range(n_buckets)]
    manifest = {"format": BUCKET_FORMAT, "version": 1, "n_buckets": n_buckets, "id_kind": kind,
                "bucket_hash": "kolgraph-hash-v1 seed 0x5EED mod n_buckets", "edges": int(edges),
                "population": int(sum(populations)), "buckets": files}
    with open(tmp / BUCKETS, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    if out.exists():
        shutil.rmtree(out)
    os.rename(tmp, out)
    return out


def _tmp_beside(out: Path, overwrite: bool) -> Path:
    if out.exists() and not overwrite:
        raise InputError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def bucket_edges(client, edges, out: str | Path, *, n_buckets: int = DEFAULT_BUCKETS,
                 overwrite: bool = False) -> dict:
    """Rewrite Parquet edge partitions as ``n_buckets`` buckets by follower id, once (one task
    per input file), so later reports read each bucket in one local task with no shuffle.

    The workers write into a temporary directory beside ``out`` (on a real cluster it must
    be a filesystem every worker shares), renamed into place at the end: nothing is left
    half-written. Returns the manifest.
    """
    files, kind = partitions(edges)
    out = Path(out)
    if n_buckets < 1:
        raise InputError("n_buckets must be at least 1")
    tmp = _tmp_beside(out, overwrite)
    tmp.mkdir()
    try:
        written = client.gather([client.submit(_write_file_buckets, f, kind, str(tmp), n_buckets,
                                               f"{i:05d}", pure=False)
                                 for i, f in enumerate(files)])
        pops = client.gather([client.submit(_bucket_population, str(tmp), b, kind, pure=False)
                              for b in range(n_buckets)])
        _finish_buckets(tmp, out, n_buckets, kind, sum(written), pops)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return bucket_manifest(out)


def write_buckets(chunks: Iterable[tuple], out: str | Path, kind: str = "int", *,
                  n_buckets: int = DEFAULT_BUCKETS, overwrite: bool = False) -> dict:
    """The same layout as :func:`bucket_edges`, written in this process from
    ``(follower, followee)`` array chunks (e.g. a store's edges); atomic likewise."""
    out = Path(out)
    tmp = _tmp_beside(out, overwrite)
    tmp.mkdir()
    try:
        w = BucketWriter(tmp, n_buckets, kind, "00000")
        for fol, fee in chunks:
            w.add(fol, fee)
        edges = w.close()
        pops = [_bucket_population(str(tmp), b, kind) for b in range(n_buckets)]
        _finish_buckets(tmp, out, n_buckets, kind, edges, pops)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return bucket_manifest(out)


def bucket_manifest(edges) -> dict | None:
    """The manifest of a directory written by :func:`bucket_edges` (bucket file lists made
    absolute and checked), or None when ``edges`` is not such a directory."""
    if not isinstance(edges, str | Path) or not (Path(edges) / BUCKETS).is_file():
        return None
    root = Path(edges)
    try:
        man = json.loads((root / BUCKETS).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{root / BUCKETS}: unreadable bucket manifest ({exc})") from None
    if man.get("format") != BUCKET_FORMAT or man.get("version") != 1:
        raise InputError(f"{root / BUCKETS}: not a {BUCKET_FORMAT} v1 manifest")
    man["buckets"] = [[str(root / f) for f in fs] for fs in man["buckets"]]
    missing = [f for fs in man["buckets"] for f in fs if not os.path.isfile(f)]
    if missing:
        raise InputError(f"{root}: {len(missing)} bucket file(s) missing, e.g. {missing[0]}; "
                         "rewrite the buckets (kolgraph dask-bucket)")
    return man


def _bucket_counts(files: list[str], kind: str, sel: np.ndarray) -> tuple:
    """One bucket (every follower's edges are here): region counts of the selected creators'
    followers, and which selected ids occur in it. Only these small arrays go back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = np.zeros(len(sel), dtype=bool)
    fol_parts, slot_parts = [], []
    for f in files:
        for batch in _batches(f, [FOLLOWER, FOLLOWEE]):
            a, b = batch.column(0), batch.column(1)
            value_set = pa.array(sel.tolist(), type=b.type)
            slot = pc.index_in(b, value_set=value_set)
            keep = pc.and_(pc.is_valid(slot), pc.not_equal(a, b))
            fol_parts.append(_np(pc.filter(a, keep), kind))
            slots = pc.filter(slot, keep).to_numpy(zero_copy_only=False).astype(np.int64)
            slot_parts.append(slots)
            found[np.unique(pc.drop_null(slot).to_numpy())] = True
            found[np.unique(pc.drop_null(pc.index_in(a, value_set=value_set)).to_numpy())] = True
    fol = np.concatenate(fol_parts) if fol_parts else np.zeros(0, np.int64)
    slots = np.concatenate(slot_parts) if slot_parts else np.zeros(0, np.int64)
    _, masks = _or_by_key(fol, np.left_shift(np.uint64(1), slots.astype(np.uint64)))
    uniq, counts = _count_values(masks)
    return uniq, counts, found

