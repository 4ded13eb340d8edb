"""Sketches over edge partitions: (followee, follower hash) pairs routed to followee buckets,
sketched there in one numba pass; their directory and exchange files; the sketch-mode report."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from operator import getitem
from pathlib import Path
from typing import Any

import numpy as np

from kolgraph.dask_engine.parts import (
    FOLLOWEE,
    FOLLOWER,
    _batches,
    _bucket_of,
    _n_buckets,
    _np,
    _resolve,
    _split,
    partitions,
)
from kolgraph.exceptions import InputError
from kolgraph.kernels import sketch as _ks
from kolgraph.sketch import (
    DEFAULT_CONFIDENCE,
    DEFAULT_K,
    DEFAULT_P,
    Sketch,
    SketchSet,
    build_sketch_set,
    hash_ids,
    hll_estimate,
    safe_name,
    sketch_report,
)
from kolgraph.store import fsync_dir, json_default, write_array


def _file_pairs(path: str, kind: str, creators: np.ndarray | None, n_buckets: int, seed: int,
                p: int) -> dict:
    """One file: per followee bucket, (followee, follower hash) pairs; HLL of all account ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pa.array(creators.tolist()) if creators is not None else None
    regs = np.zeros(1 << p, dtype=np.uint8)
    fe_parts, h_parts = [], []
    for batch in _batches(path, [FOLLOWER, FOLLOWEE]):
        a, b = batch.column(0), batch.column(1)
        for col in (a, b):
            _ks.hll_from_hashes(hash_ids(_np(col, kind), seed), p, regs)
        keep = pc.not_equal(a, b)
        if value_set is not None:
            keep = pc.and_(keep, pc.is_in(b, value_set=value_set))
        fe_parts.append(_np(pc.filter(b, keep), kind))
        h_parts.append(hash_ids(_np(pc.filter(a, keep), kind), seed))
    fe = np.concatenate(fe_parts) if fe_parts else np.zeros(0, np.int64)
    h = np.concatenate(h_parts) if h_parts else np.zeros(0, np.uint64)
    return {"pairs": _split(n_buckets, _bucket_of(fe, n_buckets), fe, h), "hll": regs}


def _bucket_sketches(parts: list[tuple], p: int, k: int, seed: int) -> SketchSet:
    fe = np.concatenate([x[0] for x in parts])
    h = np.concatenate([x[1] for x in parts])
    order = np.lexsort((h, fe))
    fe, h = fe[order], h[order]
    if len(fe):
        new = np.ones(len(fe), dtype=bool)
        new[1:] = (fe[1:] != fe[:-1]) | (h[1:] != h[:-1])  # duplicate follows counted once
        fe, h = fe[new], h[new]
    starts = np.flatnonzero(np.r_[True, fe[1:] != fe[:-1]]) if len(fe) else np.zeros(0, np.int64)
    keys = fe[starts]
    indptr = np.append(starts, len(fe)).astype(np.int64)
    return build_sketch_set(indptr, np.arange(len(h), dtype=np.int64), h,
                            np.arange(len(keys), dtype=np.int64), keys, p=p, k=k, seed=seed)


def concat_sketch_sets(sets: Sequence[SketchSet]) -> SketchSet:
    """One set from sets over disjoint keys, sorted by key."""
    first = sets[0]
    keys = np.concatenate([s.keys for s in sets])
    order = np.argsort(keys, kind="stable")
    counts = np.concatenate([s.counts for s in sets])[order]
    lens = np.concatenate([np.diff(s.theta_indptr) for s in sets])
    starts = np.concatenate([s.theta_indptr[:-1] + off for s, off in
                             zip(sets, np.cumsum([0] + [len(s.theta_hashes) for s in sets[:-1]]),
                                 strict=True)])
    allh = np.concatenate([s.theta_hashes for s in sets])
    theta_indptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(lens[order], out=theta_indptr[1:])
    take = np.repeat(starts[order] - theta_indptr[:-1], lens[order]) + np.arange(theta_indptr[-1])
    reg_off = np.cumsum([0] + [len(s.registers) for s in sets[:-1]])
    hll_old = np.concatenate([np.where(s.hll_row >= 0, s.hll_row + off, -1)
                              for s, off in zip(sets, reg_off, strict=True)])[order]
    regs_all = np.concatenate([s.registers for s in sets]) if sets else first.registers
    big = hll_old >= 0
    hll_row = np.full(len(keys), -1, dtype=np.int64)
    hll_row[big] = np.arange(int(big.sum()))
    return SketchSet(keys[order], counts, theta_indptr, allh[take.astype(np.int64)], hll_row,
                     regs_all[hll_old[big]], first.p, first.k, first.seed)


