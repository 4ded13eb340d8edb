"""Ingest: edge lists and attribute tables into a FollowerGraph and a store.

Text edge lists (CSV, TSV, whitespace; header or not; ``#``/``%`` comments;
trailing spaces; ``.gz``) and Parquet are read by pyarrow's multithreaded
readers: no Python object per edge. A clean file takes the fast path, one
``pyarrow.csv.read_csv`` call with fixed column types. A file the fast path
rejects (ragged rows, a comment mid-file, a non-numeric id) is re-read as
whole lines and split with Arrow compute kernels, which keeps exact line
numbers: bad rows are reported as ``file:line: text (reason)`` and either fail
the ingest (the default, nothing written) or are skipped (``skip_bad=True``).

One export file per creator (follower lists as scrapers and platforms write them):
:func:`read_per_creator` and :func:`ingest_per_creator` (:mod:`kolgraph.per_creator`).

Integer-looking ids are read as int64 (decided from the first rows; pass
``id_type="str"`` for usernames that happen to be digits).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kolgraph.edge_formats import (  # noqa: F401 (sniff, peak_rss_bytes: public here too)
    _SHOW_BAD,
    TextFormat,
    _arrow_msg,
    _is_parquet,
    _read_side_table,
    _resolve_columns,
    peak_rss_bytes,
    read_table_file,
    sniff,
)
from kolgraph.exceptions import EmptyInputError, InputError, MalformedInputError, StoreError
from kolgraph.graph import FollowerGraph
from kolgraph.per_creator import ingest_per_creator, read_per_creator  # noqa: F401 (one per creator)
from kolgraph.progress import SILENT, Progress
from kolgraph.tables import KolgraphWarning, csv_safe, parse_times


@dataclass
class EdgeColumns:
    """Parsed edges: follower and followee id columns, optional followed_at."""

    follower: pa.ChunkedArray
    followee: pa.ChunkedArray
    followed_at: pa.ChunkedArray | None
    report: dict


# --- public entry points --------------------------------------------------------------
def read_edges(path: str | Path, *, follower_col: str | int | None = None,
               followee_col: str | int | None = None, time_col: str | int | None = None,
               edge_times: bool = False, header: bool | None = None, delimiter: str | None = None,
               id_type: str | None = None, skip_bad: bool = False,
               progress: Progress = SILENT) -> EdgeColumns:
    """Read an edge list file into Arrow columns.

    Parameters
    ----------
    path : CSV/TSV/whitespace text (optionally ``.gz``) or Parquet file
    follower_col, followee_col : column names (with a header) or 0-based positions;
        default: recognised names (``follower``/``source``/``src``..., ``followee``/
        ``target``/``dst``...) or the first two columns
    time_col : the ``followed_at`` column; ``edge_times=True`` takes the third column
    header : force a header row on/off (default: detected)
    delimiter : force a delimiter (default: detected; ``None`` = whitespace)
    id_type : ``"int"`` or ``"str"`` (default: detected from the first rows)
    skip_bad : skip malformed rows (reported) instead of failing
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if id_type not in (None, "int", "str"):
        raise InputError(f"id_type must be 'int' or 'str', not {id_type!r}")
    t0 = time.perf_counter()
    with progress.task(f"reading {path.name}", total=None):
        if _is_parquet(path):
            cols = _read_parquet_edges(path, follower_col, followee_col, time_col, edge_times,
                                       id_type, skip_bad)
        else:
            cols = _read_text_edges(path, follower_col, followee_col, time_col, edge_times, header,
                                    delimiter, id_type, skip_bad)
    cols.report["read_seconds"] = round(time.perf_counter() - t0, 3)
    if len(cols.follower) == 0:
        raise EmptyInputError(f"{path}: no edges found ({cols.report.get('bad_rows', 0)} bad rows"
                              f"{', all skipped' if cols.report.get('bad_rows') else ''}); "
                              "expected rows of 'follower followee'")
    return cols


