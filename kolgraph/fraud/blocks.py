"""Dense blocks of the follower x creator graph: Fraudar's global peel and the co-following
stage seeded from creator pairs sharing too many followers."""

from __future__ import annotations

import functools
import math
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.fraud.report import Cluster
from kolgraph.kernels import cofollow as _kc
from kolgraph.kernels import csr as _csr
from kolgraph.kernels import fraud as _k
from kolgraph.progress import SILENT, Progress

ALPHA = 0.01                 # family-wise significance level of the block test
MIN_AUDIENCE_SHARE = 0.5     # a cluster holds at least this share of its creators' followers
CIRCLE_LIFT = 0.5            # creators following each other with this share of their followers' lift
                             # are a circle, not customers
_LAMBDA_FLOOR = 1e-12        # expectation of a block with no edges outside it


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
    transpose = _k.transpose if len(indices) < 2**31 else _k.transpose_wide
    col_indptr, col_rows, col_pos = transpose(indptr, indices, len(cols), numba.get_num_threads())
    return row_account, indptr, indices, col_indptr, col_rows, col_pos


# size: the docstring is the specification of the block test (docs/fraud.md quotes it)
def dense_blocks(g, *, cols: np.ndarray | None = None, max_blocks: int = 10,
                 min_lift: float | None = None, min_density: float = 0.1, min_followers: int = 10,
                 min_creators: int = 2, c: float = 5.0, expand: float = 0.25,
                 co_following: bool = True, alpha: float = ALPHA,
                 progress: Progress = SILENT, timings: dict | None = None
                 ) -> tuple[list[Cluster], dict]:
    """Candidate dense blocks of the follower x creator graph; the significant lockstep ones
    become clusters.

    **Candidates.** Fraudar peels ``max_blocks`` blocks, each time removing the previous
    block's edges (as the reference implementation's ``detectMultiple``). With
    ``co_following`` a second stage grows lockstep blocks from seeds: creator pairs sharing
    more followers than chance allows (Poisson tail below 1% over all eligible pairs,
    Bonferroni; farms make their customers' audiences overlap), most significant first.
    From a seed's common followers the block alternates, as CopyCatch does without times,
    between the creators followed by at least half of its followers and the followers
    following at least half (and two) of its creators, until it settles (then again at a
    quarter, from the seeds whose followers no cluster took)
    (:func:`kolgraph.kernels.cofollow.seeded_blocks`); followers with fewer than twice the
    follows into its creators that their degree gives by chance leave it, and Fraudar peels
    its densest core. Seeded candidates need at least three creators.

    **The test**, the same for every candidate:

    1. *Friends are not bought, and heavy users are not in lockstep.* Followers of the
       block whom one of its creators follows leave it (customers do not follow their
       bought followers back; friend circles and colleagues follow each other), as do
       followers already in a cluster, and followers whose share of follows into the
       block's creators is under twice the block's share of all creators
       (``_ROW_CONCENTRATION``: an account following a share of everybody follows small
       creators too, without being in lockstep with anyone).
    2. *Significance against the rest of the graph* (:func:`block_test`). With ``b`` the
       block's edges, ``S_r`` and ``S_c`` the degrees of its followers and creators in the
       follower x creator graph and ``E`` all its edges, the rest of the graph predicts
       ``lambda = (S_r - b) (S_c - b) / (E - b)`` edges between them: the configuration
       model on the degrees *without the block's own edges* (a farm owning most of its
       customers' audiences inflates their degrees; counting those edges in the expectation
       caps the lift of any block near ``E / S_r``, whatever its size). The p-value is the
       Poisson tail ``P[X >= b | lambda]``; the block is significant when it is below
       ``alpha / (m n C(m, R) C(n, C))`` for a block of ``R`` of the ``m`` followers and
       ``C`` of the ``n`` creators (:func:`scan_threshold`): a Bonferroni correction over
       every block the search could have returned (``alpha / (m n)`` per block size, shared
       by the blocks of that size), so the search itself cannot manufacture significance.
       One level: ``alpha`` = 0.01.
    3. *Owned audiences.* The block, after expansion (below), holds at least
       ``MIN_AUDIENCE_SHARE`` (half) of its creators' followers in the graph: a farm's customers are
       small accounts whose audiences are mostly bought; fan communities and heavy users
       of popular creators are a small part of those creators' audiences.

    4. *Circles are not customers.* A follower's *lift* is the share of its follows that go
       to the block's creators over the block's share of all creators; the block's
       ``follower_lift`` is that of its tested followers together. When at least three of
       its creators follow creators, their ``creator_lift`` (the same, for their follows of
       the block's other creators) is at least ``CIRCLE_LIFT`` (half) of the
       ``follower_lift``: the creators are members of the group as much as its followers
       are, a circle (friends, colleagues, a team, a follow-back ring), not a farm's
       customers, who are strangers to each other. A follower crawl cannot show whether the
       candidates follow their followers back, but it does show the candidates' follows of
       each other.

    Plus the size and density rules: at least ``min_followers`` followers and
    ``min_creators`` creators after step 1, density at least ``min_density`` (a farm's
    density is about its follow share, 0.3 or more; two farms peeled together halve it).

    A kept block is then *expanded*: every follower following at least ``expand`` of its
    creators (and at least three), not followed by one of them and not in another cluster,
    joins it.

    Parameters
    ----------
    g : FollowerGraph
    cols : internal ids of the creators (default: the creator table, else all followed accounts)
    max_blocks : blocks to peel
    min_lift : deprecated, ignored (with a warning): the lift thresholds were replaced by the
        test above; ``lift`` is still reported in each cluster's ``significance``
    min_density, min_followers, min_creators : size and density rules of the kept blocks
    c : the constant in the column weights ``1 / log(followers + c)``
    expand : share of a cluster's creators a follower must follow to join it (above 1: no expansion)
    co_following : run the co-following stage
    alpha : family-wise significance level of the test (Bonferroni over candidate blocks)
    timings : a dict to receive the seconds of each step (bipartite graph, seed pairs, global
        peel, co-following stage, and each co-following pass with its seeded-block kernel)

    Returns
    -------
    (clusters, info) : the kept clusters and facts about the run (bipartite size, ``alpha``,
        and every candidate's size, score, density and lift, and for those tested the share
        of its followers followed by its creators (``reciprocal``), the share left out as
        diffuse (``diffuse``), ``follower_lift``, ``creator_lift``, ``expected_excluded``,
        ``log10_p``, ``log10_threshold`` and ``audience_share``).
    """
    if min_lift is not None:
        warnings.warn("min_lift is deprecated and ignored: blocks are kept by a significance "
                      "test against the degrees without the block's own edges (see dense_blocks)",
                      DeprecationWarning, stacklevel=2)
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha!r}")
    clock = _Clock(timings)
    cols = _columns(g) if cols is None else np.asarray(cols, np.int64)
    search = _BlockSearch(g, cols, bipartite(g, cols), min_density=min_density,
                          min_followers=min_followers, min_creators=min_creators, c=c,
                          expand=expand)
    clock("blocks_bipartite_seconds")
    if search.e == 0:
        return [], search.info
    with progress.task("peeling dense blocks", total=max_blocks + 1) as task, \
            ThreadPoolExecutor(1) as beside:
        # the seed pairs do not depend on the global peel: counted beside it
        if co_following:
            search.info["seed_pairs"] = 0
            seeds = _beside(beside, search.seed_pairs)
        search.alpha = search.info["alpha"] = alpha
        whole = (search.indptr, search.indices, search.col_indptr, search.col_rows,
                 search.col_pos, None, None)
        search.peel_into_clusters(whole, np.ones(search.e, bool), max_blocks, "global", task)
        clock("blocks_global_peel_seconds")
        if co_following:
            (seed_a, seed_b), seconds = seeds.result()
            if timings is not None:
                timings["blocks_seed_pairs_seconds"] = seconds
            search.seeded_stage(seed_a, seed_b, timings)
        clock("blocks_co_following_seconds")
        task.advance()
    return search.clusters, search.info


