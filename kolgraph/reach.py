"""Deduplicated reach, overlap, frequency and Venn regions of a set of creators.

The front-end of :mod:`kolgraph.kernels.reach`: it checks ids, builds the
arrays (selection, account filter, exposure probabilities), calls the kernels
and wraps the counts in a :class:`ReachReport`. Definitions follow DESIGN.md:

- unique reach ``|∪ F(c)|``, gross reach ``Σ |F(c)|``, duplication = gross / unique;
- exclusive reach of i: its followers who follow no other selected creator;
- incremental reach of i: its followers not reached by the creators before it
  (in the given order), so the cumulative sum is the reach curve;
- overlap, each normalisation labelled: directional ``|A∩B|/|A|`` (row i, column
  j divides by ``|A_i|``), overlap coefficient ``|A∩B|/min(|A|,|B|)``, Jaccard
  ``|A∩B|/|A∪B|``, lift ``|A∩B|·N/(|A||B|)``;
- frequency ``exactly[f]`` = followers reached by exactly f creators,
  ``at_least[f]`` = R_f, average = gross / unique;
- expected reach with view rates r_c and posts n_c:
  ``Σ_u 1 − Π_{c∈S, u∈F(c)} (1 − r_c)^{n_c}`` and the expected (Poisson-binomial)
  frequency distribution, computed per Venn region;
- Sainsbury (independence) estimate ``N·(1 − Π(1 − |F(c)|/N))``.

``N`` is the number of accounts in the graph (those passing the filters, when
filters are given). A ratio whose denominator is zero is reported as 0.0.
"""

from __future__ import annotations

import ast
import os
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.exceptions import InputError, UnknownAccountError
from kolgraph.kernels import reach as _k

MAX_CREATORS = 1024  # the k x k overlap matrices and their JSON stay small
EXACT_REGIONS = 15  # up to this many creators every region is listed; above, the largest
TOP_REGIONS = 100


