"""Engagement of many creators: ``g.engagement`` beside a pandas groupby over the same events.

Group ``engagement-<size>``. The data is a synthetic store with planted interactions
(``kolgraph.synth.synth_store(..., interactions=True)``: loyal and casual fans,
non-follower engagers, creators who never reply; cached in the benchmark data
directory) and the same events exported once to Parquet (creator, account, time,
kind, post, as internal ids and kind labels) beside the follow edges of the selected
creators. The creators are the ``CREATORS`` with the most followers (all of them when
the store has fewer); the window is the whole span of the events. Both workloads read
their inputs outside the timing (the store memory-mapped, the events and edges as
pandas DataFrames) and are checked once, untimed, to give the same numbers.

- ``kolgraph.engagement``: ``g.engagement(ids, loyal_by="posts")``: per creator the
  interactions, by kind, engaged accounts split into followers and non-followers,
  loyal fans (3 or more distinct posts) and loyal followers, plus reply reciprocity,
  engagement rate and post counts (which the peer does not compute).
- ``pandas groupby``: the same counts with pandas on the events table: drop the
  creators' own events, ``groupby("creator")`` sizes, ``groupby(["creator", "kind"])``
  sizes, distinct ``(creator, account)`` pairs joined (``merge``) with the follow
  edges for the follower split, and distinct ``(creator, account, post)`` triples
  counted per pair for loyal fans (joined with the follow edges: with follow times a loyal
  fan follows).

The numba kernels are compiled by an untimed first call (the harness's warm-up).
Target (issue 19): kolgraph at least 20x faster than the pandas groupby.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks._harness import Workload, generator_digest, measure

CREATORS = 1_000
SEED = 20_240_521
LOYAL_K = 3


def build_data(bench_size, cache: Path) -> Path:
    """The store (with interactions) and its events as Parquet; returns the Parquet path."""
    from kolgraph.synth import synth_store

    stem = f"synth-inter-{bench_size.name}-seed{SEED}-{generator_digest()}"
    store, events = cache / f"{stem}.kg", cache / f"{stem}-events.parquet"
    if not store.exists():
        synth_store(store, accounts=bench_size.accounts, creators=bench_size.creators,
                    edges=bench_size.edges, seed=SEED, overwrite=True, interactions=True)
    if not events.exists():
        import kolgraph
        from kolgraph.interactions import events_of

        g = kolgraph.open(store)
        ev = events_of(g.interactions)
        frame = pd.DataFrame({"creator": ev["creator"], "account": ev["account"],
                              "time": ev["time"], "post": ev["post"],
                              "kind": pd.Categorical.from_codes(ev["kind"], g.interactions.kinds)})
        tmp = events.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.rename(events)
    return events


def _store_of(events: Path) -> Path:
    return events.with_name(events.name.replace("-events.parquet", ".kg"))


@functools.lru_cache(maxsize=2)
def inputs(events: Path):
    """``(graph, ids, idx, events frame, follow edges of the selected creators)``, untimed."""
    import kolgraph

    g = kolgraph.open(_store_of(events))
    idx = np.argsort(-g.in_degree, kind="stable")[:CREATORS]
    idx = np.sort(idx[g.in_degree[idx] > 0])
    frame = pd.read_parquet(events)
    follows = pd.DataFrame({
        "account": np.concatenate([g.followers_idx(c) for c in idx]).astype(np.int32),
        "creator": np.repeat(idx, g.in_degree[idx]).astype(np.int32), "follows": True})
    return g, g.external(idx), idx, frame, follows


def run_kolgraph(events: Path, scratch: Path):
    g, ids, _, _, _ = inputs(events)
    return g.engagement(ids, loyal_by="posts", loyal_k=LOYAL_K)


def run_pandas(events: Path, scratch: Path):
    _, _, idx, frame, follows = inputs(events)
    ev = frame[frame["creator"].isin(idx) & (frame["account"] != frame["creator"])]
    interactions = ev.groupby("creator").size()
    by_kind = ev.groupby(["creator", "kind"], observed=True).size()
    pairs = ev[["creator", "account"]].drop_duplicates()
    pairs = pairs.merge(follows, on=["creator", "account"], how="left")
    pairs["follows"] = pairs["follows"].fillna(False).astype(bool)
    engaged = pairs.groupby("creator").agg(engaged=("account", "size"), followers=("follows", "sum"))
    posts = ev[ev["post"] >= 0][["creator", "account", "post"]].drop_duplicates()
    per_pair = posts.groupby(["creator", "account"]).size().rename("posts").reset_index()
    # the store has follow times, so a loyal fan must follow (for loyal_days: every synthetic
    # follow precedes the window, which is longer than that); non-followers on 3 posts (the
    # planted engagement pods) are not loyal
    loyal = per_pair[per_pair["posts"] >= LOYAL_K].merge(follows, on=["creator", "account"], how="inner")
    loyal_counts = loyal.groupby("creator").agg(loyal=("account", "size"), loyal_followers=("follows", "sum"))
    return interactions, by_kind, engaged, loyal_counts


@functools.lru_cache(maxsize=2)
def check_same(events: Path) -> None:
    """Untimed: both give the same interactions, kinds, engaged split and loyal fans."""
    _, _, idx, _, _ = inputs(events)
    ours = run_kolgraph(events, events)["creators"]
    interactions, by_kind, engaged, loyal = run_pandas(events, events)
    for c, row in zip(idx.tolist(), ours, strict=True):
        assert row["interactions"] == int(interactions.get(c, 0))
        assert row["engaged"] == (int(engaged.loc[c, "engaged"]) if c in engaged.index else 0)
        assert row["engaged_followers"] == (int(engaged.loc[c, "followers"]) if c in engaged.index else 0)
        assert row["loyal_fans"] == (int(loyal.loc[c, "loyal"]) if c in loyal.index else 0)
        assert row["loyal_followers"] == (int(loyal.loc[c, "loyal_followers"]) if c in loyal.index else 0)
        kinds = by_kind.loc[c].to_dict() if c in by_kind.index.get_level_values(0) else {}
        assert row["by_kind"] == {k: int(v) for k, v in kinds.items() if v}


WORKLOADS = [
    Workload("kolgraph.engagement", "kolgraph",
             "g.engagement(ids of the 1,000 largest creators, loyal_by='posts'): counts, kinds, "
             "engaged and loyal splits, reply reciprocity, rates",
             run_kolgraph, summarize=lambda d: {"creators": len(d["creators"]),
                                                "engaged": sum(r["engaged"] for r in d["creators"])},
             targets=[{"peer": "pandas groupby", "min_speedup": 20}]),
    Workload("pandas groupby", "peer",
             "pandas: groupby sizes, kinds, distinct pairs merged with follows, distinct posts "
             "per pair (no reciprocity)",
             run_pandas, summarize=lambda out: {"creators": len(out[0]),
                                                "engaged": int(out[2]["engaged"].sum())}),
]


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_engagement(benchmark, request, workload, bench_size, bench_data_dir, scratch_dir):
    path = build_data(bench_size, bench_data_dir)
    g, _, idx, frame, _ = inputs(path)
    check_same(path)
    measure(benchmark, request, group=f"engagement-{bench_size.label}", workload=workload,
            module=__name__, data_path=path, scratch=scratch_dir, size=bench_size,
            edges=len(frame), extra={"creators": len(idx), "events": len(frame),
                                     "accounts": g.n_accounts})
