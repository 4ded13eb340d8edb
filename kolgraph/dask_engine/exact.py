"""Exact reach over edge partitions: region counts per follower bucket, summed by the driver."""

from __future__ import annotations

from collections.abc import Iterable
from operator import getitem
from typing import Any

import numpy as np

from kolgraph._check import exposure
from kolgraph.dask_engine.buckets import _bucket_counts, bucket_manifest
from kolgraph.dask_engine.parts import (
    FOLLOWEE,
    FOLLOWER,
    _batches,
    _bucket_of,
    _contains,
    _count_values,
    _n_buckets,
    _np,
    _or_by_key,
    _resolve,
    _split,
    _unique,
    partitions,
)
from kolgraph.exceptions import UnknownAccountError
from kolgraph.kernels import reach as _kr
from kolgraph.reach_report import ReachReport
from kolgraph.tiers import tier_of


def _file_masks(path: str, kind: str, sel: np.ndarray, n_buckets: int) -> dict:
    """One file: per bucket, the followers of selected creators with their OR'd masks and the
    file's distinct account ids; which selected ids occur at all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    value_set = pa.array(sel.tolist())
    order = np.argsort(sel)
    fol_parts, bit_parts, id_parts = [], [], []
    found = np.zeros(len(sel), dtype=bool)
    for batch in _batches(path, [FOLLOWER, FOLLOWEE]):
        a, b = batch.column(0), batch.column(1)
        id_parts.append(_unique(np.concatenate([_np(a, kind), _np(b, kind)])))
        keep = pc.and_(pc.is_in(b, value_set=value_set), pc.not_equal(a, b))
        fa, fb = _np(pc.filter(a, keep), kind), _np(pc.filter(b, keep), kind)
        slot = order[np.searchsorted(sel[order], fb)]  # position of each followee in sel
        fol_parts.append(fa)
        bit_parts.append(np.left_shift(np.uint64(1), slot.astype(np.uint64)))
        found |= _contains(id_parts[-1], sel)
    ids = _unique(np.concatenate(id_parts)) if id_parts else np.zeros(0, np.int64)
    fol = np.concatenate(fol_parts) if fol_parts else ids[:0]
    bits = np.concatenate(bit_parts) if bit_parts else np.zeros(0, np.uint64)
    fol, masks = _or_by_key(fol, bits)
    return {"masks": _split(n_buckets, _bucket_of(fol, n_buckets), fol, masks),
            "ids": [x[0] for x in _split(n_buckets, _bucket_of(ids, n_buckets), ids)],
            "found": found}


def _bucket_regions(parts: list[tuple], id_parts: list[np.ndarray]) -> tuple:
    """One bucket: every follower's whole mask is here; count its regions and accounts."""
    fol = np.concatenate([p[0] for p in parts])
    bits = np.concatenate([p[1] for p in parts])
    _, masks = _or_by_key(fol, bits)
    uniq, counts = _count_values(masks)
    accounts = len(_unique(np.concatenate(id_parts))) if id_parts else 0
    return uniq, counts, accounts


def exact_reach(client, edges, ids: Iterable, *, view_rates: Any = None, posts: Any = None,
                skip_unknown: bool = False, n_buckets: int | None = None) -> ReachReport:
    """The exact reach report of creators ``ids`` over Parquet edge partitions, on ``client``.

    Same numbers and JSON keys as ``reach(g, ids)`` on a store of the same edges
    (tiers from the audiences; view rates default to 1, as without a creator table).
    """
    man = bucket_manifest(edges)
    if man is not None:  # bucketed by follower: one local task per bucket, no shuffle
        kind = man["id_kind"]
        ext, warnings = _resolve(ids, kind)
        sel = np.asarray(ext, dtype=np.int64 if kind == "int" else str)
        results = client.gather([client.submit(_bucket_counts, fs, kind, sel, pure=False)
                                 for fs in man["buckets"] if fs])
        found = np.zeros(len(sel), dtype=bool)
        for r in results:
            found |= r[2]
        results = [(r[0], r[1], 0) for r in results]
        population = int(man["population"])
    else:
        ext, warnings, found, results = _shuffled_counts(client, edges, ids, n_buckets)
        population = int(sum(r[2] for r in results))
    unknown = [ext[i] for i in np.flatnonzero(~found)]
    keep = np.flatnonzero(found)
    if unknown:
        if not skip_unknown:
            raise UnknownAccountError(unknown)
        warnings.append(f"{len(unknown)} unknown creator id(s) skipped: "
                        f"{', '.join(map(repr, unknown[:10]))}")
    masks = np.concatenate([r[0] for r in results]) if results else np.zeros(0, np.uint64)
    counts = np.concatenate([r[1] for r in results]) if results else np.zeros(0, np.int64)
    masks, counts = _remap(masks, counts, keep)
    return _report([ext[i] for i in keep], masks, counts, population, view_rates, posts,
                   warnings)


def _shuffled_counts(client, edges, ids: Iterable, n_buckets: int | None) -> tuple:
    """Unbucketed partitions: file tasks split the selected followers by bucket, bucket tasks
    join them (a shuffle through the workers) and count regions and accounts."""
    files, kind = partitions(edges)
    ext, warnings = _resolve(ids, kind)
    sel = np.asarray(ext, dtype=np.int64 if kind == "int" else str)
    nb = _n_buckets(client, n_buckets)
    futures = [client.submit(_file_masks, f, kind, sel, nb, pure=False) for f in files]
    found = np.zeros(len(sel), dtype=bool)
    buckets = []
    for b in range(nb):
        masks = [client.submit(lambda r, b=b: r["masks"][b], f) for f in futures]
        idp = [client.submit(lambda r, b=b: r["ids"][b], f) for f in futures]
        buckets.append(client.submit(_bucket_regions, masks, idp))
    for f in futures:
        found |= client.submit(getitem, f, "found").result()
    return ext, warnings, found, client.gather(buckets)


def _remap(masks: np.ndarray, counts: np.ndarray, keep: np.ndarray):
    """Sum region counts per mask, with creator bits renumbered to the kept creators."""
    out = np.zeros(len(masks), dtype=np.uint64)
    for new, old in enumerate(keep):
        out |= ((masks >> np.uint64(old)) & np.uint64(1)) << np.uint64(new)
    nz = out != 0
    uniq, inv = np.unique(out[nz], return_inverse=True)
    return uniq, np.bincount(inv.reshape(-1), weights=counts[nz], minlength=len(uniq)).astype(np.int64)


def _report(ids: list, masks, counts, population: int, view_rates, posts, warnings) -> ReachReport:
    k = len(ids)
    rates, n_posts = exposure(view_rates, posts, ids)
    pair, exclusive, incremental, exactly, exp_reach, exp_exactly = _kr.summarize_regions(
        masks.reshape(-1, 1), counts, 1.0 - (1.0 - rates) ** n_posts)
    audience = np.diag(pair).copy()
    return ReachReport(list(ids), audience, exclusive, incremental,
                       [str(t) for t in tier_of(audience)] if k else [], pair, exactly, masks,
                       counts, population, rates, n_posts.astype(np.int64), float(exp_reach),
                       exp_exactly, {}, warnings)

