"""Ingest within a memory budget: the edge list is streamed twice (ids, then edges) in
Arrow batches and the CSR is built through disk (:mod:`kolgraph.outofcore`), so the
peak is the budget plus the id map, not a multiple of the edge count.

Inputs: a Parquet file, a directory of Parquet parts, a glob of them, or one CSV/TSV
text file (regular: one edge per line; comment lines only at the top). The store is
the one the in-memory :func:`kolgraph.ingest.ingest` writes for the same input, byte
for byte (``tests/test_outofcore.py``).
"""

from __future__ import annotations

import glob as _glob
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kolgraph.edge_formats import (
    _SHOW_BAD,
    TextFormat,
    _is_parquet,
    _read_side_table,
    _resolve_columns,
    peak_rss_bytes,
    sniff,
)
from kolgraph.exceptions import EmptyInputError, InputError, MalformedInputError, StoreError
from kolgraph.graph import FollowerGraph, _epoch_seconds
from kolgraph.ids import IdMap, _string_buffers
from kolgraph.outofcore import (
    IN_MEMORY_EDGE_BYTES,
    build_csr_files,
    build_directory,
    default_memory,
)
from kolgraph.progress import SILENT, Progress
from kolgraph.tables import KolgraphWarning

BATCH_ROWS = 1 << 21
_MERGE_IDS = 1 << 24  # distinct ids gathered from batches before they are merged
_DENSE_SPAN = 8  # integer ids use a flag table while their range is at most this x ids seen


def needs_streaming(edges: str | Path) -> bool:
    """Whether to ingest out of core by default: a directory or glob of parts, or an edge
    list whose in-memory build would take more than :func:`default_memory`."""
    p = Path(edges)
    if p.suffix.lower() == ".json" or (p.is_file() and p.suffix == ".gz"):
        return False  # read whole by the in-memory reader only
    if not p.is_file():
        return p.is_dir() or any(ch in str(edges) for ch in "*?[")
    try:
        rows = pq.ParquetFile(p).metadata.num_rows if _is_parquet(p) else p.stat().st_size // 8
    except (pa.ArrowInvalid, OSError):
        return False  # the in-memory reader names what is wrong
    return rows * IN_MEMORY_EDGE_BYTES > default_memory()


def edge_sources(edges: str | Path) -> list[Path]:
    """The files of an input: a file, a directory of Parquet parts, or a glob."""
    p = Path(edges)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix == ".parquet" and f.is_file())
        if not files:
            raise InputError(f"{p}: a directory of edges must hold *.parquet parts; none found")
        return files
    if p.is_file():
        return [p]
    if any(ch in str(edges) for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(str(edges)) if Path(f).is_file())
        if not files:
            raise InputError(f"{edges}: the pattern matches no file")
        return files
    raise InputError(f"{p}: no such file or directory")


