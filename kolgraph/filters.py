"""The account filter language (``where``) every capability accepts.

``where`` is a dict ``{column: value}`` or an expression over account columns,
evaluated with Arrow compute kernels into one boolean per account; see
:func:`account_filter`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.exceptions import InputError

_CMP = {ast.Eq: "equal", ast.NotEq: "not_equal", ast.Lt: "less", ast.LtE: "less_equal",
        ast.Gt: "greater", ast.GtE: "greater_equal"}


def account_filter(g, where: str | Mapping | None = None, *, exclude_flagged: bool = False
                   ) -> tuple[np.ndarray | None, dict, list]:
    """Bool mask over accounts from ``where`` and ``exclude_flagged``, or None (no filter);
    see :func:`_account_filter`. Any failure while evaluating ``where`` is the filter's:
    it raises :class:`InputError` saying what could not be evaluated."""
    try:
        return _account_filter(g, where, exclude_flagged=exclude_flagged)
    except InputError:
        raise
    except (TypeError, ValueError, AttributeError, OverflowError, ArithmeticError,
            pa.ArrowException) as exc:  # e.g. {[1]} in literal_eval, a duration past pandas' range
        raise InputError(f"--where: cannot be evaluated: {type(exc).__name__}: {exc}") from None


def where_columns(where: str | Mapping | None) -> set[str]:
    """The account columns a filter names (empty when it does not parse: the filter's own
    evaluation then says why)."""
    if where is None:
        return set()
    if isinstance(where, Mapping):
        return {str(k) for k in where}
    try:
        tree = ast.parse(where_syntax(where.strip()), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls
            and n.id not in ("now", "today")}


def _account_filter(g, where: str | Mapping | None = None, *, exclude_flagged: bool = False
                    ) -> tuple[np.ndarray | None, dict, list]:
    """Bool mask over accounts from ``where`` and ``exclude_flagged``, or None (no filter).

    ``where`` is either a dict ``{column: value}`` (a list value means "one of")
    or an expression over account columns: comparisons (``== != < <= > >=``),
    ``in`` / ``not in`` a list, ``and``, ``or``, ``not``, parentheses; constants
    are strings, numbers, ``True``/``False``; a bare boolean column means
    ``column == True``. Timestamps compare with ISO dates, e.g.
    ``created_at < '2020-01-01'``, and with date arithmetic: ``now`` (the time of
    the call, UTC), ``today`` (its midnight), durations ``30d``, ``12h``, ``2w``,
    ``1y`` (365 days), ``90min``, ``45s`` added to or subtracted from them, e.g.
    ``created_at < now - 365d``. ``account_age_days`` (``now - created_at`` in days)
    is available when the table has ``created_at``. Missing values never match.

    Returns ``(mask or None, filters description, warnings)``.
    """
    warnings: list[str] = []
    filters: dict[str, Any] = {}
    mask = None
    if where is not None and (where.strip() if isinstance(where, str) else len(where)):
        table = g.accounts
        if table is None:
            raise InputError("--where needs account attributes, and this graph has none "
                             "(ingest with --accounts)")
        now = _now()
        text = where if isinstance(where, str) else " ".join(map(str, where))
        if _DERIVED in text and _DERIVED not in table.column_names:
            table = _with_account_age(table, now)
        if isinstance(where, Mapping):
            filters["where"] = {str(k): list(v) if isinstance(v, list | tuple | set) else v
                                for k, v in where.items()}
            m = None
            for col, val in where.items():
                term = _compare(table, str(col), ast.In() if isinstance(val, list | tuple | set)
                                else ast.Eq(), list(val) if isinstance(val, list | tuple | set) else val)
                m = term if m is None else pc.and_kleene(m, term)
        else:
            filters["where"] = where
            try:
                tree = ast.parse(_durations_to_calls(where.strip()), mode="eval")
                m = _eval(tree.body, table, now)
            except SyntaxError as exc:
                raise InputError(f"--where: cannot parse {where!r}: {exc.msg}") from None
            except RecursionError:
                raise InputError("--where: the expression is nested too deeply") from None
            if _uses_now(tree) or _DERIVED in text:
                filters["now"] = now.isoformat()
        mask = _to_mask(m, g.n_accounts)
    if exclude_flagged:
        table = g.accounts
        if table is None or "flagged" not in table.column_names:
            warnings.append("exclude_flagged: the account table has no 'flagged' column "
                            "(run fraud scoring first); nothing was excluded")
        else:
            flagged = _to_mask(table.column("flagged"), g.n_accounts)
            keep = ~flagged
            filters["exclude_flagged"] = True
            mask = keep if mask is None else mask & keep
    if mask is not None:
        filters["accounts_passing"] = int(mask.sum())
    return mask, filters, warnings


def _to_mask(arr, n: int) -> np.ndarray:
    if isinstance(arr, pa.Scalar):
        return np.full(n, bool(arr.as_py()))
    arr = pc.fill_null(arr, False)
    out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)
    return out


def _eval(node, table: pa.Table, now):
    if isinstance(node, ast.BoolOp):
        vals = [_eval(v, table, now) for v in node.values]
        f = pc.and_kleene if isinstance(node.op, ast.And) else pc.or_kleene
        out = vals[0]
        for v in vals[1:]:
            out = f(out, v)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return pc.invert(_eval(node.operand, table, now))  # null stays null: never matches
    if isinstance(node, ast.Compare):
        out = None
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(left, ast.Name):
                term = _compare(table, left.id, op, _const(right, now))
            elif isinstance(right, ast.Name) and type(op) in _CMP:
                flip = {ast.Lt: ast.Gt(), ast.Gt: ast.Lt(), ast.LtE: ast.GtE(), ast.GtE: ast.LtE(),
                        ast.Eq: ast.Eq(), ast.NotEq: ast.NotEq()}[type(op)]
                term = _compare(table, right.id, flip, _const(left, now))
            else:
                raise InputError("--where: each comparison needs a column name on one side "
                                 "and a constant on the other")
            out = term if out is None else pc.and_kleene(out, term)
            left = right
        return out
    if isinstance(node, ast.Name):
        col = _column(table, node.id)
        if not pa.types.is_boolean(col.type):
            raise InputError(f"--where: column {node.id!r} is not true/false; compare it, "
                             f"e.g. {node.id} == 'x'")
        return col
    raise InputError(f"--where: unsupported expression {ast.unparse(node)!r} (use comparisons, "
                     "in [...], and, or, not)")


def _const(node, now):
    """A constant, or date arithmetic over ``now``/``today``, ISO dates and durations."""
    if isinstance(node, ast.Name) and node.id in ("now", "today"):
        return now if node.id == "now" else now.normalize()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _UNITS:
        return _duration(node)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _is_time(node.operand):
        return -_const(node.operand, now)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub) and _is_time(node):
        a, b = _as_time(_const(node.left, now), node.left), _as_time(_const(node.right, now), node.right)
        try:
            out = a + b if isinstance(node.op, ast.Add) else a - b
        except (TypeError, ValueError, OverflowError):  # incl. dates past year 2262
            out = None
        if not isinstance(out, _time_types()):
            raise InputError(f"--where: {ast.unparse(node)!r} is not a date or a duration "
                             "(write e.g. now - 30d or '2024-01-01' + 2w)")
        return out
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError):
        raise InputError(f"--where: {ast.unparse(node)!r} is not a constant (quote text values)") from None
    if isinstance(value, tuple | set):
        value = list(value)
    return value


_DERIVED = "account_age_days"
# duration units of --where: 30d -> days(30); 'm' is left out (minutes or months?)
_UNITS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days", "w": "weeks", "y": "years"}
_DURATION = re.compile(
    r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?<![\w.])(\d+(?:\.\d+)?)(min|s|h|d|w|y)\b""")