def _timed(fn):
    t0 = time.perf_counter()
    return fn(), time.perf_counter() - t0


def _beside(pool: ThreadPoolExecutor, fn) -> Future:
    """``(fn(), its seconds)`` on ``pool``'s thread, or at once with one numba thread."""
    if numba.get_num_threads() > 1:
        return pool.submit(_timed, fn)
    done: Future = Future()
    done.set_result(_timed(fn))
    return done


class _Clock:
    """Seconds since the previous call, into ``timings[name]`` (nothing when ``timings`` is None)."""

    def __init__(self, timings: dict | None):
        self.timings, self.t = timings, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = now - self.t
        self.t = now


def scan_threshold(alpha: float, m: int, n: int, rows: int, cols: int) -> float:
    """``log10`` of the p-value a block of ``rows`` x ``cols`` of an ``m`` x ``n`` graph must
    beat: ``alpha / (m n C(m, rows) C(n, cols))``, a weighted Bonferroni over every block of
    the graph (``alpha / (m n)`` for each size, shared equally by the blocks of that size),
    so the family-wise error stays below ``alpha`` whichever blocks the search looks at."""
    from scipy.special import gammaln

    def log_choose(a: int, k: int) -> float:
        return float(gammaln(a + 1) - gammaln(k + 1) - gammaln(a - k + 1))

    ln = math.log(alpha) - math.log(m) - math.log(n) - log_choose(m, rows) - log_choose(n, cols)
    return ln / math.log(10)


