"""Minimum-count suppression: small groups of followers are not reported.

With a threshold ``k`` (the key's ``min_count``, else the service's; 0 = off):

- Venn regions with fewer than ``k`` followers are left out (``suppressed_regions``
  counts them);
- pairwise overlap cells whose count ``|A∩B|`` is below ``k`` are null in every
  matrix (counts and each normalisation, since a ratio and the audiences give
  the count back); a creator's own audience (the diagonal) is public and kept;
- a creator's exclusive reach below ``k`` is null (it is a region too);
- similar-creator rows with fewer than ``k`` common followers are left out.

- a filter (``where``, ``exclude_flagged``) that keeps fewer than ``k`` accounts is
  refused (422 ``filter_too_narrow``): every count of such a report is a small group.

Counts of 0 are kept: an empty group exposes nobody. This limits what one
answer discloses about small groups; it is not differential privacy (answers to
two overlapping filters can still be differenced).
"""

from __future__ import annotations

from kolgraph.api.errors import ApiError

from kolgraph.measures import MEASURES

MATRICES = (*MEASURES, "counts_low", "counts_high", "jaccard_low", "jaccard_high")  # bounds: sketch mode


def _small(n: int, k: int) -> bool:
    return 0 < n < k


def suppress_overlap(overlap: dict, k: int) -> int:
    """Null the off-diagonal cells below ``k`` in place; returns how many cells."""
    counts = overlap["counts"]
    n = 0
    for i, row in enumerate(counts):
        for j, c in enumerate(row):
            if i != j and c is not None and _small(c, k):
                n += 1
                for name in MATRICES:
                    if name in overlap:
                        overlap[name][i][j] = None
    return n


def suppress_regions(regions: list[dict], k: int) -> tuple[list[dict], int]:
    kept = [r for r in regions if not _small(r["count"], k)]
    return kept, len(regions) - len(kept)


def suppress_report(d: dict, k: int) -> dict:
    """Apply suppression to a reach report dict in place (``to_dict`` form); adds ``suppression``."""
    passing = d["filters"].get("accounts_passing")
    if passing is not None and _small(passing, k):
        raise ApiError(422, "filter_too_narrow",
                       f"the filter keeps {passing} accounts, fewer than this key's minimum "
                       f"group size of {k}; widen it")
    if k <= 0:
        d["suppression"] = {"min_count": 0, "regions": 0, "overlap_cells": 0, "exclusive": 0}
        return d
    d["regions"], n_regions = suppress_regions(d["regions"], k)
    n_cells = suppress_overlap(d["overlap"], k)
    n_excl = 0
    for c in d["creators"]:
        if _small(c["exclusive"], k):
            for key in ("exclusive", "exclusive_low", "exclusive_high"):
                if key in c:
                    c[key] = None
            n_excl += 1
    d["suppression"] = {"min_count": k, "regions": n_regions, "overlap_cells": n_cells,
                        "exclusive": n_excl}
    return d


def suppress_similar(rows: list[dict], k: int) -> tuple[list[dict], int]:
    kept = [r for r in rows if not _small(r["common"], k)]
    return kept, len(rows) - len(kept)
