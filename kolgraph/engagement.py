"""Engagement of creators from the interactions layer: engaged, loyal, reciprocity.

The front-end of :mod:`kolgraph.kernels.interactions`. Definitions (docs/interactions.md):

- the **window** is ``[since, until)`` (Unix seconds, ISO dates or datetimes); an open
  end defaults to the store's first event, or to one second after its last event;
- **interactions**: events in the window of the selected kinds (default all) by accounts
  other than the creator itself; **engaged** accounts: the distinct accounts behind them,
  split into **engaged followers** (who follow the creator now) and **engaged
  non-followers**;
- **engagement rate**: ``interactions / posts / followers`` when the store has posts and
  the creator has posts in the window (``rate_basis = "per_post_per_follower"``), else
  ``interactions / days / followers`` (``"per_day_per_follower"``); 0.0 when a
  denominator is 0;
- a **loyal fan** interacted in at least ``loyal_k`` distinct calendar weeks (Monday
  00:00 UTC) of the window, or on ``loyal_k`` distinct posts when ``loyal_by="posts"``
  (the default when events carry post ids), and, when the graph has follow times, has
  followed the creator for at least ``loyal_days`` days at the window's end;
- **reply rate** (reciprocity): of the fans' ``comment`` events in the window, the share
  answered by a ``reply`` event of the creator (``account == creator`` with ``reply_to``
  the fan) in the window; a reply answers the fan's earliest comment made at or before
  it and not yet answered. Null when the store has no ``reply`` events at all, or the
  creator got no comments. The kinds filter does not apply to it;
- **authentic share**: the share of interactions from accounts not flagged (account
  column ``flagged``, as ``kolgraph fraud --write-flags`` writes it: engagement pod members
  included); null without that column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field

from kolgraph import _parallel
from kolgraph._check import resolve_ids
from kolgraph.exceptions import InputError
from kolgraph.filters import account_filter
from kolgraph.graph import graph_method
from kolgraph.kernels import interactions as _k
from kolgraph.options import Options, SkipUnknown, cli

DAY = 86_400
AUDIENCES = ("followers", "engaged", "loyal")


def _kinds_list(value: Any) -> Any:
    """``"comment,share"`` (the CLI's form) or a list of labels."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        out = []
        for v in value:  # "comment,share" items split; anything else is left to validation
            out += [k.strip() for k in v.split(",") if k.strip()] if isinstance(v, str) else [v]
        return out
    return value


Moment = Annotated[int | float | str | dt.datetime | dt.date | None, Field(
    description="Unix seconds, an ISO 8601 date or time (UTC unless it has an offset)",
    json_schema_extra=cli(metavar="TIME"))]
Kinds = Annotated[Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                            Field(max_length=255)] | None,
                  BeforeValidator(_kinds_list),
                  Field(description="interaction kinds counted, e.g. comment,share "
                        "(default all)", json_schema_extra=cli(metavar="K,K"))]
LoyalK = Annotated[int, Field(ge=1, le=10_000, description="loyal fans interacted in at least "
                              "this many distinct weeks (or posts) of the window (default 3)")]
LoyalDays = Annotated[float, Field(ge=0, le=36_500, description="and, when follow times exist, have "
                                   "followed for at least this many days (default 30)")]
LoyalBy = Annotated[Literal["auto", "weeks", "posts"], Field(
    description="count loyalty in distinct calendar weeks or posts; auto: posts when events "
    "carry post ids")]


class WindowOptions(Options):
    """The interaction window and kinds (shared by engagement and engaged reach)."""

    since: Moment = None
    until: Moment = None
    kinds: Kinds = None
    loyal_k: LoyalK = 3
    loyal_days: LoyalDays = 30.0
    loyal_by: LoyalBy = "auto"


class EngagementOptions(WindowOptions):
    """Options of :func:`engagement` (and of ``kolgraph engagement``, ``POST /v1/engagement``)."""

    skip_unknown: SkipUnknown = False