class _Batches:
    """Streams ``(follower, followee, followed_at | None)`` Arrow arrays from the sources,
    the same columns and the same checks on every pass."""

    def __init__(self, files: list[Path], follower_col=None, followee_col=None, time_col=None,
                 edge_times=False, header=None, delimiter=None, id_type=None, skip_bad=False):
        self.files, self.skip_bad, self.id_type = files, skip_bad, id_type
        self.passes = 0  # bad rows are counted on the first pass only
        self.parquet = _is_parquet(files[0])
        if not self.parquet and len(files) > 1:
            raise InputError(f"{len(files)} text files given; stream one CSV, or Parquet parts")
        if self.parquet:
            names = list(pq.read_schema(files[0]).names)
            self.fmt = TextFormat(None, names, 0, len(names))
        else:
            self.fmt = sniff(files[0], header=header, delimiter=delimiter)
            if self.fmt.n_fields == 0:
                raise EmptyInputError(f"{files[0]}: the file has no data rows")
        self.cols = _resolve_columns(self.fmt, follower_col, followee_col, time_col, edge_times,
                                     files[0])
        self.has_times = self.cols[2] is not None
        self.int_ids = None if self.parquet else (
            self.fmt.is_int_column(self.cols[0]) and self.fmt.is_int_column(self.cols[1])
            if id_type is None else id_type == "int")
        self.report = {"format": "parquet" if self.parquet else "text", "bad_rows": 0,
                       "bad_examples": [], "warnings": [], "files": len(files)}

    def __iter__(self) -> Iterator[tuple]:
        self.passes += 1
        for path in self.files:
            row = 0
            for batch in (self._parquet(path) if self.parquet else self._text(path)):
                yield self._clean(path, row, batch)
                row += batch.num_rows

    def _parquet(self, path: Path):
        try:
            f = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
        names = [self.fmt.header[i] for i in self.cols if i is not None]
        missing = [n for n in names if n not in f.schema_arrow.names]
        if missing:
            raise InputError(f"{path}: no column {missing[0]!r} (columns: "
                             f"{', '.join(f.schema_arrow.names)})")
        yield from f.iter_batches(batch_size=BATCH_ROWS, columns=names)

    def _text(self, path: Path):
        a, b, t = self.cols
        n = max(self.fmt.n_fields, (t if t is not None else b) + 1)
        names = [f"c{i}" for i in range(n)]
        id_t = pa.int64() if self.int_ids else pa.string()
        types = {names[a]: id_t, names[b]: id_t}
        if t is not None:
            types[names[t]] = pa.int64() if self.fmt.is_int_column(t) else pa.timestamp("s")
        skip = self.fmt.skip_lines + (1 if self.fmt.header else 0)
        try:
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(
                skip_rows=skip, column_names=names, block_size=1 << 24),
                parse_options=pacsv.ParseOptions(delimiter=self.fmt.delimiter or " ",
                                                 ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(column_types=types,
                                                     include_columns=list(types)))
            yield from reader
        except pa.ArrowInvalid as exc:
            raise MalformedInputError(
                f"{path}: {exc}; nothing was written. The streaming reader needs one edge per "
                "line (comments only at the top); ingest without --memory reads irregular "
                "files line by line", errors=[], count=1) from None

    def _clean(self, path: Path, row0: int, batch: pa.RecordBatch) -> tuple:
        src, dst = batch.column(0), batch.column(1)
        times = batch.column(2) if self.has_times else None
        for col in (src, dst):
            if not (pa.types.is_integer(col.type) or pa.types.is_string(col.type)
                    or pa.types.is_large_string(col.type)):
                raise InputError(f"{path}: an id column has type {col.type}; ids must be "
                                 "integers or text")
        if self.id_type == "str":
            src, dst = src.cast(pa.large_string()), dst.cast(pa.large_string())
        valid = pc.and_(pc.is_valid(src), pc.is_valid(dst))
        if times is not None:
            valid = pc.and_(valid, pc.is_valid(times))
        if valid.false_count:
            bad = np.flatnonzero(~valid.to_numpy(zero_copy_only=False))
            self._bad(path, row0, bad)
            src, dst = pc.filter(src, valid), pc.filter(dst, valid)
            times = pc.filter(times, valid) if times is not None else None
        return src, dst, times

    def _bad(self, path: Path, row0: int, bad: np.ndarray) -> None:
        rows = [int(row0 + i + 1) for i in bad[:_SHOW_BAD]]
        if not self.skip_bad:
            raise MalformedInputError(
                f"{path}: row(s) {', '.join(map(str, rows))} have empty values; nothing was "
                "written. Pass --skip-bad to skip them.",
                errors=[(str(path), r, "", "empty value") for r in rows], count=len(bad))
        if self.passes == 1:
            self.report["bad_rows"] += len(bad)


