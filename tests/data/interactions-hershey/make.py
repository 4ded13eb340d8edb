"""Build the real-shaped interaction set of tests/data/interactions-hershey (run from the repo root).

The follow graph is real (hersheycareers, see tests/data/README.md); the interactions are
drawn on it, with the assumptions stated in this folder's README.md. Deterministic: the
same files come out on every run (seed 19, no other input).

    python tests/data/interactions-hershey/make.py
"""

import csv
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
GRAPH = HERE.parent / "twitter-brand-follower-graphs" / "hersheycareers.json"
T0 = 1_704_067_200  # Monday 2024-01-01 00:00 UTC
WEEK, HOUR = 604_800, 3_600
WEEKS, CREATORS = 12, 20
KINDS, KIND_P = ["like", "comment", "share"], [0.6, 0.3, 0.1]


def main() -> None:
    rng = np.random.default_rng(19)
    edges = np.asarray(json.loads(GRAPH.read_text())["edges"], dtype=np.int64)
    followers: dict[int, set] = {}
    for a, b in edges.tolist():
        followers.setdefault(b, set()).add(a)
    creators = sorted(followers, key=lambda c: (-len(followers[c]), c))[:CREATORS]
    accounts = np.unique(edges)
    activity = dict(zip(accounts.tolist(), rng.beta(0.5, 6.0, len(accounts)).tolist(), strict=True))
    posts, events = [], []
    for c in creators:
        post_weeks = np.repeat(np.arange(WEEKS), rng.integers(1, 4, WEEKS))
        post_ids = [f"{c}-{j}" for j in range(len(post_weeks))]
        post_times = T0 + post_weeks * WEEK + rng.integers(0, WEEK // 2, len(post_weeks))
        posts += [(c, p, int(t)) for p, t in zip(post_ids, post_times, strict=True)]
        two_hop = set().union(*(followers.get(u, set()) for u in followers[c])) - followers[c] - {c}
        replies = rng.random() < 0.5  # half the creators answer comments, half never do
        for u in sorted(followers[c]) + sorted(two_hop):
            p = activity[u] * (1.0 if u in followers[c] else 0.25)
            for w in np.flatnonzero(rng.random(WEEKS) < p):
                j = int(rng.choice(np.flatnonzero(post_weeks == w)))
                t = int(post_times[j] + rng.integers(0, T0 + (w + 1) * WEEK - post_times[j]))
                kind = KINDS[rng.choice(3, p=KIND_P)]
                events.append((u, c, t, kind, post_ids[j], ""))
                if kind == "comment" and replies and rng.random() < 0.4:
                    events.append((c, c, t + int(rng.integers(HOUR, 48 * HOUR)), "reply",
                                   post_ids[j], u))
    events.sort(key=lambda e: (e[2], e[0], e[1]))
    with open(HERE / "interactions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["account", "creator", "time", "kind", "post", "reply_to"])
        w.writerows(events)
    with open(HERE / "posts.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["creator", "post", "time"])
        w.writerows(sorted(posts, key=lambda p: (p[2], p[0])))
    print(f"{len(events):,} events, {len(posts):,} posts, creators {creators}")


if __name__ == "__main__":
    main()