def read_graph(edges: str | Path, *, creators: str | Path | pa.Table | None = None,
               accounts: str | Path | pa.Table | None = None, progress: Progress = SILENT,
               account_columns: dict[str, str] | None = None, **read_options) -> FollowerGraph:
    """Read an edge list (and optional creator/account tables) into an in-memory FollowerGraph.

    The account table's columns may be named as platforms and scrapers name them
    (:mod:`kolgraph.columns`); ``account_columns`` maps further ``source -> canonical``
    names. The mapping applied is in ``report["account_columns"]``.
    ``read_options`` are those of :func:`read_edges`. The graph's ``report``
    holds input/kept edge counts, self-follows, duplicates, bad rows, warnings,
    timings and the peak resident memory.
    """
    t0 = time.perf_counter()
    if Path(edges).suffix.lower() == ".json":
        return _read_json_graph(Path(edges), creators, accounts, t0, account_columns)
    cols = read_edges(edges, progress=progress, **read_options)
    id_is_int = pa.types.is_integer(cols.follower.type)
    creators_t = _read_side_table(creators, "creators", id_is_int) if creators is not None else None
    mapped = {}
    accounts_t = (_read_side_table(accounts, "accounts", id_is_int, account_columns, mapped)
                  if accounts is not None else None)
    with progress.task("building graph", total=None):
        t1 = time.perf_counter()
        g = FollowerGraph.from_edges(cols.follower, cols.followee, followed_at=cols.followed_at,
                                     creators=creators_t, report=cols.report)
        g.report["build_seconds"] = round(time.perf_counter() - t1, 3)
    if creators_t is not None:
        idle = int((g.in_degree[g.creators.column("idx").to_numpy()] == 0).sum())
        if idle:
            _warn(g.report, f"creators: {idle:,} creator(s) have no followers in {Path(edges).name}")
    if accounts_t is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KolgraphWarning)  # recorded in the report instead
            g.set_accounts(accounts_t)
        g.report["account_columns"] = mapped
    g.report["source"] = str(edges)
    g.report["seconds"] = round(time.perf_counter() - t0, 3)
    g.report["peak_rss_bytes"] = peak_rss_bytes()
    return g


def _read_json_graph(path: Path, creators, accounts, t0: float, account_columns=None) -> FollowerGraph:
    """The brand-graph JSON format (small files: parsed with the json module)."""
    from kolgraph.datasets import load_brand_graph

    g = load_brand_graph(path)
    if creators is not None:
        g.set_creators(_read_side_table(creators, "creators", g.ids.kind == "int"))
    if accounts is not None:
        mapped = {}
        g.set_accounts(_read_side_table(accounts, "accounts", g.ids.kind == "int", account_columns, mapped))
        g.report["account_columns"] = mapped
    g.report.update(seconds=round(time.perf_counter() - t0, 3), peak_rss_bytes=peak_rss_bytes())
    return g


def ingest(edges: str | Path, out: str | Path, *, creators: str | Path | pa.Table | None = None,
           accounts: str | Path | pa.Table | None = None, overwrite: bool = False,
           progress: Progress = SILENT, account_columns: dict[str, str] | None = None,
           interactions: str | Path | None = None, posts: str | Path | None = None,
           memory: int | None = None, **read_options) -> FollowerGraph:
    """Read an edge list and write it as a store at ``out`` (atomically); return the opened store.

    ``interactions`` (and ``posts``): interaction events added as the store's interactions
    layer (:mod:`kolgraph.interactions_io`). Nothing is written when the input has errors.
    With ``memory`` (bytes), Parquet parts, or edges too many for memory: built out of core,
    the same store (:mod:`kolgraph.stream_ingest`), the interactions added after.
    """
    from kolgraph.store import open_store, write_store
    from kolgraph.stream_ingest import ingest_streaming, needs_streaming

    if memory is not None or needs_streaming(edges):
        stored = ingest_streaming(edges, out, memory=memory, creators=creators, accounts=accounts,
                                  overwrite=overwrite, progress=progress, account_columns=account_columns, **read_options)
        if interactions is None and posts is None:
            return stored
        from kolgraph.interactions_io import add_interactions

        added = add_interactions(out, interactions, posts)
        stored = open_store(out)
        stored.report["interactions"] = added
        return stored
    out = Path(out)
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; pass overwrite=True (CLI: --force) to replace it")
    g = read_graph(edges, creators=creators, accounts=accounts, progress=progress,
                   account_columns=account_columns, **read_options)
    if interactions is not None or posts is not None:
        from kolgraph.interactions_io import with_interactions

        with progress.task("reading interactions", total=None):
            g = with_interactions(g, interactions, posts)
    with progress.task(f"writing {out.name}", total=None):
        t0 = time.perf_counter()
        write_store(g, out, overwrite=overwrite)
        write_seconds = round(time.perf_counter() - t0, 3)
    stored = open_store(out)
    stored.report["write_seconds"] = write_seconds
    stored.report["peak_rss_bytes"] = peak_rss_bytes()
    return stored


