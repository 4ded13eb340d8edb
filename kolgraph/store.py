"""The graph store: one directory, memory-mapped arrays, Parquet tables, a manifest.

Layout of ``NAME.kg/``::

    manifest.json            format, version, counts, size + sha256 of every file
    in_indptr.npy            int64  followers-of CSR
    in_indices.npy           int32
    out_indptr.npy           int64  following-of CSR
    out_indices.npy          int32
    ids.npy                  int64 external ids, sorted   (or id_offsets.npy + id_bytes.npy)
    followed_at.npy          int64 Unix seconds, aligned with in_indices (optional)
    interactions-<gen>/      interaction events and posts, CSR by creator and by account
                             (optional; kolgraph.interactions)
    creators.parquet         creator metadata (optional)
    accounts.parquet         account attributes, row i = account i (optional)
    truth/...                ground truth of synthetic graphs, never read by detectors

Opening memory-maps the arrays and checks each file's size and header against
the manifest (milliseconds at any size); :func:`verify_store` also checks every
sha256. Writes build a sibling temporary directory, fsync it and swap it into
place, so a crash leaves the previous store intact.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kolgraph._version import __version__
from kolgraph.exceptions import StoreCorruptedError, StoreError, StoreNotFoundError
from kolgraph.graph import FollowerGraph, graph_method
from kolgraph.ids import IdMap
from kolgraph.interactions import PART as INTERACTIONS
from kolgraph.interactions import Interactions
from kolgraph.tables import ACCOUNT_COLUMNS, CREATOR_COLUMNS, normalize_table

FORMAT = "kolgraph-store"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 1 << 24


# --- writing ----------------------------------------------------------------------
def write_store(graph: FollowerGraph, path: str | Path, *, overwrite: bool = False,
                truth: dict[str, np.ndarray | pa.Table] | None = None,
                extra_manifest: dict | None = None,
                prebuilt: dict[str, Path] | None = None) -> Path:
    """Write ``graph`` to the store directory ``path``, atomically.

    Parameters
    ----------
    graph : FollowerGraph
    path : directory to create (conventionally ``NAME.kg``)
    overwrite : replace an existing store (the old one stays intact until the
        new one is complete)
    truth : ground-truth arrays/tables kept under ``truth/`` (synthetic graphs)
    extra_manifest : JSON-ready facts to record in the manifest (e.g. generator settings)
    prebuilt : arrays already written as ``.npy`` files on the store's file system (the
        out-of-core build), by name; they are moved into the store, not copied

    Returns
    -------
    Path of the store.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise StoreError(f"{path} already exists; pass overwrite=True (CLI: --force) to replace it")
    if path.exists() and not (path / MANIFEST).is_file():
        raise StoreError(f"{path} exists and is not a kolgraph store; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = _write_arrays(graph, tmp, prebuilt or {})
        tables = {"creators": graph.raw_creators(), "accounts": graph.raw_accounts()}
        for name, table in tables.items():
            if table is not None:
                files[f"{name}.parquet"] = _write_table(tmp / f"{name}.parquet", table)
        if truth:
            (tmp / "truth").mkdir()
            for name, obj in truth.items():
                if isinstance(obj, pa.Table):
                    files[f"truth/{name}.parquet"] = _write_table(tmp / "truth" / f"{name}.parquet", obj)
                else:
                    files[f"truth/{name}.npy"] = write_array(tmp / "truth" / f"{name}.npy", np.asarray(obj))
            fsync_dir(tmp / "truth")
        inter_meta = _write_interactions(graph, tmp, files)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kolgraph_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "accounts": graph.n_accounts,
            "edges": graph.n_edges,
            "creators": graph.n_creators,
            "id_kind": graph.ids.kind,
            "report": graph.report,
            "files": files,
            **(extra_manifest or {}),
        }
        manifest.pop(INTERACTIONS, None)  # an old store's entry: the graph's own layer counts
        if inter_meta is not None:
            manifest[INTERACTIONS] = inter_meta
        with open(tmp / MANIFEST, "w") as fh:
            json.dump(manifest, fh, indent=2, default=json_default)
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(tmp)
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _write_interactions(graph: FollowerGraph, tmp: Path, files: dict) -> dict | None:
    """Write the graph's interactions layer (if any) as the part ``interactions-<gen>/``."""
    inter = graph.interactions
    if inter is None:
        return None
    gen = f"{INTERACTIONS}-{uuid.uuid4().hex[:8]}"
    (tmp / gen).mkdir()
    for key, arr in inter.arrays().items():
        files[f"{gen}/{key}.npy"] = write_array(tmp / gen / f"{key}.npy", np.asarray(arr))
    fsync_dir(tmp / gen)
    return {**inter.meta(), "dir": gen}


