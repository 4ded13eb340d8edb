"""Candidates: reading and checking the candidate table (ids, prices, posts, view rates,
tiers) and resolving ids given as options (must-include, must-exclude) to candidates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph._check import default_view_rates
from kolgraph.exceptions import InputError, UnknownAccountError
from kolgraph.tiers import TIER_NAMES, tier_index


def _coerce_id(g, x):
    if isinstance(x, np.generic):
        x = x.item()
    if g.ids.kind == "int":
        if isinstance(x, str):
            try:
                return int(x.strip())
            except ValueError:
                return x
        if isinstance(x, float) and x.is_integer():
            return int(x)
        return x
    return x if isinstance(x, str) else str(x)


def _candidate_table(g, candidates) -> tuple[pa.Table, str]:
    """Candidates as a table with ``id``, ``price`` and optional ``posts``, ``view_rate``."""
    if isinstance(candidates, str | Path):
        path = Path(candidates)
        if not path.is_file():
            raise InputError(f"candidates file {str(path)!r} does not exist")
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pacsv

            try:
                table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                    column_types={"id": pa.string()}))
            except pa.ArrowInvalid as exc:
                raise InputError(f"{path}: cannot read the candidates CSV ({exc})") from None
        return table, str(path)
    if isinstance(candidates, pa.Table):
        return candidates, "candidates"
    if hasattr(candidates, "to_dict") and hasattr(candidates, "columns"):  # pandas
        return pa.Table.from_pandas(candidates, preserve_index=False), "candidates"
    if isinstance(candidates, Mapping):
        return pa.table({"id": list(candidates.keys()),
                         "price": [float(v) for v in candidates.values()]}), "candidates"
    rows = list(candidates)
    if rows and all(isinstance(r, Mapping) for r in rows):
        return pa.Table.from_pylist(rows), "candidates"
    # bare ids: prices from the creator table
    c = g.creators
    if c is None or "price" not in c.column_names:
        raise InputError("candidates given as ids need prices: pass {id: price}, a table with "
                         "id,price, or a store whose creator table has a 'price' column")
    ids = [_coerce_id(g, x) for x in rows]
    idx = np.asarray(g.index(ids, strict=False), dtype=np.int64)
    if np.any(idx < 0):
        raise UnknownAccountError([ids[i] for i in np.flatnonzero(idx < 0)])
    cidx = np.asarray(c.column("idx").to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.argsort(cidx, kind="stable")
    pos = np.minimum(np.searchsorted(cidx[order], idx), len(cidx) - 1) if len(cidx) else idx * 0
    found = (cidx[order][pos] == idx) if len(cidx) else np.zeros(len(idx), bool)
    prices = np.full(len(idx), np.nan)
    price_col = c.column("price").to_numpy(zero_copy_only=False).astype(float)
    prices[found] = price_col[order][pos[found]]
    if np.any(~np.isfinite(prices)):
        missing = [ids[i] for i in np.flatnonzero(~np.isfinite(prices))][:10]
        raise InputError(f"no price in the creator table for candidate(s) {missing}; "
                         "pass prices explicitly")
    return pa.table({"id": ids, "price": prices}), "candidates"


def _ids_of(g, col) -> tuple[list, Any]:
    """External ids of the candidate column typed as the graph's ids, and the same ids in
    the form the id map looks up fastest (an int64 array or an Arrow string column)."""
    want_int = g.ids.kind == "int"
    if want_int and not pa.types.is_integer(col.type):
        try:
            col = pc.cast(pc.utf8_trim_whitespace(pc.cast(col, pa.string())), pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ids = [_coerce_id(g, x) for x in col.to_pylist()]
            return ids, ids
    elif not want_int and not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    if want_int:
        try:
            keys = np.asarray(pc.cast(col, pa.int64()).to_numpy(), dtype=np.int64)
        except pa.ArrowInvalid:  # e.g. uint64 past int64: looked up one by one, reported unknown
            ids = col.to_pylist()
            return ids, ids
        return keys.tolist(), keys
    return col.to_pylist(), col


def _column(table: pa.Table, name: str, source: str, default: float | None):
    if name not in table.column_names:
        if default is None:
            raise InputError(f"{source}: no column {name!r} (columns: "
                             f"{', '.join(table.column_names)}); expected id,price[,posts,view_rate]")
        return np.full(table.num_rows, default, dtype=float)
    col = table.column(name)
    try:
        vals = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
    except (ValueError, TypeError, pa.ArrowInvalid):
        raise InputError(f"{source}: column {name!r} must be numeric") from None
    bad = np.flatnonzero(~np.isfinite(vals))
    if len(bad):
        rows = ", ".join(str(r + 2) for r in bad[:5])  # +2: header line, 1-based
        raise InputError(f"{source}: column {name!r} is empty or not a number on line(s) {rows}")
    return vals


@dataclass
class _Candidates:
    ids: list
    idx: np.ndarray
    price: np.ndarray
    posts: np.ndarray
    view_rate: np.ndarray
    cost: np.ndarray
    tier: np.ndarray  # tier number 0..4
    pos_of: dict = field(default_factory=dict)  # id -> position, built on first use


def read_candidates(g, candidates) -> _Candidates:
    """Check and resolve the candidates (ids, prices, posts, view rates)."""
    table, source = _candidate_table(g, candidates)
    if "id" not in table.column_names:
        raise InputError(f"{source}: no column 'id' (columns: {', '.join(table.column_names)}); "
                         "expected id,price[,posts,view_rate]")
    col = table.column("id")
    if col.null_count:
        rows = [str(i + 2) for i, x in enumerate(col.to_pylist()) if x is None][:5]
        raise InputError(f"{source}: empty id on line(s) {', '.join(rows)}")
    ids, keys = _ids_of(g, col)
    if not ids:
        raise InputError(f"{source}: no candidates")
    price = _column(table, "price", source, None)
    neg = np.flatnonzero(price <= 0)
    if len(neg):
        shown = ", ".join(f"{ids[i]!r} ({price[i]:g}, line {i + 2})" for i in neg[:5])
        raise InputError(f"{source}: prices must be positive; got {shown}")
    posts = _column(table, "posts", source, 1.0)
    if np.any(posts < 1) or np.any(posts != np.round(posts)):
        i = int(np.flatnonzero((posts < 1) | (posts != np.round(posts)))[0])
        raise InputError(f"{source}: posts must be whole numbers >= 1; got {posts[i]:g} for "
                         f"{ids[i]!r} (line {i + 2})")
    idx = np.asarray(g.index(keys, strict=False), dtype=np.int64)
    if np.any(idx < 0):
        raise UnknownAccountError([ids[i] for i in np.flatnonzero(idx < 0)])
    uniq, first, counts = np.unique(idx, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dups = [ids[first[i]] for i in np.flatnonzero(counts > 1)]
        raise InputError(f"{source}: duplicate candidate id(s): {', '.join(map(repr, dups[:10]))}")
    rates = np.full(len(ids), np.nan)  # NaN: the default, filled where needed
    if "view_rate" in table.column_names:
        given = np.asarray(pc.fill_null(pc.cast(table.column("view_rate"), pa.float64()),
                                        np.nan).to_numpy(zero_copy_only=False), dtype=float)
        rates = given
        bad = np.flatnonzero((rates < 0) | (rates > 1))
        if len(bad):
            i = int(bad[0])
            raise InputError(f"{source}: view_rate must be between 0 and 1; got {rates[i]:g} "
                             f"for {ids[i]!r} (line {i + 2})")
    tier = tier_index(g.in_degree[idx]).astype(np.int64)
    if "tier" in table.column_names:  # the planner's own tiers override the follower counts
        for i, name in enumerate(table.column("tier").to_pylist()):
            if name is None or name == "":
                continue
            if str(name).lower() not in TIER_NAMES:
                raise InputError(f"{source}: unknown tier {name!r} for {ids[i]!r} (line {i + 2}); "
                                 f"tiers: {', '.join(TIER_NAMES)}")
            tier[i] = TIER_NAMES.index(str(name).lower())
    return _Candidates(ids, idx, price, posts.astype(np.int64), rates, price * posts, tier)


def _positions(g, cands: _Candidates, ids, what: str) -> list[int]:
    """Positions of ``ids`` (one id or several) among the candidates, without repeats; an id
    that is not a candidate raises :class:`InputError` naming ``what``."""
    if isinstance(ids, str | bytes | int | np.integer):
        ids = [ids]
    ids = list(ids)
    if ids and not cands.pos_of:
        cands.pos_of.update((x, i) for i, x in enumerate(cands.ids))
    out, stray = [], []
    for x in ids:
        x = _coerce_id(g, x)
        (out.append(cands.pos_of[x]) if x in cands.pos_of else stray.append(x))
    if stray:
        raise InputError(f"{what}: {len(stray)} id(s) not among the candidates: "
                         f"{', '.join(map(repr, stray[:10]))}")
    return list(dict.fromkeys(out))


def _fill_view_rates(g, cands: _Candidates, which: np.ndarray) -> None:
    """Default view rates (avg_views / followers, else 1) where the candidates gave none."""
    which = np.asarray(which, dtype=np.int64)
    unset = which[np.isnan(cands.view_rate[which])]
    if len(unset):
        cands.view_rate[unset] = default_view_rates(g, cands.idx[unset])