def export_edges(graph: FollowerGraph, out: str | Path, *, progress: Progress = SILENT,
                 raw: bool = False) -> dict:
    """Write the edge list (external ids) as CSV/TSV (``.gz`` ok) or Parquet, by extension.

    Columns ``follower,followee`` (+ ``followed_at`` as ISO time when present). In CSV, ids
    starting like a spreadsheet formula get a leading ``'`` unless ``raw``
    (:func:`kolgraph.tables.csv_safe`).
    Returns ``{"path", "edges"}``.
    """
    out = Path(out)
    with progress.task(f"exporting {out.name}", total=None):
        follower, followee = graph.edge_arrays()
        ids = graph.ids.to_arrow()
        table = pa.table({"follower": ids.take(pa.array(follower)),
                          "followee": ids.take(pa.array(followee))})
        if graph.followed_at is not None:
            table = table.append_column(
                "followed_at", pa.array(np.asarray(graph.followed_at)).cast(pa.timestamp("s", tz="UTC")))
        with _atomic_output(out) as tmp:
            if _is_parquet(out):
                pq.write_table(table, tmp, compression="zstd")
            else:
                delim = "\t" if ".tsv" in out.suffixes or ".tab" in out.suffixes else ","
                sink = pa.CompressedOutputStream(str(tmp), "gzip") if out.suffix == ".gz" else str(tmp)
                with pacsv.CSVWriter(sink, table.schema,
                                     write_options=pacsv.WriteOptions(delimiter=delim, quoting_style="needed")) as w:
                    w.write_table(table if raw else csv_safe(table))
    return {"path": str(out), "edges": table.num_rows}


def write_table_file(table: pa.Table, out: str | Path) -> None:
    """Write a table as Parquet or CSV (by extension), atomically."""
    out = Path(out)
    with _atomic_output(out) as tmp:
        if _is_parquet(out):
            pq.write_table(table, tmp, compression="zstd")
        else:
            pacsv.write_csv(table, tmp)


def _read_text_edges(path, follower_col, followee_col, time_col, edge_times, header, delimiter,
                     id_type, skip_bad) -> EdgeColumns:
    fmt = sniff(path, header=header, delimiter=delimiter)
    if fmt.n_fields == 0:
        raise EmptyInputError(f"{path}: the file has no data rows"
                              f"{f' ({fmt.skip_lines} comment/blank lines only)' if fmt.skip_lines else ''}")
    a, b, t = _resolve_columns(fmt, follower_col, followee_col, time_col, edge_times, path)
    int_ids = fmt.is_int_column(a) and fmt.is_int_column(b) if id_type is None else id_type == "int"
    report = {"format": "text", "delimiter": fmt.delimiter or "whitespace",
              "header": fmt.header is not None, "id_type": "int" if int_ids else "str",
              "bad_rows": 0, "bad_examples": [], "warnings": []}
    try:
        cols = _fast_text(path, fmt, a, b, t, int_ids)
        report["parser"] = "fast"
    except (pa.ArrowInvalid, _Ragged):
        cols = _tolerant_text(path, fmt, a, b, t, int_ids, skip_bad, report)
        report["parser"] = "line-by-line (columnar)"
    return EdgeColumns(*cols, report=report)


class _Ragged(Exception):
    pass


