"""Engagement pods: groups of accounts that interact with the same posts in lockstep.

A pod (or a batch of bought engagement) is a group of accounts that like or comment on
the same creators' posts within minutes of each other, post after post. It is found with
the follow graph's temporal-lockstep kernel (:func:`kolgraph.kernels.lockstep.lockstep`)
run over the interactions instead of the follows:

- **rows**: each ``(creator, post)`` pair of the events is one row (events without a post
  id form one row per creator); the creator's own events (its replies) are left out;
- **times**: an account's events in a row are thinned to one per ``pod_window`` seconds
  (:func:`kolgraph.kernels.interactions.pod_rows`), so a like and a comment a minute apart
  count once and a window's count is a count of distinct accounts;
- **hot window** of a row: a window of ``pod_window`` seconds (on two grids offset by half
  a window) holding at least ``pod_min`` accounts and ``pod_burst`` times the row's mean
  per-window count;
- an account in hot windows of at least ``pod_m`` distinct rows (posts) is in lockstep;
  lockstep accounts sharing a hot window are joined; a **pod** is such a group of at
  least ``pod_min`` accounts.

Evidence per pod: its accounts, its creators, and per post the tightest ``pod_window``
span holding most of its members' interactions (first and last time, delay after the post
when the store has posts).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass

import numpy as np

from kolgraph.kernels import interactions as _ki
from kolgraph.kernels import lockstep as _kl


@dataclass
class Rows:
    """The interactions as a CSR of lockstep rows: ``(creator, post)`` pairs."""

    indptr: np.ndarray   # int64 (rows + 1)
    account: np.ndarray  # int32 per kept event
    time: np.ndarray     # int64 per kept event
    creator: np.ndarray  # int64 per row
    post: np.ndarray     # int64 per row (-1: the creator's events without a post)


def lockstep_rows(inter, gap: int) -> Rows:
    """One row per ``(creator, post)``, rows sorted by creator then post, each account's
    events in a row thinned to at least ``gap`` seconds apart; the creator's own events
    left out (:func:`kolgraph.kernels.interactions.pod_rows`)."""
    return Rows(*_ki.pod_rows(np.asarray(inter.c_indptr), np.asarray(inter.c_account),
                              np.asarray(inter.c_time), np.asarray(inter.c_post), int(gap)))


def engagement_pods(g, *, window: int, n_min: int, m: int, burst: float
                    ) -> tuple[np.ndarray, list[dict]]:
    """Pod members (bool mask over accounts) and the pods, largest first: ``id``,
    ``accounts`` (internal ids), ``accounts_count``, ``creators`` (internal id, posts),
    ``posts`` (the evidence, see :func:`_evidence`)."""
    inter = g.interactions
    rows = lockstep_rows(inter, window)
    n_rows = len(rows.creator)
    _, group = _kl.lockstep(rows.indptr, rows.account, rows.time, np.arange(n_rows, dtype=np.int64),
                            g.n_accounts, int(window), int(n_min), int(m), float(burst))
    member = group >= 0
    if not member.any():
        return member, []
    idx = np.flatnonzero(member)
    roots, inverse, sizes = np.unique(group[idx], return_inverse=True, return_counts=True)
    member[idx[sizes[inverse] < n_min]] = False
    pod_of = np.full(g.n_accounts, -1, np.int64)
    pod_of[idx] = np.where(sizes[inverse] >= n_min, inverse, -1)
    at = np.flatnonzero(pod_of[rows.account] >= 0)  # the pods' entries, in one pass
    at_pod = pod_of[rows.account[at]]
    by_pod = np.argsort(at_pod, kind="stable")
    cuts = np.searchsorted(at_pod[by_pod], np.arange(len(roots) + 1))
    found = [_evidence(rows, at[by_pod[cuts[gi]:cuts[gi + 1]]], idx[inverse == gi], window, inter)
             for gi in range(len(roots)) if sizes[gi] >= n_min]
    found.sort(key=lambda p: (-p["accounts_count"], int(p["accounts"][0])))
    for i, p in enumerate(found):
        p["id"] = i
    return member, found


def _evidence(rows: Rows, at: np.ndarray, accounts: np.ndarray, window: int, inter) -> dict:
    """One pod (its entries ``at`` in ``rows``, in row order): its accounts and, per row where
    at least two of them interacted within one ``window``, the tightest such span (most
    members, then earliest): ``creator``, ``post`` (dense post code, -1 none),
    ``first``/``last`` (Unix seconds), ``accounts`` (members in the span), ``delay``
    (seconds from the post to ``first``; None without the post's time)."""
    row = np.searchsorted(rows.indptr, at, side="right") - 1
    cuts = np.flatnonzero(np.diff(row)) + 1
    posts = []
    for chunk in np.split(np.arange(len(at)), cuts):
        if len(chunk) < 2:
            continue
        r = int(row[chunk[0]])
        t = np.sort(rows.time[at[chunk]])
        best, lo = 0, 0
        for hi in range(len(t)):  # the tightest span: two pointers over the sorted times
            while t[hi] - t[lo] >= window:
                lo += 1
            if hi - lo + 1 > best:
                best, first, last = hi - lo + 1, int(t[lo]), int(t[hi])
        if best >= 2:
            c, p = int(rows.creator[r]), int(rows.post[r])
            pt = _post_time(inter, c, p)
            posts.append({"creator": c, "post": p, "first": first, "last": last, "accounts": best,
                          "delay": None if pt is None else first - pt})
    posts.sort(key=lambda e: (e["first"], e["creator"], e["post"]))
    creators: dict[int, int] = {}
    for e in posts:
        creators[e["creator"]] = creators.get(e["creator"], 0) + 1
    return {"accounts": accounts, "accounts_count": int(len(accounts)),
            "creators": sorted(creators.items(), key=lambda kv: (-kv[1], kv[0])), "posts": posts}


def _post_time(inter, creator: int, post: int) -> int | None:
    """The time of ``creator``'s post ``post`` from the store's posts (None if not there)."""
    if post < 0:
        return None
    lo, hi = int(inter.p_indptr[creator]), int(inter.p_indptr[creator + 1])
    hit = np.flatnonzero(np.asarray(inter.p_post[lo:hi]) == post)
    return int(inter.p_time[lo + hit[0]]) if len(hit) else None


def pods_json(g, pods: list[dict], max_members: int | None) -> list[dict]:
    """The pods as :meth:`FraudReport.to_dict` lists them (external ids, ISO times)."""
    inter = g.interactions
    ids = inter.post_ids if inter is not None else None
    out = []
    for p in pods:
        acc = p["accounts"] if max_members is None else p["accounts"][:max_members]
        codes = [e["post"] for e in p["posts"]]
        names = _post_names(ids, codes)
        creators = g.external(np.array([c for c, _ in p["creators"]], np.int64))
        post_creators = g.external(np.array([e["creator"] for e in p["posts"]], np.int64))
        out.append({
            "id": p["id"], "accounts": g.external(acc), "accounts_count": p["accounts_count"],
            "creators": [{"id": c, "posts": n} for c, (_, n) in zip(creators, p["creators"], strict=True)],
            "posts_count": len(p["posts"]),
            "posts": [{"creator": c, "post": name, "first": _iso(e["first"]), "last": _iso(e["last"]),
                       "seconds": e["last"] - e["first"], "accounts": e["accounts"], "delay": e["delay"]}
                      for c, name, e in zip(post_creators, names, p["posts"], strict=True)]})
    return out


def _post_names(ids, codes: list[int]) -> list:
    if ids is None or not codes:
        return [None if c < 0 else c for c in codes]
    known = [c for c in codes if c >= 0]
    names = dict(zip(known, ids.external(np.array(known, np.int64)), strict=True)) if known else {}
    return [names.get(c) for c in codes]


def _iso(t: int) -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(t))


def engagement_quality(g, idx: np.ndarray, flagged: np.ndarray, pod: np.ndarray | None) -> list[dict]:
    """Per creator (internal ids): its fans' interactions (all kinds, all times, the creator's
    own events left out, as :func:`kolgraph.engagement.engagement` counts them), those by
    accounts the review flagged (any kind, pods included), those by pod members, and the
    authentic share ``1 - flagged / interactions`` (None without interactions)."""
    inter = g.interactions
    out = []
    for c in np.asarray(idx, np.int64).tolist():
        acc = np.asarray(inter.c_account[inter.c_indptr[c]:inter.c_indptr[c + 1]])
        acc = acc[acc != c]
        n, n_flag = len(acc), int(flagged[acc].sum())
        out.append({"interactions": n, "flagged_interactions": n_flag,
                    "pod_interactions": int(pod[acc].sum()) if pod is not None else 0,
                    "authentic_share": 1.0 - n_flag / n if n else None})
    return out
