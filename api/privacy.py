"""Minimum-count suppression that cannot be undone from the rest of the answer.

With a threshold ``k`` (the key's ``min_count``, else the service's; 0 = off):

- every count of a group of followers in a reach or overlap report (Venn regions,
  pairwise overlaps, exclusive and incremental reach, frequency bins, unique and gross
  reach, audiences under a filter, expected reach and frequency) that lies in
  ``1..k-1`` is held back (null, or left out for regions);
- and so is every other figure it could be derived from. Each figure is a linear
  function of the Venn region counts (audiences, unions, frequency bins, expected
  reach with view rates: all of them), so figures are released one at a time, most
  useful first, and a figure is held back when, with those already released, some
  held-back count would become a linear combination of released ones (an orthonormal
  basis of the released figures; each hidden count's residual must stay nonzero).
  The attacker is assumed to know which regions are empty, so this holds even then.
  Ratios (shares, duplication, the normalised overlaps, averages) go with their parts;
- a creator's own audience without a filter is its follower count, public through
  ``/v1/creators/{id}``, so it is always released (and whatever follows from it alone);
  engaged and loyal audiences (``audience`` other than ``followers``) are not public and
  are treated like filtered ones;
- engagement rows (:func:`suppress_engagement`): each count of people (engaged, engaged
  followers and non-followers, loyal fans, loyal followers) in ``1..k-1`` is held back,
  and so is the other part of a split whose part is held back (engaged = followers +
  non-followers; loyal fans = loyal followers + loyal non-followers). Event counts
  (interactions, by kind, comments) and the follower count are released;
- a filter (``where``, ``exclude_flagged``) that keeps fewer than ``k`` of the creators'
  followers (or fewer than ``k`` accounts) is refused (422 ``filter_too_narrow``);
- similar-creator rows with fewer than ``k`` common followers are left out.

Unfiltered counts of 0 are kept: an empty group exposes nobody. Reports with more
than :data:`MAX_UNKNOWNS` regions (or more creators than every region is listed for)
release only the public audiences when anything is small. This limits what one answer
discloses about small groups; it is not differential privacy (answers to two
overlapping filters can still be differenced).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from kolgraph.api.errors import ApiError

from kolgraph._parallel import check_deadline
from kolgraph.measures import MEASURES

MATRICES = (*MEASURES, "counts_low", "counts_high", "jaccard_low", "jaccard_high")  # bounds: sketch mode
MAX_UNKNOWNS = 600  # regions the exact analysis handles; beyond, the coarse rule
EXACT_REGIONS = 15  # reach reports list every region up to this many creators
TOL = 1e-7


def _small(n, k: int) -> bool:
    return n is not None and 0 < n < k


@dataclass
class _Figures:
    """The report's figures as linear functions (rows) of the region counts (columns)."""

    rows: list[np.ndarray] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    hide: list[Callable[[], None]] = field(default_factory=list)  # nulls it in the report
    public: list[bool] = field(default_factory=list)
    released: list[bool] = field(default_factory=list)

    def add(self, row: np.ndarray, value, hide: Callable[[], None], public: bool = False) -> int:
        self.rows.append(np.asarray(row, dtype=np.float64))
        self.values.append(value)
        self.hide.append(hide)
        self.public.append(public)
        return len(self.rows) - 1


def _setter(obj, key, value=None) -> Callable[[], None]:
    def hide():
        obj[key] = value
    return hide


def _poisson_binomial(p: np.ndarray) -> np.ndarray:
    out = np.zeros(len(p) + 1)
    out[0] = 1.0
    for q in p:
        out[1:] = out[1:] * (1 - q) + out[:-1] * q
        out[0] *= 1 - q
    return out