def _write_arrays(graph: FollowerGraph, tmp: Path, prebuilt: dict[str, Path]) -> dict[str, dict]:
    """The CSR and id arrays into ``tmp``; ``prebuilt`` files are moved in, not rewritten."""
    files: dict[str, dict] = {}
    for name, src in prebuilt.items():
        os.replace(src, tmp / f"{name}.npy")
        files[f"{name}.npy"] = _array_meta(tmp / f"{name}.npy")
    arrays = {"in_indptr": (graph.in_indptr, np.int64), "in_indices": (graph.in_indices, np.int32),
              "out_indptr": (graph.out_indptr, np.int64),
              "out_indices": (graph.out_indices, np.int32),
              **{k: (v, v.dtype) for k, v in graph.ids.arrays().items()}}
    if graph.followed_at is not None:
        arrays["followed_at"] = (graph.followed_at, np.int64)
    for name, (arr, dtype) in arrays.items():
        if name not in prebuilt:
            files[f"{name}.npy"] = write_array(tmp / f"{name}.npy", np.asarray(arr, dtype=dtype))
    return files


@graph_method
def save(graph: FollowerGraph, path: str | Path, *, overwrite: bool = False,
         truth: dict | None = None) -> Path:
    """Write ``graph`` as a store directory (atomically); :func:`write_store` without extras."""
    return write_store(graph, path, overwrite=overwrite, truth=truth)


def rewrite(graph: FollowerGraph) -> Path:
    """Write ``graph`` back over the store it was opened from, keeping the store's truth
    tables and manifest extras (e.g. after :meth:`FollowerGraph.set_account_column`).

    The rewrite is atomic like every store write: a failure leaves the old store intact.
    """
    if graph.path is None:
        raise StoreError("rewrite needs a graph opened from a store (kolgraph.open); this one "
                         "lives only in memory")
    manifest = read_manifest(graph.path)
    truth = {k: (np.asarray(v) if isinstance(v, np.ndarray) else v)
             for k, v in read_truth(graph.path).items()}
    extra = {k: v for k, v in manifest.items() if k not in _CORE_KEYS}
    return write_store(graph, graph.path, overwrite=True, truth=truth or None,
                       extra_manifest=extra)


