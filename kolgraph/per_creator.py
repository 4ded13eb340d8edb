"""Audiences exported one file per creator: a directory of follower lists into one graph.

Planners get audiences as one export per creator, as scraping tools and platform
exports write them: CSV with a header (``id``/``pk``/``user_id`` and/or ``username``,
often with ``full_name``, ``is_private``, ``is_verified``, follower and following
counts), a header-less CSV of ids, a JSON list (of objects, ids or usernames; or an
object holding the list under ``followers``/``users``/``data``/``items``) or JSON
Lines; each optionally ``.gz``. :func:`read_per_creator` reads such a directory:

- the **creator** is the file's name without its extensions (and without a
  ``_followers``/``-followers`` suffix: ``nike_followers.csv.gz`` is ``nike``), or
  the value of a ``creator`` column when the rows carry one (``creator_col``);
- the **follower** is the row's id column (any alias of ``id`` in
  :mod:`kolgraph.columns`), else its username;
- follower **attributes** present in the rows (username, full name, private,
  verified, follower/following/post counts, ...) go into the account table, under
  their canonical names; for each attribute of an account the first value seen wins;
- **malformed rows** (bad JSON, a ragged CSV row, no id) are reported as
  ``file:line: text (reason)`` (``file item N`` in a JSON list) and fail the read (nothing is written by
  :func:`ingest_per_creator`), or are skipped and counted with ``skip_bad=True``;
- **duplicates** (a follower listed twice for one creator) are dropped and counted
  in ``report["duplicate_edges"]``.

Files are parsed with the standard library (one Python object per row), which suits
exports of up to a few million rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.columns import resolve_columns
from kolgraph.exceptions import EmptyInputError, InputError, MalformedInputError
from kolgraph.graph import FollowerGraph
from kolgraph.progress import SILENT, Progress

SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson")
CREATOR_NAMES = ("creator", "creator_id", "influencer", "followee", "followed", "target",
                 "source_account")
LIST_KEYS = ("followers", "users", "data", "items", "results")
_INT_RE = re.compile(r"^[+-]?\d+$")
_SHOW_BAD = 5


@dataclass
class _Rows:
    """What the files gave: one entry per follow, plus attribute rows and bad rows."""

    followers: list = field(default_factory=list)
    creators: list = field(default_factory=list)
    attributes: list[dict] = field(default_factory=list)
    bad: list[tuple[str, int, str, str]] = field(default_factory=list)
    bad_count: int = 0
    files: int = 0
    items: set[str] = field(default_factory=set)

    def refuse(self, path: Path, line: int, text: str, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < _SHOW_BAD:
            self.bad.append((str(path), line, text[:200], reason))


def export_files(src: str | Path | Iterable[str | Path]) -> list[Path]:
    """The export files of ``src`` (a directory, one file, or a list of files), sorted."""
    if isinstance(src, str | Path):
        src = Path(src)
        if src.is_dir():
            files = sorted(p for p in src.iterdir() if p.is_file() and _kind(p) is not None)
            if not files:
                raise EmptyInputError(f"{src}: no creator export files (CSV, JSON, JSONL, "
                                      "optionally .gz)")
            return files
        src = [src]
    files = [Path(p) for p in src]
    for p in files:
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        if _kind(p) is None:
            raise InputError(f"{p}: not a CSV, JSON or JSONL export (optionally .gz)")
    return files


def _kind(path: Path) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return {".tsv": ".csv", ".ndjson": ".jsonl"}.get(suffix, suffix)
    return None


def creator_of(path: Path) -> str:
    """The creator a file is named after: ``nike_followers.csv.gz`` -> ``nike``."""
    name = path.name.removesuffix(".gz").removesuffix(".GZ")
    stem = name[: name.rfind(".")] if "." in name else name
    return re.sub(r"[_\- .]?followers$", "", stem, flags=re.IGNORECASE) or stem


def _text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed by the caller)


def _records(path: Path, rows: _Rows) -> Iterator[tuple[int, object]]:
    """``(line, record)`` of one file; a record is a dict or a scalar id."""
    kind = _kind(path)
    with _text(path) as f:
        if kind == ".jsonl":
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield n, json.loads(line)
                    except json.JSONDecodeError as exc:
                        rows.refuse(path, n, line.strip(), f"not JSON: {exc.msg}")
        elif kind == ".json":
            yield from _json_records(path, f, rows)
        else:
            yield from _csv_records(path, f, rows)


def _json_records(path: Path, f, rows: _Rows) -> Iterator[tuple[int, object]]:
    try:
        data = json.load(f)
    except json.JSONDecodeError as exc:
        rows.refuse(path, exc.lineno, exc.doc.splitlines()[exc.lineno - 1] if exc.doc else "",
                    f"not JSON: {exc.msg}")
        return
    if isinstance(data, dict):
        key = next((k for k in LIST_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            rows.refuse(path, 1, "{...}", "a JSON object without a list under any of "
                        f"{', '.join(LIST_KEYS)}")
            return
        data = data[key]
    if not isinstance(data, list):
        rows.refuse(path, 1, str(data)[:80], "expected a JSON list of followers")
        return
    rows.items.add(str(path))  # rows of a JSON list are named by item number, not line
    yield from enumerate(data, 1)


def _csv_records(path: Path, f, rows: _Rows) -> Iterator[tuple[int, object]]:
    sample = f.read(65536)
    f.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|") if sample.strip() else "excel"
    except csv.Error:
        dialect = "excel"
    reader = csv.reader(f, dialect)
    header = next(reader, None)
    if header is None:
        return
    known = resolve_columns(header).columns
    if not (set(known.values()) & {"id", "username"}) and not \
            {h.strip().lower() for h in header} & set(CREATOR_NAMES):
        if len(header) == 1:  # a bare list of ids, no header
            yield 1, header[0].strip()
            for row in reader:
                if len(row) == 1:
                    yield reader.line_num, row[0].strip()
                elif row:
                    rows.refuse(path, reader.line_num, ",".join(row), "expected one id per line")
            return
        raise InputError(f"{path}: no follower id or username column in the header "
                         f"({', '.join(header)}); name one id, pk, user_id or username")
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            rows.refuse(path, reader.line_num, ",".join(row),
                        f"{len(row)} fields, the header has {len(header)}")
            continue
        yield reader.line_num, {h: (v if v != "" else None) for h, v in zip(header, row,
                                                                            strict=True)}


def _read_file(path: Path, rows: _Rows, creator_col: str | None) -> None:
    default_creator = creator_of(path)
    mappings, raw = {}, []  # JSON records may differ in their keys: one mapping per key set
    for line, rec in _records(path, rows):
        if isinstance(rec, dict):
            keys = tuple(rec)
            if keys not in mappings:
                try:
                    mappings[keys] = _mapping(keys, creator_col, path)
                except InputError:
                    mappings[keys] = None
            mapping = mappings[keys]
            if mapping is None:
                rows.refuse(path, line, json.dumps(rec, default=str)[:200],
                            "no follower id or username among its keys")
                continue
            follower = rec.get(mapping["id"]) if mapping["id"] else None
            if follower is None and mapping["username"]:
                follower = rec.get(mapping["username"])
            creator = rec.get(mapping["creator"]) if mapping["creator"] else default_creator
        elif isinstance(rec, str | int) and not isinstance(rec, bool):
            follower, creator = rec, default_creator
        else:
            rows.refuse(path, line, json.dumps(rec)[:200], "expected an object, an id or a "
                        "username")
            continue
        if follower is None or (isinstance(follower, str) and not follower.strip()):
            rows.refuse(path, line, json.dumps(rec, default=str)[:200], "no follower id")
            continue
        if creator is None or creator == "":
            rows.refuse(path, line, json.dumps(rec, default=str)[:200], "no creator")
            continue
        rows.followers.append(follower.strip() if isinstance(follower, str) else follower)
        rows.creators.append(creator.strip() if isinstance(creator, str) else creator)
        if isinstance(rec, dict) and mapping["attrs"]:
            raw.append({**{k: rec.get(k) for k in mapping["attrs"]}, "id": rows.followers[-1]})
    rows.files += 1
    if raw:
        rows.attributes.append((path, raw))


def _mapping(keys, creator_col: str | None, path: Path) -> dict:
    keys = [str(k) for k in keys]
    if creator_col is not None and creator_col not in keys:
        raise InputError(f"{path}: no column {creator_col!r} (columns: {', '.join(keys)})")
    creator = creator_col or next((k for k in keys if k.strip().lower() in CREATOR_NAMES), None)
    res = resolve_columns([k for k in keys if k != creator])
    by_canon = {canon: src for src, canon in res.columns.items()}
    if "id" not in by_canon and "username" not in by_canon:
        raise InputError(f"{path}: no follower id or username among the keys "
                         f"({', '.join(keys)}); name one id, pk, user_id or username")
    attrs = [src for src, canon in res.columns.items() if canon != "id"]
    return {"id": by_canon.get("id"), "username": by_canon.get("username"), "creator": creator,
            "attrs": attrs}


def _id_array(values: list, kind: str) -> pa.Array:
    if kind == "int":
        return pa.array([int(v) for v in values], pa.int64())
    return pa.array([str(v) for v in values], pa.large_string())


def _id_kind(rows: _Rows, id_type: str | None) -> str:
    if id_type is not None:
        if id_type not in ("int", "str"):
            raise InputError(f"id_type must be 'int' or 'str', got {id_type!r}")
        return id_type
    for v in (*rows.followers, *rows.creators):
        if isinstance(v, bool) or not (isinstance(v, int) or _INT_RE.match(str(v))):
            return "str"
    return "int"


def _attribute_table(rows: _Rows, kind: str) -> pa.Table | None:
    """The follower attributes of every file, canonical names, one row per account (the first
    value seen of each attribute)."""
    from kolgraph.columns import CANONICAL, apply_columns

    tables = []
    for path, raw in rows.attributes:
        keys = list(dict.fromkeys(k for r in raw for k in r))  # rows may differ in their keys
        cols = {}
        for k in keys:
            values = [r.get(k) for r in raw]
            try:
                cols[k] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                cols[k] = pa.array([None if v is None else str(v) for v in values], pa.string())
        t = pa.table(cols)  # a column of mixed types is text, typed by the graph
        t, _ = apply_columns(t, where=path.name)
        keep = [c for c in t.column_names if c in CANONICAL and c != "id"]
        tables.append(t.select(keep).append_column("id", _id_array(t.column("id").to_pylist(),
                                                                     kind)))
    if not tables:
        return None
    t = pa.concat_tables(_same_types(tables), promote_options="permissive")
    cols = [c for c in t.column_names if c != "id"]
    merged = t.group_by("id", use_threads=False).aggregate([(c, "first") for c in cols])
    return pa.table({"id": merged.column("id"),
                     **{c: merged.column(f"{c}_first") for c in cols}})


def _same_types(tables: list[pa.Table]) -> list[pa.Table]:
    """A column typed differently by two files (``"true"`` in CSV, ``true`` in JSON) becomes
    text in all of them; the graph's account table then gives it its canonical type."""
    types: dict[str, set] = {}
    for t in tables:
        for f in t.schema:
            if not pa.types.is_null(f.type):
                types.setdefault(f.name, set()).add(f.type)
    mixed = {name for name, ts in types.items() if len(ts) > 1}
    out = []
    for t in tables:
        for name in mixed & set(t.column_names):
            i = t.column_names.index(name)
            col = t.column(name)
            text = col.cast(pa.string()) if not pa.types.is_boolean(col.type) else \
                pc.if_else(col, "true", "false")
            t = t.set_column(i, name, text)
        out.append(t)
    return out


