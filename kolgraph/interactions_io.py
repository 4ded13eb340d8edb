"""Reading interaction events and posts, and adding them to a graph or a store.

Inputs (docs/interactions.md has examples):

- **CSV/TSV** (optionally ``.gz``) with a header row, or **Parquet**, one event per row.
  Columns, by name (aliases in :data:`ALIASES`): ``account`` (who interacted),
  ``creator`` (whose content), ``time`` (Unix seconds or ISO 8601), ``kind`` (any
  label), and optionally ``post``, ``weight`` (a number, default 1) and ``reply_to``
  (for a creator's ``reply``: the fan answered).
- **Per-creator JSON exports**: a ``.json`` or ``.jsonl`` file per creator, or a
  directory of them. The creator is the file name without its extensions and without
  a ``_comments``/``_likes``/``_shares``/``_replies``/``_views``/``_mentions``/
  ``_interactions`` suffix (or a ``creator`` field of the rows). Each row is an object
  with the columns above (same aliases); its ``kind`` defaults to the file-name
  suffix (``nike_comments.jsonl`` holds comments). A ``.json`` file holds a list of
  such objects (or an object with the list under ``items``/``data``/``comments``/
  ``likes``/``interactions``).
- **Posts** (``--posts``): CSV/Parquet with ``creator``, ``post`` and ``time``.

Malformed rows are reported as ``file:line: text (reason)`` (``file row N`` for
Parquet, ``file item N`` in a JSON list); the read fails and nothing is written.
Exact duplicate events are dropped and counted.

Accounts that interact without following (and creators with no followers) join the
account table: the graph grows, keeping every existing account's order (internal ids
follow the sorted external ids, so old rows stay sorted under the new numbering).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kolgraph.exceptions import EmptyInputError, InputError, MalformedInputError
from kolgraph.graph import FollowerGraph
from kolgraph.ids import IdMap
from kolgraph.interactions import PART, Interactions, build, events_of, posts_of, remap
from kolgraph.tables import parse_times

ALIASES = {
    "account": ("account", "account_id", "user", "user_id", "username", "author", "from",
                "src", "source", "owner_username"),
    "creator": ("creator", "creator_id", "influencer", "to", "dst", "target", "owner"),
    "time": ("time", "timestamp", "ts", "created_at", "date", "taken_at"),
    "kind": ("kind", "type", "action", "event"),
    "post": ("post", "post_id", "media_id", "shortcode"),
    "weight": ("weight", "value"),
    "reply_to": ("reply_to", "in_reply_to", "reply_to_user"),
}
REQUIRED = ("account", "creator", "time", "kind")
POST_REQUIRED = ("creator", "post", "time")
SUFFIX_KINDS = {"comments": "comment", "likes": "like", "shares": "share", "replies": "reply",
                "views": "view", "mentions": "mention", "interactions": None}
_SHOW_BAD = 5


@dataclass
class Events:
    """Events as Arrow text columns (ids as text until the graph's id kind is known)."""

    columns: dict[str, pa.ChunkedArray]
    report: dict = field(default_factory=dict)
    where: Callable[[int], str] = str  # row i's place in the input (file:line)

    def __len__(self) -> int:
        return len(self.columns["creator"])


# --- reading ------------------------------------------------------------------------------
def read_events(src: str | Path) -> Events:
    """Interaction events from a CSV/TSV/Parquet file, a JSON/JSONL per-creator export, or a
    directory of exports; rows checked (nothing returned when one is malformed)."""
    path = Path(src)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _is_json(p))
        if not files:
            raise InputError(f"interactions: {path} holds no .json/.jsonl files")
        return _concat([_read_json(p) for p in files], str(path))
    if not path.is_file():
        raise InputError(f"interactions: {path}: no such file or directory")
    if _is_json(path):
        return _read_json(path)
    return _read_table(path, REQUIRED, "interactions")


def read_posts(src: str | Path) -> Events:
    """Creators' posts (``creator``, ``post``, ``time``) from CSV/TSV/Parquet."""
    return _read_table(Path(src), POST_REQUIRED, "posts")


