"""Creator tiers by follower count (lower bound inclusive)."""

from __future__ import annotations

import numpy as np

TIER_NAMES = ("nano", "micro", "mid", "macro", "mega")
# nano < 10k <= micro < 100k <= mid < 500k <= macro < 1M <= mega
TIER_BOUNDS = np.array([10_000, 100_000, 500_000, 1_000_000], dtype=np.int64)


def tier_index(followers: np.ndarray) -> np.ndarray:
    """Tier number (0 = nano .. 4 = mega) of each follower count."""
    return np.searchsorted(TIER_BOUNDS, np.asarray(followers, dtype=np.int64), side="right")


def tier_of(followers: np.ndarray) -> np.ndarray:
    """Tier name of each follower count, e.g. ``tier_of([9_999, 10_000]) -> ['nano', 'micro']``.

    Examples
    --------
    >>> tier_of([9_999, 10_000, 250_000, 2_000_000]).tolist()
    ['nano', 'micro', 'mid', 'mega']
    """
    return np.asarray(TIER_NAMES, dtype=object)[tier_index(followers)]