@dataclass
class ReachReport:
    """Everything one reach call measures; :meth:`to_dict` gives the stable JSON form.

    Per-creator arrays follow ``ids`` (the deduplicated input order).
    """

    ids: list
    audience: np.ndarray
    exclusive: np.ndarray
    incremental: np.ndarray
    tiers: list
    counts: np.ndarray  # k x k intersections, audiences on the diagonal
    exactly: np.ndarray  # exactly[f], f = 0..k (exactly[0] = 0)
    # uint64 membership masks, bit i = ids[i]; up to 64 creators one per region, above
    # one row of ceil(k / 64) words per region (creator i = bit i % 64 of word i // 64)
    region_masks: np.ndarray
    region_counts: np.ndarray
    n_population: int
    view_rates: np.ndarray
    posts: np.ndarray
    expected_reach: float
    expected_exactly: np.ndarray  # f = 0..k
    filters: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    # --- headline numbers ------------------------------------------------------------
    @property
    def k(self) -> int:
        return len(self.ids)

    @property
    def unique_reach(self) -> int:
        return int(self.region_counts.sum())

    @property
    def gross_reach(self) -> int:
        return int(self.audience.sum())

    @property
    def duplication(self) -> float:
        return _ratio(self.gross_reach, self.unique_reach)

    @property
    def at_least(self) -> np.ndarray:
        """``at_least[f]`` = R_f, followers reached by at least f creators (f = 0..k)."""
        return np.cumsum(self.exactly[::-1])[::-1]

    @property
    def share(self) -> np.ndarray:
        """Each creator's audience as a share of the unique reach."""
        return _div(self.audience.astype(float), float(self.unique_reach))

    @property
    def sainsbury_reach(self) -> float:
        n = self.n_population
        if n == 0 or self.k == 0:
            return 0.0
        return float(n * (1.0 - np.prod(1.0 - np.minimum(self.audience / n, 1.0))))

    @property
    def probabilities(self) -> np.ndarray:
        """``p_c = 1 − (1 − r_c)^{n_c}``: chance a follower sees at least one post of c."""
        return 1.0 - (1.0 - self.view_rates) ** self.posts

    # --- overlap normalisations ---------------------------------------------------------
    def jaccard(self) -> np.ndarray:
        a = self.audience.astype(float)
        return _div(self.counts, a[:, None] + a[None, :] - self.counts)

    def overlap_coefficient(self) -> np.ndarray:
        a = self.audience.astype(float)
        return _div(self.counts, np.minimum(a[:, None], a[None, :]))

    def directional(self) -> np.ndarray:
        """Row i, column j: ``|A_i ∩ A_j| / |A_i|``."""
        a = self.audience.astype(float)
        return _div(self.counts, np.broadcast_to(a[:, None], self.counts.shape))

    def lift(self) -> np.ndarray:
        a = self.audience.astype(float)
        return _div(self.counts * float(self.n_population), a[:, None] * a[None, :])

    def regions(self, limit: int | None = None) -> list[dict]:
        """Venn/UpSet regions, largest first: ``{"creators": [ids], "count": n}``."""
        words = _mask_rows(self.region_masks)
        order = np.lexsort((*words.T, -self.region_counts))
        if limit is not None:
            order = order[:limit]
        out = []
        for r in order:
            m = sum(int(w) << (64 * i) for i, w in enumerate(words[r]))
            out.append({"creators": [self.ids[i] for i in range(self.k) if (m >> i) & 1],
                        "count": int(self.region_counts[r])})
        return out

    # --- exports ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys (see the README, "Reach")."""
        k = self.k
        limit = None if k <= EXACT_REGIONS else TOP_REGIONS
        warnings = list(self.warnings)
        if limit is not None and len(self.region_counts) > limit:
            warnings.append(f"{k} creators: listing the {limit} largest of "
                            f"{len(self.region_counts):,} regions")
        share = self.share
        exp_ex = self.expected_exactly
        return {
            "unique_reach": self.unique_reach,
            "gross_reach": self.gross_reach,
            "duplication": self.duplication,
            "creators": [{"id": self.ids[i], "audience": int(self.audience[i]),
                          "exclusive": int(self.exclusive[i]),
                          "incremental": int(self.incremental[i]), "share": float(share[i]),
                          "tier": self.tiers[i], "view_rate": float(self.view_rates[i]),
                          "posts": int(self.posts[i])}
                         for i in range(k)],
            "overlap": {"ids": list(self.ids), "counts": self.counts.tolist(),
                        "jaccard": self.jaccard().tolist(),
                        "overlap_coefficient": self.overlap_coefficient().tolist(),
                        "directional": self.directional().tolist(), "lift": self.lift().tolist()},
            "frequency": {"exactly": self.exactly.tolist(), "at_least": self.at_least.tolist(),
                          "average": self.duplication},
            "regions": self.regions(limit),
            "expected_reach": float(self.expected_reach),
            "expected_frequency": {
                "exactly": exp_ex.tolist(),
                "at_least": np.cumsum(exp_ex[::-1])[::-1].tolist(),
                "average": _ratio(float((exp_ex * np.arange(k + 1)).sum()), float(self.expected_reach)),
            },
            "sainsbury_reach": self.sainsbury_reach,
            "population": self.n_population,
            "filters": dict(self.filters),
            "warnings": warnings,
        }

    def to_frame(self):
        """Per-creator pandas table: id, tier, audience, exclusive, incremental, cumulative, share."""
        import pandas as pd

        return pd.DataFrame({"id": list(self.ids), "tier": list(self.tiers),
                             "audience": self.audience, "exclusive": self.exclusive,
                             "incremental": self.incremental,
                             "cumulative": np.cumsum(self.incremental), "share": self.share,
                             "view_rate": self.view_rates, "posts": self.posts,
                             "p_seen": self.probabilities})


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def _div(num: np.ndarray, den: np.ndarray | float) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.broadcast_to(np.asarray(den, dtype=float), num.shape)
    out = np.zeros(num.shape, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


THREADED_ENTRIES = 4_000_000  # follower entries above which account ranges run on threads


def _regions(g, idx: np.ndarray, allowed: np.ndarray, use_allowed: bool):
    """Venn regions of the selected creators: ``(masks, counts)``, masks uint64
    ``(n_regions, ceil(k / 64))`` in increasing order as integers (creator i = bit
    ``i % 64`` of word ``i // 64``).

    Large inputs are split into account ranges that Python threads count at once (the
    kernels release the GIL; threads that block rather than spin keep a busy machine
    from stalling the call), then the per-range regions are merged.
    """
    k = len(idx)
    if k <= _k.TABLE_MAX_K:
        dense_of, bits = _dense_rows(g, idx, use_allowed)

        def kernel(*args):
            return _k.regions_table(*args, dense_of, bits)
    else:
        kernel = _k.regions_hashed
    n = int(g.n_accounts)
    entries = int((g.in_indptr[idx + 1] - g.in_indptr[idx]).sum())
    threads = min(_threads(), max(1, n // _k.CHUNK))
    if threads < 2 or entries < THREADED_ENTRIES:
        masks, counts = kernel(g.in_indptr, g.in_indices, idx, 0, n, allowed, use_allowed)
        if masks.ndim == 1:  # the table kernel's regions come out increasing and distinct
            return _mask_rows(masks), counts
        return _merge_regions(masks, counts)
    from concurrent.futures import ThreadPoolExecutor

    edges = np.linspace(0, n, threads + 1).astype(np.int64) // 64 * 64  # whole bitset words
    edges[-1] = n
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda t: kernel(g.in_indptr, g.in_indices, idx, edges[t],
                                               edges[t + 1], allowed, use_allowed),
                              range(threads)))
    masks = np.concatenate([_mask_rows(m) for m, _ in parts])
    return _merge_regions(masks, np.concatenate([c for _, c in parts]))


DENSE_FRACTION = 32  # audiences of >= n_accounts / 32 get a prebuilt bitset (no bigger than the row)


def _dense_audiences(g) -> tuple[np.ndarray, np.ndarray]:
    """``(dense_ids, bits)``: the accounts whose audience holds at least 1/DENSE_FRACTION of
    the accounts (increasing) and their audiences as bitsets, one row each. Built once per
    graph (a bitset is then no bigger than the sorted follower row) and reused by reach and
    similar, like the store's own arrays."""
    cache = _CANDIDATES.setdefault(g, {})
    if "dense" not in cache:
        n = int(g.n_accounts)
        dense_ids = np.flatnonzero(g.in_degree * DENSE_FRACTION >= max(n, 1)).astype(np.int64)
        n_words = (n + 63) // 64
        bits = np.empty((len(dense_ids), n_words), dtype=np.uint64)
        for r, c in enumerate(dense_ids):
            bits[r] = _k.audience_bitset(g.in_indptr, g.in_indices, c, n_words)
        cache["dense"] = (dense_ids, bits)
    return cache["dense"]


def _dense_rows(g, idx: np.ndarray, filtered: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row of each selected creator in the dense-audience bitsets (-1: none), and the bitsets;
    none for filtered calls (the bitsets hold every follower)."""
    if filtered:
        return np.full(len(idx), -1, dtype=np.int64), np.zeros((0, 1), dtype=np.uint64)
    dense_ids, bits = _dense_audiences(g)
    pos = np.minimum(np.searchsorted(dense_ids, idx), max(len(dense_ids) - 1, 0))
    found = (dense_ids[pos] == idx) if len(dense_ids) else np.zeros(len(idx), dtype=bool)
    return np.where(found, pos, -1).astype(np.int64), bits


def _mask_rows(masks: np.ndarray) -> np.ndarray:
    """Region masks as rows of words, whether one word per region (1-D) or several (2-D)."""
    return masks[:, None] if masks.ndim == 1 else masks


def _merge_regions(masks: np.ndarray, counts: np.ndarray):
    """Sort regions as integers (last mask word most significant) and add up repeats."""
    if len(masks) == 0:
        return masks, counts
    order = np.lexsort(masks.T)
    masks, counts = masks[order], counts[order]
    start = np.concatenate([[True], np.any(masks[1:] != masks[:-1], axis=1)])
    return masks[start], np.add.reduceat(counts, np.flatnonzero(start))


def _threads() -> int:
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:  # pragma: no cover
        return os.cpu_count() or 1


# --- input checks ---------------------------------------------------------------------
def resolve_ids(g, ids: Iterable, *, skip_unknown: bool = False) -> tuple[list, np.ndarray, list]:
    """Deduplicate ``ids`` (first occurrence kept) and map them to internal ids.

    Returns ``(external ids, internal ids, warnings)``; unknown ids raise
    :class:`UnknownAccountError` listing them, or are dropped with a warning when
    ``skip_unknown``.
    """
    if isinstance(ids, str | bytes | int | np.integer):
        ids = [ids]
    raw = [_convert_id(g, x) for x in ids]
    warnings: list[str] = []
    seen: dict = {}
    repeats: dict = {}
    for x in raw:
        key = _id_key(x)
        if key in seen:
            repeats[key] = x
        seen.setdefault(key, x)
    uniq = list(seen.values())
    if repeats:
        shown = ", ".join(repr(x) for x in list(repeats.values())[:10])
        warnings.append(f"{len(raw) - len(uniq)} duplicate creator id(s) ignored: {shown}")
    if not uniq:
        return [], np.empty(0, np.int64), warnings
    idx = np.asarray(g.index(uniq, strict=False), dtype=np.int64)
    unknown = [uniq[i] for i in np.flatnonzero(idx < 0)]
    if unknown:
        if not skip_unknown:
            raise UnknownAccountError(unknown)
        warnings.append(f"{len(unknown)} unknown creator id(s) skipped: "
                        f"{', '.join(map(repr, unknown[:10]))}")
        idx = idx[idx >= 0]
    return g.external(idx), idx, warnings


def _id_key(x):
    return str(x) if not isinstance(x, int | np.integer) else int(x)


def _convert_id(g, x):
    """Command-line ids arrive as text: read them as ints when the graph's ids are ints."""
    if g.ids.kind == "int" and isinstance(x, str):
        try:
            return int(x)
        except ValueError:
            return x
    if isinstance(x, np.integer):
        return int(x)
    return x


def _per_creator(values, k: int, default: np.ndarray, what: str, ids: list) -> np.ndarray:
    if values is None:
        return default
    if isinstance(values, Mapping):
        out = default.copy()
        pos = {_id_key(c): i for i, c in enumerate(ids)}
        stray = []
        for key, v in values.items():
            if _id_key(key) in pos:
                out[pos[_id_key(key)]] = v
            elif _id_key(_maybe_int(key)) in pos:
                out[pos[_id_key(_maybe_int(key))]] = v
            else:
                stray.append(key)
        if stray:
            raise InputError(f"{what}: {len(stray)} id(s) not among the creators of the report: "
                             f"{', '.join(map(repr, stray[:10]))}")
        return out
    if np.ndim(values) == 0:
        return np.full(k, float(values))
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size != k:
        raise InputError(f"{what}: give one value, one per creator ({k}) or a dict by id; "
                         f"got {arr.size}")
    return arr.copy()


def _maybe_int(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        return x


def default_view_rates(g, idx: np.ndarray) -> np.ndarray:
    """``avg_views / followers`` from the creator table (clipped to [0, 1]), else 1.0."""
    rates = np.ones(len(idx))
    c = g.creators
    if c is None or "avg_views" not in c.column_names or len(idx) == 0:
        return rates
    cidx = c.column("idx").to_numpy()  # increasing: the table is kept in internal-id order
    if len(cidx) == 0:
        return rates
    if np.any(np.diff(cidx) <= 0):
        order = np.argsort(cidx, kind="stable")
        c, cidx = c.take(pa.array(order)), cidx[order]
    pos = np.minimum(np.searchsorted(cidx, idx), len(cidx) - 1)
    found = cidx[pos] == idx
    if not found.any():
        return rates
    rows = pa.array(pos[found])
    views = c.column("avg_views").take(rows).to_numpy(zero_copy_only=False).astype(float)
    fol = c.column("followers").take(rows).to_numpy().astype(float)
    ok = np.isfinite(views) & (fol > 0)
    sub = rates[found]
    sub[ok] = np.clip(views[ok] / np.where(ok, fol, 1.0)[ok], 0.0, 1.0)
    rates[found] = sub
    return rates


def creator_tiers(g, idx: np.ndarray) -> list:
    from kolgraph.tiers import tier_of

    if len(idx) == 0:
        return []
    return [str(t) for t in tier_of(g.in_degree[idx])]


# --- audience filters -------------------------------------------------------------------
_CMP = {ast.Eq: "equal", ast.NotEq: "not_equal", ast.Lt: "less", ast.LtE: "less_equal",
        ast.Gt: "greater", ast.GtE: "greater_equal"}


def account_filter(g, where: str | Mapping | None = None, *, exclude_flagged: bool = False
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
    if where is not None and (not isinstance(where, str) or where.strip()):
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


def _durations_to_calls(text: str) -> str:
    """``30d`` -> ``d(30)`` outside quoted text, so durations parse as Python."""
    return _DURATION.sub(lambda m: m.group(1) or f"{m.group(3)}({m.group(2)})", text)


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


# --- the report -------------------------------------------------------------------------
def reach(g, ids: Iterable, *, view_rates: Any = None, posts: Any = None,
          where: str | Mapping | None = None, exclude_flagged: bool = False,
          skip_unknown: bool = False, mode: str = "exact", **sketch_options) -> ReachReport:
    """Deduplicated reach of a set of creators over a :class:`~kolgraph.FollowerGraph`.

    Parameters
    ----------
    g : FollowerGraph
    ids : external ids of the creators, in booking order (for incremental reach).
        Duplicates are dropped with one warning; at most :data:`MAX_CREATORS` distinct.
    view_rates : probability that a follower sees one post: a number, one per
        creator, or a dict by id. Default ``avg_views / followers`` from the creator
        table where present, else 1.0.
    posts : posts booked per creator (number, list or dict). Default 1.
    where : account filter, a dict ``{column: value}`` or an expression such as
        ``"country == 'NL' and language == 'nl'"`` (see :func:`account_filter`).
    exclude_flagged : drop followers whose boolean account column ``flagged`` is true.
    skip_unknown : drop unknown ids with a warning instead of raising.
    mode : ``"exact"`` (default) or ``"sketch"``: estimates with intervals from the
        creators' sketches (:func:`kolgraph.sketch.sketch_reach`, which takes
        ``sketch_options`` such as ``confidence`` and ``min_count``).

    Returns
    -------
    ReachReport

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4], [10, 10, 10, 11, 11])
    >>> r = reach(g, [10, 11])
    >>> r.unique_reach, r.gross_reach, r.exclusive.tolist(), int(r.counts[0, 1])
    (4, 5, [2, 1], 1)
    """
    if mode not in ("exact", "sketch"):
        raise InputError(f"mode must be 'exact' or 'sketch', got {mode!r}")
    if mode == "exact" and sketch_options:
        raise InputError(f"{', '.join(sketch_options)}: only with mode='sketch'")
    if mode == "sketch":
        from kolgraph.sketch import sketch_reach

        return sketch_reach(g, ids, view_rates=view_rates, posts=posts, where=where,
                            exclude_flagged=exclude_flagged, skip_unknown=skip_unknown,
                            **sketch_options)
    ext, idx, warnings = resolve_ids(g, ids, skip_unknown=skip_unknown)
    k = len(idx)
    if k > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report, got {k}; "
                         "split the set or use the planner")
    mask, filters, fwarn = account_filter(g, where, exclude_flagged=exclude_flagged)
    warnings += fwarn
    rates = _per_creator(view_rates, k, default_view_rates(g, idx), "view_rates", ext)
    n_posts = _per_creator(posts, k, np.ones(k), "posts", ext)
    if np.any(~np.isfinite(rates)) or np.any((rates < 0) | (rates > 1)):
        raise InputError("view rates must be between 0 and 1")
    if np.any(~np.isfinite(n_posts)) or np.any(n_posts < 0) or np.any(n_posts != np.round(n_posts)):
        raise InputError("posts must be whole numbers >= 0")
    n_pop = int(mask.sum()) if mask is not None else g.n_accounts
    if k == 0:
        z = np.zeros(0, np.int64)
        return ReachReport([], z, z, z, [], np.zeros((0, 0), np.int64), np.zeros(1, np.int64),
                           np.zeros(0, np.uint64), z, n_pop, np.zeros(0), z, 0.0,
                           np.zeros(1), filters, warnings)
    allowed = mask if mask is not None else np.zeros(1, dtype=np.bool_)
    masks, rcounts = _regions(g, idx, allowed, mask is not None)
    p = 1.0 - (1.0 - rates) ** n_posts
    counts, exclusive, incremental, exactly, exp_reach, exp_exactly = _k.summarize_regions(
        masks, rcounts, p)
    if masks.shape[1] == 1:
        masks = masks[:, 0]
    return ReachReport(ext, np.diag(counts).copy(), exclusive, incremental, creator_tiers(g, idx),
                       counts, exactly, masks, rcounts, n_pop, rates, n_posts.astype(np.int64),
                       float(exp_reach), exp_exactly, filters, warnings)


# --- similar and complementary creators --------------------------------------------------
_CANDIDATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _candidates(g, among: str) -> np.ndarray:
    """Bool mask of the candidate accounts of similar/complementary."""
    if among not in ("creators", "accounts"):
        raise InputError(f"among must be 'creators' or 'accounts', got {among!r}")
    if among == "accounts" or g.creators is None:
        return np.ones(g.n_accounts, dtype=np.bool_)
    cand = np.zeros(g.n_accounts, dtype=np.bool_)
    cand[g.creators.column("idx").to_numpy()] = True
    return cand


def _candidate_rows(g, among: str):
    """``(cand_idx, slot, r_indptr, r_indices)``: candidates, their slot of each account
    (-1 if none), and the following-of rows restricted to candidate slots.

    Built once per graph and candidate set (the restricted rows are like a creator
    index), then reused; all accounts as candidates reuse the store's rows as they are.
    """
    cache = _CANDIDATES.setdefault(g, {})
    key = "accounts" if among == "accounts" or g.creators is None else among
    if key == "creators" and cache.get("table") is not g.creators:  # creators were replaced
        cache.pop(key, None)
        cache["table"] = g.creators
    if key not in cache:
        cand = _candidates(g, among)
        if cand.all():
            cand_idx = np.arange(g.n_accounts, dtype=np.int64)
            cache[key] = (cand_idx, None, g.out_indptr, g.out_indices)
        else:
            cand_idx = np.flatnonzero(cand).astype(np.int64)
            slot = np.full(g.n_accounts, -1, dtype=np.int32)
            slot[cand_idx] = np.arange(len(cand_idx), dtype=np.int32)
            r_indptr, r_indices = _k.restrict_rows(g.out_indptr, g.out_indices, slot)
            cache[key] = (cand_idx, slot, r_indptr, r_indices)
    return cache[key]


def _top(score: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, ties to the smaller ``idx``, best first
    (a partition first, so only the candidates at or above the k-th score are sorted)."""
    if len(score) > k:
        kth = np.partition(score, len(score) - k)[len(score) - k]
        pos = np.flatnonzero(score >= kth)
    else:
        pos = np.arange(len(score))
    return pos[np.lexsort((idx[pos], -score[pos]))][:k]


def similar(g, account, k: int = 10, by: str = "jaccard", *, among: str = "creators",
            where: str | Mapping | None = None, exclude_flagged: bool = False) -> list[dict]:
    """Top-k accounts whose audience overlaps most with ``account``'s, exactly.

    Common followers come from the following-of rows of ``account``'s followers
    (no creator x creator matrix). ``by`` is ``"jaccard"`` or ``"overlap"``
    (overlap coefficient). Candidates are the creators of the creator table
    (``among="creators"``, the default when there is one) or every account.
    Ties go to the smaller internal id. Each row: ``id``, ``common``,
    ``audience``, ``jaccard``, ``overlap_coefficient``, ``tier``.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 1, 2, 4], [10, 10, 10, 11, 11, 12])
    >>> [(r["id"], r["common"]) for r in similar(g, 10, k=2)]
    [(11, 2)]
    """
    if by not in ("jaccard", "overlap"):
        raise InputError(f"by must be 'jaccard' or 'overlap', got {by!r}")
    if k < 1:
        raise InputError("k must be at least 1")
    ext, idx, _ = resolve_ids(g, [account])
    c = int(idx[0])
    mask, _, _ = account_filter(g, where, exclude_flagged=exclude_flagged)
    allowed = mask if mask is not None else np.zeros(1, dtype=np.bool_)
    use = mask is not None
    a = float(_k.filtered_degree(g.in_indptr, g.in_indices, np.array([c]), allowed, use)[0])
    cand_idx, slot, r_indptr, r_indices = _candidate_rows(g, among)
    found = by == "jaccard" and not use and a * DENSE_FRACTION >= g.n_accounts
    if found:  # a dense audience: exact top-k from the few candidates whose size allows it
        found, acc, common, aud = _similar_by_size(g, among, c, int(k), a, r_indices)
    if not found:
        skip = c if slot is None else int(slot[c])
        counts = _common_followers(g, c, allowed, use, r_indptr, r_indices, len(cand_idx))
        slots, common, aud = _k.top_similar(counts, skip, cand_idx, a, by == "jaccard", int(k),
                                            g.in_indptr, g.in_indices, allowed, use)
        acc = cand_idx[slots]
    names = g.external(acc)
    tiers = creator_tiers(g, acc)
    rows = []
    for j in range(len(acc)):
        n_c, b = int(common[j]), float(aud[j])
        rows.append({"id": names[j], "common": n_c, "audience": int(aud[j]),
                     "jaccard": n_c / (a + b - n_c), "overlap_coefficient": n_c / max(min(a, b), 1.0),
                     "tier": tiers[j]})
    return rows


WORD_COST = 0.4  # a popcount word of a bitset AND costs about 0.4 bit tests of a row entry
SIZE_FILTER_BUDGET = 2.0  # the size-filtered search may do this many times the scan's row entries


def _size_index(g, among: str):
    """``(by_size, sizes, bit_row, bits, cum_cost)`` for the candidates: their ids sorted by
    audience (then id), the audiences, their audience bitsets (row ``bit_row[pos]`` of
    ``bits``, -1 for none) and the cumulative cost of visiting them (bitset words, else
    row entries). Candidates get a bitset where its popcount costs less than testing
    their row (audiences above ``WORD_COST`` x the words of a bitset). Built once per
    graph and candidate set, like :func:`_candidate_rows`."""
    cache = _CANDIDATES.setdefault(g, {})
    cand_idx = _candidate_rows(g, among)[0]
    key = ("size", id(cand_idx))
    if key not in cache:
        cache.pop(cache.get("size_key"), None)  # drop an index of a replaced candidate set
        sizes = g.in_degree[cand_idx]
        order = np.lexsort((cand_idx, sizes))
        by_size, sizes = cand_idx[order], sizes[order].astype(np.int64)
        n_words = (int(g.n_accounts) + 63) // 64
        dense_row, dense_bits = _dense_rows(g, by_size, False)
        with_bits = np.flatnonzero(sizes >= WORD_COST * n_words)
        bits = np.empty((len(with_bits), n_words), dtype=np.uint64)
        for r, pos in enumerate(with_bits):
            bits[r] = dense_bits[dense_row[pos]] if dense_row[pos] >= 0 else \
                _k.audience_bitset(g.in_indptr, g.in_indices, by_size[pos], n_words)
        bit_row = np.full(len(by_size), -1, dtype=np.int64)
        bit_row[with_bits] = np.arange(len(with_bits))
        cost = np.where(bit_row >= 0, n_words, sizes)
        cum_cost = np.concatenate([[0], np.cumsum(cost)]).astype(np.int64)
        cache[key] = (by_size, sizes, bit_row, bits, cum_cost)
        cache["size_key"] = key
    return cache[key]


def _similar_by_size(g, among: str, c: int, k: int, a: float, r_indices):
    """Exact top-k by Jaccard with the size filter (see ``top_jaccard_by_size``) for a
    creator with a dense audience; gives up, returning ``found=False``, when it would cost
    more than the scan of c's followers' rows."""
    by_size, sizes, bit_row, bits, cum_cost = _size_index(g, among)
    dense_row, dense_bits = _dense_rows(g, np.array([c]), False)
    qbits = dense_bits[dense_row[0]]  # c's audience is dense
    scan = a * len(r_indices) / max(int(g.n_accounts), 1)  # expected row entries of the scan
    return _k.top_jaccard_by_size(g.in_indptr, g.in_indices, c, qbits, by_size, sizes, bit_row,
                                  bits, cum_cost, k, int(SIZE_FILTER_BUDGET * scan))


SIMILAR_THREADED = 100_000  # followers of the creator above which two threads share the scan


def _common_followers(g, c: int, allowed, use: bool, r_indptr, r_indices, n_slots) -> np.ndarray:
    """Common followers of ``c`` with every candidate slot (int32); large rows are split
    between threads with their own counts, added up after."""
    p0, p1 = int(g.in_indptr[c]), int(g.in_indptr[c + 1])
    threads = _threads()
    if threads < 2 or p1 - p0 < SIMILAR_THREADED:
        counts = np.zeros(n_slots, dtype=np.int32)
        _k.add_cooccurrence(g.in_indices, p0, p1, allowed, use, r_indptr, r_indices, counts)
        return counts
    from concurrent.futures import ThreadPoolExecutor

    cuts = np.linspace(p0, p1, threads + 1).astype(np.int64)
    parts = [np.zeros(n_slots, dtype=np.int32) for _ in range(threads)]
    with ThreadPoolExecutor(threads - 1) as pool:
        futures = [pool.submit(_k.add_cooccurrence, g.in_indices, cuts[t], cuts[t + 1], allowed,
                               use, r_indptr, r_indices, parts[t]) for t in range(1, threads)]
        _k.add_cooccurrence(g.in_indices, cuts[0], cuts[1], allowed, use, r_indptr, r_indices,
                            parts[0])
        for f in futures:
            f.result()
    for part in parts[1:]:
        parts[0] += part
    return parts[0]


def complementary(g, ids: Iterable, k: int = 10, *, among: str = "creators",
                  where: str | Mapping | None = None, exclude_flagged: bool = False,
                  skip_unknown: bool = False) -> list[dict]:
    """Top-k accounts by incremental reach over the set ``ids`` (new followers they add).

    Candidates exclude the set itself. Ties go to the smaller internal id. Each
    row: ``id``, ``incremental``, ``audience``, ``tier``.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 1, 2, 4, 5], [10, 10, 10, 11, 11, 12, 12])
    >>> [(r["id"], r["incremental"]) for r in complementary(g, [10], k=2)]
    [(12, 2)]
    """
    if k < 1:
        raise InputError("k must be at least 1")
    _, idx, _ = resolve_ids(g, ids, skip_unknown=skip_unknown)
    mask, _, _ = account_filter(g, where, exclude_flagged=exclude_flagged)
    allowed = mask if mask is not None else np.zeros(1, dtype=np.bool_)
    use = mask is not None
    covered = _k.covered_mask(g.in_indptr, g.in_indices, idx, g.n_accounts, allowed, use)
    cand = _candidates(g, among)
    cand[idx] = False
    cand_idx = np.flatnonzero(cand).astype(np.int64)
    inc = _k.uncovered_counts(g.in_indptr, g.in_indices, cand_idx, covered, allowed, use)
    keep = inc > 0
    cand_idx, inc = cand_idx[keep], inc[keep]
    order = _top(inc, cand_idx, k)
    top = cand_idx[order]
    aud = _k.filtered_degree(g.in_indptr, g.in_indices, top, allowed, use)
    names = g.external(top)
    tiers = creator_tiers(g, top)
    return [{"id": names[j], "incremental": int(inc[i]), "audience": int(aud[j]), "tier": tiers[j]}
            for j, i in enumerate(order)]


def reach_curve(report: ReachReport) -> Sequence[int]:
    """Cumulative unique reach as the creators are added in order."""
    return np.cumsum(report.incremental).tolist()
