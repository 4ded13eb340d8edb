"""Plain-Python references for the interaction counts (docs/interactions.md), for oracle tests.

Events are tuples ``(account, creator, time, kind, post, reply_to)`` with ``post`` and
``reply_to`` None when absent; exact duplicates count once.
"""

from __future__ import annotations

WEEK, SHIFT, DAY = 604_800, 259_200, 86_400


def window_events(events, c, since, until):
    return [e for e in set(events) if e[1] == c and since <= e[2] < until]


def engaged_units(events, c, since, until, kinds, by):
    """``{account: set of weeks or posts}`` of the creator's engaged accounts."""
    units: dict = {}
    for a, _, t, kind, post, _ in window_events(events, c, since, until):
        if a == c or (kinds is not None and kind not in kinds):
            continue
        s = units.setdefault(a, set())
        if by == "weeks":
            s.add((t + SHIFT) // WEEK)
        elif post is not None:
            s.add(post)
    return units


def loyal_set(units, c, followers, follow_time, loyal_k, loyal_days, until):
    out = set()
    for a, s in units.items():
        if len(s) < loyal_k:
            continue
        if follow_time is not None:
            if a not in followers or follow_time[(a, c)] > until - round(loyal_days * DAY):
                continue
        out.add(a)
    return out


def answered(events, c, since, until):
    """``(comments, answered)``: each reply answers the fan's earliest unanswered comment
    made at or before it."""
    seq: dict = {}
    n_comments = 0
    for a, _, t, kind, _, reply_to in window_events(events, c, since, until):
        if kind == "comment" and a != c:
            seq.setdefault(a, []).append((t, 0))
            n_comments += 1
        elif kind == "reply" and a == c and reply_to is not None:
            seq.setdefault(reply_to, []).append((t, 1))
    n_answered = 0
    for items in seq.values():
        pending = 0
        for _, typ in sorted(items):
            if typ == 0:
                pending += 1
            elif pending:
                pending -= 1
                n_answered += 1
    return n_comments, n_answered


def engagement(events, c, followers, follow_time, since, until, kinds=None, loyal_k=3,
               loyal_days=30.0, by="weeks", flagged=None):
    """Every count of one creator's engagement row."""
    mine = [e for e in window_events(events, c, since, until)
            if e[0] != c and (kinds is None or e[3] in kinds)]
    units = engaged_units(events, c, since, until, kinds, by)
    loyal = loyal_set(units, c, followers, follow_time, loyal_k, loyal_days, until)
    comments, n_answered = answered(events, c, since, until)
    by_kind: dict = {}
    for e in mine:
        by_kind[e[3]] = by_kind.get(e[3], 0) + 1
    return {"interactions": len(mine), "engaged": len(units),
            "engaged_followers": len(set(units) & followers),
            "engaged_non_followers": len(set(units) - followers), "by_kind": by_kind,
            "loyal_fans": len(loyal), "loyal_followers": len(loyal & followers),
            "comments": comments, "answered_comments": n_answered,
            "flagged_interactions": (sum(1 for e in mine if e[0] in flagged)
                                     if flagged is not None else None)}


def pod_rows(events, dt: int) -> dict:
    """``{(creator, post): sorted [(account, time)]}`` of the fans' events, each account's
    events in a row thinned: one less than ``dt`` after its last kept one is dropped."""
    rows: dict = {}
    for a, c, t, _, p in events:
        if a != c:
            rows.setdefault((c, p), {}).setdefault(a, []).append(t)
    kept = {}
    for r, by_acc in rows.items():
        out = []
        for a, ts in by_acc.items():
            last = None
            for t in sorted(ts):
                if last is None or t - last >= dt:
                    out.append((a, t))
                    last = t
        kept[r] = sorted(out)
    return kept


def pods(events, dt: int, n_min: int, m: int, burst: float):
    """Engagement pods from the definition, in plain Python.

    ``events``: ``(account, creator, time, kind, post)`` tuples (post None: none). Rows are
    ``(creator, post)``; the creator's own events are left out; per row and account, an
    event less than ``dt`` after that account's last kept event there is dropped. A window
    ``(t + grid * (dt // 2)) // dt`` (grids 0, 1) of a row is hot with at least
    ``max(n_min, burst * kept * dt / (span + dt))`` kept events (span: the row's last kept
    time minus its first). An account in hot windows of ``m`` or more rows is in lockstep;
    lockstep accounts sharing a hot window are joined; groups of ``n_min`` or more are pods.
    Returns the pods as a set of frozensets of accounts."""
    kept = pod_rows(events, dt)
    hot_rows: dict = {}
    hot = []
    for r, at in kept.items():
        ts = [t for _, t in at]
        need = max(n_min, burst * len(at) * dt / (max(ts) - min(ts) + dt))
        for grid in (0, 1):
            windows: dict = {}
            for a, t in at:
                windows.setdefault((t + grid * (dt // 2)) // dt, []).append(a)
            for members in windows.values():
                assert len(set(members)) == len(members)  # thinning: one event per account
                if len(members) >= need:
                    hot.append(members)
                    for a in members:
                        hot_rows.setdefault(a, set()).add(r)
    lock = {a for a, rs in hot_rows.items() if len(rs) >= m}
    group = {a: {a} for a in lock}
    for members in hot:
        ls = [a for a in members if a in lock]
        for a in ls[1:]:
            if group[a] is not group[ls[0]]:
                merged = group[a] | group[ls[0]]
                for b in merged:
                    group[b] = merged
    return {frozenset(s) for s in group.values() if len(s) >= n_min}


def tightest(times: list[int], dt: int) -> tuple[int, int, int]:
    """``(count, first, last)``: the most times within a span shorter than ``dt`` (the
    earliest such span)."""
    ts = sorted(times)
    best = (0, 0, 0)
    for i, t0 in enumerate(ts):
        inside = [t for t in ts[i:] if t - t0 < dt]
        if len(inside) > best[0]:
            best = (len(inside), t0, inside[-1])
    return best
