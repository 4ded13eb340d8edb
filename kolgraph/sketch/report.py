"""The reach report of audiences given only by their sketches, with an interval on every number."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kolgraph._check import creator_tiers, default_view_rates, exposure, resolve_ids
from kolgraph.exceptions import InputError
from kolgraph.kernels import reach as _kr
from kolgraph.kernels import sketch as _k
from kolgraph.reach_report import ReachReport
from kolgraph.sketch.intervals import _z, hll_interval, hll_rse, intersection_mle, wilson
from kolgraph.sketch.sketches import (
    _U64,
    DEFAULT_CONFIDENCE,
    HASH,
    MAX_CREATORS,
    Sketch,
    graph_sketches,
)
from kolgraph.tiers import tier_of


@dataclass
class SketchReachReport(ReachReport):
    """A :class:`~kolgraph.reach.ReachReport` estimated from sketches, with intervals.

    ``low``/``high`` hold the interval ends of every estimated number (same shapes as
    the estimates); ``sketch_info`` the parameters, sample size and confidence.
    """

    unique_estimate: float = 0.0
    low: dict = field(default_factory=dict)
    high: dict = field(default_factory=dict)
    region_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    region_high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sketch_info: dict = field(default_factory=dict)
    min_count: int = 0

    @property
    def unique_reach(self) -> int:
        return int(round(self.unique_estimate))

    def to_dict(self) -> dict:
        d = super().to_dict()
        lo, hi = self.low, self.high
        d["mode"] = "sketch"
        d["unique_reach_low"], d["unique_reach_high"] = _int(lo["unique"]), _int(hi["unique"])
        for i, c in enumerate(d["creators"]):
            for key in ("exclusive", "incremental"):
                c[f"{key}_low"], c[f"{key}_high"] = _int(lo[key][i]), _int(hi[key][i])
        ov = d["overlap"]
        ov["counts_low"], ov["counts_high"] = _ints(lo["counts"]), _ints(hi["counts"])
        ov["jaccard_low"] = np.asarray(lo["jaccard"], float).tolist()
        ov["jaccard_high"] = np.asarray(hi["jaccard"], float).tolist()
        fr = d["frequency"]
        for key in ("exactly", "at_least"):
            fr[f"{key}_low"], fr[f"{key}_high"] = _ints(lo[key]), _ints(hi[key])
        order = np.lexsort((self.region_masks, -self.region_counts))  # as regions() lists them
        kept, hidden = [], 0
        for reg, r in zip(d["regions"], order, strict=False):
            if reg["count"] < self.min_count:
                hidden += 1
                continue
            reg["count_low"], reg["count_high"] = _int(self.region_low[r]), _int(self.region_high[r])
            kept.append(reg)
        d["regions"] = kept
        if self.min_count:
            d["suppressed_regions"] = hidden
        d["sketch"] = dict(self.sketch_info)
        return d


def _int(x) -> int | None:
    return None if not np.isfinite(x) else int(round(float(x)))


def _ints(a) -> list:
    a = np.asarray(a, dtype=float)
    return np.vectorize(lambda v: _int(v), otypes=[object])(a).tolist() if a.size else a.tolist()


def sketch_report(sketches: Sequence[Sketch], *, confidence: float = DEFAULT_CONFIDENCE,
                  view_rates: Any = None, posts: Any = None, default_rates: np.ndarray | None = None,
                  population: int = 0, tiers: list | None = None, min_count: int = 0,
                  warnings: list | None = None) -> SketchReachReport:
    """The reach report of audiences given only by their sketches, with intervals.

    Works on sketches from a store or from files of another party alike.
    """
    k = len(sketches)
    ids = [s.id for s in sketches]
    if k > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report in this mode, got {k}")
    if min_count < 0:
        raise InputError("min_count must be >= 0")
    for s in sketches[1:]:
        sketches[0]._compatible(s)
    z = _z(confidence)
    z2 = _z(1.0 - (1.0 - confidence) / 2.0)  # two intervals combined: each at half the miss rate
    rates, n_posts = exposure(view_rates, posts, ids, default_rates)
    if k == 0:
        return _empty_report(population, confidence, min_count, warnings)
    p = sketches[0].p
    known = all(s.count >= 0 for s in sketches)
    aud = np.array([s.estimate(confidence if known else 1.0 - (1.0 - confidence) / 2.0)
                    for s in sketches], dtype=float).reshape(k, 3)
    smp = _Sample(sketches)
    union = _union(sketches, smp, aud, confidence)
    uniq, reg = _regions(smp, k, union, z2)
    inter, jac = _pairs(smp, aud, known, z, z2)
    rcount = np.rint(reg["regions"][0]).astype(np.int64)
    prob = 1.0 - (1.0 - rates) ** n_posts
    *_, exp_reach, exp_exactly = _kr.summarize_regions(uniq.reshape(-1, 1), rcount, prob)
    exactly = np.rint(reg["exactly"][0]).astype(np.int64)
    exactly[0] = 0
    info = {"confidence": confidence, "unique_reach_method": union[5], "hll_p": int(p),
            "hll_relative_standard_error": hll_rse(p),
            "theta_k": int(min(s.k for s in sketches)), "hash": HASH,
            "seed": int(sketches[0].seed),
            "sample": int(smp.size), "sample_rate": smp.rate,
            "exact_audiences": [bool(s.exact) for s in sketches]}
    bounds = {"unique": union[0:3], "exclusive": reg["exclusive"],
              "incremental": reg["incremental"], "counts": inter, "jaccard": jac,
              "exactly": reg["exactly"], "at_least": reg["at_least"]}
    a_est = aud[:, 0]
    return SketchReachReport(
        ids, np.rint(a_est).astype(np.int64), np.rint(reg["exclusive"][0]).astype(np.int64),
        np.rint(reg["incremental"][0]).astype(np.int64), list(tiers) if tiers is not None else
        [str(t) for t in _tiers(a_est)], np.rint(inter[0]).astype(np.int64), exactly, uniq,
        rcount, int(population), rates, n_posts.astype(np.int64), float(exp_reach), exp_exactly,
        {}, list(warnings or []), unique_estimate=float(union[0]),
        low={key: b[1] for key, b in bounds.items()}, high={key: b[2] for key, b in bounds.items()},
        region_low=reg["regions"][1], region_high=reg["regions"][2], sketch_info=info,
        min_count=int(min_count))


def _empty_report(population: int, confidence: float, min_count: int,
                  warnings: list | None) -> SketchReachReport:
    z0 = np.zeros(0, np.int64)
    return SketchReachReport([], z0, z0, z0, [], np.zeros((0, 0), np.int64),
                             np.zeros(1, np.int64), np.zeros(0, np.uint64), z0, int(population),
                             np.zeros(0), z0, 0.0, np.zeros(1), {}, list(warnings or []),
                             low=_EMPTY_BOUNDS, high=_EMPTY_BOUNDS,
                             sketch_info={"confidence": confidence, "sample": 0},
                             min_count=int(min_count))


_TOP = np.uint64(2**64 - 1)


class _Sample:
    """The sketches' hash lists side by side, and the union sample below the common threshold.

    ``thetas[i]`` is sketch i's threshold (all ones when exact); below the smallest
    threshold of a truncated sketch, the hashes of every sketch are a uniform sample
    of the union at ``rate``, ``masks`` the creators of each sampled follower.
    """

    def __init__(self, sketches: Sequence[Sketch]):
        self.hashes = np.concatenate([s.hashes for s in sketches])
        lens = np.array([len(s.hashes) for s in sketches], dtype=np.int64)
        self.ends = np.cumsum(lens)
        self.starts = self.ends - lens
        self.exact = np.array([s.exact for s in sketches], dtype=np.bool_)
        self.thetas = np.array([_TOP if s.exact else np.uint64(s.theta) for s in sketches],
                               dtype=np.uint64)
        self.exact_all = bool(self.exact.all())
        theta_g = _TOP if self.exact_all else self.thetas[~self.exact].min()
        self.rate = 1.0 if self.exact_all else float(theta_g) / _U64
        self.masks = _k.sample_masks(self.hashes, self.starts, self.ends, theta_g, self.exact_all)
        self.size = len(self.masks)


def _union(sketches: Sequence[Sketch], smp: _Sample, aud: np.ndarray, confidence: float) -> tuple:
    """``(N̂, low, high, low, high, method)`` of the union: its interval at ``confidence``, then
    at half the miss rate (to combine with a share's). Exact when every audience fits in K,
    else the merged HyperLogLog kept within max <= union <= sum of the audiences."""
    if smp.exact_all:
        n = float(smp.size)
        return n, n, n, n, n, "exact"
    a_est, a_lo, a_hi = aud[:, 0], aud[:, 1], aud[:, 2]
    p = sketches[0].p
    reg = sketches[0].hll().copy()
    for s in sketches[1:]:
        np.maximum(reg, s.hll(), out=reg)
    n_est, n_lo, n_hi = hll_interval(reg, p, confidence)
    _, n2_lo, n2_hi = hll_interval(reg, p, 1.0 - (1.0 - confidence) / 2.0)
    floor, ceil = float(a_est.max()), float(a_est.sum())  # union >= max, <= sum
    n_est = min(max(n_est, floor), ceil)
    n_lo, n2_lo = (max(x, float(a_lo.max())) for x in (n_lo, n2_lo))
    n_hi, n2_hi = (min(x, float(a_hi.sum())) for x in (n_hi, n2_hi))
    return n_est, n_lo, n_hi, n2_lo, n2_hi, "hll"


def _regions(smp: _Sample, k: int, union: tuple, z2: float) -> tuple:
    """``(region masks, {name: (estimate, low, high)})`` of the regions,
    exclusive, incremental, exactly and at-least counts: ``N̂ · share``, the share's Wilson
    interval and N's interval each at half the miss rate."""
    n_est, n_lo, n_hi, n2_lo, n2_hi, _ = union
    s_g = smp.size
    uniq, cnt = (np.unique(smp.masks, return_counts=True) if s_g else
                 (np.zeros(0, np.uint64), np.zeros(0, np.int64)))
    cnt = cnt.astype(np.int64)
    _, excl_c, incr_c, exactly_c, _, _ = _kr.summarize_regions(uniq.reshape(-1, 1), cnt,
                                                                 np.zeros(k))
    atleast_c = np.cumsum(exactly_c[::-1])[::-1]

    def scaled(c):
        c = np.asarray(c, dtype=float)
        share = c / s_g if s_g else np.zeros_like(c)
        lo, hi = wilson(c, s_g, smp.rate, z2)
        return n_est * share, n2_lo * lo, n2_hi * hi

    out = {"regions": scaled(cnt), "exclusive": scaled(excl_c), "incremental": scaled(incr_c),
           "exactly": scaled(exactly_c), "at_least": scaled(atleast_c)}
    fq_est, fq_lo, fq_hi = out["exactly"]
    fq_est[0] = fq_lo[0] = fq_hi[0] = 0.0  # exactly[0] is 0, so at_least[0] = at_least[1] = N
    al_est, al_lo, al_hi = out["at_least"]
    al_est[:2], al_lo[:2], al_hi[:2] = n_est, n_lo, n_hi
    return uniq, out


def _pairs(smp: _Sample, aud: np.ndarray, known: bool, z: float, z2: float) -> tuple:
    """``(intersections, jaccard)`` of every pair, each ``(estimate, low, high)``: the
    likelihood-ratio interval when the audiences are known exactly, else Wilson's of the
    Jaccard share of the pair's sample."""
    a_est, a_lo, a_hi = aud[:, 0], aud[:, 1], aud[:, 2]
    exact, thetas = smp.exact, smp.thetas
    s_ij, c_ij, n_ij = _k.pair_samples(smp.hashes, smp.starts, smp.ends, thetas, exact)
    both = exact[:, None] & exact[None, :]
    th = np.minimum(thetas[:, None], thetas[None, :]).astype(float)
    rate = np.where(both, 1.0, np.where(exact[:, None], thetas[None, :].astype(float),
                                        np.where(exact[None, :], thetas[:, None].astype(float),
                                                 th))) / np.where(both, 1.0, _U64)
    jz = z if known else z2
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(s_ij > 0, c_ij / np.maximum(s_ij, 1), 0.0)
    j_lo, j_hi = wilson(c_ij, s_ij, rate, jz)
    tot, tot_lo, tot_hi = (x[:, None] + x[None, :] for x in (a_est, a_lo, a_hi))
    if known:
        inter, i_lo, i_hi = intersection_mle(a_est[:, None], a_est[None, :], n_ij, n_ij.T, c_ij,
                                             rate, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            jac, j_lo, j_hi = (np.where(tot - x > 0, x / (tot - x), 0.0) for x in (inter, i_lo, i_hi))
    else:
        inter = jac / (1.0 + jac) * tot
        i_lo = j_lo / (1.0 + j_lo) * tot_lo
        i_hi = np.minimum(j_hi / (1.0 + j_hi) * tot_hi, np.minimum(a_hi[:, None], a_hi[None, :]))
        inter = np.minimum(inter, np.minimum(a_est[:, None], a_est[None, :]))
    d = np.arange(len(a_est))
    inter[d, d], i_lo[d, d], i_hi[d, d] = a_est, a_lo, a_hi
    jac[d, d] = j_lo[d, d] = j_hi[d, d] = np.where(a_est > 0, 1.0, 0.0)
    return (inter, i_lo, i_hi), (jac, j_lo, j_hi)


_EMPTY_BOUNDS = {"unique": 0.0, "exclusive": np.zeros(0), "incremental": np.zeros(0),
                 "counts": np.zeros((0, 0)), "jaccard": np.zeros((0, 0)), "exactly": np.zeros(1),
                 "at_least": np.zeros(1)}


def _tiers(audience: np.ndarray) -> list:
    return list(tier_of(np.rint(audience).astype(np.int64))) if len(audience) else []


def sketch_reach(g, ids: Iterable, *, view_rates: Any = None, posts: Any = None,
                 where: Any = None, exclude_flagged: bool = False, skip_unknown: bool = False,
                 confidence: float = DEFAULT_CONFIDENCE, min_count: int = 0,
                 p: int | None = None, k: int | None = None, seed: int | None = None
                 ) -> SketchReachReport:
    """``reach(g, ids, mode="sketch")``: the reach report estimated from the creators' sketches
    (kept in the store by ``kolgraph sketch``, else built for them now), with intervals.

    Filters need the followers themselves, so ``where`` / ``exclude_flagged`` are refused.

    Examples
    --------
    >>> from kolgraph import FollowerGraph
    >>> g = FollowerGraph.from_edges([1, 2, 3, 3, 4], [10, 10, 10, 11, 11])
    >>> r = sketch_reach(g, [10, 11])   # small audiences: the sketches hold every hash
    >>> r.unique_reach, r.to_dict()["unique_reach_low"], int(r.counts[0, 1])
    (4, 4, 1)
    """
    if where or exclude_flagged:
        raise InputError("sketch mode answers from sketches of whole audiences: filters "
                         "(where, exclude_flagged) need mode='exact'")
    ext, idx, warnings = resolve_ids(g, ids, skip_unknown=skip_unknown)
    if len(idx) > MAX_CREATORS:
        raise InputError(f"at most {MAX_CREATORS} creators per reach report in this mode, got {len(idx)}")
    sketches = graph_sketches(g, idx, ext, p=p, k=k, seed=seed) if len(idx) else []
    return sketch_report(sketches, confidence=confidence, view_rates=view_rates, posts=posts,
                         default_rates=default_view_rates(g, idx), population=g.n_accounts,
                         tiers=creator_tiers(g, idx), min_count=min_count, warnings=warnings)
