"""What :func:`~kolgraph.propagation.spread` and :func:`~kolgraph.propagation.seeds` return."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959963984540054


@dataclass
class SpreadResult:
    """Monte Carlo estimate of the expected spread of a seed set.

    ``samples[j]`` is the number of accounts active at the end of simulation j
    (seeds included); ``inc_sum``/``inc_sq`` sum, per seed, the accounts it newly
    activated and their squares.
    """

    seeds: list
    model: str
    params: dict
    samples: np.ndarray
    inc_sum: np.ndarray
    inc_sq: np.ndarray
    runs_requested: int
    seed: int
    threads: int
    seconds: float
    interrupted: bool = False
    warnings: list = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def mean(self) -> float:
        return float(self.samples.mean()) if self.runs else 0.0

    @property
    def std(self) -> float:
        return float(self.samples.std(ddof=1)) if self.runs > 1 else 0.0

    @property
    def stderr(self) -> float:
        return self.std / math.sqrt(self.runs) if self.runs else math.inf

    @property
    def ci(self) -> tuple[float, float]:
        """95% confidence interval of the mean (normal approximation)."""
        if not self.runs:
            return (0.0, math.inf)
        h = Z95 * self.stderr
        return (self.mean - h, self.mean + h)

    @property
    def incremental(self) -> np.ndarray:
        """Mean number of accounts each seed newly activates, in the order given."""
        return self.inc_sum / max(self.runs, 1)

    @property
    def incremental_ci(self) -> np.ndarray:
        """95% intervals of the incremental spreads, shape (k, 2)."""
        r = max(self.runs, 1)
        mean = self.inc_sum / r
        var = np.maximum(self.inc_sq / r - mean**2, 0.0) * (r / max(r - 1, 1))
        h = Z95 * np.sqrt(var / r)
        return np.column_stack([mean - h, mean + h])

    def quantiles(self) -> dict:
        qs = (5, 25, 50, 75, 95)
        if not self.runs:
            return {str(q): 0.0 for q in qs}
        vals = np.percentile(self.samples, qs)
        return {str(q): float(v) for q, v in zip(qs, vals, strict=True)}

    def histogram(self, bins: int = 20) -> dict:
        if not self.runs:
            return {"edges": [], "counts": []}
        lo, hi = int(self.samples.min()), int(self.samples.max())
        nb = max(1, min(bins, hi - lo + 1))
        counts, edges = np.histogram(self.samples, bins=nb, range=(lo, hi + 1))
        return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}

    def to_dict(self) -> dict:
        low, high = self.ci
        inc, inc_ci = self.incremental, self.incremental_ci
        return {
            "model": self.model, "params": self.params, "seeds": list(self.seeds),
            "runs": self.runs, "runs_requested": self.runs_requested,
            "interrupted": self.interrupted,
            "mean": self.mean, "ci_low": low, "ci_high": high, "std": self.std,
            "stderr": self.stderr if self.runs else None,
            "min": int(self.samples.min()) if self.runs else 0,
            "max": int(self.samples.max()) if self.runs else 0,
            "quantiles": self.quantiles(), "histogram": self.histogram(),
            "incremental": [{"id": s, "mean": float(inc[i]), "ci_low": float(inc_ci[i, 0]),
                             "ci_high": float(inc_ci[i, 1])} for i, s in enumerate(self.seeds)],
            "seed": self.seed, "threads": self.threads, "seconds": self.seconds,
            "simulations_per_second": self.runs / self.seconds if self.seconds > 0 else None,
            "warnings": list(self.warnings),
        }


@dataclass
class SeedsResult:
    """Seeds chosen by IMM or OPIM-C, with their RR-set estimate of spread."""

    seeds: list
    incremental: np.ndarray
    spread: float
    rr_sets: int
    epsilon: float
    ell: float
    lower_bound: float
    model: str
    params: dict
    candidates: int
    approximation: str
    seconds: float
    phases: dict
    budget: float | None = None
    costs: list | None = None
    method: str = "imm"
    interrupted: bool = False
    evaluation: SpreadResult | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {
            "seeds": list(self.seeds), "spread": self.spread, "method": self.method,
            "incremental": [{"id": s, "spread": float(g)} for s, g in
                            zip(self.seeds, self.incremental, strict=True)],
            "model": self.model, "params": self.params, "epsilon": self.epsilon, "ell": self.ell,
            "rr_sets": self.rr_sets, "lower_bound": self.lower_bound,
            "candidates": self.candidates, "approximation": self.approximation,
            "budget": self.budget, "cost": None if self.costs is None else float(sum(self.costs)),
            "costs": self.costs, "interrupted": self.interrupted,
            "seconds": self.seconds, "phases": self.phases, "warnings": list(self.warnings),
        }
        if self.evaluation is not None:
            ev = self.evaluation
            low, high = ev.ci
            out["evaluation"] = {"mean": ev.mean, "ci_low": low, "ci_high": high, "runs": ev.runs}
        return out