def epoch(value: Moment, name: str) -> int | None:
    """Unix seconds of a window bound (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"{name}: expected a time, got {value!r}")
    if isinstance(value, int | float):
        return _in_range(value, name)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return _in_range(int(text), name)
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{name}: {value!r} is neither Unix seconds nor an ISO 8601 date "
                             "(e.g. 2024-05-01 or 2024-05-01T12:00:00Z)") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


MAX_SECONDS = 1 << 40  # about 35,000 years either side of 1970: room for any real time


def _in_range(value: float, name: str) -> int:
    if not (-MAX_SECONDS <= value <= MAX_SECONDS):  # also false for NaN
        raise InputError(f"{name}: {value!r} is not a time (Unix seconds within ±{MAX_SECONDS:,})")
    return int(value)


def require_interactions(g):
    inter = g.interactions
    if inter is None:
        raise InputError("this store has no interactions; add them with `kolgraph add-interactions "
                         "STORE FILE` (or `kolgraph ingest ... --interactions FILE`)")
    return inter


def window(g, o: WindowOptions) -> dict:
    """The resolved window and kind selection of a call: bounds, kind mask, loyalty rule."""
    inter = require_interactions(g)
    since, until = epoch(o.since, "since"), epoch(o.until, "until")
    span = inter.time_span() or (0, -1)
    lo = span[0] if since is None else since
    hi = span[1] + 1 if until is None else until
    if hi < lo:
        raise InputError(f"the window ends before it starts (since {lo}, until {hi})")
    warnings = []
    kind_ok = np.ones(max(len(inter.kinds), 1), dtype=np.bool_)
    if o.kinds is not None:
        unknown = [k for k in o.kinds if k not in inter.kinds]
        if unknown:
            warnings.append(f"kind(s) {', '.join(map(repr, unknown))} occur in no event of this "
                            f"store (kinds: {', '.join(inter.kinds)})")
        kind_ok[:] = False
        for k in o.kinds:
            if k in inter.kinds:
                kind_ok[inter.kinds.index(k)] = True
    by = o.loyal_by if o.loyal_by != "auto" else ("posts" if inter.has_post_ids else "weeks")
    return {"since": lo, "until": hi, "kind_ok": kind_ok, "loyal_by": by,
            "min_follow_until": hi - int(round(o.loyal_days * DAY)), "warnings": warnings,
            "has_follow_times": g.followed_at is not None}


def _graph_arrays(g) -> tuple:
    fat = g.followed_at
    has_fat = fat is not None
    return g.in_indptr, g.in_indices, (fat if has_fat else np.zeros(1, np.int64)), has_fat


def audiences(g, idx: np.ndarray, audience: str, o: WindowOptions) -> tuple[np.ndarray, np.ndarray, dict]:
    """The engaged (or loyal) accounts of creators ``idx`` in the window as a CSR of
    ``len(idx)`` sorted rows ``(indptr, indices)``, and the resolved window."""
    if audience not in ("engaged", "loyal"):
        raise InputError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    inter = require_interactions(g)
    w = window(g, o)
    idx = np.asarray(idx, np.int64)

    def rows(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _k.audience_rows(
            inter.c_indptr, inter.c_account, inter.c_time, inter.c_kind, inter.c_post,
            inter.c_weight, sel, w["since"], w["until"], w["kind_ok"], w["loyal_by"] == "posts",
            audience == "loyal", o.loyal_k, w["min_follow_until"], *_graph_arrays(g), g.n_accounts)
    if any(getattr(o, f) != d.default for f, d in WindowOptions.model_fields.items()):
        return (*rows(idx), w)
    # The default window (every event, every kind, the default loyalty rule) is what pages
    # and plans ask again and again: its audiences are built once for every account and
    # kept with the graph, as follower rows are stored. One entry per audience and layer
    # (the entry holds the layer, so its id is not reused), so memory stays bounded.
    _, all_ptr, all_idx = g.derived(
        ("engagement.audiences", audience, id(inter)),
        lambda: (inter, *rows(np.arange(g.n_accounts, dtype=np.int64))))
    lengths = all_ptr[idx + 1] - all_ptr[idx]
    indptr = np.zeros(len(idx) + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = (np.concatenate([all_idx[all_ptr[i]: all_ptr[i + 1]] for i in idx.tolist()])
               if len(idx) else np.empty(0, all_idx.dtype))
    return indptr, indices.astype(all_idx.dtype, copy=False), w


def audience_filters(audience: str, o: WindowOptions, w: dict) -> dict:
    """What an engaged or loyal count counted (the window :func:`window` resolved, the
    kinds, the loyalty rule), for a report's ``filters``."""
    out = {"audience": audience, "since": w["since"], "until": w["until"], "kinds": o.kinds}
    if audience == "loyal":
        out["loyal"] = {"k": o.loyal_k, "by": w["loyal_by"],
                        "min_follow_days": o.loyal_days if w["has_follow_times"] else None}
    return out