def build_sketches(client, edges, out: str | Path | None = None, *, creators: Sequence | None = None,
                   p: int = DEFAULT_P, k: int = DEFAULT_K, seed: int = 0,
                   n_buckets: int | None = None, overwrite: bool = False) -> tuple[SketchSet, int]:
    """Sketch every followee (or ``creators``) of Parquet edge partitions on ``client``.

    Returns ``(sketches, population_estimate)``; with ``out``, also writes them as a
    directory (``manifest.json`` + ``.npy`` arrays; :func:`load_sketch_dir`), atomically.
    """
    files, kind = partitions(edges)
    if out is not None and Path(out).exists() and not overwrite:
        raise InputError(f"{out} already exists; pass overwrite=True to replace it")
    sel = None
    if creators is not None:
        sel = np.asarray(_resolve(creators, kind)[0], dtype=np.int64 if kind == "int" else str)
    nb = _n_buckets(client, n_buckets)
    futures = [client.submit(_file_pairs, f, kind, sel, nb, seed, p, pure=False) for f in files]
    parts = []
    for b in range(nb):
        pieces = [client.submit(lambda r, b=b: r["pairs"][b], f) for f in futures]
        parts.append(client.submit(_bucket_sketches, pieces, p, k, seed))
    hlls = client.gather([client.submit(getitem, f, "hll") for f in futures])
    sets = client.gather(parts)
    regs = np.max(np.stack(hlls), axis=0)
    population = int(round(hll_estimate(regs, p)))
    sk = concat_sketch_sets(sets)
    if out is not None:
        save_sketch_dir(sk, out, {"population_estimate": population, "id_kind": kind})
    return sk, population


def export_sketch_files(sk: SketchSet, out: str | Path, *, min_count: int = 0) -> dict:
    """One ``<id>.kgsk`` file per sketched key in ``out``, byte for byte what
    :func:`kolgraph.sketch.export_sketches` writes for the same graph. Audiences below
    ``min_count`` are not exported. The files are written into a temporary directory beside
    ``out`` and only then moved in, so a failure leaves nothing half-written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    exported = suppressed = 0
    try:
        for r, key in enumerate(sk.keys.tolist()):
            if sk.counts[r] < min_count:
                suppressed += 1
                continue
            sk.sketch(r, id=key).save(tmp / f"{safe_name(key)}.kgsk")
            exported += 1
        if not out.exists():
            os.rename(tmp, out)
        else:
            for f in tmp.iterdir():
                os.replace(f, out / f.name)
            tmp.rmdir()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out": str(out), "exported": exported, "suppressed": suppressed}


def save_sketch_dir(sk: SketchSet, out: str | Path, extra: dict | None = None) -> Path:
    """Write a sketch set as ``out/manifest.json`` + ``.npy`` files (temp dir renamed in)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = {f"{name}.npy": write_array(tmp / f"{name}.npy", arr)
                 for name, arr in sk.arrays().items()}
        with open(tmp / "manifest.json", "w") as fh:
            json.dump({"format": "kolgraph-sketches", **sk.meta(), **(extra or {}), "files": files},
                      fh, indent=2, default=json_default)
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_sketch_dir(path: str | Path) -> tuple[SketchSet, dict]:
    """Read a directory written by :func:`save_sketch_dir`: ``(sketches, manifest)``."""
    path = Path(path)
    mf = path / "manifest.json"
    if not mf.is_file():
        raise InputError(f"{path}: no sketch directory (manifest.json missing)")
    meta = json.loads(mf.read_text())
    arr = {name[:-4]: np.load(path / name, allow_pickle=False) for name in meta["files"]}
    return SketchSet(arr["keys"], arr["counts"], arr["theta_indptr"], arr["theta_hashes"],
                     arr["hll_row"], arr["registers"], int(meta["p"]), int(meta["k"]),
                     int(meta["seed"])), meta


def sketch_reach(client, edges, ids: Iterable, *, confidence: float = DEFAULT_CONFIDENCE,
                 min_count: int = 0, view_rates: Any = None, posts: Any = None,
                 p: int = DEFAULT_P, k: int = DEFAULT_K, seed: int = 0,
                 n_buckets: int | None = None):
    """The sketch-mode reach report of ``ids`` over Parquet edge partitions (their sketches
    built on ``client``; the population is a HyperLogLog estimate)."""
    files, kind = partitions(edges)
    ext, warnings = _resolve(ids, kind)
    sk, population = build_sketches(client, files, creators=ext, p=p, k=k, seed=seed,
                                    n_buckets=n_buckets)
    pos = sk.position(np.asarray(ext, dtype=np.int64 if kind == "int" else str))
    missing = [ext[i] for i in np.flatnonzero(pos < 0)]
    if missing:
        warnings.append(f"{len(missing)} creator id(s) have no followers in the edge files: "
                        f"{', '.join(map(repr, missing[:10]))}")
    sketches = [sk.sketch(int(r), id=x) if r >= 0 else
                Sketch(x, 0, np.zeros(0, np.uint64), True, None, p, k, seed)
                for r, x in zip(pos, ext, strict=True)]
    return sketch_report(sketches, confidence=confidence, min_count=min_count,
                         view_rates=view_rates, posts=posts, population=population,
                         warnings=warnings)
