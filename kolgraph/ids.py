"""Two-way map between external account ids and dense internal ids.

External ids are either int64 (platform ids, SNAP node numbers) or strings
(usernames). Internal ids ``0..n-1`` follow the sorted order of the external
ids, so the map is a sorted array: int64 ids as one array, strings as Arrow-style
offsets + bytes. Both memory-map straight from a store and answer lookups by
bisection, with no hash table to rebuild on open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.exceptions import InputError, UnknownAccountError
from kolgraph.kernels import idmap as _k

# A flag table beats hashing while the id range is at most this many times
# the number of ids (SNAP/KONECT files number nodes 0..n or 1..n).
_DENSE_RANGE_FACTOR = 8


class IdMap:
    """Sorted external ids; position = internal id."""

    def __init__(self, ints: np.ndarray | None = None, offsets: np.ndarray | None = None,
                 data: np.ndarray | None = None):
        if (ints is None) == (offsets is None):
            raise ValueError("give either int ids or string offsets+data")
        self.ints = ints
        self.offsets = offsets
        self.data = data

    @property
    def kind(self) -> str:
        return "int" if self.ints is not None else "str"

    def __len__(self) -> int:
        return len(self.ints) if self.ints is not None else len(self.offsets) - 1

    def __repr__(self) -> str:
        return f"IdMap(kind={self.kind!r}, n={len(self)})"

    # --- construction -----------------------------------------------------
    @classmethod
    def encode(cls, columns: Sequence[pa.Array | pa.ChunkedArray | np.ndarray]
               ) -> tuple[IdMap, list[np.ndarray]]:
        """Build the map over the union of ``columns``; return it and each column's dense ids.

        Integer columns give an int map; anything else is compared as text.
        """
        cols = [_as_arrow(c) for c in columns]
        if all(pa.types.is_integer(c.type) for c in cols):
            return cls._encode_ints([_to_int64(c) for c in cols])
        return cls._encode_strings([_to_text(c) for c in cols])

    @classmethod
    def _encode_ints(cls, cols: list[np.ndarray]) -> tuple[IdMap, list[np.ndarray]]:
        sizes = [len(c) for c in cols]
        flat = np.concatenate(cols) if cols else np.empty(0, np.int64)
        if len(flat) == 0:
            return cls(ints=np.empty(0, np.int64)), [np.empty(0, np.int32) for _ in cols]
        lo, hi = _k.id_range(flat)
        span = int(hi) - int(lo) + 1
        if span <= max(_DENSE_RANGE_FACTOR * len(flat), 1 << 16):
            uniq, dense = _k.map_dense_range(flat, lo, span)
        else:
            uniq, dense = _k.map_hashed(flat)
        if len(uniq) >= 2**31 - 1:
            raise InputError(f"{len(uniq):,} distinct accounts exceed the int32 id space")
        return cls(ints=uniq), list(np.split(dense, np.cumsum(sizes)[:-1]))

    @classmethod
    def _encode_strings(cls, cols: list[pa.ChunkedArray]) -> tuple[IdMap, list[np.ndarray]]:
        everything = pa.chunked_array([ch for c in cols for ch in c.chunks], type=pa.large_string())
        uniq = pc.unique(everything)
        uniq = uniq.take(pc.sort_indices(uniq))
        if len(uniq) >= 2**31 - 1:
            raise InputError(f"{len(uniq):,} distinct accounts exceed the int32 id space")
        offsets, data = _string_buffers(uniq)
        dense = [pc.index_in(c, value_set=uniq).to_numpy(zero_copy_only=False).astype(np.int32)
                 for c in cols]
        return cls(offsets=offsets, data=data), dense

    # --- lookups ------------------------------------------------------------
    def lookup(self, values: Iterable, *, strict: bool = True) -> np.ndarray:
        """Internal ids of external ``values``; -1 (or :class:`UnknownAccountError`) where absent."""
        if not isinstance(values, np.ndarray | pa.Array | pa.ChunkedArray):
            values = list(values)
        if self.kind == "int":
            q, bad = _ints_or_missing(values)
            pos = np.minimum(np.searchsorted(self.ints, q), max(len(self.ints) - 1, 0))
            found = ~bad & (self.ints[pos] == q) if len(self.ints) else np.zeros(len(q), bool)
            out = np.where(found, pos, -1).astype(np.int32)
        else:
            if isinstance(values, list | np.ndarray):
                values = pa.array([str(v) for v in values], type=pa.large_string())
            qo, qd = _string_buffers(values)
            out = _k.search_bytes(self.offsets, self.data, qo, qd).astype(np.int32)
        if strict and (out < 0).any():
            raise UnknownAccountError([_item(values, i) for i in np.flatnonzero(out < 0)])
        return out

    def external(self, idx: np.ndarray | Sequence[int]) -> list:
        """External ids (Python ints or strings) of internal ids."""
        idx = np.asarray(idx, dtype=np.int64)
        if self.kind == "int":
            return self.ints[idx].tolist()
        starts, ends = self.offsets[idx], self.offsets[idx + 1]
        raw = self.data
        return [bytes(raw[s:e]).decode("utf-8") for s, e in zip(starts, ends, strict=True)]

    def to_arrow(self) -> pa.Array:
        """All external ids as one Arrow array, in internal-id order."""
        if self.kind == "int":
            return pa.array(self.ints, type=pa.int64())
        return pa.LargeStringArray.from_buffers(
            len(self), pa.py_buffer(np.ascontiguousarray(self.offsets)),
            pa.py_buffer(np.ascontiguousarray(self.data)))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a store writes (``ids`` or ``id_offsets`` + ``id_bytes``)."""
        if self.kind == "int":
            return {"ids": self.ints}
        return {"id_offsets": self.offsets, "id_bytes": self.data}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> IdMap:
        if "ids" in arrays:
            return cls(ints=arrays["ids"])
        return cls(offsets=arrays["id_offsets"], data=arrays["id_bytes"])


