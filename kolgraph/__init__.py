"""kolgraph: an audience-overlap graph engine for influencer (KOL) marketing.

>>> import kolgraph
>>> g = kolgraph.FollowerGraph.from_edges([1, 2, 3], [9, 9, 1])
>>> g.followers(9)
[1, 2]
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kolgraph")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from kolgraph.botscore import BotRules, score_accounts  # noqa: E402
from kolgraph.exceptions import (  # noqa: E402
    InputError,
    KolgraphError,
    MalformedInputError,
    StoreCorruptedError,
    StoreError,
    StoreNotFoundError,
    UnknownAccountError,
)
from kolgraph.graph import FollowerGraph  # noqa: E402
from kolgraph.store import open_store as open  # noqa: E402,A001
from kolgraph.store import verify_store as verify  # noqa: E402

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
    "open",
    "score_accounts",
    "verify",
]
