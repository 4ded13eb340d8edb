"""The reach report: what one deduplicated-reach call measures, and its JSON form.

Definitions follow docs/design.md (see :mod:`kolgraph.reach` for the list); the overlap
normalisations come from :mod:`kolgraph.measures`. Exact reports
(:func:`kolgraph.reach.reach`), sketch estimates and the Dask engine all return one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kolgraph.exceptions import InputError
from kolgraph.measures import MEASURES, divide

EXACT_REGIONS = 15  # up to this many creators every region is listed; above, the largest
TOP_REGIONS = 100


@dataclass
class ReachReport:
    """Everything one reach call measures; :meth:`to_dict` gives the stable JSON form.

    Per-creator arrays follow ``ids`` (the deduplicated input order).
    """

    ids: list
    audience: np.ndarray
    exclusive: np.ndarray
    incremental: np.ndarray
    tiers: list
    counts: np.ndarray  # k x k intersections, audiences on the diagonal
    exactly: np.ndarray  # exactly[f], f = 0..k (exactly[0] = 0)
    # uint64 membership masks, bit i = ids[i]; up to 64 creators one per region, above
    # one row of ceil(k / 64) words per region (creator i = bit i % 64 of word i // 64)
    region_masks: np.ndarray
    region_counts: np.ndarray
    n_population: int
    view_rates: np.ndarray
    posts: np.ndarray
    expected_reach: float
    expected_exactly: np.ndarray  # f = 0..k
    filters: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    # --- headline numbers ------------------------------------------------------------
    @property
    def k(self) -> int:
        return len(self.ids)

    @property
    def unique_reach(self) -> int:
        return int(self.region_counts.sum())

    @property
    def gross_reach(self) -> int:
        return int(self.audience.sum())

    @property
    def duplication(self) -> float:
        return _ratio(self.gross_reach, self.unique_reach)

    @property
    def at_least(self) -> np.ndarray:
        """``at_least[f]`` = R_f, followers reached by at least f creators (f = 0..k)."""
        return np.cumsum(self.exactly[::-1])[::-1]

    @property
    def share(self) -> np.ndarray:
        """Each creator's audience as a share of the unique reach."""
        return divide(self.audience.astype(float), float(self.unique_reach))

    @property
    def sainsbury_reach(self) -> float:
        n = self.n_population
        if n == 0 or self.k == 0:
            return 0.0
        return float(n * (1.0 - np.prod(1.0 - np.minimum(self.audience / n, 1.0))))

    @property
    def probabilities(self) -> np.ndarray:
        """``p_c = 1 − (1 − r_c)^{n_c}``: chance a follower sees at least one post of c."""
        return 1.0 - (1.0 - self.view_rates) ** self.posts

    # --- overlap normalisations (kolgraph.measures) --------------------------------------
    def overlap(self, measure: str = "overlap_coefficient") -> np.ndarray:
        """The k x k matrix of an overlap measure named in :data:`kolgraph.measures.MEASURES`."""
        if measure not in MEASURES:
            raise InputError(f"unknown overlap measure {measure!r}; one of {', '.join(MEASURES)}")
        return MEASURES[measure].compute(self.counts, self.audience, self.n_population)

    def jaccard(self) -> np.ndarray:
        return self.overlap("jaccard")

    def overlap_coefficient(self) -> np.ndarray:
        return self.overlap("overlap_coefficient")

    def directional(self) -> np.ndarray:
        """Row i, column j: ``|A_i ∩ A_j| / |A_i|``."""
        return self.overlap("directional")

    def lift(self) -> np.ndarray:
        return self.overlap("lift")

    def regions(self, limit: int | None = None) -> list[dict]:
        """Venn/UpSet regions, largest first: ``{"creators": [ids], "count": n}``."""
        words = mask_rows(self.region_masks)
        order = np.lexsort((*words.T, -self.region_counts))
        if limit is not None:
            order = order[:limit]
        out = []
        for r in order:
            m = sum(int(w) << (64 * i) for i, w in enumerate(words[r]))
            out.append({"creators": [self.ids[i] for i in range(self.k) if (m >> i) & 1],
                        "count": int(self.region_counts[r])})
        return out

    # --- exports ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys (see docs/reach.md)."""
        k = self.k
        limit = None if k <= EXACT_REGIONS else TOP_REGIONS
        warnings = list(self.warnings)
        if limit is not None and len(self.region_counts) > limit:
            warnings.append(f"{k} creators: listing the {limit} largest of "
                            f"{len(self.region_counts):,} regions")
        share = self.share
        exp_ex = self.expected_exactly
        return {
            "unique_reach": self.unique_reach,
            "gross_reach": self.gross_reach,
            "duplication": self.duplication,
            "creators": [{"id": self.ids[i], "audience": int(self.audience[i]),
                          "exclusive": int(self.exclusive[i]),
                          "incremental": int(self.incremental[i]), "share": float(share[i]),
                          "tier": self.tiers[i], "view_rate": float(self.view_rates[i]),
                          "posts": int(self.posts[i])}
                         for i in range(k)],
            "overlap": {"ids": list(self.ids),
                        **{name: self.overlap(name).tolist() for name in MEASURES}},
            "frequency": {"exactly": self.exactly.tolist(), "at_least": self.at_least.tolist(),
                          "average": self.duplication},
            "regions": self.regions(limit),
            "expected_reach": float(self.expected_reach),
            "expected_frequency": {
                "exactly": exp_ex.tolist(),
                "at_least": np.cumsum(exp_ex[::-1])[::-1].tolist(),
                "average": _ratio(float((exp_ex * np.arange(k + 1)).sum()), float(self.expected_reach)),
            },
            "sainsbury_reach": self.sainsbury_reach,
            "population": self.n_population,
            "filters": dict(self.filters),
            "warnings": warnings,
        }

    def to_frame(self):
        """Per-creator pandas table: id, tier, audience, exclusive, incremental, cumulative, share."""
        import pandas as pd

        return pd.DataFrame({"id": list(self.ids), "tier": list(self.tiers),
                             "audience": self.audience, "exclusive": self.exclusive,
                             "incremental": self.incremental,
                             "cumulative": np.cumsum(self.incremental), "share": self.share,
                             "view_rate": self.view_rates, "posts": self.posts,
                             "p_seen": self.probabilities})


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def mask_rows(masks: np.ndarray) -> np.ndarray:
    """Region masks as rows of words, whether one word per region (1-D) or several (2-D)."""
    return masks[:, None] if masks.ndim == 1 else masks