def int64_ids(arr: np.ndarray) -> np.ndarray:
    """Integer ids as int64; uint64 ids past the int64 range are an error, not a wrap-around."""
    if arr.dtype == np.uint64 and len(arr) and int(arr.max()) > np.iinfo(np.int64).max:
        raise InputError(f"account id {int(arr.max())} does not fit in int64; pass such ids as strings")
    return arr.astype(np.int64, copy=False)


def _as_arrow(col) -> pa.ChunkedArray:
    if isinstance(col, pa.ChunkedArray):
        return col
    if isinstance(col, pa.Array):
        return pa.chunked_array([col])
    arr = np.asarray(col)
    if arr.dtype.kind in "iu":
        return pa.chunked_array([pa.array(int64_ids(arr))])
    return pa.chunked_array([pa.array([str(x) for x in arr.tolist()], type=pa.large_string())])


def _to_int64(col: pa.ChunkedArray) -> np.ndarray:
    if col.null_count:
        raise InputError("account ids contain empty values")
    return col.cast(pa.int64()).to_numpy()


def _to_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if col.null_count:
        raise InputError("account ids contain empty values")
    return col.cast(pa.large_string())


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    arr = arr.cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    base = offsets[0] if len(offsets) else 0
    return (offsets - base).astype(np.int64), data[base: base + (offsets[-1] - base if len(offsets) else 0)].copy()


def _item(values, i: int):
    v = values[int(i)]
    return v.as_py() if isinstance(v, pa.Scalar) else (v.item() if isinstance(v, np.generic) else v)


def _ints_or_missing(vals) -> tuple[np.ndarray, np.ndarray]:
    """Query values as int64, with a mask of those that are not integers at all."""
    if isinstance(vals, np.ndarray) and vals.dtype.kind in "iu":
        too_big = (vals > np.iinfo(np.int64).max) if vals.dtype == np.uint64 else np.zeros(len(vals), bool)
        return np.where(too_big, 0, vals).astype(np.int64), too_big
    if isinstance(vals, pa.Array | pa.ChunkedArray):
        if pa.types.is_integer(vals.type) and vals.null_count == 0:  # no Python loop
            return _ints_or_missing(np.asarray(vals.to_numpy()))
        vals = vals.to_pylist()
    q = np.zeros(len(vals), np.int64)
    bad = np.zeros(len(vals), bool)
    for i, v in enumerate(vals):
        try:
            if isinstance(v, bool) or isinstance(v, float) and not v.is_integer():
                raise ValueError
            q[i] = int(v)
        except (TypeError, ValueError, OverflowError):
            bad[i] = True
    return q, bad
