"""Out-of-core build of the follower and following CSR within a memory budget.

The in-memory build (:func:`kolgraph.kernels.csr.build_csr`) holds every edge several
times over, so its peak grows with the edge count. Here the edges pass through disk:

1. **spill**: each input chunk is split by follower row into at most 1,024 row ranges,
   appended to one file per range (one pass over the input);
2. **out pass**: consecutive ranges are read in groups that fit the budget, each group's
   rows sorted and deduplicated in memory (a repeat keeps its earliest time) and appended
   to ``out_indices``; a range larger than the budget is split again, down to single
   rows (one follower's follows must fit in memory: the budget's only soft spot);
3. **in pass**: the followers of each column range that fits the budget are gathered by
   streaming the sorted following CSR once per range, so each column's rows arrive
   sorted.

Memory is the budget plus 24 bytes per account (degrees and row pointers); disk is
about 16 (with times) or 8 bytes per input edge of temporary space, plus the store. The
arrays written are byte-identical to :func:`kolgraph.store.write_array` of the
in-memory build (``tests/test_outofcore.py`` checks it at tiny budgets).
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.kernels import csr as _csr
from kolgraph.kernels import outofcore as _k
from kolgraph.progress import SILENT, Progress

MAX_PARTS = 1024
PER_ACCOUNT_BYTES = 24  # out and in degrees, then row pointers (int64)
_OUT_EDGE_BYTES = {True: 64, False: 28}  # spill record + grouped row + deduplicated copy
_IN_EDGE_BYTES = {True: 12, False: 4}  # the gathered followers (and their times)
IN_MEMORY_EDGE_BYTES = 64  # the in-memory build's peak per edge, about (ids, CSR, sort)
_STREAM_ENTRIES = 1 << 22  # at most, following-CSR entries read at a time in the in pass


@dataclass
class BuildResult:
    """What :func:`build_csr_files` wrote: ``files`` maps array name to ``.npy`` path."""

    n_input: int
    n_self: int
    n_dup: int
    n_edges: int
    files: dict[str, Path]
    passes: dict = field(default_factory=dict)  # groups of the out and in passes, re-splits


def default_memory() -> int:
    """Half the memory the machine has available now (at least 256 MiB)."""
    try:
        with open("/proc/meminfo") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
        avail = info.get("MemAvailable", info["MemTotal"])
    except (OSError, KeyError, ValueError):
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(256 << 20, avail // 2)


@contextmanager
def build_directory(out: Path) -> Iterator[Path]:
    """A fresh directory beside the store ``out`` for its out-of-core build (same file
    system, so the arrays move into the store), removed afterwards, also on failure;
    builds left by killed runs (their process gone) are removed first."""
    from kolgraph.store import _pid_alive

    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.build-*"):
        if not _pid_alive(int(stale.name.split("-")[-2])):
            shutil.rmtree(stale, ignore_errors=True)
    build = out.parent / f".{out.name}.build-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    build.mkdir()
    try:
        yield build
    finally:
        shutil.rmtree(build, ignore_errors=True)


def edge_budget(memory: int, n: int, has_times: bool) -> tuple[int, int, int]:
    """Edges per out-pass group, entries per in-pass group, and following-CSR entries
    streamed at a time in the in pass, that ``memory`` bytes allow."""
    free = memory - PER_ACCOUNT_BYTES * (n + 1)
    out_edges = free // _OUT_EDGE_BYTES[has_times]
    stream = min(_STREAM_ENTRIES, free // (12 * 8))
    in_entries = (free - 12 * stream) // _IN_EDGE_BYTES[has_times]
    if min(out_edges, stream, in_entries) < 1:
        need = PER_ACCOUNT_BYTES * (n + 1) + 12 * 8 + 2 * _OUT_EDGE_BYTES[has_times]
        raise InputError(f"a memory budget of {memory:,} bytes is too small for {n:,} accounts; "
                         f"the out-of-core build needs at least {need:,} bytes")
    return int(out_edges), int(in_entries), int(stream)


def _record(has_times: bool) -> np.dtype:
    fields = [("s", "<i4"), ("d", "<i4")] + ([("t", "<i8")] if has_times else [])
    return np.dtype(fields)


class _Spill:
    """Row-range parts under ``root``: part ``p`` holds rows
    ``lo + p * step .. lo + (p + 1) * step - 1``. Edges are held in memory until
    ``buffer_edges`` are, then written as one run file, part after part (so an input that
    fits the budget never touches the disk, and a larger one costs one file per run)."""

    def __init__(self, root: Path, lo: int, hi: int, has_times: bool, buffer_edges: int):
        self.root, self.lo, self.hi, self.has_times = root, lo, hi, has_times
        self.n_parts = min(MAX_PARTS, hi - lo)
        self.step = -(-(hi - lo) // self.n_parts)
        self.n_parts = -(-(hi - lo) // self.step)
        self.counts = np.zeros(self.n_parts, dtype=np.int64)
        self.held: list[list[np.ndarray]] = [[] for _ in range(self.n_parts)]
        self.buffer_edges, self.n_held = buffer_edges, 0
        self.runs: list[tuple[Path, np.ndarray]] = []  # file, start of each part (and the end)
        root.mkdir(parents=True, exist_ok=True)

    def add(self, src: np.ndarray, dst: np.ndarray, times: np.ndarray) -> int:
        """Append edges (rows within the range); the number of self-follows dropped."""
        starts, s, d, t, n_self = _k.partition_by_range(src, dst, times, self.has_times,
                                                        self.lo, self.step, self.n_parts)
        rec = np.empty(len(s), dtype=_record(self.has_times))
        rec["s"], rec["d"] = s, d
        if self.has_times:
            rec["t"] = t
        for p in np.flatnonzero(np.diff(starts)):
            self.held[p].append(rec[starts[p]:starts[p + 1]])
        self.counts += np.diff(starts)
        self.n_held += len(rec)
        if self.n_held > self.buffer_edges:
            self.flush()
        return int(n_self)

    def flush(self) -> None:
        """Write what is held as one run file."""
        path = self.root / f"run-{len(self.runs):04d}.bin"
        sizes = np.zeros(self.n_parts + 1, dtype=np.int64)
        with open(path, "wb") as fh:
            for p in range(self.n_parts):
                for piece in self.held[p]:
                    piece.tofile(fh)
                    sizes[p + 1] += len(piece)
                self.held[p] = []
        self.runs.append((path, np.cumsum(sizes)))
        self.n_held = 0

    def rows(self, p: int) -> tuple[int, int]:
        return self.lo + p * self.step, min(self.hi, self.lo + (p + 1) * self.step)

    def take(self, p_lo: int, p_hi: int) -> np.ndarray:
        """The edges of parts ``p_lo .. p_hi - 1`` (released from memory)."""
        rec_t = _record(self.has_times)
        pieces = []
        for path, starts in self.runs:
            n = int(starts[p_hi] - starts[p_lo])
            if n:
                with open(path, "rb") as fh:
                    fh.seek(int(starts[p_lo]) * rec_t.itemsize)
                    pieces.append(np.fromfile(fh, dtype=rec_t, count=n))
        for p in range(p_lo, p_hi):
            pieces += self.held[p]
            self.held[p] = []
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=rec_t)


def _npy_header(dtype, shape: tuple) -> bytes:
    """The header :func:`numpy.lib.format.write_array` writes for such an array."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(
        np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buf.getvalue()


