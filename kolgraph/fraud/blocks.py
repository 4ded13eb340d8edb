"""Dense blocks of the follower x creator graph: Fraudar's global peel and the co-following
stage seeded from creator pairs sharing too many followers."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from kolgraph.fraud.report import Cluster
from kolgraph.kernels import cofollow as _kc
from kolgraph.kernels import fraud as _k
from kolgraph.progress import SILENT, Progress


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
    search = _BlockSearch(cols, bipartite(g, cols), min_lift=min_lift, min_density=min_density,
                          min_followers=min_followers, min_creators=min_creators, c=c,
                          expand=expand)
    if search.e == 0:
        return [], search.info
    with progress.task("peeling dense blocks", total=max_blocks + 1) as task:
        whole = (search.indptr, search.indices, search.col_indptr, search.col_rows,
                 search.col_pos, None, None)
        search.peel_into_clusters(whole, np.ones(search.e, bool), max_blocks, "global", task)
        if co_following:
            search.seeded_stage()
        task.advance()
    return search.clusters, search.info


class _BlockSearch:
    """One run of :func:`dense_blocks`: the bipartite graph, the clusters kept so far and the
    followers they took (a follower joins one cluster at most)."""

    def __init__(self, cols: np.ndarray, bip: tuple, *, min_lift: float, min_density: float,
                 min_followers: int, min_creators: int, c: float, expand: float):
        self.cols = cols
        (self.row_account, self.indptr, self.indices, self.col_indptr, self.col_rows,
         self.col_pos) = bip
        self.m, self.n, self.e = len(self.row_account), len(cols), len(self.indices)
        self.info: dict[str, Any] = {"rows": self.m, "columns": self.n, "edges": self.e,
                                     "blocks": []}
        self.min_lift, self.min_density, self.c, self.expand = min_lift, min_density, c, expand
        self.min_followers, self.min_creators = min_followers, min_creators
        if self.e == 0:
            return
        self.background = self.e / (self.m * self.n)
        self.row_deg = np.diff(self.indptr)
        self.col_deg = np.diff(self.col_indptr)
        self.taken = np.zeros(self.m, bool)  # followers already in a cluster
        self.clusters: list[Cluster] = []

    def keep_block(self, rows, cols_in_block, score, edges, stage) -> None:
        """Record a block (row and column indices); keep it as a cluster when significant
        (expanded, minus taken rows). Masks over all rows are built for kept blocks only."""
        e, m, n = self.e, self.m, self.n
        n_rows, n_cols = len(rows), len(cols_in_block)
        col_sum = float(self.col_deg[cols_in_block].sum())
        expected = float(self.row_deg[rows].sum()) * col_sum / e
        density = edges / (n_rows * n_cols)
        lift = edges / expected if expected > 0 else math.inf
        share = edges / col_sum
        self.info["blocks"].append({"stage": stage, "followers": n_rows, "creators": n_cols,
                                    "score": float(score), "density": density, "lift": lift,
                                    "audience_share": share})
        if stage == "co-following":  # see seeded_stage
            significant = (n_cols >= _SEED_MIN_CREATORS and
                           (lift >= self.min_lift or
                            (share >= _OWNED_SHARE and lift >= _OWNED_LIFT * self.min_lift)))
        else:
            significant = lift >= self.min_lift
        if (n_rows < self.min_followers or n_cols < self.min_creators
                or density < self.min_density or not significant):
            return
        row_in = np.zeros(m, bool)
        row_in[rows] = True
        col_in = np.zeros(n, bool)
        col_in[cols_in_block] = True
        if self.expand <= 1:
            need = max(2, math.ceil(self.expand * n_cols))
            row_in |= _k.expand_block(self.col_indptr, self.col_rows, m, col_in, need)
        row_in &= ~self.taken
        if row_in.sum() < self.min_followers:
            return
        edges = int(_k.count_block(self.indptr, self.indices, row_in, col_in))
        expected = float(self.row_deg[row_in].sum()) * col_sum / e
        self.taken[:] |= row_in
        hits = _k.fingerprint(self.indptr, self.indices, row_in, n)
        fp = np.flatnonzero(hits)
        self.clusters.append(Cluster(
            id=len(self.clusters), followers=self.row_account[row_in].astype(np.int64),
            creators=self.cols[col_in], edges=edges, score=float(score), expected_edges=expected,
            background_density=self.background, fingerprint=self.cols[fp],
            fingerprint_hits=hits[fp], stage=stage))

    def peel_into_clusters(self, sub: tuple, alive: np.ndarray, n_blocks: int, stage: str,
                           task=None) -> None:
        """Peel ``n_blocks`` blocks of the (sub)graph ``sub``; keep the significant ones.
        Peels of the whole graph (no row map) advance ``task``."""
        s_indptr, s_indices, s_cptr, s_crows, s_cpos, row_map, col_map = sub
        for _ in range(n_blocks):
            local_r, local_c, score, _ = _k.peel(s_indptr, s_indices, s_cptr, s_crows, s_cpos,
                                                 alive, self.c)
            if row_map is None:
                task.advance()
            if not local_r.any():
                return
            edges = int(_k.take_block(s_indptr, s_indices, alive, local_r, local_c))
            rows, block_cols = np.flatnonzero(local_r), np.flatnonzero(local_c)
            if row_map is not None:
                rows, block_cols = row_map[rows], col_map[block_cols]
            self.keep_block(rows, block_cols, score, edges, stage)

    def seeded_stage(self) -> None:
        """Lockstep blocks grown from significant creator pairs (:func:`_seed_pairs`)."""
        indptr, indices, col_indptr, col_rows = (self.indptr, self.indices, self.col_indptr,
                                                 self.col_rows)
        m, e, taken, row_deg, col_deg = self.m, self.e, self.taken, self.row_deg, self.col_deg
        col_ok = (col_deg >= _PAIR_MIN) & (col_deg <= max(_MAX_COL_SHARE * m, _PAIR_MIN))
        seed_a, seed_b = _seed_pairs(indptr, indices, col_indptr, col_rows, m, col_deg, col_ok)
        self.info["seed_pairs"] = len(seed_a)
        rp, rows, cp, bcols, _ = _kc.seeded_blocks(indptr, indices, col_indptr, col_rows, ~taken,
                                                  col_ok, seed_a, seed_b, _RHO, _MAX_ITER)
        col_local = np.full(self.n, -1, np.int64)
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
            if len(block_rows) < self.min_followers:
                continue
            s_cptr, s_crows, s_cpos = _k.transpose(s_indptr, s_indices, len(block_cols), 1)
            self.peel_into_clusters(
                (s_indptr, s_indices, s_cptr, s_crows, s_cpos, block_rows, block_cols),
                np.ones(len(s_indices), bool), 1, "co-following")


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

