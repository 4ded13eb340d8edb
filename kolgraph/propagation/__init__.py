"""Influence propagation: expected campaign spread through reshares, and the seeds that maximise it.

Information flows from followee to follower (the reverse of a follow edge), so
an account's out-neighbours in propagation are its followers
(``g.in_indptr``/``g.in_indices``).

Models (DESIGN.md):

- **independent cascade** (``model="ic"``): each newly active account gets one
  chance to activate each follower, with probability ``p`` (uniform), ``1/d``
  where ``d`` is the number of accounts the follower follows (*weighted
  cascade*), or a per-edge probability. With ``view_rates``, the seeds' own
  followers see the post at the seed's view rate (the first hop) and later
  hops happen at the reshare probability ``p``.
- **linear threshold** (``model="lt"``): an account activates once the summed
  weights of its active followees reach its threshold, uniform on (0, 1];
  weights are weighted-cascade ``1/d`` by default, or uniform ``p``, or per edge,
  and must sum to at most 1 per account.
- **observed** (``weighted_cascade="observed"``, IC): each account's reshare probability
  estimated from the store's ``share`` events (:mod:`kolgraph.propagation.observed`).

:func:`spread` estimates the expected spread by Monte Carlo (simulations run in
chunks on threads; simulation ``j`` draws from its own random stream keyed by
the seed, so results do not depend on the thread count), with a 95% confidence
interval, the spread distribution and each seed's incremental spread in the
order given. Ctrl-C returns the simulations finished so far (with its wider
interval). :func:`seeds` picks seeds by IMM (Tang, Shi, Xiao, SIGMOD 2015).
"""

# Modules: ``results`` (what is returned), ``model`` (models into kernel arrays), ``simulate``
# (spread by Monte Carlo), ``rr`` (RR sets), ``seeding`` (IMM and OPIM-C).
from kolgraph.plots import spread_plot
from kolgraph.propagation.model import DEFAULT_P, MODELS
from kolgraph.propagation.observed import ReshareRates, reshare_rates
from kolgraph.propagation.results import Z95, SeedsResult, SpreadResult
from kolgraph.propagation.seeding import OPIMC_START_FACTOR, imm_sample_sizes, seeds
from kolgraph.propagation.simulate import spread

__all__ = ["DEFAULT_P", "MODELS", "OPIMC_START_FACTOR", "ReshareRates", "SeedsResult",
           "SpreadResult", "Z95", "imm_sample_sizes", "reshare_rates", "seeds", "spread",
           "spread_plot"]

# private names the tests reach for, importable from here as before the split
from kolgraph.kernels import propagation as _k  # noqa: E402, F401
from kolgraph.propagation.model import _to_following_order  # noqa: E402, F401
from kolgraph.propagation.rr import _rr_fill, _RRScratch, _RRSets  # noqa: E402, F401