def _figures(d: dict, member: np.ndarray, filtered: bool) -> _Figures:
    """Every count of ``d`` as a row over the regions (``member[r, i]``: region r holds creator i)."""
    f = _Figures()
    ones = np.ones(len(member))
    size = member.sum(axis=1)
    creators = d["creators"]
    kk = len(creators)
    f.add(ones, d["unique_reach"], _setter(d, "unique_reach"))
    f.add(size.astype(float), d["gross_reach"], _setter(d, "gross_reach"))
    for i, c in enumerate(creators):
        f.add(member[:, i], c["audience"], _setter(c, "audience"), public=not filtered)
    before = np.zeros(len(member), dtype=bool)
    for i, c in enumerate(creators):
        f.add(member[:, i] & ~before, c["incremental"], _setter(c, "incremental"))
        before |= member[:, i]
    for i, c in enumerate(creators):
        f.add(member[:, i] & (size == 1), c["exclusive"], _setter(c, "exclusive"))
    counts = d["overlap"]["counts"]
    for i in range(kk):
        for j in range(i + 1, kk):
            row = member[:, i] & member[:, j]
            f.add(row, counts[i][j], _pair_hider(d["overlap"], i, j))
    freq = d["frequency"]
    for m in range(1, kk + 1):
        f.add(size == m, freq["exactly"][m], _setter(freq["exactly"], m))
        f.add(size >= m, freq["at_least"][m], _setter(freq["at_least"], m))
    rates = np.array([c["view_rate"] for c in creators], dtype=np.float64)
    posts = np.array([c["posts"] for c in creators], dtype=np.float64)
    p = 1.0 - (1.0 - rates) ** posts
    dist = np.zeros((len(member), kk + 1))
    for r in range(len(member)):
        pb = _poisson_binomial(p[member[r]])
        dist[r, :len(pb)] = pb
    f.add(1.0 - dist[:, 0], d["expected_reach"], _setter(d, "expected_reach"))
    ef = d["expected_frequency"]
    for m in range(kk + 1):
        f.add(dist[:, m], ef["exactly"][m], _setter(ef["exactly"], m))
        f.add(dist[:, m:].sum(axis=1), ef["at_least"][m], _setter(ef["at_least"], m))
    return f


def _pair_hider(overlap: dict, i: int, j: int) -> Callable[[], None]:
    def hide():
        for name in MATRICES:
            if name in overlap:
                overlap[name][i][j] = overlap[name][j][i] = None
    return hide


def _release(f: _Figures, small: np.ndarray) -> np.ndarray:
    """Which figures can be released: public ones, then the rest in order unless one would
    make a held-back small figure a linear combination of released ones."""
    rows = np.array(f.rows)
    n, width = rows.shape
    released = np.zeros(n, dtype=bool)
    basis = np.zeros((width, width))  # orthonormal rows spanning the released figures
    m = 0
    norms = np.maximum(np.linalg.norm(rows, axis=1), 1.0)

    def residual(v: np.ndarray) -> np.ndarray:
        for _ in range(2):  # twice: Gram-Schmidt keeps its accuracy
            v = v - basis[:m].T @ (basis[:m] @ v)
        return v

    targets = np.zeros((0, width))
    target_norms = np.zeros(0)
    public = np.array(f.public, dtype=bool)
    for phase in ("public", "rest"):
        if phase == "rest":  # small figures not derivable from public ones are the targets
            res = rows - (rows @ basis[:m].T) @ basis[:m]
            derivable = np.linalg.norm(res, axis=1) <= TOL * norms
            released |= small & ~public & derivable
            keep = np.flatnonzero(small & ~public & ~derivable)
            targets, target_norms = res[keep], norms[keep]
        for i in np.flatnonzero(public if phase == "public" else ~public & ~small):
            check_deadline()
            if released[i]:
                continue
            v = residual(rows[i])
            size = np.linalg.norm(v)
            if size <= TOL * norms[i]:
                released[i] = True  # adds nothing the released figures do not already say
                continue
            u = v / size
            after = targets - np.outer(targets @ u, u)
            if len(after) and (np.linalg.norm(after, axis=1) <= TOL * target_norms).any():
                continue  # it would give a held-back count away
            targets = after
            basis[m] = u
            m += 1
            released[i] = True
    return released


def _member(d: dict) -> np.ndarray | None:
    """Region x creator membership, or None when the report does not list every region."""
    ids = [c["id"] for c in d["creators"]]
    if len(ids) > EXACT_REGIONS or len(d["regions"]) > MAX_UNKNOWNS:
        return None
    pos = {i: n for n, i in enumerate(ids)}
    member = np.zeros((len(d["regions"]), len(ids)), dtype=bool)
    for r, region in enumerate(d["regions"]):
        member[r, [pos[c] for c in region["creators"]]] = True
    return member


def _check_narrow(d: dict, k: int) -> None:
    passing = d["filters"].get("accounts_passing")
    if passing is None or k <= 0:
        return
    if passing < k or d["unique_reach"] < k:
        raise ApiError(422, "filter_too_narrow",
                       f"the filter keeps {min(passing, d['unique_reach'])} of these creators' "
                       f"followers (or accounts), fewer than this key's minimum group size of "
                       f"{k}; widen it")


