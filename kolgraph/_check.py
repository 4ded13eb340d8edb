"""Input checks shared by every capability: creator ids, per-creator values, view rates.

Capabilities resolve the ids they are given and the per-creator options (view
rates, posts) here, so each check is written once and says the same thing
whichever capability, CLI command or API route it guards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from kolgraph.exceptions import InputError, UnknownAccountError
from kolgraph.tiers import tier_of


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


def per_creator(values, k: int, default: np.ndarray, what: str, ids: list) -> np.ndarray:
    """One float per creator of ``ids`` from ``values``: None (the default), a number, a
    sequence in the creators' order, or a dict by id (unlisted creators keep the default)."""
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
    """Tier names of accounts by their follower counts."""
    if len(idx) == 0:
        return []
    return [str(t) for t in tier_of(g.in_degree[idx])]


def exposure(view_rates: Any, posts: Any, ids: list, default_rates: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(rates, posts)`` per creator of ``ids``, checked: rates in [0, 1] (default
    ``default_rates``, else 1) and whole numbers of posts >= 0 (default 1)."""
    k = len(ids)
    rates = per_creator(view_rates, k, np.ones(k) if default_rates is None else default_rates,
                        "view_rates", ids)
    n_posts = per_creator(posts, k, np.ones(k), "posts", ids)
    if np.any(~np.isfinite(rates)) or np.any((rates < 0) | (rates > 1)):
        raise InputError("view rates must be between 0 and 1")
    if np.any(~np.isfinite(n_posts)) or np.any(n_posts < 0) or np.any(n_posts != np.round(n_posts)):
        raise InputError("posts must be whole numbers >= 0")
    return rates, n_posts
