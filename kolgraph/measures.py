"""Pairwise overlap measures: the one registry the reports, CLI, plots and service read.

Each measure turns the ``k x k`` common-follower counts (audiences on the
diagonal), the audiences and the population ``N`` into a ``k x k`` matrix,
always labelled with its normalisation (docs/design.md, "Pairwise overlap"). A ratio
whose denominator is zero is 0.0. Adding a measure is one registered function
here: reach reports (:meth:`kolgraph.reach.ReachReport.overlap` and their JSON),
``kolgraph overlap --by``, the heatmaps and the service's overlap answer all list
:data:`MEASURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Measure:
    name: str
    label: str  # heading and axis label, with the formula
    compute: Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (counts, audience, N) -> k x k
    integer: bool = False  # counts, not ratios


MEASURES: dict[str, Measure] = {}


def _measure(name: str, label: str, integer: bool = False):
    def register(fn):
        MEASURES[name] = Measure(name, label, fn, integer)
        return fn
    return register


def divide(num: np.ndarray, den: np.ndarray | float) -> np.ndarray:
    """``num / den`` elementwise as floats, 0.0 where the denominator is 0."""
    num = np.asarray(num, dtype=float)
    den = np.broadcast_to(np.asarray(den, dtype=float), num.shape)
    out = np.zeros(num.shape, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


@_measure("counts", "common followers |A∩B|", integer=True)
def counts(c: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(c)


@_measure("jaccard", "Jaccard |A∩B|/|A∪B|")
def jaccard(c: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    a = a.astype(float)
    return divide(c, a[:, None] + a[None, :] - c)


@_measure("overlap_coefficient", "overlap coefficient |A∩B|/min(|A|,|B|)")
def overlap_coefficient(c: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    a = a.astype(float)
    return divide(c, np.minimum(a[:, None], a[None, :]))


@_measure("directional", "directional |A∩B|/|A| (row A)")
def directional(c: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """Row i, column j: ``|A_i ∩ A_j| / |A_i|``."""
    return divide(c, np.broadcast_to(a.astype(float)[:, None], np.shape(c)))


@_measure("lift", "lift |A∩B|·N/(|A||B|)")
def lift(c: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    a = a.astype(float)
    return divide(np.asarray(c) * float(n), a[:, None] * a[None, :])


MEASURE_NAMES: tuple[str, ...] = tuple(MEASURES)