@graph_method
def engagement(g, ids: Iterable, **options) -> dict:
    """Engagement of creators in a time window, from the graph's interactions.

    Parameters
    ----------
    g : FollowerGraph with an interactions layer
    ids : external creator ids
    **options : the fields of :class:`EngagementOptions`: ``since``, ``until`` (the window
        ``[since, until)``), ``kinds`` (labels counted, default all), ``loyal_k``,
        ``loyal_days``, ``loyal_by`` (``"auto"``, ``"weeks"`` or ``"posts"``),
        ``skip_unknown``. Definitions: the module docstring and docs/interactions.md.

    Returns
    -------
    dict (JSON-ready): ``window``, ``loyalty`` (the rule applied), ``creators`` (one row
    per creator: followers, engaged, engaged_followers, engaged_non_followers,
    interactions, weighted_interactions, by_kind, posts, engagement_rate, rate_basis,
    loyal_fans, loyal_followers, comments, answered_comments, reply_rate,
    flagged_interactions, authentic_share) and ``warnings``.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> from kolgraph.interactions import build
    >>> g = FollowerGraph.from_edges([1, 2], [10, 10], nodes=[3])
    >>> acc, cre = g.index([1, 3, 3]), g.index([10, 10, 10])
    >>> g.interactions = build(acc, cre, [0, 0, 700_000], [0, 0, 0], ["comment"], g.n_accounts)
    >>> row = engagement(g, [10], loyal_k=2)["creators"][0]
    >>> row["engaged"], row["engaged_followers"], row["engaged_non_followers"], row["loyal_fans"]
    (2, 1, 1, 1)
    """
    o = EngagementOptions.check(options)
    inter = require_interactions(g)
    ext, idx, warnings = resolve_ids(g, ids, skip_unknown=o.skip_unknown)
    w = window(g, o)
    counts, weighted, by_kind, replies, posts, has_flags = _counts(g, inter, idx, w, o)
    kinds = inter.kinds
    has_replies = inter.kind_code("reply") >= 0
    rows = [_row(ext[i], c, weighted[i], by_kind[i], r, p, w, kinds, has_flags, has_replies)
            for i, (c, r, p) in enumerate(zip(counts.tolist(), replies.tolist(), posts.tolist(),
                                              strict=True))]
    return {"window": {"since": w["since"], "until": w["until"],
                       "days": (w["until"] - w["since"]) / DAY, "kinds": o.kinds},
            "loyalty": {"k": o.loyal_k, "by": w["loyal_by"],
                        "min_follow_days": o.loyal_days if w["has_follow_times"] else None},
            "creators": rows, "warnings": warnings + w["warnings"]}


THREADED_EVENTS = 200_000  # events in the selected rows above which creator chunks run on threads


def _counts(g, inter, idx: np.ndarray, w: dict, o: EngagementOptions) -> tuple:
    """The kernels' per-creator arrays: counts (with the follower count appended), weighted
    sums, counts by kind, ``(comments, answered)``, posts in the window (-1 without posts),
    and whether the accounts carry ``flagged``."""
    mask, _, _ = account_filter(g, None, exclude_flagged=True)
    has_flags = mask is not None
    flagged = ~mask if has_flags else np.zeros(1, np.bool_)
    cum = np.cumsum(inter.c_indptr[idx + 1] - inter.c_indptr[idx])
    events = int(cum[-1]) if len(idx) else 0
    parts = _parallel.threads() if events >= THREADED_EVENTS else 1
    # chunks of equal events, not of equal creators (a few creators hold most events)
    cuts = np.searchsorted(cum, np.linspace(0, events, parts + 1)[1:-1])
    cuts = np.concatenate([[0], cuts, [len(idx)]]).astype(np.int64)

    def run(t: int):
        sel = idx[cuts[t]: cuts[t + 1]]
        out = _k.engagement_rows(
            inter.c_indptr, inter.c_account, inter.c_time, inter.c_kind, inter.c_post,
            inter.c_weight, sel, w["since"], w["until"], w["kind_ok"], len(w["kind_ok"]),
            w["loyal_by"] == "posts", o.loyal_k, w["min_follow_until"], *_graph_arrays(g),
            flagged, has_flags, g.n_accounts)
        replies = _k.reciprocity_rows(inter.c_indptr, inter.c_account, inter.c_time,
                                      inter.c_kind, inter.c_reply_to, sel, w["since"],
                                      w["until"], inter.kind_code("comment"),
                                      inter.kind_code("reply"))
        return (*out, replies)
    parts_out = _parallel.split_map(run, parts)
    counts, weighted, by_kind, replies = (np.concatenate([p[j] for p in parts_out])
                                          for j in range(4))
    counts = np.column_stack([counts, g.in_degree[idx]])
    posts = (_k.posts_in_window(inter.p_indptr, inter.p_time, idx, w["since"], w["until"])
             if inter.has_posts else np.full(len(idx), -1, np.int64))
    return counts, weighted.tolist(), by_kind.tolist(), replies, posts, has_flags


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def _row(ext_id, counts: list, weighted: float, by_kind: list, replies: list, posts: int,
         w: dict, kinds: list, has_flags: bool, has_replies: bool) -> dict:
    n_int, n_eng, n_fol, n_loyal, n_flag, n_loyal_fol, followers = counts[:7]
    if posts > 0:
        rate, basis = _ratio(n_int, posts * followers), "per_post_per_follower"
    else:
        days = (w["until"] - w["since"]) / DAY
        rate, basis = _ratio(n_int, days * followers), "per_day_per_follower"
    comments, answered = replies
    return {"id": ext_id, "followers": followers, "engaged": n_eng, "engaged_followers": n_fol,
            "engaged_non_followers": n_eng - n_fol, "interactions": n_int,
            "weighted_interactions": weighted,
            "by_kind": {kinds[k]: n for k, n in enumerate(by_kind) if n},
            "posts": posts if posts >= 0 else None, "engagement_rate": rate, "rate_basis": basis,
            "loyal_fans": n_loyal, "loyal_followers": n_loyal_fol, "comments": comments,
            "answered_comments": answered,
            "reply_rate": answered / comments if has_replies and comments else None,
            "flagged_interactions": n_flag if has_flags else None,
            "authentic_share": (1.0 - n_flag / n_int) if has_flags and n_int else None}
