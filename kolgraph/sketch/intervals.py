"""Estimators and intervals of the sketch mode: HyperLogLog, Wilson, intersection MLE."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.kernels import sketch as _k


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def hll_estimate(reg: np.ndarray, p: int) -> float:
    """Ertl's improved raw estimator (2017): nearly unbiased from 0 to 2**64 / 2."""
    q = 64 - p
    m = float(1 << p)
    c = _k.hll_histogram(np.asarray(reg, dtype=np.uint8), q)
    if c[0] == m:
        return 0.0
    z = m * _tau(1.0 - c[q + 1] / m)
    for v in range(q, 0, -1):
        z = 0.5 * (z + c[v])
    z += m * _sigma(c[0] / m)
    return m * m / (2.0 * math.log(2.0)) / z


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        prev = z
        z += x * y
        y += y
        if z == prev:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        prev = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == prev:
            return z / 3.0


def hll_rse(p: int) -> float:
    """Relative standard error of a HyperLogLog estimate with 2**p registers."""
    return 1.04 / math.sqrt(1 << p)


def hll_interval(reg: np.ndarray, p: int, confidence: float) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the truth lies in ``N̂ / (1 ± z·rse)`` at ``confidence``."""
    est = hll_estimate(reg, p)
    e = _z(confidence) * hll_rse(p)
    return est, est / (1.0 + e), (est / (1.0 - e) if e < 1.0 else math.inf)


def wilson(c, s, rate, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a share ``c / s`` seen in a uniform sample of ``s`` items drawn
    at ``rate`` from a population: the effective size ``s / (1 − rate)`` is the finite-population
    correction (rate 1 is a census: the interval is the point; s = 0 gives [0, 1])."""
    c, s, rate = (np.asarray(x, dtype=float) for x in np.broadcast_arrays(c, s, rate))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(s > 0, c / s, 0.0)
        n = np.where(rate < 1.0, s / (1.0 - rate), np.inf)
        z2n = np.where(np.isfinite(n), z * z / n, 0.0)
        centre = (share + z2n / 2.0) / (1.0 + z2n)
        half = np.where(np.isfinite(n),
                        z / (1.0 + z2n) * np.sqrt(share * (1.0 - share) / n + z2n / (4.0 * n)),
                        0.0)
        low = np.where(s > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
        high = np.where(s > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    exact = ~np.isfinite(n) & (s > 0)
    return np.where(exact, share, low), np.where(exact, share, high)


def _log_binom(n, r):
    from scipy.special import gammaln

    return gammaln(n + 1.0) - gammaln(r + 1.0) - gammaln(n - r + 1.0)


def intersection_mle(a, b, na, nb, c, rate, z: float):
    """``(estimate, low, high)`` of ``I = |A∩B|`` from exact audiences ``a``, ``b`` and a
    sample of rate ``rate`` of both: ``na``/``nb`` sampled followers of A/B, ``c`` of both.

    Each follower is sampled independently with probability ``rate`` (hashes below the
    pair's threshold), so the log-likelihood of I is
    ``log C(I, c) + log C(a−I, na−c) + log C(b−I, nb−c) − I·log(1 − rate)`` (+ const.),
    concave in I: the estimate is its maximum over the integers of
    ``[c, min(a − na + c, b − nb + c)]``, the interval the integers whose log-likelihood is
    within ``z²/2`` of it (likelihood ratio). Arrays broadcast; rate 1 is a census.
    """
    a, b, na, nb, c, rate = (np.asarray(v, dtype=float) for v in
                             np.broadcast_arrays(a, b, na, nb, c, rate))
    x, y = na - c, nb - c
    first = c
    last = np.maximum(np.minimum(a - x, b - y), first)
    census = rate >= 1.0
    l1 = np.log1p(-np.where(census, 0.0, np.clip(rate, 0.0, 1.0)))
    last = np.where(census, first, last)

    def ll(i):
        return _log_binom(i, c) + _log_binom(a - i, x) + _log_binom(b - i, y) - i * l1

    def bisect(lo, hi, keep_low):  # keep_low(mid): the answer is >= mid; lo satisfies it
        for _ in range(64):
            open_ = hi - lo > 1
            if not open_.any():
                break
            mid = np.floor((lo + hi) / 2.0)
            ok = keep_low(mid)
            lo = np.where(open_ & ok, mid, lo)
            hi = np.where(open_ & ~ok, mid, hi)
        return lo, hi

    with np.errstate(invalid="ignore", divide="ignore"):
        mle, _ = bisect(first, last + 1.0, lambda m: ll(m) > ll(m - 1.0))  # last rising step
        cut = ll(mle) - z * z / 2.0
        # lowest integer at or above the cut: bisect on (below the cut, at or above it]
        low_ok = ll(first) >= cut
        _, low = bisect(first, mle, lambda m: ll(m) < cut)
        low = np.where(low_ok | (mle <= first), first, low)
        high_ok = ll(last) >= cut
        high, _ = bisect(mle, last, lambda m: ll(m) >= cut)
        high = np.where(high_ok | (last <= mle), last, high)
    return mle, low, high