def read_per_creator(src: str | Path | Iterable[str | Path], *, creator_col: str | None = None,
                     id_type: str | None = None, skip_bad: bool = False,
                     progress: Progress = SILENT) -> FollowerGraph:
    r"""Read one follower export per creator into a FollowerGraph (see the module notes).

    Parameters
    ----------
    src : a directory of exports (CSV, JSON, JSONL; optionally ``.gz``), one file, or a list
    creator_col : column holding the creator (default: a ``creator`` column if present, else
        the file name)
    id_type : ``"int"`` or ``"str"``; default: integers when every id looks like one
    skip_bad : skip malformed rows (counted in ``report["bad_rows"]``) instead of failing
    progress : progress reporter

    Returns
    -------
    The graph; its ``report`` has ``files``, ``input_edges``, ``edges``,
    ``duplicate_edges``, ``self_follows``, ``bad_rows`` and ``seconds``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "nike.csv").write_text("username,is_private\nann,false\nbob,true\nann,false\n")
    >>> _ = (d / "adidas_followers.jsonl").write_text('{"username": "bob"}\n{"username": "cy"}\n')
    >>> g = read_per_creator(d)
    >>> sorted(g.external(g.creators.column("idx").to_numpy()))
    ['adidas', 'nike']
    >>> g.reach(["nike", "adidas"]).unique_reach, g.report["duplicate_edges"]
    (3, 1)
    """
    t0 = time.perf_counter()
    files = export_files(src)
    rows = _Rows()
    with progress.task("reading creator exports", total=len(files)) as task:
        for path in files:
            _read_file(path, rows, creator_col)
            task.advance(1)
    if rows.bad_count and not skip_bad:
        shown = "; ".join(f"{p} item {n}: {text} ({why})" if p in rows.items else
                          f"{p}:{n}: {text} ({why})" for p, n, text, why in rows.bad)
        raise MalformedInputError(f"{rows.bad_count:,} malformed row(s): {shown}", rows.bad,
                                  rows.bad_count)
    if not rows.followers:
        raise EmptyInputError(f"no follower rows in {len(files)} export file(s)")
    kind = _id_kind(rows, id_type)
    try:
        followers = _id_array(rows.followers, kind)
        creators = _id_array(rows.creators, kind)
    except ValueError:
        raise InputError("id_type='int' but some ids are not integers; use id_type='str'") from None
    names = pc.unique(creators)
    creator_table = pa.table({"id": names, "name": pc.cast(names, pa.string())})
    report = {"files": len(files), "bad_rows": rows.bad_count,
              "bad_examples": [list(b) for b in rows.bad]}
    g = FollowerGraph.from_edges(followers, creators, creators=creator_table, report=report)
    accounts = _attribute_table(rows, kind)
    if accounts is not None:
        g.set_accounts(accounts)
    g.report["source"] = str(src) if isinstance(src, str | Path) else f"{len(files)} files"
    g.report["seconds"] = round(time.perf_counter() - t0, 3)
    return g


def ingest_per_creator(src: str | Path | Iterable[str | Path], out: str | Path, *,
                       overwrite: bool = False, progress: Progress = SILENT,
                       **options) -> FollowerGraph:
    """:func:`read_per_creator`, then write the store ``out`` atomically; the opened store.

    Nothing is written when the input has errors.
    """
    from kolgraph.exceptions import StoreError
    from kolgraph.store import open_store, write_store

    out = Path(out)
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; pass overwrite=True (CLI: --force) to replace it")
    g = read_per_creator(src, progress=progress, **options)
    write_store(g, out, overwrite=overwrite)
    stored = open_store(out)
    stored.report.update({k: v for k, v in g.report.items() if k not in stored.report})
    return stored
