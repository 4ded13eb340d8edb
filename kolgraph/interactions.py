"""The interactions layer: events ``account -> creator`` beside the follow graph.

An event says an account interacted with a creator's content at a time, with a
*kind* (``like``, ``comment``, ``share``, ``reply``, ``mention``, ``view`` or any
label; kept as a small dictionary of at most 255 labels), and optionally a post id,
a weight (default 1) and, for a creator's ``reply``, the fan it answers
(``reply_to``). A creator's posts (creator, post id, time), when given, are the
per-post denominators of engagement rates.

:class:`Interactions` holds them as CSR arrays over the graph's internal account ids:

- by creator: ``c_indptr`` (int64, n + 1), then per event ``c_account`` (int32),
  ``c_time`` (int64 Unix seconds), ``c_kind`` (uint8), ``c_post`` (int32 dense post
  id, -1 none), ``c_weight`` (float32), ``c_reply_to`` (int32, -1 none); each row
  sorted by time (then account, kind, post);
- by account: ``a_indptr`` (int64, n + 1) and ``a_event`` (int64 positions in the
  by-creator arrays), each row sorted by time;
- posts by creator: ``p_indptr`` (int64, n + 1), ``p_time`` (int64, sorted within
  rows), ``p_post`` (int32 dense post id);
- the post id dictionary (an :class:`~kolgraph.ids.IdMap`).

The store keeps them as its optional part ``interactions`` (:mod:`kolgraph.store`);
a graph without one has ``g.interactions is None`` and works as before. Exact
duplicate events (same account, creator, time, kind, post and reply_to) are kept
once and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kolgraph.exceptions import InputError, StoreCorruptedError
from kolgraph.ids import IdMap

PART = "interactions"
MAX_KINDS = 255
EVENT_ARRAYS = ("c_account", "c_time", "c_kind", "c_post", "c_weight", "c_reply_to")


@dataclass
class Interactions:
    """Interaction events and posts of a graph as CSR arrays (see the module docstring)."""

    kinds: list[str]
    c_indptr: np.ndarray
    c_account: np.ndarray
    c_time: np.ndarray
    c_kind: np.ndarray
    c_post: np.ndarray
    c_weight: np.ndarray
    c_reply_to: np.ndarray
    a_indptr: np.ndarray
    a_event: np.ndarray
    p_indptr: np.ndarray
    p_time: np.ndarray
    p_post: np.ndarray
    post_ids: IdMap | None = None
    report: dict = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        return int(self.c_indptr[-1])

    @property
    def n_posts(self) -> int:
        return int(self.p_indptr[-1])

    @property
    def has_post_ids(self) -> bool:
        return bool(self.meta_flags.get("has_post_ids"))

    @property
    def has_posts(self) -> bool:
        return self.n_posts > 0

    @property
    def meta_flags(self) -> dict:
        return self.report.setdefault("flags", {})

    def kind_code(self, label: str) -> int:
        """The code of kind ``label``, -1 when no event has it."""
        return self.kinds.index(label) if label in self.kinds else -1

    def time_span(self) -> tuple[int, int] | None:
        """``(first, last)`` event time (Unix seconds), None without events."""
        if self.n_events == 0:
            return None
        if "_span" not in self.__dict__:  # a pass over every event time: once per layer
            self.__dict__["_span"] = (int(np.min(self.c_time)), int(np.max(self.c_time)))
        return self.__dict__["_span"]

    # --- persistence (kolgraph.store writes and reads these) ------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: getattr(self, name) for name in ("c_indptr", *EVENT_ARRAYS, "a_indptr",
                                                      "a_event", "p_indptr", "p_time", "p_post")}
        if self.post_ids is not None:
            out.update({f"post_{k}": v for k, v in self.post_ids.arrays().items()})
        return out

    def meta(self) -> dict:
        return {"kinds": list(self.kinds), "events": self.n_events, "posts": self.n_posts,
                "has_post_ids": self.has_post_ids,
                "duplicates": int(self.report.get("duplicate_events", 0))}

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray], n_accounts: int,
                    where: str) -> Interactions:
        """Rebuild from a store part, checking the structure kernels rely on (O(n + E))."""
        missing = [a for a in ("c_indptr", *EVENT_ARRAYS, "a_indptr", "a_event", "p_indptr",
                               "p_time", "p_post") if a not in arrays]
        if missing:
            raise StoreCorruptedError(f"{where}: the interactions part lacks {', '.join(missing)}")
        post_arrays = {k[len("post_"):]: v for k, v in arrays.items() if k.startswith("post_")}
        post_ids = IdMap.from_arrays(post_arrays) if post_arrays else None
        inter = cls(list(meta.get("kinds", [])), *(arrays[a] for a in (
            "c_indptr", *EVENT_ARRAYS, "a_indptr", "a_event", "p_indptr", "p_time", "p_post")),
            post_ids=post_ids, report={"duplicate_events": meta.get("duplicates", 0)})
        inter.meta_flags["has_post_ids"] = bool(meta.get("has_post_ids"))
        inter.check(n_accounts, where)
        return inter

    def check(self, n_accounts: int, where: str) -> None:
        """Lengths, offsets and index ranges agree (a truncated or altered part fails here)."""
        e = len(self.c_account)
        ok = (len(self.c_indptr) == n_accounts + 1 and len(self.a_indptr) == n_accounts + 1
              and len(self.p_indptr) == n_accounts + 1
              and all(len(getattr(self, a)) == e for a in EVENT_ARRAYS)
              and len(self.a_event) == e and int(self.c_indptr[-1]) == e
              and int(self.a_indptr[-1]) == e and int(self.p_indptr[-1]) == len(self.p_time)
              and len(self.p_post) == len(self.p_time))
        for ptr in (self.c_indptr, self.a_indptr, self.p_indptr):
            ok = ok and int(ptr[0]) == 0 and not (np.diff(ptr) < 0).any()
        if ok and e:
            ok = (0 <= int(self.c_account.min()) and int(self.c_account.max()) < n_accounts
                  and int(self.c_kind.max()) < max(len(self.kinds), 1)
                  and int(self.c_reply_to.max()) < n_accounts)
        if not ok:
            raise StoreCorruptedError(f"{where}: the interactions arrays disagree with each other "
                                      "or with the account count (altered?)")


def build(account: np.ndarray, creator: np.ndarray, time: np.ndarray, kind: np.ndarray,
          kinds: list[str], n_accounts: int, *, post: np.ndarray | None = None,
          weight: np.ndarray | None = None, reply_to: np.ndarray | None = None,
          post_ids: IdMap | None = None, posts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
          ) -> Interactions:
    """Build the CSR arrays from event columns over internal ids (``kind`` holds codes
    into ``kinds``; ``post`` dense post ids or -1); ``posts`` is ``(creator, time, post)``.

    Exact duplicate events are dropped and counted in ``report["duplicate_events"]``.
    """
    if len(kinds) > MAX_KINDS:
        raise InputError(f"interactions: {len(kinds)} distinct kinds; at most {MAX_KINDS} "
                         "(kinds are labels such as like, comment, share, reply)")
    m = len(account)
    post = np.full(m, -1, np.int32) if post is None else np.asarray(post, np.int32)
    weight = np.ones(m, np.float32) if weight is None else np.asarray(weight, np.float32)
    reply_to = np.full(m, -1, np.int32) if reply_to is None else np.asarray(reply_to, np.int32)
    cols = [np.asarray(creator, np.int32), np.asarray(time, np.int64),
            np.asarray(account, np.int32), np.asarray(kind, np.uint8), post, reply_to]
    order = _event_order(*cols)
    cols = [c[order] for c in cols]
    weight = weight[order]
    keep = np.ones(m, bool)
    if m:
        keep[1:] = np.any([c[1:] != c[:-1] for c in cols], axis=0)
    cr, t, acc, kd, po, rt = (c[keep] for c in cols)
    c_indptr = _indptr(cr, n_accounts)
    a_order = _packed_order(acc, t)
    if a_order is None:
        a_order = np.lexsort((t, acc)).astype(np.int64)
    inter = Interactions(list(kinds), c_indptr, acc, t, kd, po, weight[keep], rt,
                         _indptr(acc, n_accounts), a_order, *_posts(posts, n_accounts),
                         post_ids=post_ids, report={"input_events": int(m),
                                                    "duplicate_events": int(m - keep.sum())})
    inter.meta_flags["has_post_ids"] = bool((po >= 0).any())
    return inter


def _packed_order(major: np.ndarray, time: np.ndarray) -> np.ndarray | None:
    """The stable order by ``(major, time)`` from one sort of ``major << b | time - min``
    (None when the two do not fit in 63 bits)."""
    if len(major) == 0:
        return np.empty(0, np.int64)
    t0 = int(time.min())
    t_bits = max(1, (int(time.max()) - t0).bit_length())
    if t_bits + max(1, int(major.max()).bit_length()) > 63:
        return None
    key = (major.astype(np.int64) << t_bits) | (time - t0)
    return np.argsort(key, kind="stable")


def _event_order(creator, time, account, kind, post, reply_to) -> np.ndarray:
    """The stable order by creator, time, account, kind, post, reply_to (a ``np.lexsort``
    of the six): one sort of packed ``(creator, time)`` keys, then the few events that tie
    on both sorted by the rest."""
    order = _packed_order(creator, time)
    if order is None:
        return np.lexsort((reply_to, post, kind, account, time, creator))
    c, t = creator[order], time[order]
    tie = (c[1:] == c[:-1]) & (t[1:] == t[:-1])
    if not tie.any():
        return order
    first = np.concatenate([[False], tie]) | np.concatenate([tie, [False]])  # in a tie group
    at = np.flatnonzero(first)
    group = np.cumsum(np.concatenate([[True], ~tie]))[at]  # the (creator, time) run of each
    o = order[at]
    order[at] = o[np.lexsort((reply_to[o], post[o], kind[o], account[o], group))]
    return order


def _indptr(rows: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=out[1:])
    return out


def _posts(posts, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if posts is None:
        return np.zeros(n + 1, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    creator, time, post = (np.asarray(a) for a in posts)
    order = np.lexsort((post, time, creator))
    creator, time, post = creator[order], time[order].astype(np.int64), post[order].astype(np.int32)
    keep = np.ones(len(creator), bool)
    keep[1:] = (creator[1:] != creator[:-1]) | (post[1:] != post[:-1]) | (time[1:] != time[:-1])
    return _indptr(creator[keep].astype(np.int64), n), time[keep], post[keep]


def remap(inter: Interactions, new_of_old: np.ndarray, n_new: int) -> Interactions:
    """The same events over a grown account table (``new_of_old[i]`` = new id of old
    account i, increasing), so rows stay sorted."""
    def grow(indptr: np.ndarray) -> np.ndarray:
        counts = np.zeros(n_new, np.int64)
        counts[new_of_old] = np.diff(indptr)
        out = np.zeros(n_new + 1, np.int64)
        np.cumsum(counts, out=out[1:])
        return out
    rt = np.asarray(inter.c_reply_to)
    return Interactions(
        inter.kinds, grow(inter.c_indptr), new_of_old[np.asarray(inter.c_account)].astype(np.int32),
        np.asarray(inter.c_time), np.asarray(inter.c_kind), np.asarray(inter.c_post),
        np.asarray(inter.c_weight), np.where(rt >= 0, new_of_old[np.maximum(rt, 0)], -1).astype(np.int32),
        grow(inter.a_indptr), np.asarray(inter.a_event), grow(inter.p_indptr),
        np.asarray(inter.p_time), np.asarray(inter.p_post), inter.post_ids, dict(inter.report))


def events_of(inter: Interactions) -> dict[str, np.ndarray]:
    """Every event as columns over internal ids (``creator`` expanded from the rows)."""
    creator = np.repeat(np.arange(len(inter.c_indptr) - 1, dtype=np.int32), np.diff(inter.c_indptr))
    return {"creator": creator, **{a[2:]: np.asarray(getattr(inter, a)) for a in EVENT_ARRAYS}}


def posts_of(inter: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    creator = np.repeat(np.arange(len(inter.p_indptr) - 1, dtype=np.int32), np.diff(inter.p_indptr))
    return creator, np.asarray(inter.p_time), np.asarray(inter.p_post)