def block_test(b: int, s_rows: float, s_cols: float, e: int) -> tuple[float, float]:
    """``(lambda, log10 p)``: the edges the rest of the graph predicts between a block's
    followers and creators, ``(s_rows - b)(s_cols - b)/(e - b)`` (degrees without the
    block's ``b`` edges), and the Poisson tail ``log10 P[X >= b | lambda]`` (``lambda``
    floored at 1e-12; where the tail underflows, ``log10 P[X = b]``, a bound)."""
    from scipy.stats import poisson

    rest = e - b
    lam = (s_rows - b) * (s_cols - b) / rest if rest > 0 else 0.0
    lam = max(lam, _LAMBDA_FLOOR)
    if b <= 0:
        return lam, 0.0
    out = float(poisson.logsf(b - 1, lam))
    if not math.isfinite(out):
        out = float(poisson.logpmf(b, lam))
    return lam, out / math.log(10)


class _BlockSearch:
    """One run of :func:`dense_blocks`: the bipartite graph, the clusters kept so far and the
    followers they took (a follower joins one cluster at most)."""

    def __init__(self, g, cols: np.ndarray, bip: tuple, *, min_density: float,
                 min_followers: int, min_creators: int, c: float, expand: float):
        self.cols = cols
        self.out_indptr, self.out_indices = np.asarray(g.out_indptr), np.asarray(g.out_indices)
        self.n_accounts = g.n_accounts
        (self.row_account, self.indptr, self.indices, self.col_indptr, self.col_rows,
         self.col_pos) = bip
        self.m, self.n, self.e = len(self.row_account), len(cols), len(self.indices)
        self.info: dict[str, Any] = {"rows": self.m, "columns": self.n, "edges": self.e,
                                     "blocks": []}
        self.min_density, self.c, self.expand = min_density, c, expand
        self.alpha = ALPHA
        self.min_followers, self.min_creators = min_followers, min_creators
        if self.e == 0:
            return
        self.background = self.e / (self.m * self.n)
        self.row_deg = np.diff(self.indptr)
        self.col_deg = np.diff(self.col_indptr)
        self.taken = np.zeros(self.m, bool)  # followers already in a cluster
        self.clusters: list[Cluster] = []


    def _followed_rows(self, rows: np.ndarray, col_idx: np.ndarray) -> np.ndarray:
        """Bool per row of ``rows``: followed by one of the creators ``col_idx``."""
        followed = _k.followed_by(self.out_indptr, self.out_indices, self.cols[col_idx])
        return np.isin(self.row_account[rows], followed)

    def keep_block(self, rows, cols_in_block, score, edges, stage, split: bool = True) -> None:
        """Record a candidate block (row and column indices); keep it as a cluster when it
        passes :func:`block_test` and the rules of :func:`dense_blocks` (expanded, minus
        taken rows). A block whose creators fall into groups without common followers is
        tested group by group (:meth:`_creator_groups`). Masks over all rows are built for
        kept blocks only."""
        e, m, n = self.e, self.m, self.n
        n_rows, n_cols = len(rows), len(cols_in_block)
        col_sum = float(self.col_deg[cols_in_block].sum())
        old_expected = float(self.row_deg[rows].sum()) * col_sum / e
        rec = {"stage": stage, "followers": n_rows, "creators": n_cols, "score": float(score),
               "density": edges / (n_rows * n_cols),
               "lift": edges / old_expected if old_expected > 0 else math.inf}
        self.info["blocks"].append(rec)
        if n_rows < self.min_followers or n_cols < self.min_creators or (
                stage == "co-following" and n_cols < _SEED_MIN_CREATORS):
            return
        col_in = np.zeros(n, bool)
        col_in[cols_in_block] = True
        tested, b = self._tested_rows(rows, cols_in_block, col_in, rec)
        if split and n_cols >= 2 * self.min_creators and len(tested):
            groups = self._creator_groups(tested, cols_in_block)
            if len(groups) > 1:
                rec["groups"] = len(groups)
                for g_rows, g_cols, g_edges in groups:
                    self.keep_block(g_rows, g_cols, score, g_edges, stage, split=False)
                return
        kept_rows = len(tested)
        if kept_rows < self.min_followers:
            return
        lam, log10_p = block_test(b, float(self.row_deg[tested].sum()), col_sum, e)
        threshold = scan_threshold(self.alpha, m, n, kept_rows, n_cols)
        rec.update(expected_excluded=lam, log10_p=log10_p, log10_threshold=threshold)
        if b / (kept_rows * n_cols) < self.min_density or not log10_p < threshold:
            return
        # lift: the share of one's follows into the block's creators over their share of creators
        rec["follower_lift"] = row_lift = b / float(self.row_deg[tested].sum()) * n / n_cols
        rec["creator_lift"] = creator_lift = self._creator_lift(cols_in_block, col_in)
        if creator_lift is not None and creator_lift >= CIRCLE_LIFT * row_lift:
            return
        # the kept rows as an ascending index list: masks over every row cost O(rows) per block
        kept = np.unique(tested)
        if self.expand <= 1:
            # two shared follows are what any two popular creators' fans have: three at least
            need = max(3, math.ceil(self.expand * n_cols))
            grown = _k.expand_block(self.col_indptr, self.col_rows, cols_in_block, need)
            new = grown[~np.isin(grown, kept)]
            if len(new):
                kept = np.union1d(kept, new[~self._followed_rows(new, cols_in_block)])
        kept = kept[~self.taken[kept]]
        if len(kept) < self.min_followers:
            return
        edges = int(_csr.filtered_counts(self.indptr, self.indices, kept, False, col_in, False).sum())
        rec["audience_share"] = share = edges / col_sum
        if share < MIN_AUDIENCE_SHARE:
            return
        expected = float(self.row_deg[kept].sum()) * col_sum / e
        self.taken[kept] = True
        hits = _k.fingerprint(self.indptr, self.indices, kept, n)
        fp = np.flatnonzero(hits)
        self.clusters.append(Cluster(
            id=len(self.clusters), followers=self.row_account[kept].astype(np.int64),
            creators=self.cols[col_in], edges=edges, score=float(score), expected_edges=expected,
            background_density=self.background, fingerprint=self.cols[fp],
            fingerprint_hits=hits[fp], stage=stage,
            test={"test": "poisson tail, degrees without the block's edges, scan Bonferroni",
                  "tested_followers": kept_rows, "tested_edges": b, "expected_excluded": lam,
                  "lift_excluded": b / lam, "log10_p_excluded": log10_p,
                  "log10_threshold": threshold, "alpha": self.alpha,
                  "reciprocal": rec["reciprocal"], "diffuse": rec["diffuse"],
                  "follower_lift": row_lift, "creator_lift": creator_lift,
                  "audience_share": share}))

    def _tested_rows(self, rows, cols_in_block, col_in, rec) -> tuple[np.ndarray, int]:
        """The rows of a block that its test counts, and their edges into it: those not
        followed by one of its creators (friends are not bought) that follow its creators at
        least ``_ROW_CONCENTRATION`` times as often as creators at large (a heavy user
        following a share of everybody is not in lockstep with anyone)."""
        followed = self._followed_rows(rows, cols_in_block)
        rec["reciprocal"] = float(followed.mean())
        rows = rows[~followed]
        k_in = _csr.filtered_counts(self.indptr, self.indices, rows, False, col_in, False)
        share = len(cols_in_block) / self.n
        concentrated = k_in >= _ROW_CONCENTRATION * share * self.row_deg[rows]
        rec["diffuse"] = float(1.0 - concentrated.mean()) if len(rows) else 0.0
        return rows[concentrated], int(k_in[concentrated].sum())

    def _creator_groups(self, rows, cols_in_block) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """The block's creators in groups that share followers, each with its followers in
        the block and their edges: two creators are linked when at least a quarter of the
        smaller one's followers in the block (and three) follow both. Farms peeled
        together have no fakes in common; a farm or a circle is one group. Creators linked
        to none are left out."""
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        n_cols = len(cols_in_block)
        col_local = np.full(self.n, -1, np.int64)
        col_local[cols_in_block] = np.arange(n_cols)
        s_indptr, s_indices = _kc.block_subgraph(self.indptr, self.indices, rows, col_local)
        a = sp.csr_matrix((np.ones(len(s_indices), np.float32), s_indices, s_indptr),
                          shape=(len(rows), n_cols))
        co = (a.T @ a).tocoo()
        aud = np.asarray(a.sum(axis=0)).ravel()
        link = (co.row != co.col) & (co.data >= np.maximum(
            3, _GROUP_SHARE * np.minimum(aud[co.row], aud[co.col])))
        links = sp.coo_matrix((np.ones(int(link.sum())), (co.row[link], co.col[link])),
                              shape=(n_cols, n_cols))
        n_groups, label = connected_components(links, directed=False)
        entry_row = np.repeat(np.arange(len(rows)), np.diff(s_indptr))
        entry_group = label[s_indices]
        out = []
        for k in range(n_groups):
            members = np.flatnonzero(label == k)
            if len(members) < 2:
                continue
            mine = entry_group == k
            out.append((rows[np.unique(entry_row[mine])], cols_in_block[members], int(mine.sum())))
        return out

    @functools.cached_property
    def _row_of(self) -> np.ndarray:
        """Row of each account in the follower x creator graph (-1: follows no creator)."""
        out = np.full(self.n_accounts, -1, np.int64)
        out[self.row_account] = np.arange(self.m)
        return out

    def _creator_lift(self, cols_in_block, col_in) -> float | None:
        """How much more often a block's creators follow its other creators than creators at
        large (the share of their follows that go to the block's other creators over those
        creators' share of all creators), over those of them that follow any creator; None
        when fewer than three do. The creators of a friend circle or a team follow each
        other much as its followers follow them; a farm's customers are strangers."""
        r = self._row_of[self.cols[cols_in_block]]
        r = r[r >= 0]
        if len(r) < 3:
            return None
        k = _csr.filtered_counts(self.indptr, self.indices, r, False, col_in, False)
        return float(k.sum() / self.row_deg[r].sum() * (self.n - 1) / (len(cols_in_block) - 1))

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

    def _col_ok(self) -> np.ndarray:
        m, col_deg = self.m, self.col_deg
        return (col_deg >= _PAIR_MIN) & (col_deg <= max(_MAX_COL_SHARE * m, _MAX_COL_FLOOR))

    def seed_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The co-following stage's seeds (:func:`_seed_pairs`)."""
        seed_a, seed_b = _seed_pairs(self.indptr, self.indices, self.col_indptr, self.col_rows,
                                     self.m, self.col_deg, self._col_ok())
        self.info["seed_pairs"] = len(seed_a)
        return seed_a, seed_b

    def seeded_stage(self, seed_a: np.ndarray, seed_b: np.ndarray,
                     timings: dict | None = None) -> None:
        """Lockstep blocks grown from significant creator pairs (:meth:`seed_pairs`), first
        tight (``rho`` 0.5), then loose (0.25) from the seeds whose followers are not yet in a
        cluster: a loose block around a farm with a high follow share also takes popular
        creators its fakes' camouflage hits, whose own follows make it look like a circle.
        ``timings`` receives each pass's seconds, and those of its seeded-block kernel."""
        for rho in _RHOS:
            t0 = time.perf_counter()
            kernel = self._seeded_pass(seed_a, seed_b, rho)
            if timings is not None:
                timings[f"blocks_co_following_rho{rho}_seconds"] = time.perf_counter() - t0
                timings[f"blocks_co_following_rho{rho}_kernel_seconds"] = kernel

    def _seeded_pass(self, seed_a: np.ndarray, seed_b: np.ndarray, rho: float) -> float:
        """One pass of :meth:`seeded_stage`; returns the seconds of its seeded-block kernel."""
        indptr, indices, col_indptr, col_rows = (self.indptr, self.indices, self.col_indptr,
                                                 self.col_rows)
        e, taken, row_deg, col_deg = self.e, self.taken, self.row_deg, self.col_deg
        col_ok = self._col_ok()
        t0 = time.perf_counter()
        rp, rows, cp, bcols, _ = _kc.seeded_blocks(indptr, indices, col_indptr, col_rows, ~taken,
                                                  col_ok, seed_a, seed_b, rho, _MAX_ITER)
        kernel_seconds = time.perf_counter() - t0
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
        return kernel_seconds


