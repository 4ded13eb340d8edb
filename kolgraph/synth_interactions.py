"""Synthetic interactions over a synthetic (or any) follow graph, with their ground truth.

Per creator (the creator table's accounts, else every account with followers), over a
window of ``weeks`` calendar weeks that starts the Monday after the graph's last follow
(so every follower has followed since before the window):

- **posts**: 1 to 3 a week, post ids ``p000000001``...;
- **loyal fans** (``loyal_share`` of the followers, at least one when the creator has 10
  or more): each interacts on one post in each of 3 or more distinct weeks (and likes a
  few more times within those weeks), so it has at least 3 distinct weeks and posts;
- **casual fans** (``casual_share``): 1 or 2 events, in at most 2 weeks on at most 2 posts;
- **non-follower engagers** (``outsider_share`` x followers, drawn from accounts that
  do not follow the creator): 1 or 2 events each;
- kinds: like 60%, comment 30%, share 10%;
- **replies**: ``silent_share`` of the creators never reply; the others answer each
  comment with probability 1/2, one to 48 hours after it (a ``reply`` event of the
  creator to itself with ``reply_to`` the fan, on the same post).

**Engagement pods** (``pods``, default one per 50 creators, at least one with 10 or more
creators), planted after the honest events (which are the same with or without pods):
half are *pods* (8 to 25 accounts working 3 to 6 creators), half *bought engagement*
(15 to 40 accounts working 1 creator). On each post of its creators each member
interacts with probability 0.8 (like 70%, comment 30%), ``POD_DELAY`` seconds (1 to
30 minutes) after the post. Members are non-creator accounts that follow none of the
pod's creators (so they are never loyal fans), each in one pod.

The truth (stored under ``truth/`` like the planted farms): ``loyal_fans`` (creator,
account: internal ids of the planted loyal fans, which are exactly the loyal fans for
``loyal_k = 3`` by weeks or posts with ``loyal_days <= 7 * weeks``),
``interaction_creators`` (creator, replies: whether it ever replies, loyal, casual,
outsiders: how many were planted; pod_engagers: distinct pod members that interacted
with it, non-followers all), ``pods`` (pod, kind ``pod`` or ``bought``, accounts,
creators), ``pod_members`` (pod, account) and ``pod_creators`` (pod, creator).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from kolgraph.graph import FollowerGraph
from kolgraph.ids import IdMap
from kolgraph.interactions import build

WEEK = 604_800
HOUR = 3_600
KINDS = ["like", "comment", "share", "reply"]
KIND_P = [0.6, 0.3, 0.1]
MONDAY_SHIFT = 259_200  # Unix time 0 is a Thursday


def generate_interactions(g: FollowerGraph, seed: int = 0, *, weeks: int = 12,
                          loyal_share: float = 0.03, casual_share: float = 0.10,
                          outsider_share: float = 0.02, silent_share: float = 0.3,
                          pods: int | None = None) -> dict:
    """Plant interactions on ``g`` (sets ``g.interactions``); return the truth tables."""
    rng = np.random.default_rng([seed, 19])
    creators = (g.creators.column("idx").to_numpy() if g.creators is not None
                else np.flatnonzero(g.in_degree > 0))
    last_follow = int(np.max(g.followed_at)) if g.followed_at is not None and g.n_edges else 1_704_067_200
    start = ((last_follow + MONDAY_SHIFT) // WEEK + 1) * WEEK - MONDAY_SHIFT  # next Monday
    ev: list[list[np.ndarray]] = [[] for _ in range(6)]  # account, creator, time, kind, post, reply_to
    posts: list[list[np.ndarray]] = [[], [], []]
    n_posts = 0
    truth_loyal: list[np.ndarray] = []
    rows = []
    for c in creators.astype(np.int64):
        week_posts = rng.integers(1, 4, size=weeks)
        p_week = np.repeat(np.arange(weeks), week_posts)
        p_time = start + p_week * WEEK + rng.integers(0, WEEK // 2, size=len(p_week))
        p_id = n_posts + np.arange(len(p_week))
        n_posts += len(p_week)
        for lst, arr in zip(posts, (np.full(len(p_week), c), p_time, p_id), strict=True):
            lst.append(arr)
        fol = np.asarray(g.followers_idx(int(c)))
        perm = rng.permutation(fol)
        n_loyal = max(int(round(loyal_share * len(fol))), 1 if len(fol) >= 10 else 0)
        n_casual = int(round(casual_share * len(fol)))
        loyal, casual = perm[:n_loyal], perm[n_loyal:n_loyal + n_casual]
        outsiders = _outsiders(rng, g, c, fol, int(round(outsider_share * len(fol))))
        truth_loyal.append(np.column_stack([np.full(len(loyal), c), loyal]))
        acc, wk = _engagements(rng, loyal, casual, outsiders, weeks)
        pick = _post_in_week(rng, p_week, wk)
        t = p_time[pick] + rng.integers(0, start + (wk + 1) * WEEK - p_time[pick])
        kind = rng.choice(3, size=len(acc), p=KIND_P)
        replies = rng.random() >= silent_share
        r = _replies(rng, c, acc, t, kind, p_id[pick], replies)
        for lst, arr in zip(ev, (acc, np.full(len(acc), c), t, kind, p_id[pick],
                                 np.full(len(acc), -1)), strict=True):
            lst.append(arr)
        for lst, arr in zip(ev, r, strict=True):
            lst.append(arr)
        rows.append((int(c), replies, len(loyal), len(casual), len(outsiders)))
    n_pods = (len(creators) // 50 or int(len(creators) >= 10)) if pods is None else pods
    pod_events, pod_truth = _plant_pods(np.random.default_rng([seed, 19, 1]), g, creators,
                                        [np.concatenate(p) if p else np.empty(0, np.int64)
                                         for p in posts], n_pods)
    for lst, arr in zip(ev, pod_events, strict=True):
        lst.append(arr)
    pod_pairs = np.unique(np.column_stack([pod_events[1], pod_events[0]]).astype(np.int64), axis=0)
    pod_engagers = np.bincount(pod_pairs[:, 0], minlength=g.n_accounts) if len(pod_pairs) else None
    cat = [np.concatenate(x) if x else np.empty(0, np.int64) for x in ev]
    ids = IdMap.encode([pa.array([f"p{j:09d}" for j in range(n_posts)], pa.large_string())])[0]
    g.interactions = build(cat[0], cat[1], cat[2], cat[3], KINDS, g.n_accounts, post=cat[4],
                           reply_to=cat[5], post_ids=ids,
                           posts=tuple(np.concatenate(p) for p in posts) if n_posts else None)
    loyal_pairs = np.concatenate(truth_loyal) if truth_loyal else np.empty((0, 2), np.int64)
    c_col, r_col, l_col, ca_col, o_col = zip(*rows, strict=True) if rows else ([],) * 5
    return {"loyal_fans": pa.table({"creator": pa.array(loyal_pairs[:, 0], pa.int32()),
                                    "account": pa.array(loyal_pairs[:, 1], pa.int32())}),
            "interaction_creators": pa.table({
                "creator": pa.array(c_col, pa.int32()), "replies": pa.array(r_col, pa.bool_()),
                "loyal": pa.array(l_col, pa.int64()), "casual": pa.array(ca_col, pa.int64()),
                "outsiders": pa.array(o_col, pa.int64()),
                "pod_engagers": pa.array([0 if pod_engagers is None else int(pod_engagers[c])
                                          for c in c_col], pa.int64())}), **pod_truth}


def _outsiders(rng, g: FollowerGraph, c: int, fol: np.ndarray, n: int) -> np.ndarray:
    """``n`` distinct accounts that neither follow ``c`` nor are ``c`` (fewer if few exist)."""
    if n == 0:
        return np.empty(0, np.int64)
    cand = rng.integers(0, g.n_accounts, size=4 * n + 8)
    cand = np.unique(cand[(cand != c) & ~np.isin(cand, fol)])
    return rng.permutation(cand)[:n]


def _engagements(rng, loyal, casual, outsiders, weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """``(account, week)`` of every event: loyal fans in 3+ distinct weeks (one to three
    events a week), the others 1 or 2 events in at most 2 weeks."""
    acc, wk = [], []
    for u in loyal:
        active = rng.choice(weeks, size=rng.integers(3, weeks + 1), replace=False)
        per = rng.integers(1, 4, size=len(active))
        acc.append(np.full(per.sum(), u))
        wk.append(np.repeat(active, per))
    others = np.concatenate([casual, outsiders]).astype(np.int64)
    per = rng.integers(1, 3, size=len(others))
    acc.append(np.repeat(others, per))
    wk.append(rng.integers(0, weeks, size=int(per.sum())))
    return np.concatenate(acc).astype(np.int64), np.concatenate(wk).astype(np.int64)


def _post_in_week(rng, p_week: np.ndarray, wk: np.ndarray) -> np.ndarray:
    """A random post of the event's week, for each event (every week has a post)."""
    first = np.searchsorted(p_week, wk)
    count = np.searchsorted(p_week, wk, side="right") - first
    return first + (rng.random(len(wk)) * count).astype(np.int64)


