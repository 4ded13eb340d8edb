"""Propagation models resolved into the arrays the kernels want: edge probabilities or
weights, weighted cascade, first-hop view rates, and per-edge values in either CSR order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kolgraph._check import default_view_rates, per_creator
from kolgraph.exceptions import InputError
from kolgraph.propagation.observed import observed_edge_probs

MODELS = ("ic", "lt")
DEFAULT_P = 0.01


@dataclass
class _Model:
    """Resolved probabilities, in the layouts the kernels want."""

    name: str
    params: dict
    p: float  # uniform probability / weight (when edge arrays are empty)
    wc: bool
    edge_p: np.ndarray  # aligned with in_indices (propagation out-edges), or empty
    seed_rates: np.ndarray | None  # first-hop probability per seed (ic only)


def _check_prob(x: float, what: str) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number in [0, 1], got {x!r}") from None
    if not (0.0 <= x <= 1.0):
        raise InputError(f"{what} must be in [0, 1], got {x}")
    return x


def _resolve_model(g, o, seed_idx: np.ndarray | None, seed_ids: list | None) -> _Model:
    """The diffusion of the checked options ``o`` (:class:`~kolgraph.propagation.options.
    SpreadOptions` or ``SeedsOptions``) on ``g``: the checks that need the graph are here."""
    model, p, weighted_cascade, edge_probs, view_rates = (
        o.model, o.p, o.weighted_cascade, o.edge_probs, o.view_rates)
    empty = np.empty(0, np.float32)
    if edge_probs is not None:
        arr = np.asarray(edge_probs, dtype=np.float64)
        if arr.shape != (g.n_edges,):
            raise InputError(f"edge_probs needs one value per edge aligned with g.in_indices "
                             f"({g.n_edges}), got shape {arr.shape}")
        bad = np.flatnonzero(~((arr >= 0) & (arr <= 1)))
        if len(bad):
            raise InputError(f"edge_probs must be in [0, 1]; {len(bad)} value(s) are not, e.g. "
                             f"{arr[bad[0]]} at edge {int(bad[0])}")
        m = _Model(model, {"edge_probs": True}, 0.0, False, arr.astype(np.float32), None)
    elif weighted_cascade == "observed":
        arr, fit = observed_edge_probs(g)
        m = _Model(model, {"weighted_cascade": "observed", "observed": fit.summary()}, 0.0,
                   False, arr, None)
    elif weighted_cascade or (p is None and model == "lt"):
        m = _Model(model, {"weighted_cascade": True}, 0.0, True, empty, None)
    else:
        q = DEFAULT_P if p is None else float(p)
        m = _Model(model, {"p": q}, q, False, empty, None)
    if model == "lt":
        _check_lt_weights(g, m)
    if view_rates is not None and seed_idx is not None:
        rates = _view_rates(g, view_rates, seed_idx, seed_ids)
        low = np.flatnonzero(rates < m.p)
        if len(low):
            i = int(low[0])
            raise InputError(f"view rate of seed {seed_ids[i]!r} ({rates[i]:g}) is below the reshare "
                             f"probability p ({m.p:g}); the first-hop model needs view rates >= p")
        m.seed_rates = rates
        m.params = {**m.params, "view_rates": [float(r) for r in rates]}
    return m


def _view_rates(g, view_rates: Any, idx: np.ndarray, ids: list) -> np.ndarray:
    default = default_view_rates(g, idx)
    if view_rates is True or (isinstance(view_rates, str) and view_rates == "auto"):
        return default
    rates = per_creator(view_rates, len(idx), default, "view_rates", ids)
    for r, s in zip(rates, ids, strict=True):
        _check_prob(r, f"view rate of {s!r}")
    return np.asarray(rates, dtype=np.float64)


def _check_lt_weights(g, m: _Model) -> None:
    """Linear threshold needs every account's incoming weights to sum to at most 1."""
    if m.wc:
        return
    if len(m.edge_p):
        total = np.bincount(np.asarray(g.in_indices), weights=m.edge_p.astype(np.float64),
                            minlength=g.n_accounts)
    else:
        total = m.p * g.out_degree
    bad = np.flatnonzero(total > 1.0 + 1e-6)
    if len(bad):
        i = int(bad[np.argmax(total[bad])])
        raise InputError(f"linear threshold weights into an account must sum to at most 1; "
                         f"{len(bad)} account(s) exceed it, e.g. {g.external([i])[0]!r} "
                         f"({total[i]:.3g}); use weighted_cascade or a smaller p")


def _wc_edge_p(g) -> np.ndarray:
    """Weighted-cascade probability of every propagation edge: 1 / (accounts the follower follows)."""
    d = np.asarray(g.out_degree, dtype=np.float64)
    per_account = (1.0 / np.maximum(d, 1.0)).astype(np.float32)  # gathered as float32: 4 B/edge
    return per_account[np.asarray(g.in_indices)]



def _to_following_order(g, edge_p: np.ndarray) -> np.ndarray:
    """Re-align per-edge values from followers-of order (``in_indices``) to following-of order.

    Edge ``e`` of the followers-of CSR is ``in_indices[e] -> v`` (follower -> followee)
    with v its row; in the following-of CSR that edge sits in row ``in_indices[e]`` at
    the position of ``v``; both CSRs have sorted rows, so a stable sort by follower
    lists the edges in following-of order.
    """
    order = np.argsort(np.asarray(g.in_indices), kind="stable")
    return np.ascontiguousarray(edge_p[order])