_MAX_PAIR_ROW = 200      # rows following more eligible creators skip the pair count
_MAX_COL_SHARE = 0.05    # creators followed by more than this share of rows (and more than
_MAX_COL_FLOOR = 500     # this many) are not seed candidates
_PAIR_MIN = 5            # common followers a seed pair needs at least
_PAIR_ALPHA = 0.01       # seed pairs: family-wise error rate (Bonferroni over all eligible pairs)
_RHOS = (0.5, 0.25)       # seeded blocks' followers follow this share of its creators, and back:
                         # tight, then loose (the farms have follow shares from 0.3)
_SEED_SHARE = 0.15       # a seed pair's common followers are at least this share of the smaller
                         # creator's followers (a farm owning half its customers' audiences at
                         # follow share p gives about p / 2; popular pairs give a few percent)
_MAX_ITER = 20
_ROW_LIFT = 2.0          # a seeded block keeps followers with at least this many times the follows
                         # into its creators that their degree gives by chance
_SEED_MIN_CREATORS = 3   # seeded blocks span at least this many creators (CopyCatch's m)
_GROUP_SHARE = 0.25       # two creators of a block are in one group when this share of the smaller
                          # one's followers in the block follow both
_ROW_CONCENTRATION = 2.0  # a tested follower follows the block's creators this many times as often as
                          # creators at large


