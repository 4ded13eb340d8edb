"""What :func:`~kolgraph.fraud.fraud` finds: clusters, the report and its exports, and the
flags written into the store."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from kolgraph.exceptions import InputError
from kolgraph.fraud.pods import engagement_quality, pods_json
from kolgraph.fraud.signals import (
    KINDS,
    _flag_bits,
    _following,
    bot_reasons,
    growth_spikes,
    spike_evidence,
)
from kolgraph.kernels import fraud as _k
from kolgraph.store import rewrite
from kolgraph.tables import csv_safe


@dataclass
class Cluster:
    """One dense block of followers x creators (internal ids)."""

    id: int
    followers: np.ndarray
    creators: np.ndarray
    edges: int
    score: float
    expected_edges: float          # under the configuration-model background
    background_density: float
    fingerprint: np.ndarray        # every creator receiving follows from the block's followers
    fingerprint_hits: np.ndarray   # how many of them follow each
    stage: str = "global"           # "global" peel or "co-following" seeded peel
    test: dict = field(default_factory=dict)  # the block test (see kolgraph.fraud.blocks.block_test)

    @property
    def density(self) -> float:
        cells = len(self.followers) * len(self.creators)
        return self.edges / cells if cells else 0.0

    def significance(self) -> dict:
        """The block against the background. Evidence: edges expected from the degrees
        including the block's own (``expected_edges``, ``lift``), the graph's overall density
        (``density_lift``) and the Poisson tail ``log10_p`` of that many edges where
        ``expected_edges`` were expected. The test that kept the block (on its core: the
        ``tested_followers`` of the candidate not followed by its creators, with
        ``tested_edges``, before expansion; :func:`kolgraph.fraud.blocks.block_test`):
        ``expected_excluded`` (from the degrees without the block's edges),
        ``lift_excluded``, ``log10_p_excluded`` (its Poisson tail) against
        ``log10_threshold`` (``alpha`` over every block of that size,
        :func:`kolgraph.fraud.blocks.scan_threshold`); ``reciprocal`` (share of the
        candidate's followers followed by its creators) and ``audience_share`` (share of the
        creators' followers inside the cluster)."""
        lam = self.expected_edges
        return {"expected_edges": lam,
                "lift": self.edges / lam if lam > 0 else math.inf,
                "background_density": self.background_density,
                "density_lift": (self.density / self.background_density if self.background_density
                                 else math.inf),
                "log10_p": _log10_tail(self.edges, lam), **self.test}


def _log10_tail(k: int, lam: float) -> float:
    """log10 P[Poisson(lam) >= k]; where that underflows, the log10 of P[X = k] (a bound:
    the tail is at least that likely), so the JSON never holds -Infinity."""
    from scipy.stats import poisson

    if lam <= 0 or k <= 0:
        return 0.0
    out = float(poisson.logsf(k - 1, lam))
    if not math.isfinite(out):
        out = float(poisson.logpmf(k, lam))
    return out / math.log(10)


@dataclass
class FraudReport:
    """What :func:`fraud` found; :meth:`to_dict` is the stable JSON form."""

    graph: Any
    clusters: list[Cluster]
    kinds: dict[str, np.ndarray]          # kind -> bool mask over accounts (kinds that ran)
    creator_idx: np.ndarray               # creators listed in the report
    creator_counts: np.ndarray            # (len(creator_idx), len(KINDS) + 1)
    cluster_hits: dict[int, dict[int, int]]
    spikes: dict[int, list[dict]]         # creator internal id -> spikes
    lockstep_groups: list[dict]
    pods: list[dict] = field(default_factory=list)  # engagement pods (kolgraph.fraud.pods)
    bot_scores: Any = None                # pandas DataFrame, score and logit per account (signals._bot_scores)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    creators_total: int = 0

    @property
    def flagged(self) -> np.ndarray:
        """Bool per account: flagged by at least one kind."""
        out = np.zeros(self.graph.n_accounts, bool)
        for mask in self.kinds.values():
            out |= mask
        return out

    def cluster_of(self) -> np.ndarray:
        """Per account: the id of its cluster, -1 when in none."""
        out = np.full(self.graph.n_accounts, -1, np.int64)
        for c in self.clusters:
            out[c.followers] = c.id
        return out

    def to_dict(self, max_members: int | None = 1000) -> dict:
        """JSON-ready report. Keys (stable): ``clusters``, ``creators``, ``spikes``,
        ``lockstep_groups``, ``pods``, ``flagged``, ``skipped``, ``warnings``, ``params``,
        ``timings``.

        ``max_members`` caps the follower ids listed per cluster/group/pod (None: all);
        ``followers_count`` (``accounts_count``) always gives the full size.
        """
        g = self.graph
        clusters = []
        for c in self.clusters:
            fol = c.followers if max_members is None else c.followers[:max_members]
            order = np.argsort(-c.fingerprint_hits, kind="stable")
            clusters.append({
                "id": c.id, "followers": g.external(fol), "followers_count": len(c.followers),
                "creators": g.external(c.creators), "creators_count": len(c.creators),
                "edges": c.edges, "density": c.density, "score": c.score,
                "significance": c.significance(),
                "fingerprint": [{"id": i, "followers": int(h)} for i, h in zip(
                    g.external(c.fingerprint[order]), c.fingerprint_hits[order], strict=True)],
            })
        creators = []
        quality = self.engagement_quality(self.creator_idx)
        for row, v in enumerate(self.creator_idx.tolist()):
            counts = self.creator_counts[row]
            followers = int(g.in_degree[v])
            flagged = int(counts[-1])
            hits = self.cluster_hits.get(v, {})
            creators.append({
                "id": g.external([v])[0], "followers": followers,
                "audience_quality": 1.0 - flagged / followers if followers else 1.0,
                "flagged_followers": flagged,
                "suspicious": {k: int(counts[i]) for i, k in enumerate(KINDS) if k in self.kinds},
                "clusters": [{"id": cid, "followers": n} for cid, n in sorted(hits.items())],
                "real_reach": followers - flagged,
                "spikes": self.spikes.get(v, []),
                "engagement": quality[row],
            })
        groups = [{**grp, "followers": g.external(grp["followers"] if max_members is None
                                                   else grp["followers"][:max_members]),
                   "creators": g.external(grp["creators"])} for grp in self.lockstep_groups]
        flagged = self.flagged
        return {
            "clusters": clusters,
            "creators": creators,
            "creators_total": self.creators_total,
            "spikes": sum(len(s) for s in self.spikes.values()),
            "lockstep_groups": groups,
            "pods": pods_json(g, self.pods, max_members),
            "flagged": {"accounts": int(flagged.sum()),
                        "by_kind": {k: int(m.sum()) for k, m in self.kinds.items()}},
            "skipped": list(self.skipped),
            "warnings": list(self.warnings),
            "params": dict(self.params),
            "timings": dict(self.timings),
        }

    def creator(self, account) -> dict:
        """The ``creators`` entry of :meth:`to_dict` for any account, listed or not: its
        followers flagged by each kind, the clusters hitting it, its real reach and spikes.
        (The service answers per-creator queries from one cached report this way.)"""
        g = self.graph
        v = int(g.index([account])[0])
        bits = _flag_bits(self.kinds, g.n_accounts)
        counts = _k.flag_counts(np.asarray(g.in_indptr), np.asarray(g.in_indices),
                                np.array([v], np.int64), bits, len(KINDS))[0]
        hits = {}
        for c in self.clusters:
            pos = np.flatnonzero(c.fingerprint == v)
            if len(pos):
                hits[c.id] = int(c.fingerprint_hits[pos[0]])
        spikes = self.spikes.get(v)
        if spikes is None and g.followed_at is not None:
            spikes = spike_evidence(g, growth_spikes(g, np.array([v], np.int64), z=self.params["spike_z"],
                                                     min_gain=self.params["spike_min_gain"]),
                                    self.kinds).get(v, [])
        followers, flagged = int(g.in_degree[v]), int(counts[-1])
        return {"id": g.external([v])[0], "followers": followers,
                "audience_quality": 1.0 - flagged / followers if followers else 1.0,
                "flagged_followers": flagged,
                "suspicious": {k: int(counts[i]) for i, k in enumerate(KINDS) if k in self.kinds},
                "clusters": [{"id": cid, "followers": n} for cid, n in sorted(hits.items())],
                "real_reach": followers - flagged, "spikes": spikes or [],
                "engagement": self.engagement_quality(np.array([v], np.int64))[0]}

    def engagement_quality(self, idx: np.ndarray) -> list[dict | None]:
        """Per creator (internal ids): its fans' interactions, those by accounts this review
        flagged (pod members included) and by pod members, and the authentic share
        (:func:`kolgraph.fraud.pods.engagement_quality`); None when the store has no
        interactions."""
        if self.graph.interactions is None:
            return [None] * len(idx)
        return engagement_quality(self.graph, idx, self.flagged, self.kinds.get("pod"))

    # --- evidence -------------------------------------------------------------------------
    def reasons(self) -> dict[int, list[str]]:
        """Per flagged account (internal id): the reasons, in words."""
        g = self.graph
        out: dict[int, list[str]] = {}
        for c in self.clusters:
            for a in c.followers.tolist():
                out.setdefault(a, []).append(
                    f"cluster {c.id}: follows {len(c.creators)} creators in lockstep with "
                    f"{len(c.followers) - 1} others (density {c.density:.2f})")
        for grp in self.lockstep_groups:
            for a in grp["followers"].tolist():
                out.setdefault(a, []).append(
                    f"lockstep group {grp['id']}: followed {len(grp['creators'])} creators within "
                    f"{self.params['lockstep_window']} s windows with {grp['followers_count'] - 1} others")
        for pod in self.pods:
            for a in pod["accounts"].tolist():
                out.setdefault(a, []).append(
                    f"engagement pod {pod['id']}: interacted on {len(pod['posts'])} posts of "
                    f"{len(pod['creators'])} creators within {self.params['pod_window']} s "
                    f"windows with {pod['accounts_count'] - 1} others")
        if "bot_score" in self.kinds and self.bot_scores is not None:
            bs = self.bot_scores
            bots = np.flatnonzero(self.kinds["bot_score"])
            for a, why in zip(bots.tolist(), bot_reasons(g, bots, bs), strict=True):
                out.setdefault(a, []).append(f"bot score {bs['score'].iat[a]:.2f} ({why})")
        if "mass_following" in self.kinds:
            following = _following(g)
            for a in np.flatnonzero(self.kinds["mass_following"]).tolist():
                out.setdefault(a, []).append(f"mass following: follows {int(following[a]):,} accounts")
        return out

    def flagged_table(self) -> pa.Table:
        """Flagged accounts: ``id``, one boolean column per kind, ``cluster``, ``reasons``."""
        flagged = np.flatnonzero(self.flagged)
        reasons = self.reasons()
        cluster_of = self.cluster_of()
        cols = {"id": pa.array(self.graph.external(flagged))}
        for k, mask in self.kinds.items():
            cols[k] = pa.array(mask[flagged])
        cols["cluster"] = pa.array(cluster_of[flagged])
        cols["reasons"] = pa.array(["; ".join(reasons.get(a, [])) for a in flagged.tolist()], pa.string())
        return pa.table(cols)

    def clusters_table(self) -> pa.Table:
        """One row per cluster member: ``cluster``, ``id``, plus the cluster's size and density."""
        rows_c, rows_a = [], []
        for c in self.clusters:
            rows_c.append(np.full(len(c.followers), c.id))
            rows_a.append(c.followers)
        idx = np.concatenate(rows_a) if rows_a else np.zeros(0, np.int64)
        cid = np.concatenate(rows_c) if rows_c else np.zeros(0, np.int64)
        return pa.table({"cluster": pa.array(cid, pa.int64()), "id": pa.array(self.graph.external(idx))})

    def export(self, directory: str | Path, raw: bool = False) -> dict[str, str]:
        """Write ``report.json``, ``clusters.csv``, ``cluster_members.csv`` and
        ``flagged_accounts.csv`` into ``directory``; returns name -> path. Text cells
        starting like a spreadsheet formula get a leading ``'`` unless ``raw``."""
        import pyarrow.csv as pacsv

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        written = {}
        full = self.to_dict(max_members=None)
        path = d / "report.json"
        path.write_text(json.dumps(full, indent=2, default=_json_default))
        written["json"] = str(path)
        summary = pa.table({
            "cluster": [c["id"] for c in full["clusters"]],
            "followers": [c["followers_count"] for c in full["clusters"]],
            "creators": [" ".join(map(str, c["creators"])) for c in full["clusters"]],
            "edges": [c["edges"] for c in full["clusters"]],
            "density": [c["density"] for c in full["clusters"]],
            "score": [c["score"] for c in full["clusters"]],
            "lift": [c["significance"]["lift"] for c in full["clusters"]],
            "fingerprint": [" ".join(f"{f['id']}:{f['followers']}" for f in c["fingerprint"])
                            for c in full["clusters"]],
        })
        for name, table in (("clusters", summary), ("cluster_members", self.clusters_table()),
                            ("flagged_accounts", self.flagged_table())):
            path = d / f"{name}.csv"
            pacsv.write_csv(table if raw else csv_safe(table), path)
            written[name] = str(path)
        return written

    def write_flags(self) -> dict:
        """Write the boolean account column ``flagged`` into the graph's store (atomically).

        The reach engine's ``exclude_flagged`` reads it. Returns counts.
        """
        return write_flags(self.graph, self.flagged)

    def html(self, path: str | Path, creator=None) -> Path:
        """A self-contained HTML report for one creator (default: the first listed)."""
        from kolgraph.fraud_report import creator_html

        return creator_html(self, path, creator)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_flags(g, flagged: np.ndarray, column: str = "flagged") -> dict:
    """Set the boolean account column ``column`` and rewrite the store atomically.

    The store is rewritten through :func:`kolgraph.store.rewrite` (a temporary
    directory swapped into place), keeping its truth tables and manifest extras,
    so a failure leaves the old store intact.
    """
    if g.path is None:
        raise InputError("write_flags needs a graph opened from a store (kolgraph.open); "
                         "this one lives only in memory")
    flagged = np.asarray(flagged, bool)
    if flagged.shape != (g.n_accounts,):
        raise InputError(f"flagged must have one value per account ({g.n_accounts:,}), got {flagged.shape}")
    g.set_account_column(column, flagged)
    rewrite(g)
    return {"store": str(g.path), "column": column, "flagged": int(flagged.sum()),
            "accounts": g.n_accounts}