def _read_table(path: Path, required: tuple[str, ...], what: str) -> Events:
    if not path.is_file():
        raise InputError(f"{what}: {path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{what}: {path}: not a readable Parquet file ({exc})") from None
        cols = _named(table, path, required)
        return _checked(cols, path, lambda i: f"{path} row {i + 1}", what)
    bad: list[tuple[int, str]] = []

    def on_bad(row) -> str:
        bad.append((row.number, row.text))
        return "skip"
    delim = "\t" if ".tsv" in path.suffixes or ".tab" in path.suffixes else ","
    try:
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False),
                               parse_options=pacsv.ParseOptions(delimiter=delim,
                                                                invalid_row_handler=on_bad),
                               convert_options=pacsv.ConvertOptions(
                                   auto_dict_encode=False, strings_can_be_null=False,
                                   column_types=_all_text(path, delim)))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what}: {path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    if bad:
        _fail(what, path, [(f"{path}:{n}", t, "wrong number of fields") for n, t in bad], len(bad))
    cols = _named(table, path, required)
    return _checked(cols, path, lambda i: f"{path}:{i + 2}", what)  # line 1 is the header


def _all_text(path: Path, delim: str) -> dict[str, pa.DataType]:
    """Every column read as text (ids and labels must not become numbers or dates)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n")
    return {name.strip().strip('"'): pa.string() for name in header.split(delim)}


def _named(table: pa.Table, path: Path, required: tuple[str, ...]) -> dict[str, pa.ChunkedArray]:
    """The canonical columns found in ``table`` by their aliases (required ones must be there)."""
    low = {name.lower(): name for name in table.column_names}
    cols = {}
    for canon, aliases in ALIASES.items():
        hit = next((low[a] for a in aliases if a in low), None)
        if hit is not None:
            cols[canon] = table.column(hit)
    missing = [c for c in required if c not in cols]
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)} column (columns: "
                         f"{', '.join(table.column_names)}; names accepted: "
                         + "; ".join(f"{c}: {'/'.join(ALIASES[c])}" for c in missing) + ")")
    return cols


def _checked(cols: dict, path: Path, where, what: str) -> Events:
    """Parse times and weights, check required values; fail naming the first bad rows.

    Text columns are trimmed; typed ones (Parquet integers, timestamps, numbers) are kept
    as they are, so a typed file is never turned into text and parsed back."""
    n = len(next(iter(cols.values())))
    fault = np.zeros(n, dtype=np.int8)
    out = {k: _trimmed(v) for k, v in cols.items() if k not in ("time", "weight")}
    required = POST_REQUIRED if what == "posts" else REQUIRED
    for reason, k in enumerate(("account", "creator", "kind", "post"), start=1):
        if k in out and k in required:  # an empty required value: fault code `reason`
            empty = (pc.fill_null(pc.equal(out[k], ""), True) if _is_text(out[k].type)
                     else pc.is_null(out[k]))
            fault[(fault == 0) & empty.to_numpy(zero_copy_only=False)] = reason
    out["time"] = _times(cols["time"])
    fault[(fault == 0) & ~pc.is_valid(out["time"]).to_numpy(zero_copy_only=False)] = 5
    if "weight" in cols:
        out["weight"] = _weights(cols["weight"])
        fault[(fault == 0) & ~pc.is_valid(out["weight"]).to_numpy(zero_copy_only=False)] = 6
    reasons = {1: "empty account", 2: "empty creator", 3: "empty kind", 4: "empty post",
               5: "time is neither Unix seconds nor an ISO 8601 date",
               6: "weight is not a non-negative number"}
    bad = np.flatnonzero(fault)
    if len(bad):
        shown = [(where(int(i)), str({k: cols[k][int(i)].as_py() for k in cols}),
                  reasons[int(fault[i])]) for i in bad[:_SHOW_BAD]]
        _fail(what, path, shown, len(bad))
    if n == 0:
        raise EmptyInputError(f"{what}: {path} has no rows")
    return Events(out, {"source": str(path), "rows": int(n)}, where)


def _is_text(typ: pa.DataType) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


def _trimmed(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Integer ids stay integers; anything else becomes trimmed text."""
    if pa.types.is_integer(col.type):
        return col
    return pc.utf8_trim_whitespace(col.cast(pa.string()))


def _times(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Naive UTC timestamp[s]: integers are Unix seconds, text is parsed."""
    if pa.types.is_integer(col.type):
        return col.cast(pa.int64()).cast(pa.timestamp("s"))
    if pa.types.is_timestamp(col.type):
        utc = col.cast(pa.timestamp(col.type.unit, tz="UTC")) if col.type.tz is None else col
        return utc.cast(pa.timestamp("s", tz="UTC"), safe=False).cast(pa.timestamp("s"))
    return parse_times(col.cast(pa.string()))


def _weights(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """float64 weights, null where not a non-negative number (an empty text weight is 1)."""
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        num = col.cast(pa.float64())
        return pc.if_else(pc.fill_null(pc.greater_equal(num, 0.0), False), num,
                          pa.scalar(None, pa.float64()))
    w = pc.utf8_trim_whitespace(col.cast(pa.string()))
    w = pc.if_else(pc.equal(w, ""), "1", w)
    return pc.if_else(pc.match_substring_regex(w, r"^\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"),
                      w, pa.scalar(None, pa.string())).cast(pa.float64())


def _fail(what: str, path: Path, shown: list[tuple[str, str, str]], count: int):
    lines = "\n".join(f"  {w}: {t!r} ({why})" for w, t, why in shown[:_SHOW_BAD])
    raise MalformedInputError(f"{what}: {path}: {count:,} malformed row(s); nothing was written. "
                              f"First:\n{lines}", errors=[(str(path), 0, t, why) for _, t, why in shown],
                              count=count)


def _is_json(p: Path) -> bool:
    name = p.name.lower().removesuffix(".gz")
    return name.endswith((".json", ".jsonl", ".ndjson"))


def _file_creator(p: Path) -> tuple[str, str | None]:
    """Creator and default kind from a per-creator export's name (``nike_comments.jsonl``)."""
    stem = p.name
    while Path(stem).suffix.lower() in (".gz", ".json", ".jsonl", ".ndjson"):
        stem = Path(stem).stem
    for suffix, kind in SUFFIX_KINDS.items():
        for sep in ("_", "-"):
            if stem.lower().endswith(sep + suffix):
                return stem[: -len(suffix) - 1], kind
    return stem, None


def _json_rows(p: Path) -> list[tuple[str, object]]:
    """``(where, row)`` of a JSON list or JSON Lines file; bad JSON is a malformed row."""
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        text = fh.read()
    if p.name.lower().removesuffix(".gz").endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            _fail("interactions", p, [(f"{p}:{exc.lineno}", exc.doc[exc.pos:exc.pos + 40],
                                       f"bad JSON: {exc.msg}")], 1)
        if isinstance(data, dict):
            data = next((data[k] for k in ("items", "data", "comments", "likes", "interactions")
                         if isinstance(data.get(k), list)), None)
        if not isinstance(data, list):
            raise InputError(f"interactions: {p}: expected a JSON list of events (or an object "
                             "with one under items/data/comments/likes/interactions)")
        return [(f"{p} item {i + 1}", row) for i, row in enumerate(data)]
    rows, bad = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{p}:{n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                bad.append((f"{p}:{n}", line[:80], f"bad JSON: {exc.msg}"))
    if bad:
        _fail("interactions", p, bad, len(bad))
    return rows


def _read_json(p: Path) -> Events:
    creator, kind = _file_creator(p)
    rows = _json_rows(p)
    bad = [(w, str(r)[:80], "not a JSON object") for w, r in rows if not isinstance(r, dict)]
    if bad:
        _fail("interactions", p, bad, len(bad))
    canon = {}
    for c, aliases in ALIASES.items():
        canon[c] = [_first(r, aliases) for _, r in rows]
    canon["creator"] = [creator if v is None else v for v in canon["creator"]]
    canon["kind"] = [kind if v is None else v for v in canon["kind"]]
    table = pa.table({c: pa.array(["" if v is None else str(v) for v in vals], pa.string())
                      for c, vals in canon.items() if c in REQUIRED or any(v is not None for v in vals)})
    wheres = [w for w, _ in rows]
    return _checked({c: table.column(c) for c in table.column_names}, p,
                    lambda i: wheres[i], "interactions")


def _first(row: dict, aliases: tuple[str, ...]):
    low = {k.lower(): v for k, v in row.items()}
    for a in aliases:
        v = low.get(a)
        if isinstance(v, dict):  # {"user": {"id": ..., "username": ...}}
            v = v.get("id", v.get("pk", v.get("username")))
        if v is not None:
            return v
    return None


def _concat(parts: list[Events], source: str) -> Events:
    names = set().union(*(p.columns for p in parts))
    cols = {}
    for name in names:
        found = [p.columns.get(name) for p in parts]
        types = {c.type for c in found if c is not None}
        # parts that typed a column differently (or lack it) meet as text
        as_text = name not in ("weight", "time") and (len(types) > 1 or None in found)
        chunks = []
        for p, col in zip(parts, found, strict=True):
            if col is None:
                fill = -1.0 if name == "weight" else ""
                col = pa.chunked_array([pa.array([fill] * len(p), pa.float64() if name == "weight"
                                                 else pa.string())])
            chunks.extend(col.cast(pa.string()).chunks if as_text else col.chunks)
        cols[name] = pa.chunked_array(chunks)
    if "weight" in cols:  # rows of files without weights weigh 1
        cols["weight"] = pc.if_else(pc.less(cols["weight"], 0), 1.0, cols["weight"])
    starts = np.cumsum([0] + [len(p) for p in parts])

    def where(i: int) -> str:
        j = int(np.searchsorted(starts, i, side="right")) - 1
        return parts[j].where(i - int(starts[j]))
    return Events(cols, {"source": source, "files": len(parts),
                         "rows": sum(len(p) for p in parts)}, where)


# --- attaching to a graph, adding to a store ------------------------------------------------
def with_interactions(g: FollowerGraph, events: str | Path | None,
                      posts: str | Path | None = None) -> FollowerGraph:
    """The graph with the events of file ``events`` (and the posts of ``posts``) added (see
    :func:`attach_events`); ``g.report["interactions"]`` gets their :func:`summary`."""
    g = attach_events(g, read_events(events) if events is not None else None,
                      read_posts(posts) if posts is not None else None)
    g.report["interactions"] = summary(g.interactions)
    return g


def attach_events(g: FollowerGraph, events: Events | None, posts: Events | None = None
                  ) -> FollowerGraph:
    """The graph with ``events`` (and ``posts``) added to its interactions layer.

    Returns ``g`` itself when every account is known, else a grown copy (accounts that
    only interact join the account table). ``g.interactions.report`` counts the input
    events, duplicates and new accounts.
    """
    events = events if events is not None else _no_events()
    ids = {k: _distinct(_ids(g, events, k)) for k in ("account", "creator", "reply_to")
           if k in events.columns}
    post_creators = _distinct(_ids(g, posts, "creator")) if posts is not None else None
    known = [c for c in (*ids.values(), post_creators) if c is not None]
    new = _unknown(g, [values for _, values in known])
    if len(new):
        g = grow(g, new)
    old = g.interactions
    kinds = list(old.kinds) if old is not None else []
    labels = events.columns["kind"]
    kinds += sorted(set(pc.unique(labels).to_pylist()) - set(kinds))
    kind = pc.index_in(labels, value_set=pa.array(kinds, pa.string())).to_numpy(zero_copy_only=False)
    post_map, post, old_post, posts_post = _post_codes(old, events, posts)
    reply_to = _dense(g, ids["reply_to"]) if "reply_to" in ids else np.full(len(events), -1)
    cols = {"account": _dense(g, ids["account"]), "creator": _dense(g, ids["creator"]),
            "time": events.columns["time"].cast(pa.int64()).to_numpy(), "kind": kind,
            "post": post, "weight": (events.columns["weight"].to_numpy() if "weight" in events.columns
                                     else np.ones(len(events))), "reply_to": reply_to}
    p_cols = None
    if posts is not None:
        p_cols = (_dense(g, post_creators), posts.columns["time"].cast(pa.int64()).to_numpy(), posts_post)
    if old is not None:
        prev = events_of(old)
        prev["post"] = np.where(prev["post"] >= 0, old_post[np.maximum(prev["post"], 0)], -1)
        cols = {k: np.concatenate([prev[k], np.asarray(v)]) for k, v in cols.items()}
        if old.has_posts:
            pc_, pt, pp = posts_of(old)
            pp = old_post[pp] if len(pp) else pp
            p_cols = (pc_, pt, pp) if p_cols is None else tuple(
                np.concatenate([a, np.asarray(b)]) for a, b in zip((pc_, pt, pp), p_cols, strict=True))
    g.interactions = build(cols["account"], cols["creator"], cols["time"], cols["kind"], kinds,
                           g.n_accounts, post=cols["post"], weight=cols["weight"],
                           reply_to=cols["reply_to"], post_ids=post_map, posts=p_cols)
    g.interactions.report.update(added_events=len(events), new_accounts=int(len(new)),
                                 added_posts=len(posts) if posts is not None else 0)
    return g


def _ids(g: FollowerGraph, events: Events, name: str) -> pa.ChunkedArray:
    """An id column in the graph's id kind (int ids must be integers); ``""`` becomes null."""
    col = events.columns[name]
    if pa.types.is_integer(col.type):
        return col.cast(pa.int64() if g.ids.kind == "int" else pa.large_string())
    col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
    if g.ids.kind == "str":
        return col.cast(pa.large_string())
    ok = pc.fill_null(pc.match_substring_regex(col, r"^[+-]?\d{1,18}$"), True)
    bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    if len(bad):
        shown = [(events.where(int(i)), col[int(i)].as_py(), f"{name} is not an integer id (the "
                  "graph's ids are integers)") for i in bad[:_SHOW_BAD]]
        _fail("interactions", Path(events.report.get("source", "?")), shown, len(bad))
    return col.cast(pa.int64())


def _dense(g: FollowerGraph, distinct: tuple[np.ndarray, pa.Array]) -> np.ndarray:
    """Internal ids of a column of known ids given as :func:`_distinct` gives it; -1 where
    the column is null. Only its distinct ids are looked up (events repeat their accounts
    and creators)."""
    indices, values = distinct
    found = g.index(values, strict=False) if len(values) else np.empty(0, np.int32)
    return np.where(indices >= 0, found[np.maximum(indices, 0)] if len(found) else -1,
                    -1).astype(np.int32)


def _unknown(g: FollowerGraph, values: list[pa.Array]) -> pa.Array:
    """The distinct ids among ``values`` (distinct per column already) that are not
    accounts of ``g``."""
    typ = pa.int64() if g.ids.kind == "int" else pa.large_string()
    every = pc.unique(pa.chunked_array([v.cast(typ) for v in values], type=typ))
    found = g.index(every, strict=False) if len(every) else np.empty(0, np.int32)
    return every.filter(pa.array(found < 0))


def _post_codes(old: Interactions | None, events: Events, posts: Events | None):
    """The post id dictionary over old and new post ids, the new events' post codes (-1
    none), old code -> new code, and the posts table's codes.

    Post ids are text in the dictionary (an integer post 7 is "7"); each column is
    dictionary-encoded first, so only its distinct values are turned into text."""
    old_ids = old.post_ids.to_arrow() if old is not None and old.post_ids is not None else None
    new = [_distinct(c) for c in (events.columns.get("post"),
                                  posts.columns["post"] if posts is not None else None)]
    dicts = [d for d in (old_ids, *(e[1] for e in new if e is not None)) if d is not None]
    if not dicts or all(len(d) == 0 for d in dicts):
        return None, None, np.empty(0, np.int32), None
    post_map, dense = IdMap.encode([d.cast(pa.large_string()) for d in dicts])
    dense = iter(dense)
    old_post = next(dense) if old_ids is not None else np.empty(0, np.int32)
    codes = []
    for e in new:
        if e is None:
            codes.append(None)
            continue
        indices, _ = e
        of_value = next(dense)
        codes.append(np.where(indices >= 0, of_value[np.maximum(indices, 0)], -1).astype(np.int32)
                     if len(of_value) else np.full(len(indices), -1, np.int32))
    return post_map, codes[0], old_post, codes[1]


def _distinct(col: pa.ChunkedArray | None) -> tuple[np.ndarray, pa.Array] | None:
    """``(indices, values)``: each row's position in the column's distinct non-empty values
    (-1 for null or empty text)."""
    if col is None:
        return None
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if _is_text(arr.type):
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    enc = pc.dictionary_encode(arr)
    indices = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return indices, enc.dictionary


def grow(g: FollowerGraph, new_ids: pa.Array) -> FollowerGraph:
    """A copy of ``g`` whose account table also holds ``new_ids`` (accounts without edges)."""
    idmap, (dense_old, _) = IdMap.encode([g.ids.to_arrow(), new_ids])
    new_of_old = dense_old.astype(np.int64)
    n = len(idmap)

    def rows(indptr, indices):
        counts = np.zeros(n, np.int64)
        counts[new_of_old] = np.diff(indptr)
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        return ptr, new_of_old[np.asarray(indices)].astype(np.int32)
    in_ptr, in_idx = rows(g.in_indptr, g.in_indices)
    out_ptr, out_idx = rows(g.out_indptr, g.out_indices)
    accounts = g.raw_accounts()
    if accounts is not None:
        old_of_new = np.full(n, -1, np.int64)
        old_of_new[new_of_old] = np.arange(len(new_of_old))
        accounts = accounts.take(pa.array(old_of_new, mask=old_of_new < 0))
    creators = g.raw_creators()
    if creators is not None:
        creators = creators.set_column(creators.column_names.index("idx"), "idx", pa.array(
            new_of_old[creators.column("idx").to_numpy()].astype(np.int32)))
    grown = FollowerGraph(in_ptr, in_idx, out_ptr, out_idx, idmap,
                          followed_at=None if g.followed_at is None else np.asarray(g.followed_at),
                          creators=creators, accounts=accounts, path=g.path, report=g.report)
    grown.manifest = getattr(g, "manifest", None)
    if g.interactions is not None:
        grown.interactions = remap(g.interactions, new_of_old, n)
    grown.report["accounts"] = n
    return grown


def add_interactions(store: str | Path, src: str | Path | None, posts: str | Path | None = None
                     ) -> dict:
    """Add the events of ``src`` (and the posts of ``posts``) to the store, atomically.

    When every account is known only the interactions part is replaced
    (:func:`kolgraph.store.write_part`); when new accounts join, the whole store is
    rewritten (:func:`kolgraph.store.write_store`) and parts keyed by account (sketches)
    and synthetic truth are dropped, listed in ``warnings``. On any failure the old
    store is left as it was. Returns a JSON-ready report.
    """
    from kolgraph.store import _CORE_KEYS, open_store, read_truth, write_part, write_store

    if src is None and posts is None:
        raise InputError("add-interactions: give an events file (or --posts)")
    g = open_store(store)
    grown = with_interactions(g, src, posts)
    inter = grown.interactions
    warnings = []
    if grown is g:
        write_part(store, PART, inter.arrays(), inter.meta())
    else:
        manifest = g.manifest
        dropped = [k for k, v in manifest.items()
                   if k not in _CORE_KEYS and k != PART and isinstance(v, dict) and "dir" in v]
        extra = {k: v for k, v in manifest.items() if k not in _CORE_KEYS and k not in dropped}
        if read_truth(store):
            dropped.append("truth")
        if dropped:
            warnings.append(f"{inter.report['new_accounts']:,} new account(s) renumber the store: "
                            f"dropped {', '.join(dropped)} (rebuild sketches with `kolgraph "
                            "sketch`)")
        write_store(grown, store, overwrite=True, extra_manifest=extra)
    return {"store": str(store), **summary(inter), "warnings": warnings}


def _no_events() -> Events:
    empty = pa.chunked_array([pa.array([], pa.string())])
    return Events({"account": empty, "creator": empty, "kind": empty,
                   "time": pa.chunked_array([pa.array([], pa.timestamp("s"))])}, {"rows": 0})


def summary(inter: Interactions) -> dict:
    """The counts ingest reports about an interactions layer."""
    rep = inter.report
    span = inter.time_span()
    return {"events": inter.n_events, "added_events": rep.get("added_events", 0),
            "duplicate_events": rep.get("duplicate_events", 0),
            "new_accounts": rep.get("new_accounts", 0), "posts": inter.n_posts,
            "kinds": list(inter.kinds), "has_post_ids": inter.has_post_ids,
            "first": span[0] if span else None, "last": span[1] if span else None}
