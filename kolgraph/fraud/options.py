"""Options of the fraud review (:func:`~kolgraph.fraud.fraud`, ``g.fraud(...)``), declared once
for the library and ``kolgraph fraud``.

The service runs the review with these defaults (one review per store, shared by its
routes), so no request takes them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from kolgraph.options import Options, cli

Count = Annotated[int, Field(ge=1)]


class FraudOptions(Options):
    """Options of :func:`~kolgraph.fraud.fraud` (and of ``kolgraph fraud``)."""

    top: Count = Field(100, description="creators listed when none are named: those with the "
                       "lowest audience quality (default 100)")
    # dense blocks, see kolgraph.fraud.dense_blocks
    max_blocks: Count = Field(10, description="dense blocks to peel (default 10)")
    min_lift: float | None = Field(None, description="deprecated and ignored (with a warning): "
                                   "blocks are kept by a significance test")
    min_density: float = Field(0.1, description="a block is a cluster with at least this edge "
                               "density, when significant (default 0.1)")
    min_followers: Count = Field(10, description="... and at least this many followers "
                                 "(default 10)")
    min_creators: Count = Field(2, description="... and at least this many creators (default 2)")
    c: float = Field(5.0, gt=1.0, description="camouflage-resistant creator weights "
                     "1/log(followers + c) (default 5)")
    expand: float = Field(0.25, description="a follower of at least this share of a cluster's "
                          "creators joins it (default 0.25)")
    # temporal lockstep and growth spikes (stores with follow times)
    lockstep_window: int = Field(6 * 3_600, ge=2, description="seconds of a lockstep window "
                                 "(default 21600, 6 hours)",
                                 json_schema_extra=cli(metavar="SECONDS"))
    lockstep_min: Count = Field(10, description="followers a window needs to be hot (default 10)")
    lockstep_m: Count = Field(3, description="hot creators a follower needs to be in lockstep "
                              "(default 3)")
    lockstep_burst: float = Field(10.0, description="a hot window also holds this many times "
                                  "the creator's mean per-window count (default 10)")
    spike_z: float = Field(6.0, description="a growth spike gains at least its local baseline "
                           "(previous 28 days, trend and weekday aware) plus this many scales "
                           "(default 6)")
    spike_min_gain: Count = Field(20, description="... and at least this many (default 20)")
    # engagement pods (stores with interactions), see kolgraph.fraud.pods
    pod_window: int = Field(3_600, ge=2, description="seconds of a pod's lockstep window "
                            "(default 3600, one hour)", json_schema_extra=cli(metavar="SECONDS"))
    pod_min: int = Field(5, ge=2, description="accounts a post's window needs to be hot, and a pod "
                         "at least (default 5)")
    pod_m: Count = Field(3, description="hot posts an account needs to be in a pod (default 3)")
    pod_burst: float = Field(5.0, description="a hot window also holds this many times the "
                             "post's mean per-window count (default 5)")
    # per account
    bot_threshold: float = Field(0.9, description="flag bot scores at least this (default 0.9)")
    mass_following: int = Field(1_500, description="flag accounts following more than this "
                                "(default 1500)")
