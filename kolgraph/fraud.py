"""Fraud review: lockstep follower clusters, growth spikes, audience quality and real reach.

:func:`fraud` (``g.fraud(...)``) runs, on a :class:`~kolgraph.FollowerGraph`:

1. **Dense blocks** (Fraudar, Hooi et al. KDD 2016) in the follower x creator
   graph, camouflage-resistant column weights ``1 / log(followers + c)``; after
   each block its edges are removed and the peeling repeats. A block is kept
   as a *cluster* when it is dense and holds far more edges than its followers'
   and creators' degrees predict (see :func:`dense_blocks`).
2. **Temporal lockstep** (CopyCatch-style, when the graph has ``followed_at``):
   followers that followed at least ``lockstep_m`` creators inside hot windows of
   ``lockstep_window`` seconds (see :mod:`kolgraph.kernels.fraud`).
3. **Growth spikes** (with ``followed_at``): days a creator gained far more
   followers than its median day (median/MAD baseline).
4. **Per account**: bot score from the profile attributes
   (:func:`kolgraph.score_accounts`, when the graph has account attributes and
   the module is available) and mass following (following > ``mass_following``).
5. **Per creator**: suspicious followers by kind, audience quality (share of
   followers not flagged), the clusters hitting it, real reach (followers not
   flagged).

Every flag carries its reason (:meth:`FraudReport.flagged_table`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa

from kolgraph.exceptions import InputError
from kolgraph.kernels import cofollow as _kc
from kolgraph.kernels import fraud as _k
from kolgraph.kernels import lockstep as _kl
from kolgraph.progress import SILENT, Progress

KINDS = ("cluster", "lockstep", "bot_score", "mass_following")
_DAY = 86_400


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

    @property
    def density(self) -> float:
        cells = len(self.followers) * len(self.creators)
        return self.edges / cells if cells else 0.0

    def significance(self) -> dict:
        """The block against the background: edges expected from the degrees (``lift``), the
        graph's overall density (``density_lift``) and the Poisson tail ``log10_p`` of seeing
        that many edges where ``expected_edges`` were expected (for one fixed block; the
        search over blocks makes true p-values larger)."""
        lam = self.expected_edges
        return {"expected_edges": lam,
                "lift": self.edges / lam if lam > 0 else math.inf,
                "background_density": self.background_density,
                "density_lift": (self.density / self.background_density if self.background_density
                                 else math.inf),
                "log10_p": _log10_tail(self.edges, lam)}


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
    bot_scores: Any = None                # pandas DataFrame from score_accounts, aligned to accounts
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
        ``lockstep_groups``, ``flagged``, ``skipped``, ``warnings``, ``params``, ``timings``.

        ``max_members`` caps the follower ids listed per cluster/group (None: all);
        ``followers_count`` always gives the full size.
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
            spikes = growth_spikes(g, np.array([v], np.int64), z=self.params["spike_z"],
                                   min_gain=self.params["spike_min_gain"]).get(v, [])
        followers, flagged = int(g.in_degree[v]), int(counts[-1])
        return {"id": g.external([v])[0], "followers": followers,
                "audience_quality": 1.0 - flagged / followers if followers else 1.0,
                "flagged_followers": flagged,
                "suspicious": {k: int(counts[i]) for i, k in enumerate(KINDS) if k in self.kinds},
                "clusters": [{"id": cid, "followers": n} for cid, n in sorted(hits.items())],
                "real_reach": followers - flagged, "spikes": spikes or []}

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
        if "bot_score" in self.kinds and self.bot_scores is not None:
            bs = self.bot_scores
            for a in np.flatnonzero(self.kinds["bot_score"]).tolist():
                out.setdefault(a, []).append(f"bot score {bs['score'].iat[a]:.2f} ({bs['reasons'].iat[a]})")
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

    def export(self, directory: str | Path) -> dict[str, str]:
        """Write ``report.json``, ``clusters.csv``, ``cluster_members.csv`` and
        ``flagged_accounts.csv`` into ``directory``; returns name -> path."""
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
            pacsv.write_csv(table, path)
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


def _following(g) -> np.ndarray:
    """Follows per account: the ``following`` attribute where given, else the graph out-degree."""
    out = np.asarray(g.out_degree, dtype=np.int64).copy()
    table = g.accounts if g._raw_accounts() is not None else None
    if table is not None and "following" in table.column_names:
        col = table.column("following").to_numpy(zero_copy_only=False)
        given = ~np.isnan(col.astype(np.float64))
        out[given] = np.maximum(out[given], col[given].astype(np.int64))
    return out


# --- detection --------------------------------------------------------------------------------
def _columns(g) -> np.ndarray:
    """Internal ids of the creators (the creator table, else every followed account)."""
    creators = g.creators
    if creators is not None and creators.num_rows:
        return np.sort(creators.column("idx").to_numpy().astype(np.int64))
    return np.flatnonzero(g.in_degree > 0).astype(np.int64)


def bipartite(g, cols: np.ndarray):
    """Follower x creator CSR both ways: ``(row_account, indptr, indices, col_indptr, col_rows, col_pos)``."""
    col_of = np.full(g.n_accounts, -1, np.int32)
    col_of[cols] = np.arange(len(cols), dtype=np.int32)
    row_account, indptr, indices = _k.bipartite_rows(np.asarray(g.out_indptr), np.asarray(g.out_indices),
                                                     col_of)
    col_indptr, col_rows, col_pos = _k.transpose(indptr, indices, len(cols), numba.get_num_threads())
    return row_account, indptr, indices, col_indptr, col_rows, col_pos


def dense_blocks(g, *, cols: np.ndarray | None = None, max_blocks: int = 10, min_lift: float = 30.0,
                 min_density: float = 0.3, min_followers: int = 10, min_creators: int = 2,
                 c: float = 5.0, expand: float = 0.5, co_following: bool = True,
                 progress: Progress = SILENT) -> tuple[list[Cluster], dict]:
    """Fraudar blocks of the follower x creator graph; the significant ones become clusters.

    Peels ``max_blocks`` blocks, each time removing the previous block's edges (as the
    reference implementation's ``detectMultiple``). A block is kept when it has at least
    ``min_followers`` followers and ``min_creators`` creators, density at least
    ``min_density`` and *lift* at least ``min_lift``: its edges over the number expected
    if its followers' follows landed on creators in proportion to their follower counts
    (the configuration-model background, which keeps a core of heavy users of popular
    creators, dense by Fraudar's measure, from counting as lockstep).

    A kept block is then *expanded*: every follower following at least ``expand`` of its
    creators (and at least two) joins it. Bought accounts with many camouflage follows tend
    to be peeled into a core of heavy users together with their farm's creators; this
    brings them back to their farm.

    With ``co_following`` a second stage grows lockstep blocks from seeds: creator pairs
    sharing more followers than chance allows (Poisson tail below 1% over all eligible
    pairs, Bonferroni; farms make their customers' audiences overlap), most significant
    first. From a seed's common followers the block alternates, as CopyCatch does without
    times, between the creators followed by at least half of its followers and the
    followers following at least half (and two) of its creators, until it settles
    (:func:`kolgraph.kernels.fraud.seeded_blocks`). Followers with fewer than twice the
    follows into the block's creators that their degree gives by chance leave it (heavy
    users of a small graph hit them by chance, and their degrees would swamp the block's
    expectation); Fraudar then peels the block's densest core, which is kept by the rules
    above plus two for this stage: at least three creators (one pair of creators sharing
    an audience is common), and lift at least
    ``min_lift`` *or* at least ``2/3 min_lift`` when the block holds at least half of its
    creators' audiences (bought followers outnumbering a small creator's own; on small
    graphs a farm's lift is capped near ``edges / (farm size x fake degree)``).
    Degree-matched farms hide from the global peel behind cores of heavy users of popular
    creators; this stage finds them.

    Parameters
    ----------
    g : FollowerGraph
    cols : internal ids of the creators (default: the creator table, else all followed accounts)
    max_blocks : blocks to peel
    min_lift, min_density, min_followers, min_creators : which blocks are kept
    c : the constant in the column weights ``1 / log(followers + c)``
    expand : share of a cluster's creators a follower must follow to join it (above 1: no expansion)
    co_following : run the co-following stage

    Returns
    -------
    (clusters, info) : the kept clusters and facts about the run (bipartite size, blocks
        peeled, every block's size, score, density, lift and audience share).
    """
    cols = _columns(g) if cols is None else np.asarray(cols, np.int64)
    row_account, indptr, indices, col_indptr, col_rows, col_pos = bipartite(g, cols)
    m, n, e = len(row_account), len(cols), len(indices)
    info: dict[str, Any] = {"rows": m, "columns": n, "edges": e, "blocks": []}
    if e == 0:
        return [], info
    background = e / (m * n)
    row_deg = np.diff(indptr)
    col_deg = np.diff(col_indptr)
    taken = np.zeros(m, bool)  # followers already in a cluster
    clusters: list[Cluster] = []

    def keep_block(rows, cols_in_block, score, edges, stage) -> None:
        """Record a block (row and column indices); keep it as a cluster when significant
        (expanded, minus taken rows). Masks over all rows are built for kept blocks only."""
        n_rows, n_cols = len(rows), len(cols_in_block)
        col_sum = float(col_deg[cols_in_block].sum())
        expected = float(row_deg[rows].sum()) * col_sum / e
        density = edges / (n_rows * n_cols)
        lift = edges / expected if expected > 0 else math.inf
        share = edges / col_sum
        info["blocks"].append({"stage": stage, "followers": n_rows, "creators": n_cols,
                               "score": float(score), "density": density, "lift": lift,
                               "audience_share": share})
        if stage == "co-following":  # see seeded_stage
            significant = (n_cols >= _SEED_MIN_CREATORS and
                           (lift >= min_lift or (share >= _OWNED_SHARE and lift >= _OWNED_LIFT * min_lift)))
        else:
            significant = lift >= min_lift
        if n_rows < min_followers or n_cols < min_creators or density < min_density or not significant:
            return
        row_in = np.zeros(m, bool)
        row_in[rows] = True
        col_in = np.zeros(n, bool)
        col_in[cols_in_block] = True
        if expand <= 1:
            need = max(2, math.ceil(expand * n_cols))
            row_in |= _k.expand_block(col_indptr, col_rows, m, col_in, need)
        row_in &= ~taken
        if row_in.sum() < min_followers:
            return
        edges = int(_k.count_block(indptr, indices, row_in, col_in))
        expected = float(row_deg[row_in].sum()) * col_sum / e
        taken[:] |= row_in
        hits = _k.fingerprint(indptr, indices, row_in, n)
        fp = np.flatnonzero(hits)
        clusters.append(Cluster(
            id=len(clusters), followers=row_account[row_in].astype(np.int64),
            creators=cols[col_in], edges=edges, score=float(score), expected_edges=expected,
            background_density=background, fingerprint=cols[fp], fingerprint_hits=hits[fp],
            stage=stage))

    def peel_into_clusters(sub: tuple, alive: np.ndarray, n_blocks: int, stage: str) -> None:
        """Peel ``n_blocks`` blocks of the (sub)graph ``sub``; keep the significant ones."""
        s_indptr, s_indices, s_cptr, s_crows, s_cpos, row_map, col_map = sub
        for _ in range(n_blocks):
            local_r, local_c, score, _ = _k.peel(s_indptr, s_indices, s_cptr, s_crows, s_cpos, alive, c)
            if row_map is None:
                task.advance()
            if not local_r.any():
                return
            edges = int(_k.take_block(s_indptr, s_indices, alive, local_r, local_c))
            rows, block_cols = np.flatnonzero(local_r), np.flatnonzero(local_c)
            if row_map is not None:
                rows, block_cols = row_map[rows], col_map[block_cols]
            keep_block(rows, block_cols, score, edges, stage)

    def seeded_stage() -> None:
        """Lockstep blocks grown from significant creator pairs (:func:`_seed_pairs`)."""
        col_ok = (col_deg >= _PAIR_MIN) & (col_deg <= max(_MAX_COL_SHARE * m, _PAIR_MIN))
        seed_a, seed_b = _seed_pairs(indptr, indices, col_indptr, col_rows, m, col_deg, col_ok)
        info["seed_pairs"] = len(seed_a)
        rp, rows, cp, bcols, _ = _kc.seeded_blocks(indptr, indices, col_indptr, col_rows, ~taken, col_ok,
                                                  seed_a, seed_b, _RHO, _MAX_ITER)
        col_local = np.full(n, -1, np.int64)
        for i in range(len(rp) - 1):
            block_rows = rows[rp[i]:rp[i + 1]]
            block_rows = block_rows[~taken[block_rows]]  # an earlier seed's cluster may have taken some
            block_cols = bcols[cp[i]:cp[i + 1]]
            col_local[block_cols] = np.arange(len(block_cols))
            s_indptr, s_indices = _kc.block_subgraph(indptr, indices, block_rows, col_local)
            # heavy users following much of the graph hit the block's creators by chance:
            # not lockstep, and their degrees would hide the block's lift
            chance = row_deg[block_rows] * (col_deg[block_cols].sum() / e)
            lockstep = np.diff(s_indptr) >= _ROW_LIFT * chance
            if not lockstep.all():
                block_rows = block_rows[lockstep]
                s_indptr, s_indices = _kc.block_subgraph(indptr, indices, block_rows, col_local)
            col_local[block_cols] = -1
            if len(block_rows) < min_followers:
                continue
            s_cptr, s_crows, s_cpos = _k.transpose(s_indptr, s_indices, len(block_cols), 1)
            peel_into_clusters((s_indptr, s_indices, s_cptr, s_crows, s_cpos, block_rows, block_cols),
                               np.ones(len(s_indices), bool), 1, "co-following")

    with progress.task("peeling dense blocks", total=max_blocks + 1) as task:
        whole = (indptr, indices, col_indptr, col_rows, col_pos, None, None)
        peel_into_clusters(whole, np.ones(e, bool), max_blocks, "global")
        if co_following:
            seeded_stage()
        task.advance()
    return clusters, info


_MAX_PAIR_ROW = 200      # rows following more eligible creators skip the pair count
_MAX_COL_SHARE = 0.05    # creators followed by more than this share of rows are not farm candidates
_PAIR_MIN = 5            # common followers a seed pair needs at least
_PAIR_ALPHA = 0.01       # seed pairs: family-wise error rate (Bonferroni over all eligible pairs)
_RHO = 0.5               # a seeded block's followers follow this share of its creators, and back
_MAX_ITER = 20
_ROW_LIFT = 2.0          # a seeded block keeps followers with at least this many times the follows
                         # into its creators that their degree gives by chance
_SEED_MIN_CREATORS = 3   # seeded blocks span at least this many creators (CopyCatch's m)
_OWNED_SHARE = 0.5       # seeded blocks holding this share of their creators' audiences ...
_OWNED_LIFT = 2 / 3      # ... are kept from this fraction of min_lift on


def _seed_pairs(indptr, indices, col_indptr, col_rows, m, col_deg, col_ok):
    """Creator pairs sharing significantly more followers than chance, most significant first.

    Chance is Poisson with mean ``deg(a) deg(b) / rows``; a pair is significant when its
    tail probability is below ``_PAIR_ALPHA`` over the number of eligible pairs (Bonferroni).
    Followers of more than ``_MAX_PAIR_ROW`` eligible creators are not counted.
    """
    from scipy.stats import poisson

    n_ok = int(col_ok.sum())
    log_thr = math.log(_PAIR_ALPHA / max(n_ok * (n_ok - 1) / 2, 1))
    k = _kc.eligible_degree(indptr, indices, col_ok)
    row_ok = (k >= 2) & (k <= _MAX_PAIR_ROW)
    a, b, cnt = _kc.candidate_pairs(indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg,
                                   float(m), _PAIR_MIN, log_thr, numba.get_num_threads())
    logp = poisson.logsf(cnt - 1, col_deg[a].astype(np.float64) * col_deg[b] / m)
    sig = logp < log_thr
    order = np.lexsort((b[sig], a[sig], logp[sig]))
    return a[sig][order], b[sig][order]


def lockstep_groups(g, cols: np.ndarray, *, window: int, n_min: int, m: int, burst: float
                    ) -> tuple[np.ndarray, list[dict]]:
    """Temporal lockstep followers (bool mask) and their groups (see :func:`kolgraph.kernels.fraud.lockstep`)."""
    hits, group = _kl.lockstep(np.asarray(g.in_indptr), np.asarray(g.in_indices), np.asarray(g.followed_at),
                              cols, g.n_accounts, int(window), int(n_min), int(m), float(burst))
    member = group >= 0
    groups = []
    if member.any():
        idx = np.flatnonzero(member)
        roots, inverse, sizes = np.unique(group[idx], return_inverse=True, return_counts=True)
        col_of = np.full(g.n_accounts, -1, np.int64)
        col_of[cols] = np.arange(len(cols))
        for gi, root in enumerate(roots.tolist()):
            if sizes[gi] < n_min:
                member[idx[inverse == gi]] = False
                continue
            fol = idx[inverse == gi]
            groups.append({"id": int(root), "followers": fol, "followers_count": int(len(fol)),
                           "creators": _common_creators(g, fol, cols, col_of, m)})
    return member, groups


def _common_creators(g, followers: np.ndarray, cols: np.ndarray, col_of: np.ndarray, m: int) -> np.ndarray:
    """Creators followed by at least half of a group (at least ``m`` shown even if fewer qualify)."""
    counts = np.zeros(len(cols), np.int64)
    for a in followers.tolist():
        j = col_of[g.following_idx(a)]
        counts[j[j >= 0]] += 1
    order = np.argsort(-counts, kind="stable")
    keep = order[(counts[order] * 2 >= len(followers)) | (np.arange(len(order)) < m)]
    keep = keep[counts[keep] > 0]
    return cols[keep]


def growth_spikes(g, cols: np.ndarray, *, z: float, min_gain: int) -> dict[int, list[dict]]:
    """Per creator (internal id): its spike days (ISO date, gain, baseline median, scale)."""
    ci, day, gain, base, scale = _kl.growth_spikes(np.asarray(g.in_indptr), np.asarray(g.followed_at),
                                                  cols, _DAY, float(z), int(min_gain))
    out: dict[int, list[dict]] = {}
    for i, d, gn, b, s in zip(ci.tolist(), day.tolist(), gain.tolist(), base.tolist(), scale.tolist(),
                              strict=True):
        out.setdefault(int(cols[i]), []).append({
            "date": time.strftime("%Y-%m-%d", time.gmtime(d * _DAY)), "gain": gn,
            "baseline": b, "scale": s})
    return out


def _bot_scores(g, skipped: list[str], warnings: list[str]):
    raw = g._raw_accounts()
    if raw is None or not set(raw.column_names) - {"flagged"}:  # a flags-only table has no profiles
        skipped.append("bot_score: the graph has no account attributes (ingest with --accounts)")
        return None
    try:
        from kolgraph import score_accounts
    except ImportError:
        skipped.append("bot_score: kolgraph.score_accounts is not available in this build")
        return None
    scores = score_accounts(g.accounts)
    if len(scores) != g.n_accounts:
        raise InputError(f"score_accounts returned {len(scores)} rows for {g.n_accounts} accounts")
    return scores.reset_index(drop=True)


def fraud(g, *, creators=None, top: int = 100, max_blocks: int = 10, min_lift: float = 30.0,
          min_density: float = 0.3, min_followers: int = 10, min_creators: int = 2, c: float = 5.0,
          expand: float = 0.5,
          lockstep_window: int = 6 * 3_600, lockstep_min: int = 10, lockstep_m: int = 3,
          lockstep_burst: float = 10.0, spike_z: float = 6.0, spike_min_gain: int = 20,
          bot_threshold: float = 0.9, mass_following: int = 1_500,
          progress: Progress = SILENT) -> FraudReport:
    """Fraud review of a follower graph: clusters, lockstep, spikes, bot signals, per creator.

    Parameters
    ----------
    g : FollowerGraph
    creators : external ids of the creators to report on (default: the ``top`` creators
        with the lowest audience quality among those with a flagged follower)
    top : how many creators to list when ``creators`` is None
    max_blocks, min_lift, min_density, min_followers, min_creators, c, expand : dense-block search, see
        :func:`dense_blocks`
    lockstep_window : seconds of a lockstep window (CopyCatch's Δt)
    lockstep_min : followers a window needs to count as hot
    lockstep_m : hot creators a follower needs to be in lockstep
    lockstep_burst : a hot window also holds this many times the creator's mean per-window count
    spike_z, spike_min_gain : a spike day gains at least ``spike_min_gain`` followers and
        ``median + spike_z * scale``
    bot_threshold : accounts with bot score at least this are flagged (0.9: a *high* score; the
        scorer's own 0.5 flags about 45% of the honest synthetic accounts, whose profiles often
        lack posts, avatar or bio)
    mass_following : accounts following more than this many are flagged

    Returns
    -------
    FraudReport

    Examples
    --------
    >>> from kolgraph.synth import generate
    >>> g, truth = generate(20_000, 200, 150_000, seed=3, farms=2)
    >>> rep = g.fraud()
    >>> len(rep.clusters) >= 1
    True
    >>> sorted(rep.to_dict())[:3]
    ['clusters', 'creators', 'creators_total']
    """
    for name, v in (("top", top), ("max_blocks", max_blocks), ("min_followers", min_followers),
                    ("min_creators", min_creators), ("lockstep_min", lockstep_min),
                    ("lockstep_m", lockstep_m), ("spike_min_gain", spike_min_gain)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise InputError(f"{name} must be a whole number of at least 1, got {v!r}")
    if not isinstance(lockstep_window, int | np.integer) or lockstep_window < 2:
        raise InputError(f"lockstep_window must be a whole number of seconds of at least 2, got {lockstep_window!r}")
    if not c > 1:
        raise InputError(f"c must be greater than 1 (weights 1/log(followers + c)), got {c!r}")
    params = {"max_blocks": max_blocks, "min_lift": min_lift, "min_density": min_density,
              "min_followers": min_followers,
              "min_creators": min_creators, "c": c, "expand": expand, "lockstep_window": int(lockstep_window),
              "lockstep_min": lockstep_min, "lockstep_m": lockstep_m, "lockstep_burst": lockstep_burst,
              "spike_z": spike_z, "spike_min_gain": spike_min_gain, "bot_threshold": bot_threshold,
              "mass_following": mass_following}
    skipped: list[str] = []
    warnings: list[str] = []
    timings: dict[str, float] = {}
    report_idx = None if creators is None else np.asarray(g.index(list(creators)), np.int64)
    cols = _columns(g)
    if g.creators is None:
        warnings.append("no creator table: every followed account is treated as a creator")

    t0 = time.perf_counter()
    clusters, info = dense_blocks(g, cols=cols, max_blocks=max_blocks, min_lift=min_lift,
                                  min_density=min_density, min_followers=min_followers,
                                  min_creators=min_creators, c=c, expand=expand, progress=progress)
    timings["dense_blocks_seconds"] = time.perf_counter() - t0
    params["bipartite"] = info
    kinds: dict[str, np.ndarray] = {}
    cl = np.zeros(g.n_accounts, bool)
    for cluster in clusters:
        cl[cluster.followers] = True
    kinds["cluster"] = cl

    groups: list[dict] = []
    spikes: dict[int, list[dict]] = {}
    if g.followed_at is None:
        skipped.append("lockstep and growth spikes: the graph has no followed_at times")
    else:
        t0 = time.perf_counter()
        kinds["lockstep"], groups = lockstep_groups(g, cols, window=lockstep_window, n_min=lockstep_min,
                                                    m=lockstep_m, burst=lockstep_burst)
        timings["lockstep_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        spikes = growth_spikes(g, cols if report_idx is None else report_idx, z=spike_z,
                               min_gain=spike_min_gain)
        timings["spikes_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bot = _bot_scores(g, skipped, warnings)
    if bot is not None:
        score = bot["score"].to_numpy(dtype=np.float64, na_value=0.0)
        kinds["bot_score"] = score >= bot_threshold
    kinds["mass_following"] = _following(g) > mass_following
    timings["account_signals_seconds"] = time.perf_counter() - t0

    bits = _flag_bits(kinds, g.n_accounts)
    t0 = time.perf_counter()
    idx = cols if report_idx is None else report_idx
    counts = _k.flag_counts(np.asarray(g.in_indptr), np.asarray(g.in_indices), idx, bits, len(KINDS))
    total = len(idx)
    if report_idx is None:  # the creators with the lowest audience quality, flagged followers first
        followers = np.asarray(g.in_degree)[idx].astype(np.float64)
        quality = 1.0 - counts[:, -1] / np.maximum(followers, 1.0)
        hit = counts[:, -1] > 0
        order = np.flatnonzero(hit)[np.lexsort((idx[hit], -counts[hit, -1], quality[hit]))][:top]
        idx, counts, total = idx[order], counts[order], int(hit.sum())
    cluster_hits: dict[int, dict[int, int]] = {}
    listed = np.zeros(g.n_accounts, bool)
    listed[idx] = True
    for cluster in clusters:
        fp_listed = listed[cluster.fingerprint]
        for v, h in zip(cluster.fingerprint[fp_listed].tolist(), cluster.fingerprint_hits[fp_listed].tolist(),
                        strict=True):
            cluster_hits.setdefault(v, {})[cluster.id] = int(h)
    timings["per_creator_seconds"] = time.perf_counter() - t0
    return FraudReport(graph=g, clusters=clusters, kinds=kinds, creator_idx=idx, creator_counts=counts,
                       cluster_hits=cluster_hits, spikes={v: s for v, s in spikes.items() if listed[v]},
                       lockstep_groups=groups, bot_scores=bot, skipped=skipped, warnings=warnings,
                       params=params, timings=timings, creators_total=total)


def _flag_bits(kinds: dict[str, np.ndarray], n: int) -> np.ndarray:
    """One uint8 per account, bit i set when flagged by ``KINDS[i]``."""
    bits = np.zeros(n, np.uint8)
    for i, k in enumerate(KINDS):
        if k in kinds:
            bits |= (kinds[k].astype(np.uint8) << i)
    return bits


# --- flags into the store ----------------------------------------------------------------------
def write_flags(g, flagged: np.ndarray, column: str = "flagged") -> dict:
    """Set the boolean account column ``column`` and rewrite the store atomically.

    The store is rewritten through :func:`kolgraph.store.write_store` (a temporary
    directory swapped into place), keeping its truth tables and manifest extras,
    so a failure leaves the old store intact.
    """
    from kolgraph.store import read_manifest, read_truth, write_store

    if g.path is None:
        raise InputError("write_flags needs a graph opened from a store (kolgraph.open); "
                         "this one lives only in memory")
    flagged = np.asarray(flagged, bool)
    if flagged.shape != (g.n_accounts,):
        raise InputError(f"flagged must have one value per account ({g.n_accounts:,}), got {flagged.shape}")
    manifest = read_manifest(g.path)
    truth = read_truth(g.path)
    truth = {k: (np.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in truth.items()}
    table = g._raw_accounts()
    col = pa.array(flagged)
    if table is None:
        table = pa.table({column: col})
    elif column in table.column_names:
        table = table.set_column(table.column_names.index(column), column, col)
    else:
        table = table.append_column(column, col)
    g._accounts_src = table
    g.__dict__.pop("accounts", None)
    standard = {"format", "format_version", "kolgraph_version", "created", "accounts", "edges",
                "creators", "id_kind", "report", "files"}
    extra = {k: v for k, v in manifest.items() if k not in standard}
    write_store(g, g.path, overwrite=True, truth=truth or None, extra_manifest=extra)
    return {"store": str(g.path), "column": column, "flagged": int(flagged.sum()),
            "accounts": g.n_accounts}