def where_syntax(text: str) -> str:
    """``30d`` -> ``d(30)`` outside quoted text, so durations parse as Python."""
    return _DURATION.sub(lambda m: m.group(1) or f"{m.group(3)}({m.group(2)})", text)


_durations_to_calls = where_syntax


def _duration(node):
    import pandas as pd

    try:
        (arg,) = node.args
        n = ast.literal_eval(arg)
        if node.keywords or isinstance(n, bool) or not isinstance(n, int | float):
            raise ValueError
    except (ValueError, SyntaxError):
        raise InputError(f"--where: a duration is a number and a unit, e.g. 30d "
                         f"(units: {', '.join(_UNITS)})") from None
    unit = node.func.id
    return pd.Timedelta(days=365 * n) if unit == "y" else pd.Timedelta(**{_UNITS[unit]: n})


def _is_time(node) -> bool:
    """Does the constant expression mention now/today or a duration?"""
    return any(isinstance(n, ast.Name) and n.id in ("now", "today") or
               isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _UNITS
               for n in ast.walk(node))


def _uses_now(tree) -> bool:
    return any(isinstance(n, ast.Name) and n.id in ("now", "today") for n in ast.walk(tree))


def _as_time(value, node):
    """ISO date text in date arithmetic becomes a UTC timestamp."""
    import pandas as pd

    if isinstance(value, str):
        try:
            t = pd.Timestamp(value)
        except ValueError:
            raise InputError(f"--where: {ast.unparse(node)} is not a date") from None
        return t.tz_localize("UTC") if t.tz is None else t
    return value


