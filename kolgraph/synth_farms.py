"""Planted bot farms for benchmarks: :func:`plant_farms` adds degree-matched farms to any
edge list (the model of issue 14; :mod:`benchmarks.fraud_farms` plants them into real graphs).
Re-exported by :mod:`kolgraph.synth`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kolgraph.exceptions import InputError

__all__ = ["AUDIENCE_BANDS", "FarmOptions", "PlantedFarms", "plant_farms"]

AUDIENCE_BANDS = {"small": (5, 60), "mid": (61, 500), "large": (501, None)}
"""Followers (in-degree) of the customers a farm sells to, by ``FarmOptions.audience``;
``"new"``: new accounts with no audience of their own."""


@dataclass(frozen=True)
class FarmOptions:
    """One planted-farm model (:func:`plant_farms`), after the issue's held-out measurement.

    Attributes
    ----------
    farms : how many farms to plant
    size : fake accounts per farm (50 - 1,000)
    customers : paying creators per farm (5 - 100); farms do not share customers
    audience : the customers' own audiences: ``"small"`` (5-60 followers), ``"mid"``
        (61-500), ``"large"`` (over 500), drawn among existing accounts with that many
        followers (the band is widened to the nearest in-degrees when it holds too few), or
        ``"new"`` (new accounts)
    share : each fake follows ``round(share x customers)`` of its farm's customers (at least
        one), chosen at random (0.3 - 0.9)
    camouflage : ``"popularity"`` (other accounts drawn in proportion to their followers) or
        ``"uniform"`` (any account with a follower or a follow, equally likely); each fake
        makes camouflage follows until its out-degree equals the out-degree of a randomly
        drawn honest account (an account following at least one), or makes none when its
        farm follows already reach that degree
    """

    farms: int = 2
    size: int = 350
    customers: int = 40
    audience: str = "small"
    share: float = 0.6
    camouflage: str = "popularity"

    def __post_init__(self):
        for name in ("farms", "size", "customers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise InputError(f"FarmOptions.{name} must be a whole number of at least 1, got {v!r}")
        if self.audience not in (*AUDIENCE_BANDS, "new"):
            raise InputError(f"FarmOptions.audience must be one of small, mid, large, new; got "
                             f"{self.audience!r}")
        if not 0 < self.share <= 1:
            raise InputError(f"FarmOptions.share must be in (0, 1], got {self.share!r}")
        if self.camouflage not in ("popularity", "uniform"):
            raise InputError(f"FarmOptions.camouflage must be popularity or uniform, got "
                             f"{self.camouflage!r}")


@dataclass
class PlantedFarms:
    """What :func:`plant_farms` returns: the edge list with the farms, and the truth."""

    src: np.ndarray                # follower ids, the input's edges first
    dst: np.ndarray                # followee ids
    fakes: list[np.ndarray]        # per farm: its fake accounts' ids (new ids)
    customers: list[np.ndarray]    # per farm: its paying creators' ids
    degree: list[np.ndarray]       # per farm: the honest out-degree drawn for each fake
    warnings: list[str]

    @property
    def fake_ids(self) -> np.ndarray:
        return np.concatenate(self.fakes)

    @property
    def customer_ids(self) -> np.ndarray:
        return np.concatenate(self.customers)


def plant_farms(src: np.ndarray, dst: np.ndarray, options: FarmOptions | None = None, *,
                seed: int = 0, **kwargs) -> PlantedFarms:
    """Plant degree-matched bot farms into the edge list ``src -> dst`` (``src`` follows ``dst``).

    The model of issue 14 (see :class:`FarmOptions`; keyword arguments override its fields):
    each farm has ``size`` new fake accounts and ``customers`` paying creators; each fake
    follows ``round(share x customers)`` of them, then camouflage follows (by popularity or
    uniformly, among the input's accounts, never twice the same) until its out-degree equals
    the out-degree of a randomly drawn honest account. No fake is followed by anyone. Ids of
    new accounts (fakes, and ``"new"`` customers) start above the largest input id.
    Duplicate follows of the input are kept as they are; the planted follows add none.
    Deterministic given ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> src, dst = rng.integers(0, 500, 5_000), rng.integers(0, 500, 5_000)
    >>> p = plant_farms(src, dst, farms=1, size=50, customers=5, seed=1)
    >>> len(p.fakes[0]), len(p.customers[0])
    (50, 5)
    """
    opt = FarmOptions(**{**(options.__dict__ if options is not None else {}), **kwargs})
    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    if len(src) != len(dst) or len(src) == 0:
        raise InputError("plant_farms needs a non-empty edge list with as many followers as followees")
    rng = np.random.default_rng(seed)
    n = int(max(src.max(), dst.max())) + 1
    out_deg = np.bincount(src, minlength=n)
    in_deg = np.bincount(dst, minlength=n)
    honest_deg = out_deg[out_deg > 0]
    present = np.flatnonzero((out_deg > 0) | (in_deg > 0))
    popular = np.flatnonzero(in_deg > 0)
    warnings: list[str] = []
    customers = _farm_customers(opt, in_deg, n, rng, warnings)
    n_follow = max(1, round(opt.share * opt.customers))
    next_id = n + (opt.farms * opt.customers if opt.audience == "new" else 0)
    new_src, new_dst, fakes, degrees = [], [], [], []
    pool = popular if opt.camouflage == "popularity" else present
    cdf = np.cumsum(in_deg[pool].astype(np.float64)) if opt.camouflage == "popularity" else None
    for f in range(opt.farms):
        ids = np.arange(next_id, next_id + opt.size, dtype=np.int64)
        next_id += opt.size
        deg = rng.choice(honest_deg, opt.size)
        for i in range(opt.size):
            hit = rng.choice(customers[f], n_follow, replace=False)
            camo = _camouflage(rng, pool, cdf, int(deg[i]) - n_follow, hit)
            follows = np.concatenate([hit, camo])
            new_src.append(np.full(len(follows), ids[i], np.int64))
            new_dst.append(follows)
        fakes.append(ids)
        degrees.append(deg.astype(np.int64))
    return PlantedFarms(src=np.concatenate([src, *new_src]), dst=np.concatenate([dst, *new_dst]),
                        fakes=fakes, customers=customers, degree=degrees, warnings=warnings)


def _farm_customers(opt: FarmOptions, in_deg: np.ndarray, n: int, rng, warnings: list) -> list:
    """Each farm's customers: distinct accounts in the audience band (widened to the nearest
    in-degrees when it is short), or new ids ``n, n+1, ...``."""
    need = opt.farms * opt.customers
    if opt.audience == "new":
        ids = np.arange(n, n + need, dtype=np.int64)
    else:
        lo, hi = AUDIENCE_BANDS[opt.audience]
        hi = np.inf if hi is None else hi
        cand = np.flatnonzero(in_deg > 0)
        d = in_deg[cand].astype(np.float64)
        gap = np.maximum(lo - d, 0) + np.maximum(d - hi, 0)  # 0 inside the band
        if need > len(cand):
            raise InputError(f"the graph has {len(cand):,} followed accounts: too few for {need:,} "
                             "customers")
        inside = int((gap == 0).sum())
        if inside < need:
            warnings.append(f"only {inside:,} accounts have a {opt.audience} audience ({lo}-{hi} "
                            f"followers); the band was widened to the nearest {need:,}")
            order = np.lexsort((rng.random(len(cand)), gap))[:need]
            ids = rng.permutation(cand[order])
        else:
            ids = rng.choice(cand[gap == 0], need, replace=False)
    return [np.sort(ids[f * opt.customers:(f + 1) * opt.customers]) for f in range(opt.farms)]


def _camouflage(rng, pool: np.ndarray, cdf: np.ndarray | None, k: int, avoid: np.ndarray):
    """``k`` distinct accounts of ``pool`` (by the cumulative weights ``cdf``, else
    uniformly), none in ``avoid``."""
    if k <= 0:
        return np.zeros(0, np.int64)
    k = min(k, len(pool) - len(avoid))
    got = np.zeros(0, np.int64)
    while len(got) < k:  # draw with replacement, keep the new distinct ones, repeat
        m = 2 * (k - len(got)) + 8
        if cdf is None:
            draw = pool[rng.integers(0, len(pool), m)]
        else:
            at = np.searchsorted(cdf, rng.random(m) * cdf[-1], side="right")
            draw = pool[np.minimum(at, len(pool) - 1)]
        draw = draw[~np.isin(draw, avoid)]
        _, first = np.unique(draw, return_index=True)
        draw = draw[np.sort(first)]
        draw = draw[~np.isin(draw, got)]
        got = np.concatenate([got, draw[:k - len(got)]])
    return got.astype(np.int64)
