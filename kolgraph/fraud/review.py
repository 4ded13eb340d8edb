"""The fraud review driver: every detector over a graph, then the creators' summaries."""

from __future__ import annotations

import time
import warnings as _warnings

import numpy as np

from kolgraph._parallel import Job, check_deadline, threads
from kolgraph.fraud.blocks import _columns, dense_blocks
from kolgraph.fraud.options import FraudOptions
from kolgraph.fraud.pods import engagement_pods
from kolgraph.fraud.report import Cluster, FraudReport
from kolgraph.fraud.signals import (
    KINDS,
    _bot_scores,
    _flag_bits,
    _following,
    growth_spikes,
    lockstep_groups,
    spike_evidence,
)
from kolgraph.graph import graph_method
from kolgraph.kernels import fraud as _k
from kolgraph.progress import SILENT, Progress


@graph_method
def fraud(g, *, creators=None, progress: Progress = SILENT, **options) -> FraudReport:
    """Fraud review of a follower graph: clusters, lockstep, spikes, bot signals, per creator.

    Parameters
    ----------
    g : FollowerGraph
    creators : external ids of the creators to report on (default: the ``top`` creators
        with the lowest audience quality among those with a flagged follower)
    **options : the fields of :class:`~kolgraph.fraud.options.FraudOptions`:

        - ``top``: how many creators to list when ``creators`` is None (default 100);
        - ``max_blocks``, ``min_density``, ``min_followers``, ``min_creators``, ``c``,
          ``expand``: dense-block search, see :func:`dense_blocks`; ``min_lift`` is
          deprecated and ignored (a warning);
        - ``lockstep_window``: seconds of a lockstep window (CopyCatch's Δt);
        - ``lockstep_min``: followers a window needs to count as hot;
        - ``lockstep_m``: hot creators a follower needs to be in lockstep;
        - ``lockstep_burst``: a hot window also holds this many times the creator's mean
          per-window count;
        - ``spike_z``, ``spike_min_gain``: a spike day gains at least ``spike_min_gain``
          followers and ``baseline + spike_z * scale`` (baseline of its previous 28 days,
          trend and weekday aware; evidence and ``kind`` per spike:
          :func:`kolgraph.fraud.signals.spike_evidence`);
        - ``pod_window``, ``pod_min``, ``pod_m``, ``pod_burst``: engagement pods (stores with
          interactions), see :mod:`kolgraph.fraud.pods`;
        - ``bot_threshold``: accounts with bot score at least this are flagged (0.9: a *high*
          score; the scorer's own 0.5 flags about 45% of the honest synthetic accounts,
          whose profiles often lack posts, avatar or bio);
        - ``mass_following``: accounts following more than this many are flagged.
    progress : a :class:`kolgraph.progress.Progress` for a bar.

    Returns
    -------
    FraudReport

    Examples
    --------
    >>> from kolgraph.synth import generate
    >>> g, truth = generate(20_000, 200, 150_000, seed=3, farms=2)
    >>> rep = g.fraud()
    >>> bool(rep.kinds["lockstep"].any())  # the generator's farms follow in timed bursts
    True
    >>> sorted(rep.to_dict())[:3]
    ['clusters', 'creators', 'creators_total']
    """
    o = FraudOptions.check(options)
    _deprecated_min_lift(o.min_lift)
    params = o.model_dump(exclude={"top", "min_lift"})  # the run's parameters, as the report lists them
    skipped, warnings, timings = [], [], {}  # messages; seconds by stage
    report_idx = None if creators is None else np.asarray(g.index(list(creators)), np.int64)
    cols = _columns(g)
    if g.creators is None:
        warnings.append("no creator table: every followed account is treated as a creator")

    # dense blocks (mostly one-threaded kernels) on this thread, lockstep and spikes (which do
    # not need its clusters) beside it on the background thread
    side = Job(_side_stages, (g, cols if report_idx is None else report_idx, cols, params),
               threaded=threads() > 1)
    t0 = time.perf_counter()
    clusters, info = dense_blocks(g, cols=cols, progress=progress, timings=timings,
                                  **{name: params[name] for name in BLOCK_OPTIONS})
    timings["dense_blocks_seconds"] = time.perf_counter() - t0
    check_deadline()  # between stages: a call past its deadline stops here
    params["bipartite"] = info
    kinds: dict[str, np.ndarray] = {"cluster": _members(clusters, g.n_accounts)}
    groups, pods, spikes, bot = _join_side(g, side, kinds, params, skipped, warnings, timings)
    check_deadline()

    t0 = time.perf_counter()
    idx, counts, total = _listed_creators(g, cols, report_idx, kinds, o.top)
    listed = np.zeros(g.n_accounts, bool)
    listed[idx] = True
    cluster_hits = _cluster_hits(clusters, listed)
    timings["per_creator_seconds"] = time.perf_counter() - t0
    return FraudReport(graph=g, clusters=clusters, kinds=kinds, creator_idx=idx,
                       creator_counts=counts, cluster_hits=cluster_hits,
                       spikes={v: s for v, s in spikes.items() if listed[v]},
                       lockstep_groups=groups, pods=pods, bot_scores=bot, skipped=skipped, warnings=warnings,
                       params=params, timings=timings, creators_total=total)


BLOCK_OPTIONS = ("max_blocks", "min_density", "min_followers", "min_creators", "c", "expand")  # the options dense_blocks takes


def _deprecated_min_lift(min_lift) -> None:
    if min_lift is not None:
        _warnings.warn("min_lift is deprecated and ignored: blocks are kept by a significance test "
                       "(see kolgraph.fraud.dense_blocks)", DeprecationWarning, stacklevel=3)


