"""kolgraph: an audience-overlap graph engine for influencer (KOL) marketing.

>>> import kolgraph
>>> g = kolgraph.FollowerGraph.from_edges([1, 2, 3], [9, 9, 1])
>>> g.followers(9)
[1, 2]
"""

# Importing the capabilities registers their FollowerGraph methods (g.reach, g.plan, ...).
from kolgraph import engagement, fraud, plan, propagation, reach, sketch  # noqa: F401
from kolgraph._version import __version__
from kolgraph.botscore import BotRules, score_accounts
from kolgraph.exceptions import (
    InputError,
    KolgraphError,
    MalformedInputError,
    StoreCorruptedError,
    StoreError,
    StoreNotFoundError,
    UnknownAccountError,
)
from kolgraph.graph import FollowerGraph
from kolgraph.propagation import seeds, spread
from kolgraph.reach import complementary, similar
from kolgraph.store import open_store as open  # noqa: A001
from kolgraph.store import verify_store as verify

__all__ = [
    "BotRules",
    "FollowerGraph",
    "InputError",
    "KolgraphError",
    "MalformedInputError",
    "StoreCorruptedError",
    "StoreError",
    "StoreNotFoundError",
    "UnknownAccountError",
    "__version__",
    "complementary",
    "open",
    "score_accounts",
    "seeds",
    "similar",
    "spread",
    "verify",
]
