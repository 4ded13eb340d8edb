"""Attribute tables: canonical columns, type coercion with row-precise errors.

The creator table is metadata keyed by account id; the account table holds
profile attributes. Both are normalised here, once, so every consumer sees the
same column names and types.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.exceptions import InputError

ACCOUNT_COLUMNS: dict[str, pa.DataType] = {
    "created_at": pa.timestamp("s", tz="UTC"),
    "posts": pa.int64(),
    "followers": pa.int64(),
    "following": pa.int64(),
    "has_avatar": pa.bool_(),
    "username": pa.string(),
    "bio": pa.string(),
    "verified": pa.bool_(),
    "private": pa.bool_(),
    "country": pa.string(),
    "language": pa.string(),
}

CREATOR_COLUMNS: dict[str, pa.DataType] = {
    "name": pa.string(),
    "platform": pa.string(),
    "category": pa.string(),
    "price": pa.float64(),
    "avg_views": pa.float64(),
}

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n", ""}


class KolgraphWarning(UserWarning):
    """Input was accepted but something in it was dropped or adjusted."""


def coerce_column(col: pa.ChunkedArray | pa.Array, typ: pa.DataType, name: str, where: str
                  ) -> pa.ChunkedArray:
    """Cast ``col`` to ``typ``; on failure name the column, the first bad row and its value."""
    col = col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])
    if col.type == typ:
        return col
    try:
        text_in = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        if pa.types.is_boolean(typ) and text_in:
            return _text_to_bool(col, name, where)
        if pa.types.is_timestamp(typ):
            return _to_timestamp(col, typ)
        if pa.types.is_integer(typ) and pa.types.is_floating(col.type):
            # 3.0 is fine, 3.5 is not: cast safely
            return col.cast(typ, safe=True)
        return col.cast(typ, safe=True)
    except InputError:  # already names the row (InputError is a ValueError: keep it as it is)
        raise
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        row, value = _first_uncastable(col, typ)
        raise InputError(
            f"{where}: column {name!r} must be {_describe(typ)}; row {row} has {value!r}"
            if row is not None else f"{where}: column {name!r} cannot be read as {_describe(typ)}: {exc}"
        ) from None


def _describe(typ: pa.DataType) -> str:
    if pa.types.is_integer(typ):
        return "a whole number"
    if pa.types.is_floating(typ):
        return "a number"
    if pa.types.is_boolean(typ):
        return "true/false (or 1/0, yes/no)"
    if pa.types.is_timestamp(typ):
        return "a time (ISO 8601 text or Unix seconds)"
    return str(typ)


def _text_to_bool(col: pa.ChunkedArray, name: str, where: str) -> pa.ChunkedArray:
    low = pc.utf8_lower(pc.utf8_trim_whitespace(col))
    is_true = pc.is_in(low, value_set=pa.array(sorted(_TRUE)))
    is_false = pc.is_in(low, value_set=pa.array(sorted(_FALSE)))
    bad = pc.and_(pc.invert(pc.or_(is_true, is_false)), pc.is_valid(col))
    if pc.any(bad).as_py():
        row = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
        raise InputError(f"{where}: column {name!r} must be {_describe(pa.bool_())}; "
                         f"row {row + 1} has {col[row].as_py()!r}")
    return pc.if_else(pc.is_valid(col), is_true, pa.scalar(None, pa.bool_()))


def _to_timestamp(col: pa.ChunkedArray, typ: pa.TimestampType) -> pa.ChunkedArray:
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col.cast(pa.int64()).cast(pa.timestamp("s")).cast(typ)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        return col.cast(typ)
    if pa.types.is_date(col.type):
        return col.cast(pa.timestamp("s")).cast(typ)
    text = col.cast(pa.string())
    parsed = parse_times(text)
    unparsed = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    if pc.any(unparsed).as_py():
        raise pa.ArrowInvalid("unparsable time")  # coerce_column names the row
    return parsed.cast(typ)


TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%a %b %d %H:%M:%S %z %Y")  # the last: Twitter's created_at


def parse_times(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Unix seconds or ISO 8601 text (with a zone offset, or UTC without) to UTC timestamp[s],
    element by element; null where nothing parses."""
    is_int = pc.match_substring_regex(text, r"^\s*[+-]?\d{1,12}\s*$")
    parsed = [pc.if_else(is_int, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string()))
              .cast(pa.int64()).cast(pa.timestamp("s"))]
    rest = pc.if_else(is_int, pa.scalar(None, pa.string()), pc.utf8_trim_whitespace(text))
    for fmt in TIME_FORMATS:
        got = pc.strptime(rest, format=fmt, unit="s", error_is_null=True)
        parsed.append(got.cast(pa.timestamp("s")))  # zoned results are UTC instants already
    return pc.coalesce(*parsed)