def _members(clusters: list[Cluster], n: int) -> np.ndarray:
    out = np.zeros(n, bool)
    for cluster in clusters:
        out[cluster.followers] = True
    return out


def _side_stages(g, spike_cols: np.ndarray, cols: np.ndarray, params: dict):
    """The temporal stages, independent of the dense blocks: lockstep, growth spikes
    (without their evidence) and engagement pods. Returns ``(kinds, lockstep groups, pods,
    spikes, skipped, timings)``."""
    kinds: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    timings: dict[str, float] = {}
    groups, spikes = _temporal(g, spike_cols, cols, params, kinds, skipped, timings)
    check_deadline()
    pods = _pods(g, params, kinds, skipped, timings)
    return kinds, groups, pods, spikes, skipped, timings


def _pods(g, params: dict, kinds: dict, skipped: list, timings: dict) -> list[dict]:
    """Engagement pods (into ``kinds["pod"]``); skipped without interactions."""
    if g.interactions is None:
        skipped.append("engagement pods: the store has no interactions (add them with "
                       "`kolgraph add-interactions`)")
        return []
    t0 = time.perf_counter()
    kinds["pod"], pods = engagement_pods(g, window=params["pod_window"], n_min=params["pod_min"],
                                         m=params["pod_m"], burst=params["pod_burst"])
    timings["pods_seconds"] = time.perf_counter() - t0
    return pods


def _join_side(g, side: Job, kinds: dict, params: dict, skipped: list, warnings: list,
               timings: dict):
    """The temporal stages' results merged in, the spikes' evidence (it needs the clusters
    and lockstep), then the account signals (after the dense blocks have freed their
    memory: the account table is the largest thing they read): ``(lockstep groups, pods,
    spikes, bot scores)``."""
    side_kinds, groups, pods, spikes, side_skipped, side_timings = side.result()
    kinds.update(side_kinds)
    skipped += side_skipped
    timings.update(side_timings)
    if spikes:
        t0 = time.perf_counter()
        spikes = spike_evidence(g, spikes, kinds)
        timings["spikes_seconds"] += time.perf_counter() - t0
    check_deadline()
    t0 = time.perf_counter()
    bot = _account_signals(g, kinds, params, skipped, warnings)
    timings["account_signals_seconds"] = time.perf_counter() - t0
    return groups, pods, spikes, bot


def _account_signals(g, kinds: dict, params: dict, skipped: list, warnings: list):
    """Bot scores (when the graph has profiles) and mass following, into ``kinds``; returns
    the bot scores."""
    bot = _bot_scores(g, skipped, warnings)
    if bot is not None:
        score = bot["score"].to_numpy(dtype=np.float64, na_value=0.0)
        kinds["bot_score"] = score >= params["bot_threshold"]
    kinds["mass_following"] = _following(g) > params["mass_following"]
    return bot


def _temporal(g, spike_cols: np.ndarray, cols: np.ndarray, params: dict, kinds: dict,
              skipped: list, timings: dict) -> tuple[list[dict], dict[int, list[dict]]]:
    """Lockstep (into ``kinds``) and its groups, and the growth spikes of ``spike_cols``
    (their evidence is added later, see :func:`spike_evidence`); skipped without
    ``followed_at`` times."""
    if g.followed_at is None:
        skipped.append("lockstep and growth spikes: the graph has no followed_at times")
        return [], {}
    t0 = time.perf_counter()
    kinds["lockstep"], groups = lockstep_groups(
        g, cols, window=params["lockstep_window"], n_min=params["lockstep_min"],
        m=params["lockstep_m"], burst=params["lockstep_burst"])
    timings["lockstep_seconds"] = time.perf_counter() - t0
    check_deadline()
    t0 = time.perf_counter()
    spikes = growth_spikes(g, spike_cols, z=params["spike_z"], min_gain=params["spike_min_gain"])
    timings["spikes_seconds"] = time.perf_counter() - t0
    return groups, spikes


def _listed_creators(g, cols: np.ndarray, report_idx: np.ndarray | None, kinds: dict,
                     top: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(creators listed, their flagged-follower counts by kind, creators that qualified)``:
    ``report_idx`` when given, else the ``top`` with the lowest audience quality among the
    creators with a flagged follower (flagged followers first)."""
    bits = _flag_bits(kinds, g.n_accounts)
    idx = cols if report_idx is None else report_idx
    counts = _k.flag_counts(np.asarray(g.in_indptr), np.asarray(g.in_indices), idx, bits, len(KINDS))
    total = len(idx)
    if report_idx is None:
        followers = np.asarray(g.in_degree)[idx].astype(np.float64)
        quality = 1.0 - counts[:, -1] / np.maximum(followers, 1.0)
        hit = counts[:, -1] > 0
        order = np.flatnonzero(hit)[np.lexsort((idx[hit], -counts[hit, -1], quality[hit]))][:top]
        idx, counts, total = idx[order], counts[order], int(hit.sum())
    return idx, counts, total


def _cluster_hits(clusters: list[Cluster], listed: np.ndarray) -> dict[int, dict[int, int]]:
    """Per listed creator: the clusters whose followers follow it, and how many of them do."""
    hits: dict[int, dict[int, int]] = {}
    for cluster in clusters:
        fp_listed = listed[cluster.fingerprint]
        for v, h in zip(cluster.fingerprint[fp_listed].tolist(), cluster.fingerprint_hits[fp_listed].tolist(),
                        strict=True):
            hits.setdefault(v, {})[cluster.id] = int(h)
    return hits