class _NpyWriter:
    """A ``.npy`` file of known dtype and length, written in pieces at any offset."""

    def __init__(self, path: Path, dtype, length: int):
        self.path, self.dtype = path, np.dtype(dtype)
        self.header = _npy_header(self.dtype, (length,))
        self.fh = open(path, "wb")
        self.fh.write(self.header)
        self.fh.truncate(len(self.header) + length * self.dtype.itemsize)

    def write(self, at: int, values: np.ndarray) -> None:
        self.fh.seek(len(self.header) + at * self.dtype.itemsize)
        np.ascontiguousarray(values, dtype=self.dtype).tofile(self.fh)

    def shrink(self, length: int) -> None:
        """Make the array ``length`` long (fewer than opened with), then close."""
        header = _npy_header(self.dtype, (length,))
        if len(header) != len(self.header):  # the shape's digits crossed a padding step
            self.fh.flush()
            with open(self.path, "rb") as src, open(self.path.with_suffix(".tmp"), "wb") as dst:
                dst.write(header)
                src.seek(len(self.header))
                shutil.copyfileobj(src, dst, length=1 << 24)
            self.fh.close()
            os.replace(self.path.with_suffix(".tmp"), self.path)
            self.fh = open(self.path, "r+b")
        self.fh.seek(0)
        self.fh.write(header)
        self.header = header
        self.fh.truncate(len(header) + length * self.dtype.itemsize)
        self.close()

    def close(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()


def _save(path: Path, arr: np.ndarray) -> Path:
    w = _NpyWriter(path, arr.dtype, len(arr))
    w.write(0, arr)
    w.close()
    return path


def build_csr_files(chunks: Iterable[tuple], n: int, out_dir: str | Path, *, memory: int,
                    has_times: bool, progress: Progress = SILENT) -> BuildResult:
    """Build the CSR arrays of ``n`` accounts from ``chunks`` of ``(src, dst, times)``
    (dense account indices; ``times`` ignored unless ``has_times``) into ``.npy`` files
    in ``out_dir``, using about ``memory`` bytes. Temporary files go to
    ``out_dir/.spill`` and are removed, also on failure."""
    out_dir = Path(out_dir)
    out_edges, in_entries, stream = edge_budget(memory, n, has_times)
    tmp = out_dir / ".spill"
    try:
        spill, n_input, n_self = _spill_input(chunks, n, tmp, out_edges, has_times, progress)
        result = BuildResult(n_input, n_self, 0, 0, {}, {"out_groups": 0, "resplits": 0})
        out_deg, in_deg = _out_pass(spill, n, out_dir, tmp, out_edges, result, progress)
        _in_pass(out_deg, in_deg, n, out_dir, (in_entries, stream), result, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _spill_input(chunks, n, tmp, out_edges, has_times, progress):
    spill = _Spill(tmp / "rows", 0, max(n, 1), has_times, out_edges // 4)
    n_input = n_self = 0
    empty = np.empty(0, dtype=np.int64)
    with progress.task("spilling edges by follower", total=None) as task:
        for chunk in chunks:
            src, dst = (np.asarray(a, dtype=np.int64) for a in chunk[:2])
            times = np.asarray(chunk[2], dtype=np.int64) if has_times else empty
            if len(src) and (src.min() < 0 or dst.min() < 0 or max(src.max(), dst.max()) >= n):
                raise InputError(f"edge chunk {n_input:,}+: account indices outside 0..{n - 1}")
            step = max(1, out_edges // 4)  # a chunk is split in memory: cap its share
            for at in range(0, len(src), step):
                sl = slice(at, at + step)
                n_self += spill.add(src[sl], dst[sl], times[sl] if has_times else empty)
            n_input += len(src)
            task.advance(len(src))
    if spill.runs and spill.n_held:  # all in the buffer: the out pass takes it from memory
        spill.flush()
    return spill, n_input, n_self


def _out_pass(spill: _Spill, n, out_dir, tmp, out_edges, result, progress):
    """Sort and deduplicate each follower's row, group by group; the degrees."""
    out_deg = np.zeros(n, dtype=np.int64)
    in_deg = np.zeros(n, dtype=np.int64)
    bound = int(spill.counts.sum())
    writers = {"out_indices": _NpyWriter(out_dir / "out_indices.npy", np.int32, bound)}
    if spill.has_times:
        writers["out_times"] = _NpyWriter(tmp / "out_times.npy", np.int64, bound)
    state = {"at": 0}

    def emit(rec: np.ndarray, lo: int, hi: int) -> None:
        times = np.ascontiguousarray(rec["t"]) if spill.has_times else np.empty(0, np.int64)
        indptr, values, vt = _k.group_rows(np.ascontiguousarray(rec["s"]),
                                           np.ascontiguousarray(rec["d"]), times,
                                           spill.has_times, lo, hi - lo)
        keep, out, out_t = _csr._sort_dedupe_rows(indptr, values, vt, spill.has_times)
        out_deg[lo:hi] = np.diff(keep)
        in_deg[:] += np.bincount(out, minlength=n)
        writers["out_indices"].write(state["at"], out)
        if spill.has_times:
            writers["out_times"].write(state["at"], out_t)
        state["at"] += len(out)
        result.passes["out_groups"] += 1

    with progress.task("sorting followers' rows", total=bound) as task:
        _drain(spill, out_edges, emit, result, task)
    result.n_edges = state["at"]
    result.n_dup = bound - state["at"]
    for w in writers.values():
        w.shrink(result.n_edges)
    result.files["out_indices"] = writers["out_indices"].path
    if spill.has_times:
        result.files["out_times"] = writers["out_times"].path
    return out_deg, in_deg


def _drain(spill: _Spill, budget: int, emit, result, task) -> None:
    """Hand ``emit`` every part in row order, consecutive parts grouped up to ``budget``
    edges; a part over the budget is split into finer row ranges first."""
    group, size = [], 0
    for p in range(spill.n_parts):
        c = int(spill.counts[p])
        if group and size + c > budget:
            _emit_group(spill, group, emit)
            task.advance(size)
            group, size = [], 0
        lo, hi = spill.rows(p)
        if c > budget and hi - lo > 1:
            result.passes["resplits"] += 1
            sub = _Spill(spill.root / f"split-{p:04d}", lo, hi, spill.has_times, 0)
            rec = spill.take(p, p + 1)
            sub.add(rec["s"].astype(np.int64), rec["d"].astype(np.int64),
                    rec["t"] if spill.has_times else np.empty(0, np.int64))
            del rec
            _drain(sub, budget, emit, result, task)
            continue
        group.append(p)
        size += c
    if group:
        _emit_group(spill, group, emit)
        task.advance(size)


def _emit_group(spill: _Spill, group: list[int], emit) -> None:
    rec = spill.take(group[0], group[-1] + 1)
    emit(rec, spill.rows(group[0])[0], spill.rows(group[-1])[1])


def _in_pass(out_deg, in_deg, n, out_dir, budget, result, progress) -> None:
    """Gather each column range's followers from the sorted following CSR."""
    in_entries, stream = budget
    has_times = "out_times" in result.files
    out_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(out_deg, out=out_indptr[1:])
    del out_deg
    result.files["out_indptr"] = _save(out_dir / "out_indptr.npy", out_indptr)
    in_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(in_deg, out=in_indptr[1:])
    del in_deg
    result.files["in_indptr"] = _save(out_dir / "in_indptr.npy", in_indptr)
    m = result.n_edges
    rows_w = _NpyWriter(out_dir / "in_indices.npy", np.int32, m)
    times_w = _NpyWriter(out_dir / "followed_at.npy", np.int64, m) if has_times else None
    groups = _column_groups(in_indptr, in_entries)
    result.passes["in_groups"] = len(groups) - 1
    with progress.task("gathering followers", total=m) as task:
        for c_lo, c_hi in itertools.pairwise(groups):
            lo, hi = in_indptr[c_lo], in_indptr[c_hi]
            cursor = in_indptr[c_lo:c_hi] - lo
            rows = np.empty(hi - lo, dtype=np.int32)
            rows_t = np.empty(hi - lo if has_times else 0, dtype=np.int64)
            for r0, r1, idx, t in _stream_rows(out_indptr, out_dir / "out_indices.npy",
                                               result.files.get("out_times"), stream):
                _k.fill_columns(out_indptr[r0:r1 + 1] - out_indptr[r0], r0, idx, t, has_times,
                                c_lo, c_hi, cursor, rows, rows_t)
            rows_w.write(lo, rows)
            if has_times:
                times_w.write(lo, rows_t)
            task.advance(hi - lo)
    rows_w.close()
    result.files["in_indices"] = rows_w.path
    if has_times:
        times_w.close()
        result.files["followed_at"] = times_w.path
        os.unlink(result.files.pop("out_times"))


def _column_groups(in_indptr: np.ndarray, budget: int) -> list[int]:
    """Column boundaries: ranges of at most ``budget`` entries (at least one column)."""
    n = len(in_indptr) - 1
    bounds, c = [0], 0
    while c < n:
        nxt = int(np.searchsorted(in_indptr, in_indptr[c] + budget, side="right")) - 1
        c = min(n, max(c + 1, nxt))
        bounds.append(c)
    return bounds


def _stream_rows(indptr: np.ndarray, indices: Path, times: Path | None, entries: int):
    """``(r0, r1, indices, times)`` of consecutive row ranges of about ``entries``
    entries (at least one row), read from the ``.npy`` files."""
    n = len(indptr) - 1
    off_i = len(_npy_header(np.int32, (int(indptr[n]),)))
    off_t = len(_npy_header(np.int64, (int(indptr[n]),)))
    empty = np.empty(0, dtype=np.int64)
    r0 = 0
    with open(indices, "rb") as fi, open(times, "rb") if times else open(os.devnull, "rb") as ft:
        while r0 < n:
            r1 = int(np.searchsorted(indptr, indptr[r0] + entries, side="right")) - 1
            r1 = min(n, max(r0 + 1, r1))
            a, b = int(indptr[r0]), int(indptr[r1])
            fi.seek(off_i + 4 * a)
            idx = np.fromfile(fi, dtype=np.int32, count=b - a)
            t = empty
            if times:
                ft.seek(off_t + 8 * a)
                t = np.fromfile(ft, dtype=np.int64, count=b - a)
            yield r0, r1, idx, t
            r0 = r1