def _first_uncastable(col: pa.ChunkedArray, typ: pa.DataType) -> tuple[int | None, object]:
    """Slow path, on errors only: find the first value that does not cast."""
    for i, v in enumerate(col.to_pylist()):
        if v is None:
            continue
        try:
            pa.array([v]).cast(typ, safe=True) if not pa.types.is_timestamp(typ) else _to_timestamp(
                pa.chunked_array([pa.array([v])]), typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError):
            return i + 1, v
    return None, None


def normalize_table(table: pa.Table, canonical: dict[str, pa.DataType], where: str) -> pa.Table:
    """Coerce the canonical columns that ``table`` has; keep other columns as they are."""
    for name, typ in canonical.items():
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, coerce_column(table.column(name), typ, name, where))
    return table


def align_rows(table: pa.Table, ids: pa.ChunkedArray, dense: np.ndarray, n: int, where: str,
               warn: list[str]) -> pa.Table:
    """Reorder ``table`` so row i describes account i (nulls where no row was given).

    Duplicate ids are an error; rows for accounts absent from the graph are
    dropped with a warning.
    """
    known = dense >= 0
    if not known.all():
        unknown = pc.filter(ids, pa.array(~known)).to_pylist()
        msg = (f"{where}: {len(unknown):,} row(s) describe accounts that are not in the graph "
               f"and were ignored (first: {', '.join(map(repr, unknown[:5]))})")
        warn.append(msg)
        warnings.warn(msg, KolgraphWarning, stacklevel=3)
    counts = np.bincount(dense[known], minlength=n)
    if (counts > 1).any():
        dup_rows = np.flatnonzero(known & (counts[np.where(known, dense, 0)] > 1))
        dups = sorted({ids[int(r)].as_py() for r in dup_rows[:50]}, key=str)
        raise InputError(f"{where}: account id(s) listed more than once: "
                         f"{', '.join(map(repr, dups[:10]))}; keep one row per account")
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[dense[known]] = np.flatnonzero(known)
    return table.take(pa.array(row_of, mask=row_of < 0))


# --- CSV cells a spreadsheet would run as formulas ----------------------------------------
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP "CSV injection"


def csv_cell(value):
    """``value`` with a leading ``'`` when it is text starting like a formula (``= + - @``,
    tab, CR), as spreadsheet tools expect; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_safe(table: pa.Table) -> pa.Table:
    """``table`` with every text cell escaped by :func:`csv_cell` (numbers stay numbers)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            col = table.column(i)
            risky = None
            for start in FORMULA_START:
                hit = pc.starts_with(col, start)
                risky = hit if risky is None else pc.or_(risky, hit)
            quote, empty = pa.scalar("'", field.type), pa.scalar("", field.type)
            fixed = pc.if_else(risky, pc.binary_join_element_wise(quote, col, empty), col)
            table = table.set_column(i, field.name, fixed)
    return table


def csv_safe_frame(frame):
    """A pandas frame with every text cell escaped by :func:`csv_cell`."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name].dtype):
            out[name] = out[name].map(csv_cell)
    return out
