"""Edge partitions and the helpers every job shares: the cluster, the checked Parquet
input read in record batches, bucketing by id hash, sorted-array set operations and
creator ids."""

from __future__ import annotations

import glob as _glob
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.sketch import hash_ids

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