class _IntIds:
    """Distinct integer ids seen so far: a flag per id over their range while that range is
    at most :data:`_DENSE_SPAN` times the ids seen (the usual 0..n-1 numbering), else sorted
    runs merged now and then. Then the dense index of any id, by table or binary search."""

    def __init__(self):
        self.base, self.flags = None, np.zeros(0, dtype=bool)
        self.runs: list[np.ndarray] = []
        self.seen = 0

    def add(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        self.seen += len(ids)
        if self.runs:
            return self._add_sparse(ids)
        lo, hi = int(ids.min()), int(ids.max())
        base = lo if self.base is None else min(self.base, lo)
        top = hi if self.base is None else max(hi, self.base + len(self.flags) - 1)
        if top - base + 1 > _DENSE_SPAN * self.seen + (1 << 16):
            self.runs = [self.base + np.flatnonzero(self.flags)] if len(self.flags) else []
            self.flags = np.zeros(0, dtype=bool)
            return self._add_sparse(ids)
        if self.base is None or base < self.base or top >= self.base + len(self.flags):
            grown = np.zeros(top - base + 1, dtype=bool)
            if len(self.flags):
                grown[self.base - base: self.base - base + len(self.flags)] = self.flags
            self.base, self.flags = base, grown
        self.flags[ids - self.base] = True

    def _add_sparse(self, ids: np.ndarray) -> None:
        self.runs.append(_sorted_unique(ids))
        if sum(len(r) for r in self.runs) > _MERGE_IDS:
            self.runs = [_sorted_unique(np.concatenate(self.runs))]

    def finish(self) -> tuple[np.ndarray, object]:
        """The sorted distinct ids, and a function from ids to dense indices."""
        if not self.runs:
            uniq = self.base + np.flatnonzero(self.flags).astype(np.int64)
            pos = np.cumsum(self.flags, dtype=np.int64).astype(np.int32) - 1
            base = self.base
            return uniq, lambda v: pos[v - base]
        uniq = _sorted_unique(np.concatenate(self.runs))
        return uniq, lambda v: np.searchsorted(uniq, v).astype(np.int32)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _id_map(batches: _Batches, creators: pa.Table | None, progress: Progress):
    """Pass 1: the sorted distinct ids of both columns (and the creator table's), and a
    function mapping an id column to dense indices."""
    ints, texts, kind = _IntIds(), [], None
    with progress.task("reading ids (pass 1 of 2)", total=None) as task:
        for src, dst, _ in batches:
            for col in (src, dst):
                this = "int" if pa.types.is_integer(col.type) else "str"
                if kind not in (None, this):
                    raise InputError("the edge files mix integer and text ids; pass --id-type str")
                kind = this
                if kind == "int":
                    ints.add(col.to_numpy())
                else:
                    texts.append(pc.unique(col.cast(pa.large_string())))
                    if sum(len(t) for t in texts) > _MERGE_IDS:
                        texts = [pc.unique(pa.chunked_array(texts))]
            task.advance(len(src))
    if kind is None:
        raise EmptyInputError(f"{batches.files[0]}: no edges found")
    if creators is not None:
        col = creators.column("id").combine_chunks()
        if kind == "int":
            ints.add(col.cast(pa.int64()).to_numpy())
        else:
            texts.append(pc.unique(col.cast(pa.large_string())))
    if kind == "int":
        uniq, to_dense = ints.finish()
        ids = IdMap(ints=np.ascontiguousarray(uniq, dtype=np.int64))
    else:
        uniq = pc.unique(pa.chunked_array(texts, type=pa.large_string()))
        offsets, data = _string_buffers(uniq.take(pc.sort_indices(uniq)))
        ids = IdMap(offsets=offsets, data=data)

        def to_dense(values):
            return ids.lookup(values, strict=False)
    if len(ids) >= 2**31 - 1:
        raise InputError(f"{len(ids):,} distinct accounts exceed the int32 id space")
    return ids, to_dense


def _edge_chunks(batches: _Batches, to_dense, progress: Progress):
    """Pass 2: each batch as dense indices (and epoch seconds)."""
    with progress.task("reading edges (pass 2 of 2)", total=None) as task:
        for src, dst, times in batches:
            t = _epoch_seconds(times) if times is not None else None
            if pa.types.is_integer(src.type):
                src, dst = src.to_numpy(), dst.to_numpy()
            yield to_dense(src), to_dense(dst), t
            task.advance(len(src))


def ingest_streaming(edges: str | Path, out: str | Path, *, memory: int | None = None,
                     creators=None, accounts=None, overwrite: bool = False,
                     progress: Progress = SILENT, account_columns: dict[str, str] | None = None,
                     **read_options) -> FollowerGraph:
    """:func:`kolgraph.ingest.ingest` within ``memory`` bytes (default
    :func:`default_memory`); ``read_options`` as :func:`kolgraph.ingest.read_edges`
    (``follower_col, followee_col, time_col, edge_times, header, delimiter, id_type,
    skip_bad``). Nothing is written when the input has errors, and a killed run leaves
    only a build directory that the next run into the same place removes."""
    from kolgraph.store import open_store, write_store

    out, t0 = Path(out), time.perf_counter()
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; pass overwrite=True (CLI: --force) to replace it")
    memory = int(memory or default_memory())
    batches = _Batches(edge_sources(edges), **read_options)
    creators_t = (_read_side_table(creators, "creators", _int_ids(batches))
                  if creators is not None else None)
    with build_directory(out) as build:
        _check_disk(batches, out.parent)
        ids, to_dense = _id_map(batches, creators_t, progress)
        t1 = time.perf_counter()
        res = build_csr_files(_edge_chunks(batches, to_dense, progress), len(ids), build,
                              memory=memory, has_times=batches.has_times, progress=progress)
        report = {**batches.report, "input_edges": res.n_input, "self_follows": res.n_self,
                  "duplicate_edges": res.n_dup, "edges": res.n_edges, "accounts": len(ids),
                  "out_of_core": {"memory": memory, **res.passes},
                  "build_seconds": round(time.perf_counter() - t1, 3)}
        g = _graph(res, ids, report, creators_t, accounts, account_columns)
        with progress.task(f"writing {out.name}", total=None):
            write_store(g, out, overwrite=overwrite, prebuilt=res.files)
    stored = open_store(out)
    stored.report.update(source=str(edges), seconds=round(time.perf_counter() - t0, 3),
                         peak_rss_bytes=peak_rss_bytes())
    return stored


def _int_ids(batches: _Batches) -> bool:
    if not batches.parquet:
        return bool(batches.int_ids)
    schema = pq.read_schema(batches.files[0])
    return batches.id_type != "str" and pa.types.is_integer(
        schema.field(batches.fmt.header[batches.cols[0]]).type)


def _check_disk(batches: _Batches, where: Path) -> None:
    """Refuse up front when the spill and the store cannot fit on ``where``'s disk."""
    if batches.parquet:
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in batches.files)
    else:
        sample = batches.fmt.sample or ["0 0"]
        rows = batches.files[0].stat().st_size // max(1, min(len(x) + 1 for x in sample))
    per_edge = (16 + 24) if batches.has_times else (8 + 8)  # spill, then the store's arrays
    need = rows * per_edge
    free = shutil.disk_usage(where).free
    if need > free:
        raise InputError(f"{where}: {free / 2**30:,.1f} GiB free, but building this store needs "
                         f"about {need / 2**30:,.1f} GiB ({rows:,} edges at most); free space "
                         "or write the store elsewhere")


def _graph(res, ids: IdMap, report: dict, creators_t, accounts, account_columns
           ) -> FollowerGraph:
    """The built store as a graph over the files (memory-mapped), tables attached."""
    a = {name: np.load(path, mmap_mode="r") for name, path in res.files.items()}
    report.setdefault("warnings", [])
    g = FollowerGraph(a["in_indptr"], a["in_indices"], a["out_indptr"], a["out_indices"], ids,
                      followed_at=a.get("followed_at"), report=report)
    if creators_t is not None:
        g._creators_src = g._align_creators(creators_t, ids.lookup(creators_t.column("id")))
        idle = int((g.in_degree[g.creators.column("idx").to_numpy()] == 0).sum())
        if idle:
            report["warnings"].append(f"creators: {idle:,} creator(s) have no followers")
    if accounts is not None:
        mapped: dict = {}
        table = _read_side_table(accounts, "accounts", ids.kind == "int", account_columns, mapped)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KolgraphWarning)  # recorded in the report instead
            g.set_accounts(table)
        report["account_columns"] = mapped
    return g