def _time_types() -> tuple:
    """(Timestamp, Timedelta), imported when a filter needs them (pandas loads slowly)."""
    import pandas as pd

    return (pd.Timestamp, pd.Timedelta)


def _now():
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").floor("s")


def _with_account_age(table: pa.Table, now) -> pa.Table:
    """The table plus ``account_age_days`` = (now - created_at) in days (float, null stays null)."""
    if "created_at" not in table.column_names or not pa.types.is_timestamp(table.schema.field("created_at").type):
        raise InputError(f"--where: {_DERIVED} needs a timestamp column created_at in the "
                         "account table")
    col = table.column("created_at")  # a naive timestamp is taken as UTC
    secs = pc.cast(pc.cast(col, pa.timestamp("s", tz=col.type.tz), safe=False), pa.int64())
    age = pc.divide(pc.cast(pc.subtract(pa.scalar(int(now.timestamp()), pa.int64()), secs),
                            pa.float64()), 86400.0)
    return table.append_column(_DERIVED, age)


def _column(table: pa.Table, name: str):
    if name not in table.column_names:
        raise InputError(f"--where: no account column {name!r} "
                         f"(columns: {', '.join(c for c in table.column_names if c != 'id')})")
    return table.column(name)


def _scalar(value, typ: pa.DataType):
    if isinstance(value, _time_types()):
        if not isinstance(value, _time_types()[0]) or not pa.types.is_timestamp(typ):
            raise InputError(f"--where: {value} cannot be compared with a {typ} column "
                             "(a duration needs a date beside it, e.g. now - 30d)")
        value = value if typ.tz is not None else value.tz_convert("UTC").tz_localize(None)
        return pa.scalar(value.to_pydatetime()).cast(typ, safe=False)  # sub-unit part dropped
    if isinstance(value, bool) != pa.types.is_boolean(typ):
        raise InputError(f"--where: {value!r} cannot be compared with a {typ} column")
    if isinstance(value, float) and pa.types.is_integer(typ):
        return pa.scalar(value)  # posts > 2.5: Arrow compares as float64
    try:
        return pa.scalar(value).cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        if pa.types.is_timestamp(typ) and isinstance(value, str):
            import pandas as pd

            try:
                return pa.scalar(pd.Timestamp(value, tz="UTC") if pd.Timestamp(value).tz is None
                                 else pd.Timestamp(value)).cast(typ)
            except (ValueError, pa.ArrowInvalid):
                pass
        raise InputError(f"--where: {value!r} cannot be compared with a {typ} column") from None


def _compare(table: pa.Table, name: str, op, value):
    col = _column(table, name)
    if isinstance(op, ast.In | ast.NotIn):
        if not isinstance(value, list):
            raise InputError(f"--where: 'in' needs a list, e.g. {name} in ['a', 'b']")
        if pa.types.is_integer(col.type):  # 2.5 can match no integer; 3.0 matches 3
            value = [v for v in value if not isinstance(v, float) or v.is_integer()]
        values = pa.array([_scalar(v, col.type).as_py() for v in value], col.type)
        out = pc.is_in(col, value_set=values)
        out = pc.if_else(pc.is_null(col), pa.scalar(None, pa.bool_()), out)
        return pc.invert(out) if isinstance(op, ast.NotIn) else out
    fn = _CMP.get(type(op))
    if fn is None:
        raise InputError(f"--where: unsupported comparison {type(op).__name__}")
    if isinstance(value, list):
        raise InputError(f"--where: compare {name!r} with one value, or use 'in [...]'")
    return getattr(pc, fn)(col, _scalar(value, col.type))
