"""A Dask (``dask.distributed``) backend for follower edges partitioned as Parquet.

Input: Parquet files (a glob, a directory or a list) with the columns
``follower`` and ``followee`` (both integer or both text, the same in every
file). No file is ever loaded whole: each task streams one file's record
batches with pyarrow.

- :func:`exact_reach`: each file task keeps the rows whose followee is selected
  (self-follows dropped), ORs a creator-membership mask per follower and splits
  the followers into buckets by a hash of their id; one task per bucket then
  joins the bucket's pieces from every file, so each follower's full mask is
  local, and counts the Venn regions; the driver sums the region counts and
  derives every number of the exact report from them (the single-machine
  engine's definitions; equal counts). The accounts of the graph (its
  population) are counted the same way, by bucket.
- :func:`bucket_edges` / :func:`write_buckets`: the edges rewritten once as buckets by
  a hash of the follower id (with a manifest holding the population); :func:`exact_reach`
  on such a directory runs one local task per bucket that returns only region counts:
  no shuffle, balanced tasks, nothing big through the scheduler.
- :func:`build_sketches`: file tasks hash the followers and route
  ``(followee, follower hash)`` pairs to buckets by followee; a bucket task
  deduplicates its pairs and sketches every followee in one numba pass, so the
  sketches equal those of the single-machine builder.
- :func:`sketch_reach`: the sketch-mode report for a creator set, sketching only
  those creators.

Runs on a ``LocalCluster`` by default (:func:`connect`) or on a cluster given its
scheduler address. Bad input fails before any work with an :class:`InputError`
naming the file: no match, unreadable file, missing columns, mixed schemas,
numbered partitions with gaps; an unreachable scheduler is an InputError too.
Nothing is written except by :func:`bucket_edges`, :func:`write_buckets`,
:func:`build_sketches` and :func:`export_sketch_files` (temporary directories renamed
into place).
"""

from __future__ import annotations

import glob as _glob
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import getitem
from pathlib import Path
from typing import Any

import numpy as np

from kolgraph._check import exposure
from kolgraph.exceptions import InputError, UnknownAccountError
from kolgraph.kernels import reach as _kr
from kolgraph.kernels import sketch as _ks
from kolgraph.reach_report import ReachReport
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
from kolgraph.tiers import tier_of

FOLLOWER, FOLLOWEE = "follower", "followee"
BATCH_ROWS = 1 << 22

# Region masks here are one 64-bit word (the exact engine spans several words).
MAX_CREATORS = 64


# --- cluster ---------------------------------------------------------------------------------
@contextmanager
def connect(scheduler: str | None = None, *, workers: int = 2, processes: bool = True,
            timeout: float = 5.0) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``) or to a new
    ``LocalCluster`` of ``workers`` single-threaded workers, closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} "
                             f"({type(exc).__name__}: {exc})") from None
        with client:
            yield client
        return
    if workers < 1:
        raise InputError("workers must be at least 1")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


