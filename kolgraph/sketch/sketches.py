"""Sketches: one creator's :class:`Sketch` (merge, exchange format, files) and a
:class:`SketchSet` of many (built in one pass, kept in the store)."""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kolgraph._check import resolve_ids
from kolgraph.exceptions import InputError
from kolgraph.kernels import sketch as _k
from kolgraph.kernels._rng import splitmix64
from kolgraph.sketch.intervals import hll_interval
from kolgraph.store import MANIFEST, read_part, write_part

HASH = "kolgraph-hash-v1"  # int ids: splitmix64(id ^ key); text: splitmix64(FNV-1a(utf-8) ^ key)
DEFAULT_P = 12
DEFAULT_K = 4096
DEFAULT_CONFIDENCE = 0.95
PART = "sketches"  # the store part holding them
MAGIC = b"KGSKETCH"
FILE_VERSION = 1  # the store part and sketch directories (raw uint64 hashes)
EXCHANGE_VERSION = 2  # .kgsk files: v2 Elias–Fano coded hashes; v1 (raw) is still read
_U64 = 2.0 ** 64

# Region masks here are one 64-bit word (the exact engine spans several words).
MAX_CREATORS = 64


def seed_key(seed: int) -> np.uint64:
    """The 64-bit key XORed into every id before hashing (parties must share the seed)."""
    return np.uint64(splitmix64(np.uint64(int(seed) & (2**64 - 1))))


def account_hashes(idmap, seed: int = 0) -> np.ndarray:
    """uint64 hash of every account's external id (internal order)."""
    key = seed_key(seed)
    if idmap.kind == "int":
        return _k.hash_int_ids(np.ascontiguousarray(idmap.ints, dtype=np.int64), key)
    return _k.hash_str_ids(np.ascontiguousarray(idmap.offsets, dtype=np.int64),
                           np.ascontiguousarray(idmap.data, dtype=np.uint8), key)