def _replies(rng, c: int, acc, t, kind, post, replies: bool) -> tuple[np.ndarray, ...]:
    """The creator's replies: half the comments (none for a silent creator), 1-48 h later."""
    answer = (kind == 1) & (rng.random(len(acc)) < 0.5) if replies else np.zeros(len(acc), bool)
    n = int(answer.sum())
    return (np.full(n, c), np.full(n, c), t[answer] + rng.integers(HOUR, 48 * HOUR, size=n),
            np.full(n, 3), post[answer], acc[answer])


POD_DELAY = (60, 1_800)  # seconds after the post a pod member interacts
POD_P = 0.8              # a member's chance to act on each of its pod's posts


def _plant_pods(rng, g: FollowerGraph, creators: np.ndarray, posts: list[np.ndarray], n_pods: int
                ) -> tuple[list[np.ndarray], dict]:
    """The pods' events (account, creator, time, kind, post, reply_to) and truth tables."""
    post_c, post_t, post_id = posts
    taken = np.zeros(g.n_accounts, bool)
    taken[creators] = True
    ev: list[list[np.ndarray]] = [[] for _ in range(6)]
    rows, members, pod_creators = [], [], []
    for pod in range(n_pods):
        bought = pod % 2 == 1
        cs = rng.choice(creators, size=min(1 if bought else int(rng.integers(3, 7)), len(creators)),
                        replace=False)
        busy = taken.copy()
        for c in cs.tolist():
            busy[g.followers_idx(c)] = True
        free = np.flatnonzero(~busy)
        size = min(int(rng.integers(15, 41) if bought else rng.integers(8, 26)), len(free))
        acc = rng.choice(free, size=size, replace=False)
        taken[acc] = True
        at = np.flatnonzero(np.isin(post_c, cs))
        act = rng.random((len(at), size)) < POD_P
        p_i, a_i = np.nonzero(act)
        n = len(p_i)
        for lst, arr in zip(ev, (acc[a_i], post_c[at[p_i]],
                                 post_t[at[p_i]] + rng.integers(*POD_DELAY, size=n),
                                 rng.choice(2, size=n, p=[0.7, 0.3]), post_id[at[p_i]],
                                 np.full(n, -1)), strict=True):
            lst.append(arr)
        rows.append((pod, "bought" if bought else "pod", size, len(cs)))
        members.append(np.column_stack([np.full(size, pod), acc]))
        pod_creators.append(np.column_stack([np.full(len(cs), pod), cs]))
    cat = [np.concatenate(x) if x else np.empty(0, np.int64) for x in ev]
    mem = np.concatenate(members) if members else np.empty((0, 2), np.int64)
    pc = np.concatenate(pod_creators) if pod_creators else np.empty((0, 2), np.int64)
    p_col, k_col, a_col, c_col = zip(*rows, strict=True) if rows else ([],) * 4
    return cat, {
        "pods": pa.table({"pod": pa.array(p_col, pa.int32()), "kind": pa.array(k_col, pa.string()),
                          "accounts": pa.array(a_col, pa.int64()), "creators": pa.array(c_col, pa.int64())}),
        "pod_members": pa.table({"pod": pa.array(mem[:, 0], pa.int32()),
                                 "account": pa.array(mem[:, 1], pa.int32())}),
        "pod_creators": pa.table({"pod": pa.array(pc[:, 0], pa.int32()),
                                  "creator": pa.array(pc[:, 1], pa.int32())})}