# --- input -----------------------------------------------------------------------------------
def partitions(edges: str | Path | Sequence[str | Path]) -> tuple[list[str], str]:
    """The Parquet files of ``edges`` and their id kind (``"int"`` or ``"str"``), checked.

    Raises :class:`InputError` when nothing matches, a file is unreadable or lacks
    ``follower``/``followee``, the files disagree on column types, or numbered
    partition files (``part-0.parquet``, ``part-1.parquet``, ...) have gaps.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(edges, str | Path):
        p = Path(edges)
        files = sorted(_glob.glob(str(p / "*.parquet"))) if p.is_dir() else \
            sorted(_glob.glob(str(edges)))
    else:
        files = [str(f) for f in edges]
    if not files:
        raise InputError(f"no Parquet edge files match {str(edges)!r}")
    kinds: dict[str, str] = {}
    for f in files:
        try:
            schema = pq.read_schema(f)
        except FileNotFoundError:
            raise InputError(f"{f}: partition file is missing") from None
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{f}: not a readable Parquet file ({exc})") from None
        missing = [c for c in (FOLLOWER, FOLLOWEE) if c not in schema.names]
        if missing:
            raise InputError(f"{f}: no column {', '.join(missing)} (columns: "
                             f"{', '.join(schema.names)}); edge files need follower, followee")
        types = [schema.field(c).type for c in (FOLLOWER, FOLLOWEE)]
        if all(pa.types.is_integer(t) for t in types):
            kinds[f] = "int"
        elif all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in types):
            kinds[f] = "str"
        else:
            raise InputError(f"{f}: follower/followee are {types[0]}/{types[1]}; both must be "
                             "integers or both text")
    if len(set(kinds.values())) > 1:
        ints = [f for f, k in kinds.items() if k == "int"][:1]
        strs = [f for f, k in kinds.items() if k == "str"][:1]
        raise InputError(f"mixed schemas: {ints[0]} has integer ids, {strs[0]} text ids")
    _check_numbering(files)
    return files, next(iter(kinds.values()))


_PART_NO = re.compile(r"^(.*?)(\d+)(\.[^/]*)$")


def _check_numbering(files: list[str]) -> None:
    """Numbered partitions sharing a name pattern must run without gaps from the lowest."""
    groups: dict[tuple[str, str], dict[int, str]] = {}
    for f in files:
        m = _PART_NO.match(os.path.basename(f))
        if m:
            groups.setdefault((os.path.dirname(f) + "/" + m.group(1), m.group(3)), {})[
                int(m.group(2))] = f
    for (stem, ext), nums in groups.items():
        if len(nums) < 2:
            continue
        lo, hi = min(nums), max(nums)
        gaps = sorted(set(range(lo, hi + 1)) - set(nums))
        if gaps:
            shown = ", ".join(str(g) for g in gaps[:10])
            raise InputError(f"missing partition(s) {shown} of {stem}N{ext} "
                             f"(found {len(nums)} of {lo}..{hi})")


def _batches(path: str, columns: list[str]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # one thread: a worker is one core (pyarrow would otherwise decode on every core)
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns,
                                                     use_threads=False)
    except FileNotFoundError:
        raise InputError(f"{path}: partition file is missing") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def _np(col, kind: str) -> np.ndarray:
    if isinstance(col, np.ndarray):
        return col.astype(np.int64 if kind == "int" else str, copy=False)
    if kind == "int":
        return col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return np.asarray(col.to_pylist(), dtype=str)


def _bucket_of(values: np.ndarray, n_buckets: int) -> np.ndarray:
    return (hash_ids(values, seed=0x5EED) % np.uint64(n_buckets)).astype(np.int64)


def _split(n_buckets: int, bucket: np.ndarray, *arrays: np.ndarray) -> list[tuple]:
    order = np.argsort(bucket, kind="stable")
    cuts = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
    return [tuple(a[order[cuts[b]:cuts[b + 1]]] for a in arrays) for b in range(n_buckets)]


# --- edges bucketed by follower (written once, queried many times) -----------------------------
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


# --- exact counts ----------------------------------------------------------------------------
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


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values by a sort (numpy's hash-based unique is several times slower
    on millions of int64 here)."""
    x = np.sort(x)
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(queries), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_values, queries), len(sorted_values) - 1)
    return sorted_values[pos] == queries


def _or_by_key(keys: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the OR of their bits."""
    order = np.argsort(keys, kind="stable")
    keys, bits = keys[order], bits[order]
    if len(keys) == 0:
        return keys, bits
    start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[start], np.bitwise_or.reduceat(bits, start)


def _count_values(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and how often each occurs (by a sort)."""
    x = np.sort(x)
    if len(x) == 0:
        return x, np.zeros(0, np.int64)
    start = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    return x[start], np.diff(np.r_[start, len(x)]).astype(np.int64)


def _bucket_regions(parts: list[tuple], id_parts: list[np.ndarray]) -> tuple:
    """One bucket: every follower's whole mask is here; count its regions and accounts."""
    fol = np.concatenate([p[0] for p in parts])
    bits = np.concatenate([p[1] for p in parts])
    _, masks = _or_by_key(fol, bits)
    uniq, counts = _count_values(masks)
    accounts = len(_unique(np.concatenate(id_parts))) if id_parts else 0
    return uniq, counts, accounts


def _resolve(ids: Iterable, kind: str) -> tuple[list, list]:
    out, warnings, seen = [], [], set()
    dups = 0
    for x in ids:
        if kind == "int":
            try:
                x = int(x)
            except (TypeError, ValueError):
                raise InputError(f"creator id {x!r} is not an integer; the edge files have "
                                 "integer ids") from None
        else:
            x = str(x)
        if x in seen:
            dups += 1
            continue
        seen.add(x)
        out.append(x)
    if dups:
        warnings.append(f"{dups} duplicate creator id(s) ignored")
    if len(out) > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report in this mode, got {len(out)}")
    return out, warnings


def _n_buckets(client, n_buckets: int | None) -> int:
    if n_buckets:
        return int(n_buckets)
    return max(2, 2 * sum(client.nthreads().values()))


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


# --- sketches --------------------------------------------------------------------------------
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