def _seed_pairs(indptr, indices, col_indptr, col_rows, m, col_deg, col_ok):
    """Creator pairs sharing significantly more followers than chance, most significant first.

    Chance is Poisson with mean ``deg(a) deg(b) / rows``; a pair is significant when its
    tail probability is below ``_PAIR_ALPHA`` over the number of eligible pairs (Bonferroni).
    Followers of more than ``_MAX_PAIR_ROW`` eligible creators are not counted.

    Only pairs whose common followers are at least ``_SEED_SHARE`` of the smaller creator's
    followers are seeds. A block is kept only when it holds half its creators' audiences
    (:data:`MIN_AUDIENCE_SHARE`); a farm doing so with follow share ``p`` makes two of its
    customers share about ``p^2 N`` of their ``p N`` to ``2 p N`` followers, at least ``p / 2``
    (0.15 at the issue's smallest share, 0.3). Popular creators share far more followers
    than chance but a few percent of their audiences (on the 100M-edge synthetic store, the
    most significant pairs share 9% of the smaller audience), and growing a block from
    their tens of thousands of common followers was most of the co-following stage's time.
    """
    from scipy.stats import poisson

    n_ok = int(col_ok.sum())
    log_thr = math.log(_PAIR_ALPHA / max(n_ok * (n_ok - 1) / 2, 1))
    k = _kc.eligible_degree(indptr, indices, col_ok)
    row_ok = (k >= 2) & (k <= _MAX_PAIR_ROW)
    a, b, cnt = _kc.candidate_pairs(indptr, indices, col_indptr, col_rows, col_ok, row_ok, col_deg,
                                   float(m), _PAIR_MIN, log_thr, numba.get_num_threads())
    logp = poisson.logsf(cnt - 1, col_deg[a].astype(np.float64) * col_deg[b] / m)
    sig = (logp < log_thr) & (cnt >= _SEED_SHARE * np.minimum(col_deg[a], col_deg[b]))
    order = np.lexsort((b[sig], a[sig], logp[sig]))
    return a[sig][order], b[sig][order]