def _fast_text(path, fmt: TextFormat, a, b, t, int_ids):
    """One multithreaded read with fixed types; raises on anything irregular."""
    if fmt.delimiter is None and any("  " in s or "\t" in s or s.startswith(" ") for s in fmt.sample):
        raise _Ragged  # runs of whitespace: only the tolerant path splits those
    n = max(fmt.n_fields, (t if t is not None else b) + 1)
    names = [f"c{i}" for i in range(n)]
    id_t = pa.int64() if int_ids else pa.string()
    types = {names[a]: id_t, names[b]: id_t}
    if t is not None:
        zoned = any(len(r) > t and re.search(_ZONED, r[t].strip('"')) for r in fmt.sample_rows)
        types[names[t]] = (pa.int64() if fmt.is_int_column(t)
                           else pa.timestamp("s", tz="UTC") if zoned else pa.timestamp("s"))
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(skip_rows=fmt.skip_lines + (1 if fmt.header else 0),
                                       column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=fmt.delimiter or " ", ignore_empty_lines=True,
                                         ),
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(types),
                                             strings_can_be_null=False, quoted_strings_can_be_null=False))
    for name in (names[a], names[b]):
        col = table.column(name)
        if col.null_count:
            raise _Ragged
        if not int_ids and (pc.any(pc.starts_with(col, "#")).as_py() or pc.any(pc.starts_with(col, "%")).as_py()):
            raise _Ragged  # a comment line mid-file
    times = table.column(names[t]) if t is not None else None
    if times is not None and times.null_count:
        raise _Ragged
    return table.column(names[a]), table.column(names[b]), times


def _tolerant_text(path, fmt: TextFormat, a, b, t, int_ids, skip_bad, report):
    """Stream whole lines, split them with Arrow kernels, and keep exact line numbers.

    Batches bound the memory: a multi-GB file with one bad row is read once,
    not materialised as one giant string column.
    """
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=["line"], block_size=1 << 26),
        parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, escape_char=False,
                                         ignore_empty_lines=False, newlines_in_values=False,
                                         invalid_row_handler=lambda row: "skip"),
        convert_options=pacsv.ConvertOptions(column_types={"line": pa.string()},
                                             strings_can_be_null=False),
    )
    need = max(a, b, t if t is not None else -1) + 1
    reasons = {1: f"expected at least {need} fields", 2: "not an integer id" if int_ids else "empty id",
               3: "time is neither Unix seconds nor an ISO 8601 date"}
    parts: list[tuple] = []
    examples: list[tuple[str, int, str, str]] = []
    n_bad = 0
    first_line = 1
    header_pending = fmt.header is not None
    for batch in reader:
        lines = batch.column(0)
        stripped = pc.utf8_trim_whitespace(lines)
        data_mask = pc.invert(pc.or_(pc.equal(stripped, ""), pc.or_(
            pc.starts_with(stripped, "#"), pc.starts_with(stripped, "%")))).to_numpy(zero_copy_only=False)
        if header_pending and data_mask.any():
            data_mask[np.flatnonzero(data_mask)[0]] = False  # the header row
            header_pending = False
        rows_at = np.flatnonzero(data_mask)
        src, dst, times, bad = _split_rows(pc.filter(stripped, pa.array(data_mask)), fmt.delimiter,
                                           a, b, t, need, int_ids)
        bad_idx = np.flatnonzero(bad)
        n_bad += len(bad_idx)
        for i in bad_idx[: max(0, _SHOW_BAD - len(examples))]:
            examples.append((str(path), first_line + int(rows_at[i]), lines[int(rows_at[i])].as_py(),
                             reasons[int(bad[i])]))
        parts.append((src, dst, times))
        first_line += len(lines)
    report["bad_rows"] = n_bad
    report["bad_examples"] = [{"line": ln, "text": txt, "reason": why} for _, ln, txt, why in examples]
    if n_bad:
        shown = "\n".join(f"  {p}:{ln}: {txt!r} ({why})" for p, ln, txt, why in examples)
        if not skip_bad:
            raise MalformedInputError(
                f"{path}: {n_bad:,} malformed row(s); nothing was written. First:\n{shown}\n"
                "Fix the rows, or pass --skip-bad (skip_bad=True) to skip them.",
                errors=examples, count=n_bad)
        _warn(report, f"{path}: skipped {n_bad:,} malformed row(s); first:\n{shown}")
    id_type = pa.int64() if int_ids else pa.string()
    src = pa.chunked_array([p[0] for p in parts], type=id_type)
    dst = pa.chunked_array([p[1] for p in parts], type=id_type)
    times = pa.chunked_array([p[2] for p in parts], type=pa.timestamp("s")) if t is not None else None
    return src, dst, times