def suppress_report(d: dict, k: int) -> dict:
    """Apply suppression to a reach report dict in place (``to_dict`` form); adds ``suppression``."""
    _check_narrow(d, k)
    if k <= 0:
        d["suppression"] = {"min_count": 0, "regions": 0, "overlap_cells": 0, "exclusive": 0,
                            "figures": 0}
        return d
    filtered = (d["filters"].get("accounts_passing") is not None
                or d["filters"].get("audience", "followers") != "followers")
    member = _member(d)
    if member is None:
        member = np.zeros((0, len(d["creators"])), dtype=bool)
        coarse = True
    else:
        coarse = False
    f = _figures(d, member, filtered)
    small = np.array([_small(v, k) for v in f.values], dtype=bool)
    regions_small = [_small(r["count"], k) for r in d["regions"]]
    if not small.any() and not any(regions_small):
        d["suppression"] = {"min_count": k, "regions": 0, "overlap_cells": 0, "exclusive": 0,
                            "figures": 0}
        return d
    if coarse:  # not every region listed: only the public audiences
        released = np.array(f.public, dtype=bool)
    else:
        for r, region in enumerate(d["regions"]):
            row = np.zeros(len(member))
            row[r] = 1.0
            f.add(row, region["count"], lambda: None)
        small = np.array([_small(v, k) for v in f.values], dtype=bool)
        released = _release(f, small)
    return _apply(d, f, released, k, coarse)


def _apply(d: dict, f: _Figures, released: np.ndarray, k: int, coarse: bool) -> dict:
    """Null the figures not ``released`` (and what derives from them); drop held regions."""
    n_regions = len(d["regions"])
    first = len(f.rows) if coarse else len(f.rows) - n_regions
    kept = [] if coarse else [region for r, region in enumerate(d["regions"])
                              if released[first + r]]
    held = np.flatnonzero(~released[:first])
    for i in held:
        f.hide[i]()
    creators = d["creators"]
    n_cells = sum(1 for i, row in enumerate(d["overlap"]["counts"]) for j, c in enumerate(row)
                  if i != j and c is None)
    n_excl = sum(1 for c in creators if c["exclusive"] is None)
    _hide_derived(d)
    d["regions"] = kept
    d["suppression"] = {"min_count": k, "regions": n_regions - len(kept),
                        "overlap_cells": n_cells, "exclusive": n_excl, "figures": len(held)}
    return d


def _hide_derived(d: dict) -> None:
    """Ratios and bounds go with their parts: a ratio of two released figures says nothing
    new, one of a held-back figure would give it away."""
    creators = d["creators"]
    aud_ok = all(c["audience"] is not None for c in creators)
    for c in creators:
        if c["audience"] is None or d["unique_reach"] is None:
            c["share"] = None
        for name in ("exclusive", "incremental"):
            if c[name] is None:
                for b in ("_low", "_high"):
                    if name + b in c:
                        c[name + b] = None
    ov = d["overlap"]
    for i, row in enumerate(ov["counts"]):
        for j in range(len(row)):
            gone = row[j] is None or creators[i]["audience"] is None \
                or creators[j]["audience"] is None
            if gone:
                for name in MATRICES:
                    if name in ov:
                        ov[name][i][j] = None
    if d["unique_reach"] is None:
        for key in ("unique_reach_low", "unique_reach_high"):
            if key in d:
                d[key] = None
    if d["unique_reach"] is None or d["gross_reach"] is None:
        d["duplication"] = None
        d["frequency"]["average"] = None
    freq = d["frequency"]
    for name in ("exactly", "at_least"):
        for b in ("_low", "_high"):
            if name + b in freq:
                freq[name + b] = [None if v is None else w
                                  for v, w in zip(freq[name], freq[name + b], strict=True)]
    ef = d["expected_frequency"]
    if d["expected_reach"] is None or any(v is None for v in ef["exactly"]):
        ef["average"] = None
    if not aud_ok:
        d["sainsbury_reach"] = None


def suppress_similar(rows: list[dict], k: int) -> tuple[list[dict], int]:
    kept = [r for r in rows if not _small(r["common"], k)]
    return kept, len(rows) - len(kept)


ENGAGED_SPLITS = (("engaged", ("engaged_followers", "engaged_non_followers")),
                  ("loyal_fans", ("loyal_followers",)))  # the rest: loyal non-followers


def suppress_engagement(rows: list[dict], k: int) -> dict:
    """Hold back small counts of people in engagement rows, in place; returns the tally.

    A whole in ``1..k-1`` is held back; when any part of its split (the reported ones, or
    the unreported rest, e.g. loyal non-followers) is in ``1..k-1``, every reported part
    is held back (the whole and the other parts would give a part away)."""
    held = 0
    for row in rows if k > 0 else ():
        for whole, parts in ENGAGED_SPLITS:
            values = [row[p] for p in parts]
            rest = row[whole] - sum(values)
            hide = {whole} if _small(row[whole], k) else set()
            if any(_small(v, k) for v in (*values, rest)):
                hide.update(parts)
            for name in hide:
                row[name] = None
            held += len(hide)
    return {"min_count": max(k, 0), "figures": held}
