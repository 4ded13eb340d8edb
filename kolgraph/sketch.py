"""Mergeable audience sketches: HyperLogLog for unions, KMV/Theta for intersections.

Every creator gets two sketches, built in one pass over its followers
(:mod:`kolgraph.kernels.sketch`):

- a **HyperLogLog** of ``2**p`` one-byte registers (default p = 12: 4 KiB),
  merged by register maximum, for unique reach; relative standard error
  ``1.04/√m`` (Ertl's improved estimator, nearly unbiased at every size);
- a **KMV/Theta** sketch, the ``K`` smallest follower hashes (default 4096), for
  intersections, differences and Venn regions: below a common threshold θ the
  hashes of several creators are a uniform sample of their union, in which
  every follower's creator membership is known. A creator with at most ``K``
  followers keeps every hash, so its numbers are exact.

Every estimate carries a two-sided interval at a stated confidence (default 95%):

- unique reach: ``N̂ / (1 ± z·1.04/√m)`` (exact when every audience fits in K);
- a pair's intersection, when both audiences are known exactly (always, except
  for merged sketches): the maximum-likelihood count given the pair's threshold θ
  (the smaller of the two): below θ each follower is sampled with probability θ,
  so the sampled followers of A only, of B only and of both are binomial in
  ``|A|−I``, ``|B|−I`` and ``I``; the estimate uses both exact audiences, so its
  variance ``I(|A|−I)(|B|−I)/(|A||B|−I²)·(1−θ)/θ`` is below that of the plain Theta
  estimate ``c/θ`` (``I(1−θ)/θ``). Its interval is the likelihood-ratio interval
  (``2·ΔlogL ≤ z²``), Jaccard's follows from it. Merged sketches (audiences
  estimated) keep a Wilson interval for the Jaccard share of the sampled union
  (``n_eff = s / (1 − θ)``) mapped through ``|A∩B| = J/(1+J)·(|A|+|B|)``;
- region, frequency, exclusive and incremental counts: ``N̂ · share``, the
  share's Wilson interval and N's interval each at half the miss rate
  (Bonferroni), so the product holds at the stated confidence.

Hashes are of the *external* account ids (see :data:`HASH`), so two parties
with the same platform ids and the same seed build compatible sketches and can
merge them without exchanging any follower id (:class:`Sketch`,
:meth:`Sketch.to_bytes`). A hash is pseudonymous, not anonymous: whoever knows
the seed can test whether a known id is in a small exported audience, hence the
``min_count`` suppression.
"""

from __future__ import annotations

import json
import math
import struct
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.kernels import reach as _kr
from kolgraph.kernels import sketch as _k
from kolgraph.kernels._rng import splitmix64
from kolgraph.reach import ReachReport, _per_creator, resolve_ids

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
    from kolgraph.store import write_part

    if g.path is None:
        raise InputError("this graph has no store; save it first (g.save(path)) or use "
                         "build_sketches(g) in memory")
    t0 = time.perf_counter()
    sk = build_sketches(g, p=p, k=k, seed=seed)
    meta = {**sk.meta(), "build_seconds": round(time.perf_counter() - t0, 4)}
    write_part(g.path, PART, sk.arrays(), meta)
    _STORE_CACHE.pop(str(Path(g.path).resolve()), None)
    return sk


_STORE_CACHE: dict[str, tuple[float, SketchSet]] = {}


def stored_sketches(g) -> SketchSet | None:
    """The sketches kept in ``g``'s store, or None."""
    from kolgraph.store import MANIFEST, read_part

    if g.path is None:
        return None
    key = str(Path(g.path).resolve())
    mtime = (Path(g.path) / MANIFEST).stat().st_mtime
    if key in _STORE_CACHE and _STORE_CACHE[key][0] == mtime:
        return _STORE_CACHE[key][1]
    got = read_part(g.path, PART)
    if got is None:
        return None
    meta, arr = got
    if meta.get("hash") != HASH or meta.get("format_version") != FILE_VERSION:
        return None  # another sketch scheme: rebuilt on demand
    sk = SketchSet(arr["keys"], arr["counts"], arr["theta_indptr"], arr["theta_hashes"],
                   arr["hll_row"], arr["registers"], int(meta["p"]), int(meta["k"]),
                   int(meta["seed"]))
    _STORE_CACHE[key] = (mtime, sk)
    return sk


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
        """The versioned binary exchange format (see the README, "Sketches")::

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
            s.save(out / f"{_safe_name(s.id)}.kgsk")
            exported += 1
    return {"out": str(out), "exported": exported, "suppressed": suppressed}


def _safe_name(x) -> str:
    s = str(x)
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in s) or "_"


# --- intervals ----------------------------------------------------------------------------------
def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def hll_estimate(reg: np.ndarray, p: int) -> float:
    """Ertl's improved raw estimator (2017): nearly unbiased from 0 to 2**64 / 2."""
    q = 64 - p
    m = float(1 << p)
    c = _k.hll_histogram(np.asarray(reg, dtype=np.uint8), q)
    if c[0] == m:
        return 0.0
    z = m * _tau(1.0 - c[q + 1] / m)
    for v in range(q, 0, -1):
        z = 0.5 * (z + c[v])
    z += m * _sigma(c[0] / m)
    return m * m / (2.0 * math.log(2.0)) / z


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        prev = z
        z += x * y
        y += y
        if z == prev:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        prev = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == prev:
            return z / 3.0


