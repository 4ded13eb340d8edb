"""Reshare probabilities estimated from observed ``share`` events: ``weighted_cascade="observed"``.

The independent cascade activates a follower ``u`` of an active account ``v`` with
probability ``r_v``, the chance that a follower of ``v`` reshares what ``v`` posts. For a
creator ``c`` with ``N_c`` followers and ``P_c`` posts in the window, each (follower,
post) pair is a trial and a share of one of ``c``'s posts by one of its followers a
success: ``S_c`` distinct (follower, post) shares in ``n_c = N_c * P_c`` trials (first-hop
shares only: a resharer who does not follow ``c`` got the post through someone else).

Few posts or few followers make ``S_c / n_c`` noisy (0 shares in 300 trials is not a
rate of 0), so each rate is shrunk toward the pooled rate by empirical Bayes
(beta-binomial): ``r_c ~ Beta(kappa * mu, kappa * (1 - mu))`` across creators, with

- ``mu = sum S_c / sum n_c``, the pooled rate;
- the between-creator variance ``tau2`` by the method of moments (the one-way random
  effects estimator, as DerSimonian-Laird for proportions):
  ``tau2 = (sum n_c (x_c - mu)^2 - (C - 1) mu (1 - mu)) / (sum n_c - sum n_c^2 / sum n_c)``
  with ``x_c = S_c / n_c`` over the ``C`` creators with trials;
- the prior strength ``kappa = mu (1 - mu) / tau2 - 1`` (at least 1), in trials;
- each creator's posterior mean ``r_c = (S_c + kappa * mu) / (n_c + kappa)``.

With ``tau2 <= 0`` (the creators' rates differ no more than binomial noise says) or a
single creator, every rate is ``mu`` (complete pooling; ``prior_strength`` is None).
Accounts that post nothing in the window (ordinary resharers) get ``mu``: their own
followers' reshares are not observable, since a share names the original creator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kolgraph.engagement import epoch, require_interactions
from kolgraph.exceptions import InputError
from kolgraph.kernels import interactions as _ki
from kolgraph.kernels import reshare as _k

SHARE = "share"


@dataclass
class ReshareRates:
    """Estimated reshare probability of every account's followers (see the module docstring)."""

    rates: np.ndarray  # float64 per account: r_v
    pooled_rate: float  # mu
    prior_strength: float | None  # kappa, in trials; None: complete pooling
    creators: np.ndarray  # internal ids of the creators with trials
    followers: np.ndarray  # N_c, aligned with creators
    posts: np.ndarray  # P_c
    shares: np.ndarray  # S_c
    since: int
    until: int

    def summary(self) -> dict:
        """The fit in a few numbers (the ``params`` of a spread or seeds result)."""
        return {"pooled_rate": self.pooled_rate, "prior_strength": self.prior_strength,
                "creators": int(len(self.creators)), "shares": int(self.shares.sum()),
                "since": self.since, "until": self.until}


def reshare_rates(g, *, since=None, until=None) -> ReshareRates:
    """Estimate every account's reshare probability from the ``share`` events of the
    window ``[since, until)`` (Unix seconds or ISO dates; default the whole store).

    Raises :class:`~kolgraph.InputError` when the store has no interactions, no ``share``
    events (in the window), or neither posts nor post ids to count posts by.
    """
    inter = require_interactions(g)
    code = inter.kind_code(SHARE)
    if code < 0 or inter.n_events == 0:
        raise InputError(f"weighted_cascade='observed' estimates reshare probabilities from "
                         f"'{SHARE}' events; this store's interactions have none (kinds: "
                         f"{', '.join(inter.kinds) or 'none'})")
    span = inter.time_span()
    lo = span[0] if since is None else epoch(since, "since")
    hi = span[1] + 1 if until is None else epoch(until, "until")
    if hi < lo:
        raise InputError(f"the window ends before it starts (since {lo}, until {hi})")
    shares, event_posts = _k.follower_shares(
        np.asarray(inter.c_indptr), np.asarray(inter.c_account), np.asarray(inter.c_time),
        np.asarray(inter.c_kind), np.asarray(inter.c_post), np.uint8(code), lo, hi,
        np.asarray(g.in_indptr), np.asarray(g.in_indices))
    if inter.has_posts:
        posts = _ki.posts_in_window(np.asarray(inter.p_indptr), np.asarray(inter.p_time),
                                    np.arange(g.n_accounts, dtype=np.int64), lo, hi)
    elif inter.has_post_ids:
        posts = event_posts
    else:
        raise InputError("weighted_cascade='observed' counts shares per follower per post; this "
                         "store has neither posts (posts.csv) nor post ids on its events")
    followers = np.asarray(g.in_degree).astype(np.int64)
    creators = np.flatnonzero((posts > 0) & (followers > 0))
    n_c = followers[creators].astype(np.float64) * posts[creators]
    s_c = np.minimum(shares[creators].astype(np.float64), n_c)
    if s_c.sum() == 0:
        raise InputError(f"no '{SHARE}' event by a follower on the posts of a creator in the "
                         f"window [{lo}, {hi}): nothing to estimate reshare probabilities from")
    mu, kappa = _beta_prior(s_c, n_c)
    rates = np.full(g.n_accounts, mu)
    if kappa is not None:
        rates[creators] = (s_c + kappa * mu) / (n_c + kappa)
    return ReshareRates(rates, mu, kappa, creators, followers[creators], posts[creators],
                        s_c.astype(np.int64), lo, hi)


def _beta_prior(s: np.ndarray, n: np.ndarray) -> tuple[float, float | None]:
    """``(mu, kappa)`` by the method of moments; kappa None when the rates do not vary
    beyond binomial noise (or there is one creator)."""
    total = n.sum()
    mu = float(s.sum() / total)
    spread_n = total - float((n * n).sum()) / total
    if len(n) < 2 or mu >= 1.0 or spread_n <= 0:
        return mu, None
    q = float((n * (s / n - mu) ** 2).sum())
    tau2 = (q - (len(n) - 1) * mu * (1 - mu)) / spread_n
    if tau2 <= 0:
        return mu, None
    return mu, float(max(mu * (1 - mu) / tau2 - 1.0, 1.0))


def observed_edge_probs(g) -> tuple[np.ndarray, ReshareRates]:
    """Per propagation edge (aligned with ``g.in_indices``), the reshare probability of its
    source, from the whole store's shares. The fit (8 bytes per account) is kept on the
    graph for its interactions layer, so the service's pilot and the call estimate once;
    the edge array (4 bytes per edge) is made per call, as the weighted cascade's is."""
    cached = g.__dict__.get("_observed_fit")
    if cached is not None and cached[0] is g.interactions:
        fit = cached[1]
    else:
        fit = reshare_rates(g)
        g.__dict__["_observed_fit"] = (g.interactions, fit)
    return np.repeat(fit.rates.astype(np.float32), np.diff(np.asarray(g.in_indptr))), fit
