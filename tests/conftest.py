"""Shared fixtures: seeded random generators, the test data folder, toy graphs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from kolgraph import FollowerGraph

DATA_DIR = Path(__file__).parent / "data"
SEED = 20_240_521


NON_ASCII = ["é", "ß", "日本", "😀", "a", "ab", "Z", "", "ä"]


def random_edge_list(rng: np.random.Generator, kind: str, n_ids: int = 60, m: int = 400):
    """Random follows with many duplicates and self-follows, plus random times."""
    src = rng.integers(0, n_ids, m)
    dst = rng.integers(0, n_ids, m)
    loops = rng.random(m) < 0.05
    dst[loops] = src[loops]
    rep = rng.integers(0, m, m // 4)  # re-follow some edges at other times
    src, dst = np.concatenate([src, src[rep]]), np.concatenate([dst, dst[rep]])
    times = rng.integers(1_500_000_000, 1_700_000_000, len(src))
    if kind == "int":
        names = (rng.permutation(10 * n_ids)[:n_ids] - 3 * n_ids).tolist()  # negatives too
    else:
        names = [f"{NON_ASCII[k % len(NON_ASCII)]}{k}" if k % 3 else NON_ASCII[k % len(NON_ASCII)] * (k // 9 + 1)
                 for k in range(n_ids)]
    return [names[i] for i in src], [names[i] for i in dst], times.tolist()


@pytest.fixture(scope="session")
def random_edges():
    """``random_edges(rng, kind, n_ids=60, m=400) -> (src, dst, times)``: random follows
    (int or str ids) with many duplicates and self-follows, plus random times."""
    return random_edge_list


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test (never global seeding)."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``tests/data``: real public datasets (see its README for sources and terms)."""
    return DATA_DIR


@dataclass(frozen=True)
class Toy:
    """A toy graph spec with the facts a correct build must show."""

    name: str
    src: list
    dst: list
    nodes: list = field(default_factory=list)
    creators: list = field(default_factory=list)
    n_accounts: int = 0
    n_edges: int = 0
    self_follows: int = 0
    duplicate_edges: int = 0

    def build(self) -> FollowerGraph:
        creators = None
        if self.creators:
            creators = pa.table({"id": self.creators,
                                 "name": [f"creator {c}" for c in self.creators],
                                 "price": [100.0 * (i + 1) for i in range(len(self.creators))]})
        return FollowerGraph.from_edges(self.src, self.dst, nodes=self.nodes or None,
                                        creators=creators)


TOYS = [
    Toy("empty", [], []),
    Toy("one_account", [], [], nodes=["solo"], n_accounts=1),
    Toy("creator_without_followers", ["ann", "bob"], ["bob", "ann"], creators=["bob", "cat"],
        n_accounts=3, n_edges=2),
    Toy("duplicate_edges", [1, 1, 1, 2, 2], [2, 2, 2, 1, 1], creators=[1, 2],
        n_accounts=2, n_edges=2, duplicate_edges=3),
    Toy("self_follow_only", [7, 7], [7, 7], creators=[7], n_accounts=1, self_follows=2),
    Toy("disconnected", [1, 2, 3, 10, 11, 20], [2, 3, 1, 11, 10, 21], nodes=[99],
        creators=[1, 10, 99], n_accounts=8, n_edges=6),
    Toy("unicode_ids", ["é", "a", "ab", "", "日本"], ["a", "ab", "é", "日本", ""],
        creators=["a", "日本"], n_accounts=5, n_edges=5),
]


@pytest.fixture(params=TOYS, ids=[t.name for t in TOYS])
def toy(request) -> Toy:
    """Every toy graph spec (empty, one account, creator with no followers, duplicate
    edges, self-follow only, disconnected components, non-ASCII ids)."""
    return request.param