def hll_rse(p: int) -> float:
    """Relative standard error of a HyperLogLog estimate with 2**p registers."""
    return 1.04 / math.sqrt(1 << p)


def hll_interval(reg: np.ndarray, p: int, confidence: float) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the truth lies in ``N̂ / (1 ± z·rse)`` at ``confidence``."""
    est = hll_estimate(reg, p)
    e = _z(confidence) * hll_rse(p)
    return est, est / (1.0 + e), (est / (1.0 - e) if e < 1.0 else math.inf)


def wilson(c, s, rate, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a share ``c / s`` seen in a uniform sample of ``s`` items drawn
    at ``rate`` from a population: the effective size ``s / (1 − rate)`` is the finite-population
    correction (rate 1 is a census: the interval is the point; s = 0 gives [0, 1])."""
    c, s, rate = (np.asarray(x, dtype=float) for x in np.broadcast_arrays(c, s, rate))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(s > 0, c / s, 0.0)
        n = np.where(rate < 1.0, s / (1.0 - rate), np.inf)
        z2n = np.where(np.isfinite(n), z * z / n, 0.0)
        centre = (share + z2n / 2.0) / (1.0 + z2n)
        half = np.where(np.isfinite(n),
                        z / (1.0 + z2n) * np.sqrt(share * (1.0 - share) / n + z2n / (4.0 * n)),
                        0.0)
        low = np.where(s > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
        high = np.where(s > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    exact = ~np.isfinite(n) & (s > 0)
    return np.where(exact, share, low), np.where(exact, share, high)


def _log_binom(n, r):
    from scipy.special import gammaln

    return gammaln(n + 1.0) - gammaln(r + 1.0) - gammaln(n - r + 1.0)


def intersection_mle(a, b, na, nb, c, rate, z: float):
    """``(estimate, low, high)`` of ``I = |A∩B|`` from exact audiences ``a``, ``b`` and a
    sample of rate ``rate`` of both: ``na``/``nb`` sampled followers of A/B, ``c`` of both.

    Each follower is sampled independently with probability ``rate`` (hashes below the
    pair's threshold), so the log-likelihood of I is
    ``log C(I, c) + log C(a−I, na−c) + log C(b−I, nb−c) − I·log(1 − rate)`` (+ const.),
    concave in I: the estimate is its maximum over the integers of
    ``[c, min(a − na + c, b − nb + c)]``, the interval the integers whose log-likelihood is
    within ``z²/2`` of it (likelihood ratio). Arrays broadcast; rate 1 is a census.
    """
    a, b, na, nb, c, rate = (np.asarray(v, dtype=float) for v in
                             np.broadcast_arrays(a, b, na, nb, c, rate))
    x, y = na - c, nb - c
    first = c
    last = np.maximum(np.minimum(a - x, b - y), first)
    census = rate >= 1.0
    l1 = np.log1p(-np.where(census, 0.0, np.clip(rate, 0.0, 1.0)))
    last = np.where(census, first, last)

    def ll(i):
        return _log_binom(i, c) + _log_binom(a - i, x) + _log_binom(b - i, y) - i * l1

    def bisect(lo, hi, keep_low):  # keep_low(mid): the answer is >= mid; lo satisfies it
        for _ in range(64):
            open_ = hi - lo > 1
            if not open_.any():
                break
            mid = np.floor((lo + hi) / 2.0)
            ok = keep_low(mid)
            lo = np.where(open_ & ok, mid, lo)
            hi = np.where(open_ & ~ok, mid, hi)
        return lo, hi

    with np.errstate(invalid="ignore", divide="ignore"):
        mle, _ = bisect(first, last + 1.0, lambda m: ll(m) > ll(m - 1.0))  # last rising step
        cut = ll(mle) - z * z / 2.0
        # lowest integer at or above the cut: bisect on (below the cut, at or above it]
        low_ok = ll(first) >= cut
        _, low = bisect(first, mle, lambda m: ll(m) < cut)
        low = np.where(low_ok | (mle <= first), first, low)
        high_ok = ll(last) >= cut
        high, _ = bisect(mle, last, lambda m: ll(m) >= cut)
        high = np.where(high_ok | (last <= mle), last, high)
    return mle, low, high


# --- the report ---------------------------------------------------------------------------------
@dataclass
class SketchReachReport(ReachReport):
    """A :class:`~kolgraph.reach.ReachReport` estimated from sketches, with intervals.

    ``low``/``high`` hold the interval ends of every estimated number (same shapes as
    the estimates); ``sketch_info`` the parameters, sample size and confidence.
    """

    unique_estimate: float = 0.0
    low: dict = field(default_factory=dict)
    high: dict = field(default_factory=dict)
    region_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    region_high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sketch_info: dict = field(default_factory=dict)
    min_count: int = 0

    @property
    def unique_reach(self) -> int:
        return int(round(self.unique_estimate))

    def to_dict(self) -> dict:
        d = super().to_dict()
        lo, hi = self.low, self.high
        d["mode"] = "sketch"
        d["unique_reach_low"], d["unique_reach_high"] = _int(lo["unique"]), _int(hi["unique"])
        for i, c in enumerate(d["creators"]):
            for key in ("exclusive", "incremental"):
                c[f"{key}_low"], c[f"{key}_high"] = _int(lo[key][i]), _int(hi[key][i])
        ov = d["overlap"]
        ov["counts_low"], ov["counts_high"] = _ints(lo["counts"]), _ints(hi["counts"])
        ov["jaccard_low"] = np.asarray(lo["jaccard"], float).tolist()
        ov["jaccard_high"] = np.asarray(hi["jaccard"], float).tolist()
        fr = d["frequency"]
        for key in ("exactly", "at_least"):
            fr[f"{key}_low"], fr[f"{key}_high"] = _ints(lo[key]), _ints(hi[key])
        order = np.lexsort((self.region_masks, -self.region_counts))  # as regions() lists them
        kept, hidden = [], 0
        for reg, r in zip(d["regions"], order, strict=False):
            if reg["count"] < self.min_count:
                hidden += 1
                continue
            reg["count_low"], reg["count_high"] = _int(self.region_low[r]), _int(self.region_high[r])
            kept.append(reg)
        d["regions"] = kept
        if self.min_count:
            d["suppressed_regions"] = hidden
        d["sketch"] = dict(self.sketch_info)
        return d


def _int(x) -> int | None:
    return None if not np.isfinite(x) else int(round(float(x)))


def _ints(a) -> list:
    a = np.asarray(a, dtype=float)
    return np.vectorize(lambda v: _int(v), otypes=[object])(a).tolist() if a.size else a.tolist()


def sketch_report(sketches: Sequence[Sketch], *, confidence: float = DEFAULT_CONFIDENCE,
                  view_rates: Any = None, posts: Any = None, default_rates: np.ndarray | None = None,
                  population: int = 0, tiers: list | None = None, min_count: int = 0,
                  warnings: list | None = None) -> SketchReachReport:
    """The reach report of audiences given only by their sketches, with intervals.

    Works on sketches from a store or from files of another party alike.
    """
    k = len(sketches)
    ids = [s.id for s in sketches]
    if k > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report in this mode, got {k}")
    if min_count < 0:
        raise InputError("min_count must be >= 0")
    for s in sketches[1:]:
        sketches[0]._compatible(s)
    z = _z(confidence)
    z2 = _z(1.0 - (1.0 - confidence) / 2.0)  # two intervals combined: each at half the miss rate
    rates = _per_creator(view_rates, k, np.ones(k) if default_rates is None else default_rates,
                         "view_rates", ids)
    n_posts = _per_creator(posts, k, np.ones(k), "posts", ids)
    if np.any(~np.isfinite(rates)) or np.any((rates < 0) | (rates > 1)):
        raise InputError("view rates must be between 0 and 1")
    if np.any(~np.isfinite(n_posts)) or np.any(n_posts < 0) or np.any(n_posts != np.round(n_posts)):
        raise InputError("posts must be whole numbers >= 0")
    if k == 0:
        z0 = np.zeros(0, np.int64)
        return SketchReachReport([], z0, z0, z0, [], np.zeros((0, 0), np.int64),
                                 np.zeros(1, np.int64), np.zeros(0, np.uint64), z0, int(population),
                                 np.zeros(0), z0, 0.0, np.zeros(1), {}, list(warnings or []),
                                 low=_EMPTY_BOUNDS, high=_EMPTY_BOUNDS,
                                 sketch_info={"confidence": confidence, "sample": 0},
                                 min_count=int(min_count))
    p = sketches[0].p

    known = all(s.count >= 0 for s in sketches)
    aud = np.array([s.estimate(confidence if known else 1.0 - (1.0 - confidence) / 2.0)
                    for s in sketches], dtype=float).reshape(k, 3)
    a_est, a_lo, a_hi = aud[:, 0], aud[:, 1], aud[:, 2]

    hashes = np.concatenate([s.hashes for s in sketches]) if k else np.zeros(0, np.uint64)
    lens = np.array([len(s.hashes) for s in sketches], dtype=np.int64)
    ends = np.cumsum(lens)
    starts = ends - lens
    exact = np.array([s.exact for s in sketches], dtype=np.bool_)
    top = np.uint64(2**64 - 1)
    thetas = np.array([top if s.exact else np.uint64(s.theta) for s in sketches], dtype=np.uint64)
    exact_all = bool(exact.all())
    theta_g = top if exact_all else thetas[~exact].min()
    rate_g = 1.0 if exact_all else float(theta_g) / _U64
    masks = _k.sample_masks(hashes, starts, ends, theta_g, exact_all)
    s_g = len(masks)

    if exact_all:
        n_est = n_lo = n_hi = n2_lo = n2_hi = float(s_g)
        method = "exact"
    else:
        reg = sketches[0].hll().copy()
        for s in sketches[1:]:
            np.maximum(reg, s.hll(), out=reg)
        n_est, n_lo, n_hi = hll_interval(reg, p, confidence)
        _, n2_lo, n2_hi = hll_interval(reg, p, 1.0 - (1.0 - confidence) / 2.0)
        floor, ceil = float(a_est.max()), float(a_est.sum())  # union >= max, <= sum
        n_est = min(max(n_est, floor), ceil)
        n_lo, n2_lo = (max(x, float(a_lo.max())) for x in (n_lo, n2_lo))
        n_hi, n2_hi = (min(x, float(a_hi.sum())) for x in (n_hi, n2_hi))
        method = "hll"

    uniq, cnt = (np.unique(masks, return_counts=True) if s_g else
                 (np.zeros(0, np.uint64), np.zeros(0, np.int64)))
    cnt = cnt.astype(np.int64)
    _, excl_c, incr_c, exactly_c, _, _ = _kr.summarize_regions(uniq.reshape(-1, 1), cnt,
                                                                 np.zeros(k))
    atleast_c = np.cumsum(exactly_c[::-1])[::-1]

    def scaled(c):
        c = np.asarray(c, dtype=float)
        share = c / s_g if s_g else np.zeros_like(c)
        lo, hi = wilson(c, s_g, rate_g, z2)
        return n_est * share, n2_lo * lo, n2_hi * hi

    reg_est, reg_lo, reg_hi = scaled(cnt)
    ex_est, ex_lo, ex_hi = scaled(excl_c)
    in_est, in_lo, in_hi = scaled(incr_c)
    fq_est, fq_lo, fq_hi = scaled(exactly_c)
    al_est, al_lo, al_hi = scaled(atleast_c)
    fq_est[0] = fq_lo[0] = fq_hi[0] = 0.0  # exactly[0] is 0, so at_least[0] = at_least[1] = N
    al_est[:2], al_lo[:2], al_hi[:2] = n_est, n_lo, n_hi

    s_ij, c_ij, n_ij = _k.pair_samples(hashes, starts, ends, thetas, exact)
    both = exact[:, None] & exact[None, :]
    th = np.minimum(thetas[:, None], thetas[None, :]).astype(float)
    rate = np.where(both, 1.0, np.where(exact[:, None], thetas[None, :].astype(float),
                                        np.where(exact[None, :], thetas[:, None].astype(float),
                                                 th))) / np.where(both, 1.0, _U64)
    jz = z if known else z2
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(s_ij > 0, c_ij / np.maximum(s_ij, 1), 0.0)
    j_lo, j_hi = wilson(c_ij, s_ij, rate, jz)
    tot, tot_lo, tot_hi = (x[:, None] + x[None, :] for x in (a_est, a_lo, a_hi))
    if known:
        inter, i_lo, i_hi = intersection_mle(a_est[:, None], a_est[None, :], n_ij, n_ij.T, c_ij,
                                             rate, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            jac, j_lo, j_hi = (np.where(tot - x > 0, x / (tot - x), 0.0) for x in (inter, i_lo, i_hi))
    else:
        inter = jac / (1.0 + jac) * tot
        i_lo = j_lo / (1.0 + j_lo) * tot_lo
        i_hi = np.minimum(j_hi / (1.0 + j_hi) * tot_hi, np.minimum(a_hi[:, None], a_hi[None, :]))
        inter = np.minimum(inter, np.minimum(a_est[:, None], a_est[None, :]))
    d = np.arange(k)
    inter[d, d], i_lo[d, d], i_hi[d, d] = a_est, a_lo, a_hi
    jac[d, d] = j_lo[d, d] = j_hi[d, d] = np.where(a_est > 0, 1.0, 0.0)

    rcount = np.rint(reg_est).astype(np.int64)
    prob = 1.0 - (1.0 - rates) ** n_posts
    *_, exp_reach, exp_exactly = _kr.summarize_regions(uniq.reshape(-1, 1), rcount, prob)
    exactly = np.rint(fq_est).astype(np.int64)
    exactly[0] = 0
    info = {"confidence": confidence, "unique_reach_method": method, "hll_p": int(p),
            "hll_relative_standard_error": hll_rse(p),
            "theta_k": int(min(s.k for s in sketches)), "hash": HASH,
            "seed": int(sketches[0].seed),
            "sample": int(s_g), "sample_rate": rate_g,
            "exact_audiences": [bool(s.exact) for s in sketches]}
    return SketchReachReport(
        ids, np.rint(a_est).astype(np.int64), np.rint(ex_est).astype(np.int64),
        np.rint(in_est).astype(np.int64), list(tiers) if tiers is not None else
        [str(t) for t in _tiers(a_est)], np.rint(inter).astype(np.int64), exactly, uniq, rcount,
        int(population), rates, n_posts.astype(np.int64), float(exp_reach), exp_exactly, {},
        list(warnings or []), unique_estimate=float(n_est),
        low={"unique": n_lo, "exclusive": ex_lo, "incremental": in_lo, "counts": i_lo,
             "jaccard": j_lo, "exactly": fq_lo, "at_least": al_lo},
        high={"unique": n_hi, "exclusive": ex_hi, "incremental": in_hi, "counts": i_hi,
              "jaccard": j_hi, "exactly": fq_hi, "at_least": al_hi},
        region_low=reg_lo, region_high=reg_hi, sketch_info=info, min_count=int(min_count))


_EMPTY_BOUNDS = {"unique": 0.0, "exclusive": np.zeros(0), "incremental": np.zeros(0),
                 "counts": np.zeros((0, 0)), "jaccard": np.zeros((0, 0)), "exactly": np.zeros(1),
                 "at_least": np.zeros(1)}


def _tiers(audience: np.ndarray) -> list:
    from kolgraph.tiers import tier_of

    return list(tier_of(np.rint(audience).astype(np.int64))) if len(audience) else []


def sketch_reach(g, ids: Iterable, *, view_rates: Any = None, posts: Any = None,
                 where: Any = None, exclude_flagged: bool = False, skip_unknown: bool = False,
                 confidence: float = DEFAULT_CONFIDENCE, min_count: int = 0,
                 p: int | None = None, k: int | None = None, seed: int | None = None
                 ) -> SketchReachReport:
    """``reach(g, ids, mode="sketch")``: the reach report estimated from the creators' sketches
    (kept in the store by ``kolgraph sketch``, else built for them now), with intervals.

    Filters need the followers themselves, so ``where`` / ``exclude_flagged`` are refused.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4], [10, 10, 10, 11, 11])
    >>> r = sketch_reach(g, [10, 11])   # small audiences: the sketches hold every hash
    >>> r.unique_reach, r.to_dict()["unique_reach_low"], int(r.counts[0, 1])
    (4, 4, 1)
    """
    from kolgraph.reach import creator_tiers, default_view_rates

    if where or exclude_flagged:
        raise InputError("sketch mode answers from sketches of whole audiences: filters "
                         "(where, exclude_flagged) need mode='exact'")
    ext, idx, warnings = resolve_ids(g, ids, skip_unknown=skip_unknown)
    if len(idx) > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report in this mode, got {len(idx)}")
    sketches = graph_sketches(g, idx, ext, p=p, k=k, seed=seed) if len(idx) else []
    return sketch_report(sketches, confidence=confidence, view_rates=view_rates, posts=posts,
                         default_rates=default_view_rates(g, idx), population=g.n_accounts,
                         tiers=creator_tiers(g, idx), min_count=min_count, warnings=warnings)
