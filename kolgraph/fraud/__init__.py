"""Fraud review: lockstep follower clusters, growth spikes, audience quality and real reach.

:func:`fraud` (``g.fraud(...)``) runs, on a :class:`~kolgraph.FollowerGraph`:

1. **Dense blocks** (Fraudar, Hooi et al. KDD 2016) in the follower x creator
   graph, camouflage-resistant column weights ``1 / log(followers + c)``; after
   each block its edges are removed and the peeling repeats. A block is kept
   as a *cluster* when it is dense and holds far more edges than its followers'
   and creators' degrees predict (see :func:`dense_blocks`).
2. **Temporal lockstep** (CopyCatch-style, when the graph has ``followed_at``):
   followers that followed at least ``lockstep_m`` creators inside hot windows of
   ``lockstep_window`` seconds (see :mod:`kolgraph.kernels.fraud`).
3. **Growth spikes** (with ``followed_at``): days a creator gained far more
   followers than its previous 28 days foretold (trend and weekday aware), each
   with the share of that day's followers in clusters or lockstep ("bought?" or
   "organic?").
4. **Engagement pods** (when the graph has interactions): accounts interacting with the
   same posts in lockstep, the lockstep kernel over interaction times per post (see
   :mod:`kolgraph.fraud.pods`).
5. **Per account**: bot score from the profile attributes
   (:func:`kolgraph.score_accounts`, when the graph has account attributes and
   the module is available) and mass following (following > ``mass_following``).
6. **Per creator**: suspicious followers by kind, audience quality (share of
   followers not flagged), the clusters hitting it, real reach (followers not
   flagged), and engagement quality (interactions from flagged accounts and pods).

Every flag carries its reason (:meth:`FraudReport.flagged_table`).
"""

# Modules: ``report`` (Cluster, FraudReport, write_flags), ``signals`` (flag kinds, lockstep,
# spikes, account signals), ``blocks`` (dense blocks), ``pods`` (engagement pods), ``review``
# (the fraud() driver).
from kolgraph.fraud.blocks import bipartite, dense_blocks
from kolgraph.fraud.report import Cluster, FraudReport, write_flags
from kolgraph.fraud.review import fraud
from kolgraph.fraud.signals import KINDS, growth_spikes, lockstep_groups

__all__ = ["KINDS", "Cluster", "FraudReport", "bipartite", "dense_blocks", "fraud",
           "growth_spikes", "lockstep_groups", "write_flags"]

# a private name the benchmarks reach for, importable from here as before the split
from kolgraph.fraud.blocks import _columns  # noqa: E402, F401
