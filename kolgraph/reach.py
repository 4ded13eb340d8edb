"""Deduplicated reach, overlap, frequency and Venn regions of a set of creators.

The front-end of :mod:`kolgraph.kernels.reach`: it checks ids, builds the
arrays (selection, account filter, exposure probabilities), calls the kernels
and wraps the counts in a :class:`ReachReport`. Definitions follow docs/design.md:

- unique reach ``|∪ F(c)|``, gross reach ``Σ |F(c)|``, duplication = gross / unique;
- exclusive reach of i: its followers who follow no other selected creator;
- incremental reach of i: its followers not reached by the creators before it
  (in the given order), so the cumulative sum is the reach curve;
- overlap, each normalisation labelled: directional ``|A∩B|/|A|`` (row i, column
  j divides by ``|A_i|``), overlap coefficient ``|A∩B|/min(|A|,|B|)``, Jaccard
  ``|A∩B|/|A∪B|``, lift ``|A∩B|·N/(|A||B|)``;
- frequency ``exactly[f]`` = followers reached by exactly f creators,
  ``at_least[f]`` = R_f, average = gross / unique;
- expected reach with view rates r_c and posts n_c:
  ``Σ_u 1 − Π_{c∈S, u∈F(c)} (1 − r_c)^{n_c}`` and the expected (Poisson-binomial)
  frequency distribution, computed per Venn region;
- Sainsbury (independence) estimate ``N·(1 − Π(1 − |F(c)|/N))``.

``N`` is the number of accounts in the graph (those passing the filters, when
filters are given). A ratio whose denominator is zero is reported as 0.0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from kolgraph import _parallel
from kolgraph._check import creator_tiers, default_view_rates, exposure, resolve_ids
from kolgraph.engagement import WindowOptions, audience_filters, audiences
from kolgraph.exceptions import InputError
from kolgraph.filters import account_filter
from kolgraph.graph import graph_method
from kolgraph.kernels import reach as _k
from kolgraph.kernels.reach_sparse import regions_sparse
from kolgraph.options import FilterOptions, Posts, SkipUnknown, ViewRates, cli
from kolgraph.reach_report import ReachReport, mask_rows
from kolgraph.sketch import sketch_reach

# account_filter and resolve_ids are part of this module's documented interface
__all__ = ["ReachReport", "account_filter", "complementary", "reach", "reach_curve",
           "resolve_ids", "similar"]

MAX_CREATORS = 1024  # the k x k overlap matrices and their JSON stay small

Among = Annotated[Literal["creators", "accounts"], Field(
    description="candidates: the creator table (default; every account if there is none) "
    "or all accounts")]
TopK = Annotated[int, Field(ge=1, description="how many (default 10)",
                            json_schema_extra=cli("-k"))]


class ReachOptions(FilterOptions, WindowOptions):
    """Options of :func:`reach` (and of ``kolgraph reach``, ``POST /v1/reach``)."""

    audience: Literal["followers", "engaged", "loyal"] = Field(
        "followers", description="whose reach: followers (default), or the accounts engaged "
        "with (or loyal fans of) each creator in the window --since/--until, of --kinds")
    view_rates: ViewRates = None
    posts: Posts = None
    skip_unknown: SkipUnknown = False
    mode: Literal["exact", "sketch"] = Field(
        "exact", description="exact counts (default) or estimates with intervals from sketches")


class SketchModeOptions(ReachOptions):
    """:class:`ReachOptions` plus the sketch estimator's, which only ``mode="sketch"`` takes
    (library and CLI; the service answers from the store's sketches as they are)."""

    confidence: float | None = Field(None, gt=0, lt=1, description="confidence of the sketch "
                                     "intervals (default 0.95)")
    min_count: int | None = Field(None, ge=0, description="sketch mode: hide regions "
                                  "estimated below this many followers")
    # sketch parameters when the store keeps none (library only)
    p: int | None = Field(None, json_schema_extra=cli(hidden=True))
    k: int | None = Field(None, json_schema_extra=cli(hidden=True))
    seed: int | None = Field(None, json_schema_extra=cli(hidden=True))

    @model_validator(mode="after")
    def _sketch_only(self):
        extra = [n for n in SKETCH_ONLY if getattr(self, n) is not None]
        if self.mode == "exact" and extra:
            raise ValueError(f"{', '.join(extra)}: only with mode='sketch'")
        if self.mode == "sketch" and self.audience != "followers":
            raise ValueError(f"audience={self.audience!r}: sketches hold follower audiences only; "
                             "use mode='exact'")
        return self


SKETCH_ONLY = ("confidence", "min_count", "p", "k", "seed")


class SimilarOptions(FilterOptions):
    """Options of :func:`similar`."""

    k: TopK = 10
    by: Literal["jaccard", "overlap"] = Field(
        "jaccard", description="rank by Jaccard or overlap coefficient (default jaccard)")
    among: Among = "creators"


class ComplementaryOptions(FilterOptions):
    """Options of :func:`complementary`."""

    k: TopK = 10
    among: Among = "creators"
    skip_unknown: SkipUnknown = False


THREADED_ENTRIES = 4_000_000  # follower entries above which account ranges run on threads


def _regions(g, idx: np.ndarray, allowed: np.ndarray, use_allowed: bool, rows=None):
    """Venn regions of the selected creators: ``(masks, counts)``, masks uint64
    ``(n_regions, ceil(k / 64))`` in increasing order as integers (creator i = bit
    ``i % 64`` of word ``i // 64``).

    Large inputs are split into account ranges that Python threads count at once (the
    kernels release the GIL; threads that block rather than spin keep a busy machine
    from stalling the call), then the per-range regions are merged.

    ``rows``: ``(indptr, indices)`` of other audiences (engaged or loyal accounts), row i
    the audience of creator ``idx[i]``, instead of the follower rows.
    """
    k = len(idx)
    indptr, indices = (g.in_indptr, g.in_indices) if rows is None else rows
    if rows is not None:
        idx = np.arange(k, dtype=np.int64)
    if k <= _k.TABLE_MAX_K:
        dense_of, bits = dense_rows(g, idx, use_allowed or rows is not None)

        def kernel(*args):
            return _k.regions_table(*args, dense_of, bits)
    else:
        kernel = _k.regions_hashed
    n = int(g.n_accounts)
    entries = int((indptr[idx + 1] - indptr[idx]).sum())
    if rows is not None and k <= _k.TABLE_MAX_K and entries * SPARSE_RATIO < n:
        def kernel(indptr, indices, idx, a0, a1, allowed, use_allowed):
            return regions_sparse(indptr, indices, idx, a0, a1, _zeroed_table(), allowed,
                                  use_allowed)
    threads = min(_parallel.threads(), max(1, n // _k.CHUNK))
    if threads < 2 or entries < THREADED_ENTRIES:
        masks, counts = kernel(indptr, indices, idx, 0, n, allowed, use_allowed)
        if masks.ndim == 1:  # the table kernel's regions come out increasing and distinct
            return mask_rows(masks), counts
        return _merge_regions(masks, counts)
    edges = np.linspace(0, n, threads + 1).astype(np.int64) // 64 * 64  # whole bitset words
    edges[-1] = n
    parts = _parallel.split_map(lambda t: kernel(indptr, indices, idx, edges[t],
                                                 edges[t + 1], allowed, use_allowed), threads)
    masks = np.concatenate([mask_rows(m) for m, _ in parts])
    return _merge_regions(masks, np.concatenate([c for _, c in parts]))


SPARSE_RATIO = 2  # engaged rows holding fewer entries than half the accounts: count by entry
_SCRATCH = threading.local()


def _zeroed_table() -> np.ndarray:
    """This thread's all-zero int64 count per region mask, for the sparse region kernel
    (which leaves it zero)."""
    table = getattr(_SCRATCH, "table", None)
    if table is None:
        table = _SCRATCH.table = np.zeros(1 << _k.TABLE_MAX_K, np.int64)
    return table


DENSE_FRACTION = 32  # audiences of >= n_accounts / 32 get a prebuilt bitset (no bigger than the row)


def _dense_audiences(g) -> tuple[np.ndarray, np.ndarray]:
    """``(dense_ids, bits)``: the accounts whose audience holds at least 1/DENSE_FRACTION of
    the accounts (increasing) and their audiences as bitsets, one row each. Built once per
    graph (a bitset is then no bigger than the sorted follower row) and reused by reach and
    similar, like the store's own arrays."""
    def build():
        n = int(g.n_accounts)
        dense_ids = np.flatnonzero(g.in_degree * DENSE_FRACTION >= max(n, 1)).astype(np.int64)
        n_words = (n + 63) // 64
        bits = np.empty((len(dense_ids), n_words), dtype=np.uint64)
        for r, c in enumerate(dense_ids):
            bits[r] = _k.audience_bitset(g.in_indptr, g.in_indices, c, n_words)
        return dense_ids, bits
    # keyed by the threshold too: benchmarks and tests change DENSE_FRACTION on a live graph
    return g.derived(("reach.dense", DENSE_FRACTION), build)


def dense_rows(g, idx: np.ndarray, filtered: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row of each selected creator in the dense-audience bitsets (-1: none), and the bitsets;
    none for filtered calls (the bitsets hold every follower)."""
    if filtered:
        return np.full(len(idx), -1, dtype=np.int64), np.zeros((0, 1), dtype=np.uint64)
    dense_ids, bits = _dense_audiences(g)
    pos = np.minimum(np.searchsorted(dense_ids, idx), max(len(dense_ids) - 1, 0))
    found = (dense_ids[pos] == idx) if len(dense_ids) else np.zeros(len(idx), dtype=bool)
    return np.where(found, pos, -1).astype(np.int64), bits


def _merge_regions(masks: np.ndarray, counts: np.ndarray):
    """Sort regions as integers (last mask word most significant) and add up repeats."""
    if len(masks) == 0:
        return masks, counts
    order = np.lexsort(masks.T)
    masks, counts = masks[order], counts[order]
    start = np.concatenate([[True], np.any(masks[1:] != masks[:-1], axis=1)])
    return masks[start], np.add.reduceat(counts, np.flatnonzero(start))


# --- the report -------------------------------------------------------------------------
@graph_method
def reach(g, ids: Iterable, **options) -> ReachReport:
    """Deduplicated reach of a set of creators over a :class:`~kolgraph.FollowerGraph`.

    Parameters
    ----------
    g : FollowerGraph
    ids : external ids of the creators, in booking order (for incremental reach).
        Duplicates are dropped with one warning; at most :data:`MAX_CREATORS` distinct.
    **options : the fields of :class:`SketchModeOptions`: ``view_rates`` (probability that a
        follower sees one post: a number, one per creator, or a dict by id; default
        ``avg_views / followers`` from the creator table where present, else 1.0),
        ``posts`` (per creator; default 1), ``where`` (account filter, a dict
        ``{column: value}`` or an expression such as ``"country == 'NL'"``, see
        :func:`account_filter`), ``exclude_flagged``, ``skip_unknown`` (drop unknown ids
        with a warning instead of raising), ``mode`` (``"exact"`` or ``"sketch"``:
        estimates with intervals from the creators' sketches, see
        :func:`kolgraph.sketch.sketch_reach`, with ``confidence``, ``min_count``, ``p``,
        ``k``, ``seed``).

    Returns
    -------
    ReachReport

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4], [10, 10, 10, 11, 11])
    >>> r = reach(g, [10, 11])
    >>> r.unique_reach, r.gross_reach, r.exclusive.tolist(), int(r.counts[0, 1])
    (4, 5, [2, 1], 1)
    """
    o = SketchModeOptions.check(options)
    window_set = [n for n, f in WindowOptions.model_fields.items() if getattr(o, n) != f.default]
    if o.audience == "followers" and window_set:
        raise InputError(f"{', '.join(window_set)}: only with audience='engaged' or 'loyal'")
    if o.mode == "sketch":
        given = {n: getattr(o, n) for n in SKETCH_ONLY if getattr(o, n) is not None}
        return sketch_reach(g, ids, view_rates=o.view_rates, posts=o.posts, where=o.where,
                            exclude_flagged=o.exclude_flagged, skip_unknown=o.skip_unknown,
                            **given)
    ext, idx, warnings = resolve_ids(g, ids, skip_unknown=o.skip_unknown)
    k = len(idx)
    if k > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report, got {k}; "
                         "split the set or use the planner")
    mask, filters, fwarn = account_filter(g, o.where, exclude_flagged=o.exclude_flagged)
    warnings += fwarn
    rates, n_posts = exposure(o.view_rates, o.posts, ext, default_view_rates(g, idx))
    n_pop = int(mask.sum()) if mask is not None else g.n_accounts
    if k == 0:
        z = np.zeros(0, np.int64)
        return ReachReport([], z, z, z, [], np.zeros((0, 0), np.int64), np.zeros(1, np.int64),
                           np.zeros(0, np.uint64), z, n_pop, np.zeros(0), z, 0.0,
                           np.zeros(1), filters, warnings)
    allowed = mask if mask is not None else np.zeros(1, dtype=np.bool_)
    rows = None
    if o.audience != "followers":
        indptr, indices, w = audiences(g, idx, o.audience, o)
        rows = (indptr, indices)
        warnings += w["warnings"]
        filters.update(audience_filters(o.audience, o, w))
    masks, rcounts = _regions(g, idx, allowed, mask is not None, rows)
    _parallel.check_deadline()
    p = 1.0 - (1.0 - rates) ** n_posts
    counts, exclusive, incremental, exactly, exp_reach, exp_exactly = _k.summarize_regions(
        masks, rcounts, p)
    if masks.shape[1] == 1:
        masks = masks[:, 0]
    return ReachReport(ext, np.diag(counts).copy(), exclusive, incremental, creator_tiers(g, idx),
                       counts, exactly, masks, rcounts, n_pop, rates, n_posts.astype(np.int64),
                       float(exp_reach), exp_exactly, filters, warnings)


# --- similar and complementary creators --------------------------------------------------
def _candidates(g, among: str) -> np.ndarray:
    """Bool mask of the candidate accounts of similar/complementary."""
    if among == "accounts" or g.creators is None:
        return np.ones(g.n_accounts, dtype=np.bool_)
    cand = np.zeros(g.n_accounts, dtype=np.bool_)
    cand[g.creators.column("idx").to_numpy()] = True
    return cand


def _candidate_rows(g, among: str):
    """``(cand_idx, slot, r_indptr, r_indices)``: candidates, their slot of each account
    (-1 if none), and the following-of rows restricted to candidate slots.

    Built once per graph and candidate set (the restricted rows are like a creator
    index), then reused; all accounts as candidates reuse the store's rows as they are.
    """
    def build():
        cand = _candidates(g, among)
        if cand.all():
            return np.arange(g.n_accounts, dtype=np.int64), None, g.out_indptr, g.out_indices
        cand_idx = np.flatnonzero(cand).astype(np.int64)
        slot = np.full(g.n_accounts, -1, dtype=np.int32)
        slot[cand_idx] = np.arange(len(cand_idx), dtype=np.int32)
        r_indptr, r_indices = _k.restrict_rows(g.out_indptr, g.out_indices, slot)
        return cand_idx, slot, r_indptr, r_indices
    # replacing the creator table drops the graph's derived indexes, this one included
    key = "accounts" if among == "accounts" or g.creators is None else among
    return g.derived(("reach.candidates", key), build)


def _top(score: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, ties to the smaller ``idx``, best first
    (a partition first, so only the candidates at or above the k-th score are sorted)."""
    if len(score) > k:
        kth = np.partition(score, len(score) - k)[len(score) - k]
        pos = np.flatnonzero(score >= kth)
    else:
        pos = np.arange(len(score))
    return pos[np.lexsort((idx[pos], -score[pos]))][:k]


@graph_method
def similar(g, account, k: int = 10, by: str = "jaccard", **options) -> list[dict]:
    """Top-k accounts whose audience overlaps most with ``account``'s, exactly.

    Common followers come from the following-of rows of ``account``'s followers
    (no creator x creator matrix). ``by`` is ``"jaccard"`` or ``"overlap"``
    (overlap coefficient). Candidates are the creators of the creator table
    (``among="creators"``, the default when there is one) or every account. Further
    options (``among``, ``where``, ``exclude_flagged``): :class:`SimilarOptions`.
    Ties go to the smaller internal id. Each row: ``id``, ``common``,
    ``audience``, ``jaccard``, ``overlap_coefficient``, ``tier``.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 1, 2, 4], [10, 10, 10, 11, 11, 12])
    >>> [(r["id"], r["common"]) for r in similar(g, 10, k=2)]
    [(11, 2)]
    """
    o = SimilarOptions.check({"k": k, "by": by, **options})
    k, by, among = o.k, o.by, o.among
    ext, idx, _ = resolve_ids(g, [account])
    c = int(idx[0])
    mask, _, _ = account_filter(g, o.where, exclude_flagged=o.exclude_flagged)
    allowed = mask if mask is not None else np.zeros(1, dtype=np.bool_)
    use = mask is not None
    a = float(_k.filtered_degree(g.in_indptr, g.in_indices, np.array([c]), allowed, use)[0])
    cand_idx, slot, r_indptr, r_indices = _candidate_rows(g, among)
    _parallel.check_deadline()
    found = by == "jaccard" and not use and a * DENSE_FRACTION >= g.n_accounts
    if found:  # a dense audience: exact top-k from the few candidates whose size allows it
        found, acc, common, aud = _similar_by_size(g, among, c, int(k), a, r_indices)
    if not found:
        skip = c if slot is None else int(slot[c])
        counts = _common_followers(g, c, allowed, use, r_indptr, r_indices, len(cand_idx))
        slots, common, aud = _k.top_similar(counts, skip, cand_idx, a, by == "jaccard", int(k),
                                            g.in_indptr, g.in_indices, allowed, use)
        acc = cand_idx[slots]
    _parallel.check_deadline()
    names = g.external(acc)
    tiers = creator_tiers(g, acc)
    rows = []
    for j in range(len(acc)):
        n_c, b = int(common[j]), float(aud[j])
        rows.append({"id": names[j], "common": n_c, "audience": int(aud[j]),
                     "jaccard": n_c / (a + b - n_c), "overlap_coefficient": n_c / max(min(a, b), 1.0),
                     "tier": tiers[j]})
    return rows


WORD_COST = 0.4  # a popcount word of a bitset AND costs about 0.4 bit tests of a row entry
SIZE_FILTER_BUDGET = 2.0  # the size-filtered search may do this many times the scan's row entries


def _size_index(g, among: str):
    """``(by_size, sizes, bit_row, bits, cum_cost)`` for the candidates: their ids sorted by
    audience (then id), the audiences, their audience bitsets (row ``bit_row[pos]`` of
    ``bits``, -1 for none) and the cumulative cost of visiting them (bitset words, else
    row entries). Candidates get a bitset where its popcount costs less than testing
    their row (audiences above ``WORD_COST`` x the words of a bitset). Built once per
    graph and candidate set, like :func:`_candidate_rows`."""
    cand_idx = _candidate_rows(g, among)[0]

    def build():
        sizes = g.in_degree[cand_idx]
        order = np.lexsort((cand_idx, sizes))
        by_size, sizes = cand_idx[order], sizes[order].astype(np.int64)
        n_words = (int(g.n_accounts) + 63) // 64
        dense_row, dense_bits = dense_rows(g, by_size, False)
        with_bits = np.flatnonzero(sizes >= WORD_COST * n_words)
        bits = np.empty((len(with_bits), n_words), dtype=np.uint64)
        for r, pos in enumerate(with_bits):
            bits[r] = dense_bits[dense_row[pos]] if dense_row[pos] >= 0 else \
                _k.audience_bitset(g.in_indptr, g.in_indices, by_size[pos], n_words)
        bit_row = np.full(len(by_size), -1, dtype=np.int64)
        bit_row[with_bits] = np.arange(len(with_bits))
        cost = np.where(bit_row >= 0, n_words, sizes)
        cum_cost = np.concatenate([[0], np.cumsum(cost)]).astype(np.int64)
        return by_size, sizes, bit_row, bits, cum_cost
    key = "accounts" if among == "accounts" or g.creators is None else among
    return g.derived(("reach.size_index", key, DENSE_FRACTION), build)


def _similar_by_size(g, among: str, c: int, k: int, a: float, r_indices):
    """Exact top-k by Jaccard with the size filter (see ``top_jaccard_by_size``) for a
    creator with a dense audience; gives up, returning ``found=False``, when it would cost
    more than the scan of c's followers' rows."""
    by_size, sizes, bit_row, bits, cum_cost = _size_index(g, among)
    dense_row, dense_bits = dense_rows(g, np.array([c]), False)
    qbits = dense_bits[dense_row[0]]  # c's audience is dense
    scan = a * len(r_indices) / max(int(g.n_accounts), 1)  # expected row entries of the scan
    return _k.top_jaccard_by_size(g.in_indptr, g.in_indices, c, qbits, by_size, sizes, bit_row,
                                  bits, cum_cost, k, int(SIZE_FILTER_BUDGET * scan))


SIMILAR_THREADED = 100_000  # followers of the creator above which two threads share the scan


def _common_followers(g, c: int, allowed, use: bool, r_indptr, r_indices, n_slots) -> np.ndarray:
    """Common followers of ``c`` with every candidate slot (int32); large rows are split
    between threads with their own counts, added up after."""
    p0, p1 = int(g.in_indptr[c]), int(g.in_indptr[c + 1])
    threads = _parallel.threads() if p1 - p0 >= SIMILAR_THREADED else 1
    cuts = np.linspace(p0, p1, threads + 1).astype(np.int64)

    def count(t: int) -> np.ndarray:
        counts = np.zeros(n_slots, dtype=np.int32)
        _k.add_cooccurrence(g.in_indices, cuts[t], cuts[t + 1], allowed, use, r_indptr,
                            r_indices, counts)
        return counts
    parts = _parallel.split_map(count, threads)
    for part in parts[1:]:
        parts[0] += part
    return parts[0]


@graph_method
def complementary(g, ids: Iterable, k: int = 10, **options) -> list[dict]:
    """Top-k accounts by incremental reach over the set ``ids`` (new followers they add).

    Candidates exclude the set itself. Ties go to the smaller internal id. Each
    row: ``id``, ``incremental``, ``audience``, ``tier``. Further options (``among``,
    ``where``, ``exclude_flagged``, ``skip_unknown``): :class:`ComplementaryOptions`.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 1, 2, 4, 5], [10, 10, 10, 11, 11, 12, 12])
    >>> [(r["id"], r["incremental"]) for r in complementary(g, [10], k=2)]
    [(12, 2)]
    """
    o = ComplementaryOptions.check({"k": k, **options})
    k, among = o.k, o.among
    _, idx, _ = resolve_ids(g, ids, skip_unknown=o.skip_unknown)
    mask, _, _ = account_filter(g, o.where, exclude_flagged=o.exclude_flagged)
    allowed = mask if mask is not None else np.zeros(1, dtype=np.bool_)
    use = mask is not None
    covered = _k.covered_mask(g.in_indptr, g.in_indices, idx, g.n_accounts, allowed, use)
    cand = _candidates(g, among)
    cand[idx] = False
    cand_idx = np.flatnonzero(cand).astype(np.int64)
    inc = _k.uncovered_counts(g.in_indptr, g.in_indices, cand_idx, covered, allowed, use)
    keep = inc > 0
    cand_idx, inc = cand_idx[keep], inc[keep]
    order = _top(inc, cand_idx, k)
    top = cand_idx[order]
    aud = _k.filtered_degree(g.in_indptr, g.in_indices, top, allowed, use)
    names = g.external(top)
    tiers = creator_tiers(g, top)
    return [{"id": names[j], "incremental": int(inc[i]), "audience": int(aud[j]), "tier": tiers[j]}
            for j, i in enumerate(order)]


def reach_curve(report: ReachReport) -> Sequence[int]:
    """Cumulative unique reach as the creators are added in order."""
    return np.cumsum(report.incremental).tolist()