def _split_rows(rows: pa.Array, delimiter, a, b, t, need, int_ids):
    """Fields of data rows, and each row's fault: 0 ok, 1 too few fields, 2 bad id, 3 bad time.

    Returns ``(src, dst, times, fault)`` with the faulty rows already dropped from the columns.
    """
    fields = pc.utf8_split_whitespace(rows) if delimiter is None else pc.split_pattern(rows, delimiter)
    bad = np.zeros(len(rows), dtype=np.int8)
    bad[pc.list_value_length(fields).to_numpy(zero_copy_only=False) < need] = 1
    safe = pc.if_else(pa.array(bad == 1), pa.scalar([""] * need, fields.type), fields)

    def field_at(k):
        tok = pc.utf8_trim_whitespace(pc.list_element(safe, k))
        return pc.replace_substring_regex(tok, r'^"(.*)"$', r"\1")

    src, dst = field_at(a), field_at(b)
    for tok in (src, dst):
        if int_ids:
            ok = pc.match_substring_regex(tok, r"^[+-]?\d{1,18}$").to_numpy(zero_copy_only=False)
        else:
            ok = pc.not_equal(tok, "").to_numpy(zero_copy_only=False)
        bad[(bad == 0) & ~ok] = 2
    times = None
    if t is not None:
        times = parse_times(field_at(t))
        bad[(bad == 0) & ~pc.is_valid(times).to_numpy(zero_copy_only=False)] = 3
    keep = pa.array(bad == 0)
    src, dst = pc.filter(src, keep), pc.filter(dst, keep)
    if int_ids:
        src, dst = src.cast(pa.int64()), dst.cast(pa.int64())
    return src, dst, (pc.filter(times, keep) if times is not None else None), bad


_ZONED = r"(Z|[+-]\d\d:?\d\d)$"


# --- parquet edge lists -----------------------------------------------------------------
def _read_parquet_edges(path, follower_col, followee_col, time_col, edge_times, id_type,
                        skip_bad) -> EdgeColumns:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({_arrow_msg(exc)})") from None
    fmt = TextFormat(None, list(schema.names), 0, len(schema.names))
    a, b, t = _resolve_columns(fmt, follower_col, followee_col, time_col, edge_times, path)
    names = [schema.names[i] for i in ((a, b, t) if t is not None else (a, b))]
    table = pq.read_table(path, columns=names)
    src, dst = table.column(names[0]), table.column(names[1])
    times = table.column(names[2]) if t is not None else None
    report = {"format": "parquet", "columns": names, "bad_rows": 0, "bad_examples": [], "warnings": []}
    for col, name in ((src, names[0]), (dst, names[1])):
        if not (pa.types.is_integer(col.type) or pa.types.is_string(col.type)
                or pa.types.is_large_string(col.type)):
            raise InputError(f"{path}: column {name!r} has type {col.type}; ids must be integers or text")
    if id_type == "str":
        src, dst = src.cast(pa.large_string()), dst.cast(pa.large_string())
    valid = pc.and_(pc.is_valid(src), pc.is_valid(dst))
    if times is not None:
        from kolgraph.tables import coerce_column

        times = coerce_column(times, pa.timestamp("s", tz="UTC"), names[2], str(path))
        valid = pc.and_(valid, pc.is_valid(times))
    bad_idx = np.flatnonzero(~valid.to_numpy(zero_copy_only=False))
    report["bad_rows"] = int(len(bad_idx))
    if len(bad_idx):
        examples = [(str(path), int(i) + 1, str({n: table.column(n)[int(i)].as_py() for n in names}),
                     "empty value") for i in bad_idx[:_SHOW_BAD]]
        report["bad_examples"] = [{"row": r, "text": txt, "reason": why} for _, r, txt, why in examples]
        shown = "\n".join(f"  {p} row {r}: {txt} ({why})" for p, r, txt, why in examples)
        if not skip_bad:
            raise MalformedInputError(f"{path}: {len(bad_idx):,} row(s) with empty values; nothing was "
                                      f"written. First:\n{shown}\nPass --skip-bad to skip them.",
                                      errors=examples, count=len(bad_idx))
        _warn(report, f"{path}: skipped {len(bad_idx):,} row(s) with empty values")
        src, dst = pc.filter(src, valid), pc.filter(dst, valid)
        times = pc.filter(times, valid) if times is not None else None
    return EdgeColumns(src, dst, times, report)


# --- helpers ------------------------------------------------------------------------------
@contextmanager
def _atomic_output(out: Path):
    """Yield a temporary path beside ``out``; rename it over ``out`` only if the block succeeds."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _warn(report: dict, msg: str) -> None:
    report.setdefault("warnings", []).append(msg)