def hash_ids(values: Iterable | np.ndarray, seed: int = 0) -> np.ndarray:
    """uint64 hashes of external ids given as int64 values or text (same scheme as the store)."""
    arr = np.asarray(values)
    key = seed_key(seed)
    if arr.dtype.kind in "iu":
        return _k.hash_int_ids(arr.astype(np.int64, copy=False), key)
    import pyarrow as pa

    text = pa.array([str(v) for v in arr.tolist()], pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[: len(text) + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8) if text.buffers()[2] else \
        np.zeros(0, np.uint8)
    return _k.hash_str_ids(offsets.copy(), data, key)


def _check_params(p: int, k: int) -> None:
    if not 4 <= int(p) <= 18:
        raise InputError(f"HyperLogLog precision p must be in 4..18, got {p}")
    if not 16 <= int(k) <= 1 << 20:
        raise InputError(f"KMV size k must be in 16..1048576, got {k}")


# --- a set of sketches (one per creator) ----------------------------------------------------
@dataclass
class SketchSet:
    """Sketches of many creators, stored as flat arrays.

    ``keys`` are the sketched rows (internal account ids in a store, or external ids
    from the Dask builder), sorted; ``counts`` the exact audiences; row i's
    smallest hashes are ``theta_hashes[theta_indptr[i]:theta_indptr[i+1]]`` (sorted
    when truncated to K; every hash, in no particular order, when the audience fits);
    its registers ``registers[hll_row[i]]`` when ``hll_row[i] >= 0`` (audiences
    larger than K), else they follow from its complete hash list.
    """

    keys: np.ndarray
    counts: np.ndarray
    theta_indptr: np.ndarray
    theta_hashes: np.ndarray
    hll_row: np.ndarray
    registers: np.ndarray
    p: int = DEFAULT_P
    k: int = DEFAULT_K
    seed: int = 0

    def arrays(self) -> dict[str, np.ndarray]:
        return {"keys": self.keys, "counts": self.counts, "theta_indptr": self.theta_indptr,
                "theta_hashes": self.theta_hashes, "hll_row": self.hll_row,
                "registers": self.registers}

    def meta(self) -> dict:
        return {"p": self.p, "k": self.k, "seed": self.seed, "hash": HASH,
                "format_version": FILE_VERSION, "sketched": len(self.keys)}

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays().values()))

    def position(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key, -1 when not sketched."""
        keys = np.asarray(keys)
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, pos, -1)

    def sketch(self, row: int, id: Any = None) -> Sketch:
        a, b = int(self.theta_indptr[row]), int(self.theta_indptr[row + 1])
        hr = int(self.hll_row[row])
        hashes = np.asarray(self.theta_hashes[a:b])
        return Sketch(id=id, count=int(self.counts[row]),
                      hashes=np.sort(hashes) if hr < 0 else hashes, exact=hr < 0,
                      registers=np.asarray(self.registers[hr]) if hr >= 0 else None,
                      p=self.p, k=self.k, seed=self.seed)


def build_sketch_set(indptr: np.ndarray, indices: np.ndarray, key_hash: np.ndarray | None,
                     rows: np.ndarray, keys: np.ndarray | None = None, *, p: int = DEFAULT_P,
                     k: int = DEFAULT_K, seed: int = 0, id_offset: int = 0) -> SketchSet:
    """Sketch CSR ``rows``, one numba pass. The hash of entry e is ``key_hash[indices[e]]``;
    with ``key_hash=None`` the entries are int ids ``id_offset + indices[e]``, hashed in place."""
    _check_params(p, k)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    deg = (np.asarray(indptr)[rows + 1] - np.asarray(indptr)[rows]).astype(np.int64)
    theta_indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.minimum(deg, k), out=theta_indptr[1:])
    big = deg > k
    hll_row = np.full(len(rows), -1, dtype=np.int64)
    hll_row[big] = np.arange(int(big.sum()))
    theta_hashes = np.empty(int(theta_indptr[-1]), dtype=np.uint64)
    registers = np.zeros((int(big.sum()), 1 << p), dtype=np.uint8)
    if key_hash is None:
        key_hash = np.zeros(0, dtype=np.uint64)
    _k.build_sketches(indptr, indices, key_hash, np.int64(id_offset), seed_key(seed), rows,
                      int(k), int(p), theta_indptr, hll_row, theta_hashes, registers)
    return SketchSet(rows if keys is None else np.asarray(keys), deg, theta_indptr, theta_hashes,
                     hll_row, registers, int(p), int(k), int(seed))


def _creator_rows(g) -> np.ndarray:
    """Internal ids to sketch: the creator table's creators, else every account with followers."""
    if g.creators is not None:
        return np.sort(np.asarray(g.creators.column("idx").to_numpy(), dtype=np.int64))
    return np.flatnonzero(np.diff(np.asarray(g.in_indptr)) > 0).astype(np.int64)


def build_sketches(g, *, p: int = DEFAULT_P, k: int = DEFAULT_K, seed: int = 0,
                   rows: np.ndarray | None = None) -> SketchSet:
    """Sketches of a graph's creators (or of ``rows``, internal ids), in memory.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3], [10, 10, 10, 11])
    >>> s = build_sketches(g)
    >>> s.counts.tolist(), len(s.theta_hashes)
    ([3, 1], 4)
    """
    rows = _creator_rows(g) if rows is None else np.sort(np.asarray(rows, dtype=np.int64))
    ints = g.ids.ints if g.ids.kind == "int" else None
    if ints is not None and len(ints) and int(ints[-1]) - int(ints[0]) == len(ints) - 1:
        # ids are a contiguous range (SNAP style): hash them in place, no hash table
        return build_sketch_set(g.in_indptr, g.in_indices, None, rows, p=p, k=k, seed=seed,
                                id_offset=int(ints[0]))
    return build_sketch_set(g.in_indptr, g.in_indices, account_hashes(g.ids, seed), rows,
                            p=p, k=k, seed=seed)


def write_sketches(g, *, p: int = DEFAULT_P, k: int = DEFAULT_K, seed: int = 0) -> SketchSet:
    """Build the sketches of a stored graph's creators and add them to its store (atomically;
    they replace earlier sketches). Returns them."""
    if g.path is None:
        raise InputError("this graph has no store; save it first (g.save(path)) or use "
                         "build_sketches(g) in memory")
    t0 = time.perf_counter()
    sk = build_sketches(g, p=p, k=k, seed=seed)
    meta = {**sk.meta(), "build_seconds": round(time.perf_counter() - t0, 4)}
    write_part(g.path, PART, sk.arrays(), meta)
    return sk


def stored_sketches(g) -> SketchSet | None:
    """The sketches kept in ``g``'s store, or None (read once per version of the manifest,
    so sketches written after the graph was opened are found)."""
    if g.path is None:
        return None
    mtime = (Path(g.path) / MANIFEST).stat().st_mtime_ns
    return g.derived(("sketch.stored", mtime), lambda: _read_stored(g))


def _read_stored(g) -> SketchSet | None:
    got = read_part(g.path, PART)
    if got is None:
        return None
    meta, arr = got
    if meta.get("hash") != HASH or meta.get("format_version") != FILE_VERSION:
        return None  # another sketch scheme: rebuilt on demand
    return SketchSet(arr["keys"], arr["counts"], arr["theta_indptr"], arr["theta_hashes"],
                     arr["hll_row"], arr["registers"], int(meta["p"]), int(meta["k"]),
                     int(meta["seed"]))


def graph_sketches(g, idx: np.ndarray, ext: list, *, p: int | None = None, k: int | None = None,
                   seed: int | None = None) -> list[Sketch]:
    """Sketches of the internal ids ``idx``: from the store when kept there with the same
    parameters, else built now from their rows."""
    stored = stored_sketches(g)
    if stored is not None and (p is None or p == stored.p) and (k is None or k == stored.k) \
            and (seed is None or seed == stored.seed):
        pos = stored.position(idx)
        if np.all(pos >= 0):
            return [stored.sketch(int(r), id=x) for r, x in zip(pos, ext, strict=True)]
    p = DEFAULT_P if p is None else p
    k = DEFAULT_K if k is None else k
    seed = (stored.seed if stored is not None else 0) if seed is None else seed
    order = np.argsort(idx, kind="stable")
    sk = build_sketches(g, p=p, k=k, seed=seed, rows=np.asarray(idx)[order])
    out: list[Sketch | None] = [None] * len(idx)
    for r, j in enumerate(order):
        out[j] = sk.sketch(r, id=ext[j])
    return out  # type: ignore[return-value]


# --- one creator's sketch ---------------------------------------------------------------------
@dataclass
class Sketch:
    """One audience's sketch: its smallest hashes (KMV/Theta) and HyperLogLog registers.

    ``count`` is the exact audience when known (-1 after merging different audiences);
    ``exact`` means ``hashes`` holds every follower's hash.
    """

    id: Any
    count: int
    hashes: np.ndarray
    exact: bool
    registers: np.ndarray | None
    p: int = DEFAULT_P
    k: int = DEFAULT_K
    seed: int = 0

    @property
    def theta(self) -> int:
        """Sample threshold as an integer: hashes below it are sampled (2**64 when exact)."""
        return 1 << 64 if self.exact else int(self.hashes[self.k - 1])

    @property
    def sample_rate(self) -> float:
        return 1.0 if self.exact else self.theta / _U64

    def hll(self) -> np.ndarray:
        """The HyperLogLog registers (derived from the hashes when the sketch is exact)."""
        if self.registers is not None:
            return self.registers
        reg = np.zeros(1 << self.p, dtype=np.uint8)
        _k.hll_from_hashes(self.hashes, self.p, reg)
        return reg

    def estimate(self, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float, float]:
        """``(estimate, low, high)`` of the audience size."""
        if self.count >= 0:
            return float(self.count), float(self.count), float(self.count)
        if self.exact:
            n = float(len(self.hashes))
            return n, n, n
        return hll_interval(self.hll(), self.p, confidence)

    def _compatible(self, other: Sketch) -> None:
        for attr in ("p", "seed"):
            if getattr(self, attr) != getattr(other, attr):
                raise InputError(f"cannot merge sketches with different {attr}: "
                                 f"{getattr(self, attr)} vs {getattr(other, attr)}")

    def merge(self, other: Sketch, id: Any = None) -> Sketch:
        """Sketch of the union of both audiences: registers by maximum, the K smallest hashes
        of both lists (K the smaller of the two). Needs no follower id.

        The K smallest of the union are valid KMV: every union hash up to a truncated
        side's threshold is in that side's list or in the other side's.

        Examples
        --------
        >>> from kolgraph import FollowerGraph
        >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4], [10, 10, 10, 11, 11])
        >>> s = build_sketches(g)
        >>> a, b = s.sketch(0, id=10), s.sketch(1, id=11)
        >>> both = a.merge(b, id="10+11")   # followers 1, 2, 3 and 3, 4
        >>> a.count, b.count, both.count, both.exact
        (3, 2, 4, True)
        """
        self._compatible(other)
        k = min(self.k, other.k)
        kept, distinct = _k.merge_sorted_unique(np.concatenate([self.hashes, other.hashes]), k)
        exact = self.exact and other.exact and distinct <= k
        registers = None if exact else np.maximum(self.hll(), other.hll())
        return Sketch(id=id, count=int(distinct) if exact else -1, hashes=kept, exact=exact,
                      registers=registers, p=self.p, k=k, seed=self.seed)

    # --- the exchange format -------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The versioned binary exchange format (see docs/sketches.md)::

            8 bytes  magic b"KGSKETCH"
            2 bytes  format version (uint16 LE, 2)
            4 bytes  header length H (uint32 LE)
            H bytes  header, UTF-8 JSON: id, count, exact, p, k, seed, hash, n_hashes, registers,
                     encoding ("elias-fano"), low_bits l, high_bytes
            2**p     HyperLogLog registers (uint8), present when header.registers
            ...      the n hashes, ascending, Elias–Fano coded: the low l bits of each
                     (n·l bits), then the high parts in unary (high_bytes bytes), both
                     bit-packed little-endian
            4 bytes  CRC-32 of everything before (uint32 LE)

        Elias–Fano takes about ``l + 2`` bits per hash with ``l = ⌊log2(max/n)⌋``: ~46 bits
        for a sketch of 4096 hashes out of a million followers instead of 64.
        """
        low_bits, low, high = elias_fano_encode(np.asarray(self.hashes, dtype=np.uint64))
        header = {"id": self.id, "count": int(self.count), "exact": bool(self.exact),
                  "p": int(self.p), "k": int(self.k), "seed": int(self.seed), "hash": HASH,
                  "n_hashes": int(len(self.hashes)), "registers": self.registers is not None,
                  "encoding": "elias-fano", "low_bits": low_bits, "high_bytes": len(high)}
        h = json.dumps(header, default=_json_id).encode()
        parts = [MAGIC, struct.pack("<HI", EXCHANGE_VERSION, len(h)), h]
        if self.registers is not None:
            parts.append(np.ascontiguousarray(self.registers, dtype=np.uint8).tobytes())
        parts += [low, high]
        body = b"".join(parts)
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "sketch") -> Sketch:
        if len(data) < 18 or data[:8] != MAGIC:
            raise InputError(f"{where}: not a kolgraph sketch file (bad magic)")
        if struct.unpack("<I", data[-4:])[0] != zlib.crc32(data[:-4]):
            raise InputError(f"{where}: checksum mismatch (truncated or altered)")
        version, hlen = struct.unpack("<HI", data[8:14])
        if version not in (1, EXCHANGE_VERSION):
            raise InputError(f"{where}: sketch format version {version}, this kolgraph reads "
                             f"1 and {EXCHANGE_VERSION}")
        try:
            hd = json.loads(data[14:14 + hlen])
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{where}: unreadable header") from None
        if hd.get("hash") != HASH:
            raise InputError(f"{where}: hash scheme {hd.get('hash')!r}, expected {HASH!r}")
        pos = 14 + hlen
        reg = None
        if hd["registers"]:
            m = 1 << int(hd["p"])
            reg = np.frombuffer(data, dtype=np.uint8, count=m, offset=pos).copy()
            pos += m
        n = int(hd["n_hashes"])
        if version == 1:
            if pos + 8 * n + 4 != len(data):
                raise InputError(f"{where}: length does not match its header")
            hashes = np.frombuffer(data, dtype="<u8", count=n, offset=pos).astype(np.uint64)
        else:
            lb, hb = int(hd["low_bits"]), int(hd["high_bytes"])
            nlow = (n * lb + 7) // 8
            if hd.get("encoding") != "elias-fano" or pos + nlow + hb + 4 != len(data):
                raise InputError(f"{where}: length does not match its header")
            hashes = elias_fano_decode(n, lb, data[pos:pos + nlow], data[pos + nlow:pos + nlow + hb])
            if hashes is None:
                raise InputError(f"{where}: corrupt hash encoding")
        return cls(id=hd["id"], count=int(hd["count"]), hashes=hashes, exact=bool(hd["exact"]),
                   registers=reg, p=int(hd["p"]), k=int(hd["k"]), seed=int(hd["seed"]))

    def save(self, path: str | Path) -> Path:
        """Write the exchange format to ``path`` (temporary file renamed into place)."""
        import os
        import uuid

        path = Path(path)
        tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(self.to_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path


def elias_fano_encode(hashes: np.ndarray) -> tuple[int, bytes, bytes]:
    """``(l, low, high)``: the Elias–Fano code of ascending uint64 values: the low ``l`` bits
    of each packed, and the high parts as a bit vector with value i's bit at
    ``(h_i >> l) + i``, both little-endian bit order."""
    n = len(hashes)
    if n == 0:
        return 0, b"", b""
    q = (int(hashes[-1]) + 1) // n
    low_bits = max(q.bit_length() - 1, 0)
    shifts = np.arange(low_bits, dtype=np.uint64)
    low = ((hashes[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    pos = (hashes >> np.uint64(low_bits)).astype(np.int64) + np.arange(n, dtype=np.int64)
    bits = np.zeros(int(pos[-1]) + 1, dtype=np.uint8)
    bits[pos] = 1
    return (low_bits, np.packbits(low.reshape(-1), bitorder="little").tobytes(),
            np.packbits(bits, bitorder="little").tobytes())


def elias_fano_decode(n: int, low_bits: int, low: bytes, high: bytes) -> np.ndarray | None:
    """The values of :func:`elias_fano_encode` (None when the code does not hold n values)."""
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    pos = np.flatnonzero(np.unpackbits(np.frombuffer(high, np.uint8), bitorder="little"))
    if len(pos) != n or low_bits > 63:
        return None
    out = (pos - np.arange(n)).astype(np.uint64) << np.uint64(low_bits)
    if low_bits:
        lb = np.unpackbits(np.frombuffer(low, np.uint8), count=n * low_bits, bitorder="little")
        out |= np.bitwise_or.reduce(lb.reshape(n, low_bits).astype(np.uint64)
                                    << np.arange(low_bits, dtype=np.uint64), axis=1)
    return out


def load_sketch(path: str | Path) -> Sketch:
    """Read a sketch file written by :meth:`Sketch.save` / ``kolgraph sketch --out``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such sketch file")
    return Sketch.from_bytes(path.read_bytes(), str(path))


def _json_id(x):
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def export_sketches(g, out: str | Path, ids: Sequence | None = None, *, min_count: int = 0,
                    p: int | None = None, k: int | None = None, seed: int | None = None
                    ) -> dict:
    """Write one ``<id>.kgsk`` file per creator (all creators, or ``ids``) into ``out``.

    Creators with fewer than ``min_count`` followers are not exported (their
    sketches would hold nearly every follower's hash). Returns
    ``{"out", "exported", "suppressed"}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if ids is None:
        idx = _creator_rows(g)
        ext = g.external(idx)
    else:
        ext, idx, _ = resolve_ids(g, ids)
    exported = suppressed = 0
    for start in range(0, len(idx), 4096):
        chunk = idx[start:start + 4096]
        for s in graph_sketches(g, chunk, ext[start:start + 4096], p=p, k=k, seed=seed):
            if s.count < min_count:
                suppressed += 1
                continue
            s.save(out / f"{safe_name(s.id)}.kgsk")
            exported += 1
    return {"out": str(out), "exported": exported, "suppressed": suppressed}


def safe_name(x) -> str:
    s = str(x)
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in s) or "_"