def write_array(path: Path, arr: np.ndarray) -> dict:
    arr = np.ascontiguousarray(arr)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        hashing = _HashingWriter(fh, digest)
        np.lib.format.write_array(hashing, arr, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    return {"size": path.stat().st_size, "sha256": digest.hexdigest(),
            "dtype": arr.dtype.str, "shape": list(arr.shape)}


def _array_meta(path: Path) -> dict:
    """:func:`write_array`'s record of an ``.npy`` file already written (and synced)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
        major, _ = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if major == 1 else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fh)
    return {"size": path.stat().st_size, "sha256": _sha256(path), "dtype": dtype.str,
            "shape": list(shape)}


def _write_table(path: Path, table: pa.Table) -> dict:
    pq.write_table(table, path, compression="zstd")
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    return {"size": path.stat().st_size, "sha256": _sha256(path), "rows": table.num_rows}


class _HashingWriter:
    """File-like wrapper hashing what passes through, so a store is read once, not twice."""

    def __init__(self, fh, digest):
        self._fh, self._digest = fh, digest

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _CHUNK):
            chunk = view[start: start + _CHUNK]
            self._digest.update(chunk)
            self._fh.write(chunk)
        return len(view)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an existing store is exchanged atomically, then removed."""
    if not path.exists():
        os.rename(tmp, path)
        fsync_dir(path.parent)
        return
    exchange = getattr(_libc, "renameat2", None)
    at_fdcwd = -100
    if exchange is not None and exchange(at_fdcwd, bytes(tmp), at_fdcwd, bytes(path), _RENAME_EXCHANGE) == 0:
        old = tmp  # after the exchange the old store sits at the temporary name
    else:  # no renameat2 (non-Linux): a short window where only the .old copy exists
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(path, old)
        os.rename(tmp, path)
    fsync_dir(path.parent)
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries left by writers that died (their pid is gone)."""
    for cand in path.parent.glob(f".{path.name}.tmp-*"):
        try:
            pid = int(cand.name.rsplit(".tmp-", 1)[1].split("-")[0])
        except ValueError:
            continue
        if not _pid_alive(pid):
            shutil.rmtree(cand, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def json_default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# --- reading ---------------------------------------------------------------------
def read_manifest(path: str | Path) -> dict:
    """The manifest of a store, with format and version checked."""
    path = Path(path)
    if not path.exists():
        raise StoreNotFoundError(f"no store at {path}")
    if not path.is_dir():
        raise StoreError(f"{path} is a file, not a store directory")
    mf = path / MANIFEST
    if not mf.is_file():
        raise StoreCorruptedError(f"{mf} is missing: {path} is not a kolgraph store "
                                  "(or its write never completed)")
    try:
        manifest = json.loads(mf.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreCorruptedError(f"{mf} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreCorruptedError(f"{mf}: not a kolgraph store manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise StoreCorruptedError(
            f"{mf}: store format version {version}, this kolgraph ({__version__}) reads version "
            f"{FORMAT_VERSION}; rebuild the store with `kolgraph ingest` or use a matching kolgraph")
    return manifest


def _check_file(path: Path, name: str, meta: dict) -> Path:
    f = path / name
    if not f.is_file():
        raise StoreCorruptedError(f"{f} is missing (listed in the manifest)")
    size = f.stat().st_size
    if size != meta["size"]:
        raise StoreCorruptedError(f"{f} has {size:,} bytes, the manifest says {meta['size']:,}: "
                                  "truncated or altered")
    return f


def _load_array(path: Path, name: str, meta: dict) -> np.ndarray:
    f = _check_file(path, name, meta)
    try:
        arr = np.load(f, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise StoreCorruptedError(f"{f}: not a readable .npy array ({exc})") from None
    if arr.dtype.str != meta["dtype"] or list(arr.shape) != meta["shape"]:
        raise StoreCorruptedError(f"{f}: header says {arr.dtype.str}{list(arr.shape)}, the manifest "
                                  f"says {meta['dtype']}{meta['shape']}")
    return arr


def open_store(path: str | Path) -> FollowerGraph:
    """Open a store: arrays memory-mapped, tables read on first use.

    Raises :class:`StoreNotFoundError` or :class:`StoreCorruptedError` (naming the
    file) when the store is missing, truncated, altered or of another version.
    """
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest["files"]
    arrays = {name[:-4]: _load_array(path, name, meta) for name, meta in files.items()
              if name.endswith(".npy") and "/" not in name}
    for required in ("in_indptr", "in_indices", "out_indptr", "out_indices"):
        if required not in arrays:
            raise StoreCorruptedError(f"{path / MANIFEST} lists no {required}.npy")
    n = len(arrays["in_indptr"]) - 1
    if (n != manifest["accounts"] or len(arrays["out_indptr"]) != n + 1
            or len(arrays["in_indices"]) != manifest["edges"] or int(arrays["in_indptr"][-1]) != manifest["edges"]):
        raise StoreCorruptedError(f"{path}: array lengths disagree with the manifest counts")
    for side in ("in", "out"):
        check_csr(arrays[f"{side}_indptr"], arrays[f"{side}_indices"], n, path / f"{side}_indices.npy")
    # tables are read on first use, from files opened now: a store swapped under a running
    # process never pairs its new tables with the old (memory-mapped) arrays
    tables = {name[:-8]: _pin(_check_file(path, name, meta)) for name, meta in files.items()
              if name.endswith(".parquet") and "/" not in name}
    g = FollowerGraph(arrays["in_indptr"], arrays["in_indices"], arrays["out_indptr"],
                      arrays["out_indices"], IdMap.from_arrays(arrays),
                      followed_at=arrays.get("followed_at"),
                      creators=_lazy_table(tables.get("creators"), CREATOR_COLUMNS),
                      accounts=_lazy_table(tables.get("accounts"), ACCOUNT_COLUMNS),
                      path=path, report=manifest.get("report"))
    g.manifest = manifest
    g.interactions = _read_interactions(path, manifest, n)
    return g


def _read_interactions(path: Path, manifest: dict, n: int) -> Interactions | None:
    """The interactions part (memory-mapped, structure checked), None when the store has none."""
    part = _part_arrays(path, manifest, INTERACTIONS)
    if part is None:
        return None
    meta, arrays = part
    return Interactions.from_arrays(meta, arrays, n, str(path / meta["dir"]))


def check_csr(indptr: np.ndarray, indices: np.ndarray, n: int, where: Path) -> None:
    """The structure kernels rely on, in O(E): ``indptr`` starts at 0, never decreases and
    ends at the edge count; every index is an account ``0..n-1``; each row is strictly
    increasing. A same-size altered file fails here (StoreCorruptedError naming it)
    instead of crashing a kernel."""
    ptr = np.asarray(indptr)
    idx = np.asarray(indices)
    if len(ptr) != n + 1 or int(ptr[0]) != 0 or int(ptr[-1]) != len(idx) or (np.diff(ptr) < 0).any():
        raise StoreCorruptedError(f"{where.with_name(where.name.replace('indices', 'indptr'))}: "
                                  "row offsets are not a valid CSR index (altered?)")
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise StoreCorruptedError(f"{where}: an account index outside 0..{n - 1} (altered?)")
    for start in range(0, len(idx), _CSR_BLOCK):  # blocks: bounded temporaries
        stop = min(start + _CSR_BLOCK + 1, len(idx))
        bad = np.flatnonzero(np.diff(idx[start:stop]) <= 0) + start  # idx[bad] >= idx[bad + 1]
        if len(bad):
            ends = np.searchsorted(ptr, bad + 1)  # bad + 1 starts a row iff it is in ptr
            if not (ptr[np.minimum(ends, n)] == bad + 1).all():
                raise StoreCorruptedError(f"{where}: a row is not sorted and duplicate-free "
                                          "(altered?)")


_CSR_BLOCK = 1 << 22


class _Pinned:
    """A table file opened when the store is opened, read from that open file later."""

    def __init__(self, f: Path):
        self.path = f
        self.file = open(f, "rb")  # noqa: SIM115 -- kept open: the pin


def _pin(f: Path) -> _Pinned:
    return _Pinned(f)


def _read_pinned(pinned: _Pinned) -> pa.Table:
    """The pinned file's table, read natively through ``/proc/self/fd`` (the same inode):
    a Python file object read by pyarrow's threads aborted the interpreter at exit now
    and then ("terminate called without an active exception", about 1 run in 30)."""
    proc = Path(f"/proc/self/fd/{pinned.file.fileno()}")
    if proc.exists():
        return pq.read_table(pa.memory_map(str(proc)))
    pinned.file.seek(0)
    return pq.read_table(pa.BufferReader(pinned.file.read()))


def _lazy_table(pinned: _Pinned | None, canonical: dict[str, pa.DataType]):
    if pinned is None:
        return None
    f = pinned.path

    def load() -> pa.Table:
        try:
            table = _read_pinned(pinned)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StoreCorruptedError(f"{f}: not a readable Parquet file ({exc})") from None
        # Parquet has no second-resolution timestamps (it reads back ms): restore canonical types
        return normalize_table(table, canonical, f.name)
    return load


def read_truth(path: str | Path) -> dict[str, np.ndarray | pa.Table]:
    """Ground truth kept beside a synthetic graph (empty for ingested graphs)."""
    path = Path(path)
    out: dict[str, np.ndarray | pa.Table] = {}
    for name, meta in read_manifest(path)["files"].items():
        if name.startswith("truth/"):
            key = name[len("truth/"):].rsplit(".", 1)[0]
            out[key] = (_load_array(path, name, meta) if name.endswith(".npy")
                        else pq.read_table(_check_file(path, name, meta)))
    return out


def verify_store(path: str | Path) -> dict:
    """Check every file's size and sha256 against the manifest; raise on the first mismatch.

    Returns ``{"files": n, "bytes": total, "ok": True}``.
    """
    path = Path(path)
    manifest = read_manifest(path)
    total = 0
    for name, meta in manifest["files"].items():
        f = _check_file(path, name, meta)
        if _sha256(f) != meta["sha256"]:
            raise StoreCorruptedError(f"{f}: sha256 differs from the manifest: the file was altered")
        total += meta["size"]
    open_store(path)  # headers and counts too
    return {"files": len(manifest["files"]), "bytes": total, "ok": True}


def _sha256(f: Path) -> str:
    digest = hashlib.sha256()
    with open(f, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- parts added to an existing store (e.g. sketches) -------------------------------------
def write_part(path: str | Path, name: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Add or replace the part ``name`` of an existing store, atomically.

    The arrays go to a fresh directory ``NAME-<generation>/`` (fsynced), then the
    manifest is replaced in one ``os.replace`` listing the new files and holding
    ``meta`` under ``manifest[name]``: that rename is the commit. A crash before it
    leaves the old part (and manifest) in use; directories of other generations are
    removed after the commit, or by the next write when a writer died.
    """
    path = Path(path)
    manifest = read_manifest(path)
    if name in _CORE_KEYS or "/" in name or name.startswith("."):
        raise StoreError(f"{name!r} cannot name a store part")
    _remove_stale_parts(path, name, manifest)
    gen = f"{name}-{uuid.uuid4().hex[:8]}"
    tmp = path / f".{gen}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        files = {f"{gen}/{key}.npy": write_array(tmp / f"{key}.npy", arr)
                 for key, arr in arrays.items()}
        fsync_dir(tmp)
        os.rename(tmp, path / gen)
        fsync_dir(path)
        new = dict(manifest)
        new["files"] = {f: m for f, m in manifest["files"].items()
                        if not f.startswith(f"{name}-")}
        new["files"].update(files)
        new[name] = {**meta, "dir": gen}
        mtmp = path / f".{MANIFEST}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with open(mtmp, "w") as fh:
            json.dump(new, fh, indent=2, default=json_default)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(mtmp, path / MANIFEST)
        fsync_dir(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if read_manifest(path).get(name, {}).get("dir") != gen:
            shutil.rmtree(path / gen, ignore_errors=True)
        raise
    _remove_stale_parts(path, name, new)


_CORE_KEYS = {"format", "format_version", "kolgraph_version", "created", "accounts", "edges",
              "creators", "id_kind", "report", "files"}


def _remove_stale_parts(path: Path, name: str, manifest: dict) -> None:
    """Delete part directories the manifest does not reference (old generations, dead writers)."""
    live = manifest.get(name, {}).get("dir")
    for cand in path.glob(f"{name}-*"):
        if cand.is_dir() and cand.name != live:
            shutil.rmtree(cand, ignore_errors=True)
    for cand in path.glob(f".{name}-*.tmp-*"):
        try:
            pid = int(cand.name.rsplit(".tmp-", 1)[1])
        except ValueError:
            continue
        if not _pid_alive(pid):
            shutil.rmtree(cand, ignore_errors=True)


def read_part(path: str | Path, name: str) -> tuple[dict, dict[str, np.ndarray]] | None:
    """``(meta, arrays)`` of the part ``name`` (arrays memory-mapped and checked against the
    manifest), or None when the store has no such part."""
    path = Path(path)
    return _part_arrays(path, read_manifest(path), name)


def _part_arrays(path: Path, manifest: dict, name: str) -> tuple[dict, dict] | None:
    meta = manifest.get(name)
    if not isinstance(meta, dict) or "dir" not in meta:
        return None
    prefix = meta["dir"] + "/"
    arrays = {f[len(prefix):-4]: _load_array(path, f, m) for f, m in manifest["files"].items()
              if f.startswith(prefix) and f.endswith(".npy")}
    return meta, arrays
