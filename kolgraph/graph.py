"""FollowerGraph: the directed follow graph every kolgraph capability reads.

An edge ``u -> v`` means *u follows v*. Accounts are dense int32 ids mapped
both ways to external ids (:class:`kolgraph.ids.IdMap`). Topology is CSR in
both directions with sorted rows:

- ``in_indptr``/``in_indices``: followers of each account (its audience);
- ``out_indptr``/``out_indices``: accounts each account follows.

``followed_at`` (optional, int64 Unix seconds) is aligned with ``in_indices``.
The creator table is metadata keyed by account; any account can be queried as a
creator. Kernels get the plain arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph.exceptions import InputError
from kolgraph.ids import IdMap, int64_ids
from kolgraph.kernels import csr as _csr
from kolgraph.tables import (
    ACCOUNT_COLUMNS,
    CREATOR_COLUMNS,
    align_rows,
    normalize_table,
)
from kolgraph.tiers import TIER_NAMES, tier_of

TableSource = pa.Table | Callable[[], pa.Table] | None


class FollowerGraph:
    """A directed follow graph with creator metadata and account attributes.

    Build one with :meth:`from_edges` (or the ``from_*`` converters, or
    :func:`kolgraph.ingest.ingest`), save it with :meth:`save`, reopen it with
    :func:`kolgraph.open`.

    Examples
    --------
    >>> g = FollowerGraph.from_edges(["ann", "bob", "bob", "cat"], ["cat", "cat", "cat", "ann"])
    >>> g.n_accounts, g.n_edges, g.report["duplicate_edges"]
    (3, 3, 1)
    >>> g.followers("cat")
    ['ann', 'bob']
    """

    def __init__(self, in_indptr: np.ndarray, in_indices: np.ndarray, out_indptr: np.ndarray,
                 out_indices: np.ndarray, ids: IdMap, *, followed_at: np.ndarray | None = None,
                 creators: TableSource = None, accounts: TableSource = None,
                 path: str | Path | None = None, report: dict | None = None):
        self.in_indptr = in_indptr
        self.in_indices = in_indices
        self.out_indptr = out_indptr
        self.out_indices = out_indices
        self.ids = ids
        self.followed_at = followed_at
        self._creators_src = creators
        self._accounts_src = accounts
        self.path = Path(path) if path is not None else None
        self.report = dict(report or {})
        self.interactions: Any = None  # kolgraph.interactions.Interactions, the optional layer
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._derived: dict[Hashable, Any] = {}

    # --- construction -------------------------------------------------------------
    @classmethod
    def from_edges(cls, followers: Any, followees: Any, *, followed_at: Any = None,
                   creators: pa.Table | Any = None, accounts: pa.Table | Any = None,
                   nodes: Any = None, report: dict | None = None) -> FollowerGraph:
        """Build from two id columns: ``followers[i]`` follows ``followees[i]``.

        Columns may be numpy arrays, Arrow arrays or Python sequences of int or
        str ids. Self-follows and duplicate edges are dropped and counted in
        ``report``. ``creators`` and ``accounts`` are tables (Arrow or pandas)
        with an ``id`` column; creator ids and ``nodes`` join the graph even
        without edges.

        Examples
        --------
        >>> g = FollowerGraph.from_edges([1, 2, 2, 3, 3], [10, 10, 10, 10, 3])
        >>> g.n_accounts, g.n_edges
        (4, 3)
        >>> g.report["duplicate_edges"], g.report["self_follows"]
        (1, 1)
        >>> g.followers(10)
        [1, 2, 3]
        """
        creators = _as_table(creators, "creators")
        accounts = _as_table(accounts, "accounts")
        src, dst = _column(followers), _column(followees)
        if len(src) != len(dst):
            raise InputError(f"follower and followee columns differ in length ({len(src)} vs {len(dst)})")
        columns = [src, dst]
        if creators is not None:
            _require_id(creators, "creators")
            columns.append(creators.column("id"))
        if nodes is not None:
            columns.append(_column(nodes))
        idmap, dense = IdMap.encode(columns)
        times = None
        if followed_at is not None:
            times = _epoch_seconds(followed_at)
            if len(times) != len(src):
                raise InputError("followed_at must have one value per edge")
        built = _csr.build_csr(dense[0], dense[1], len(idmap),
                               times if times is not None else np.empty(0, np.int64),
                               times is not None)
        in_indptr, in_indices, in_times, out_indptr, out_indices, n_self, n_dup = built
        rep = dict(report or {})
        rep.update(input_edges=int(len(src)), self_follows=int(n_self), duplicate_edges=int(n_dup),
                   edges=int(len(in_indices)), accounts=len(idmap))
        rep.setdefault("warnings", [])
        g = cls(in_indptr, in_indices, out_indptr, out_indices, idmap,
                followed_at=in_times if times is not None else None, report=rep)
        if creators is not None:
            g._creators_src = g._align_creators(creators, dense[2])
        if accounts is not None:
            g.set_accounts(accounts)
        return g

    @classmethod
    def from_networkx(cls, G) -> FollowerGraph:
        """From a ``networkx.DiGraph`` whose edge ``u -> v`` means u follows v.

        Node attributes named like the canonical account columns become the
        account table; isolated nodes are kept.
        """
        if not G.is_directed():
            raise InputError("a follow graph is directed; convert with G.to_directed() first")
        edges = list(G.edges())
        nodes = list(G.nodes())
        src = [u for u, _ in edges]
        dst = [v for _, v in edges]
        attrs = {c: [G.nodes[n].get(c) for n in nodes] for c in ACCOUNT_COLUMNS
                 if any(c in G.nodes[n] for n in nodes)}
        g = cls.from_edges(src, dst, nodes=nodes)
        if attrs:
            g.set_accounts(pa.table({"id": _column(nodes), **{c: pa.array(v) for c, v in attrs.items()}}))
        return g

    def to_networkx(self):
        """A ``networkx.DiGraph`` over external ids (slow for large graphs: Python objects per edge)."""
        import networkx as nx

        G = nx.DiGraph()
        G.add_nodes_from(self.ids.external(np.arange(self.n_accounts)))
        src, dst = self.edge_arrays()
        names = self.ids.external(np.arange(self.n_accounts))
        G.add_edges_from((names[u], names[v]) for u, v in zip(src.tolist(), dst.tolist(), strict=True))
        return G

    @classmethod
    def from_igraph(cls, g, *, id_attr: str = "name") -> FollowerGraph:
        """From a directed ``igraph.Graph``; vertex attribute ``id_attr`` gives external ids
        (vertex numbers when absent)."""
        if not g.is_directed():
            raise InputError("a follow graph is directed; convert with g.as_directed() first")
        names = g.vs[id_attr] if id_attr in g.vs.attributes() else list(range(g.vcount()))
        edges = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
        name_col = _column(names)
        src = name_col.take(pa.array(edges[:, 0])) if len(edges) else name_col.slice(0, 0)
        dst = name_col.take(pa.array(edges[:, 1])) if len(edges) else name_col.slice(0, 0)
        return cls.from_edges(src, dst, nodes=name_col)

    def to_igraph(self):
        """A directed ``igraph.Graph``; vertex i is internal account i, attribute ``name`` its id."""
        import igraph as ig

        src, dst = self.edge_arrays()
        g = ig.Graph(n=self.n_accounts, edges=np.column_stack([src, dst]), directed=True)
        g.vs["name"] = self.ids.external(np.arange(self.n_accounts))
        return g

    @classmethod
    def from_arrow(cls, table: pa.Table | Any, follower: str = "follower", followee: str = "followee",
                   followed_at: str | None = None, **kwargs) -> FollowerGraph:
        """From an edge table (pyarrow or pandas) with follower/followee columns."""
        table = _as_table(table, "edges")
        for c in (follower, followee) + ((followed_at,) if followed_at else ()):
            if c not in table.column_names:
                raise InputError(f"edge table has no column {c!r} (columns: {', '.join(table.column_names)})")
        return cls.from_edges(table.column(follower), table.column(followee),
                              followed_at=table.column(followed_at) if followed_at else None, **kwargs)

    from_pandas = from_arrow

    # --- size and topology --------------------------------------------------------
    @property
    def n_accounts(self) -> int:
        return len(self.in_indptr) - 1

    @property
    def n_edges(self) -> int:
        return int(self.in_indptr[-1])

    @property
    def n_creators(self) -> int:
        c = self.creators
        return 0 if c is None else c.num_rows

    @cached_property
    def in_degree(self) -> np.ndarray:
        """Follower count of every account."""
        return np.diff(self.in_indptr)

    @cached_property
    def out_degree(self) -> np.ndarray:
        """Number of accounts each account follows."""
        return np.diff(self.out_indptr)

    def index(self, accounts: Iterable, *, strict: bool = True) -> np.ndarray:
        """Internal ids of external account ids (raises :class:`UnknownAccountError` listing the unknown)."""
        return self.ids.lookup(accounts, strict=strict)

    def external(self, idx: Sequence[int] | np.ndarray) -> list:
        """External ids of internal ids."""
        return self.ids.external(idx)

    def followers_idx(self, i: int) -> np.ndarray:
        """Sorted internal ids of the followers of internal account ``i`` (a view)."""
        return self.in_indices[self.in_indptr[i]: self.in_indptr[i + 1]]

    def following_idx(self, i: int) -> np.ndarray:
        """Sorted internal ids of the accounts internal account ``i`` follows (a view)."""
        return self.out_indices[self.out_indptr[i]: self.out_indptr[i + 1]]

    def followers(self, account) -> list:
        """External ids of the followers of ``account`` (an external id)."""
        return self.external(self.followers_idx(int(self.index([account])[0])))

    def following(self, account) -> list:
        """External ids of the accounts ``account`` follows."""
        return self.external(self.following_idx(int(self.index([account])[0])))

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All edges as internal ``(follower, followee)`` arrays, grouped by followee."""
        return np.asarray(self.in_indices), _csr.expand_rows(self.in_indptr, self.n_edges)

    # --- tables ---------------------------------------------------------------------
    @cached_property
    def creators(self) -> pa.Table | None:
        """Creator metadata with derived ``followers`` and ``tier``; None if no table was given.

        Columns: ``id``, ``idx`` (internal id), then ``name``, ``platform``,
        ``category``, ``price``, ``avg_views`` where given, ``followers``, ``tier``.
        """
        src = self.raw_creators()
        if src is None:
            return None
        idx = src.column("idx").to_numpy()
        followers = self.in_degree[idx]
        src = src.drop_columns([c for c in ("followers", "tier") if c in src.column_names])
        return src.append_column("followers", pa.array(followers, pa.int64())).append_column(
            "tier", pa.array(tier_of(followers).tolist(), pa.string()))

    @cached_property
    def accounts(self) -> pa.Table | None:
        """Account attributes, row i = internal account i, with an ``id`` column first."""
        src = self.raw_accounts()
        if src is None:
            return None
        return src.add_column(0, "id", self.ids.to_arrow())

    def raw_creators(self) -> pa.Table | None:
        """Creator metadata as stored (no derived columns); loads it from the store if lazy."""
        if callable(self._creators_src):
            self._creators_src = self.derived("_creators_src", self._creators_src)
        return self._creators_src

    def raw_accounts(self) -> pa.Table | None:
        """Account attributes as stored (aligned, no id column); loads them if lazy."""
        if callable(self._accounts_src):
            self._accounts_src = self.derived("_accounts_src", self._accounts_src)
        return self._accounts_src

    @property
    def has_account_attributes(self) -> bool:
        return self._accounts_src is not None

    def _align_creators(self, table: pa.Table, dense_ids: np.ndarray) -> pa.Table:
        table = normalize_table(table, CREATOR_COLUMNS, "creators")
        counts = np.bincount(dense_ids, minlength=self.n_accounts)
        if (counts > 1).any():
            dups = self.external(np.flatnonzero(counts > 1)[:10])
            raise InputError(f"creators: creator id(s) listed more than once: {', '.join(map(repr, dups))}")
        for c in ("price", "avg_views"):
            if c in table.column_names and pc.any(pc.less(table.column(c), 0)).as_py():
                raise InputError(f"creators: column {c!r} has negative values")
        keep = [c for c in table.column_names if c not in ("id", "idx", "followers", "tier")]
        order = pa.array(np.argsort(dense_ids, kind="stable"))
        # built column by column: a table of no columns (id-only input) would have no rows
        out = pa.table({"id": self.ids.to_arrow().take(pa.array(dense_ids).take(order)),
                        "idx": pa.array(dense_ids, pa.int32()).take(order)})
        for c in keep:
            out = out.append_column(table.schema.field(c), table.column(c).take(order))
        return out

    def set_accounts(self, table: pa.Table | Any) -> None:
        """Attach an account attribute table with an ``id`` column (rows for unknown ids are dropped)."""
        table = _as_table(table, "accounts")
        _require_id(table, "accounts")
        ids = table.column("id")
        dense = self.ids.lookup(ids, strict=False)
        table = normalize_table(table.drop_columns(["id"]), ACCOUNT_COLUMNS, "accounts")
        self._replace_table("accounts", align_rows(table, ids, dense, self.n_accounts, "accounts",
                                                   self.report.setdefault("warnings", [])))

    def set_account_column(self, name: str, values: Any) -> None:
        """Add or replace the account column ``name`` (one value per internal account).

        Used by :func:`kolgraph.fraud.write_flags`; persist the change with
        :func:`kolgraph.store.rewrite`.
        """
        col = pa.array(values) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
        if len(col) != self.n_accounts:
            raise InputError(f"account column {name!r}: {len(col):,} values for "
                             f"{self.n_accounts:,} accounts")
        table = self.raw_accounts()
        if table is None:
            table = pa.table({name: col})
        elif name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, col)
        else:
            table = table.append_column(name, col)
        self._replace_table("accounts", table)

    def set_creators(self, table: pa.Table | Any) -> None:
        """Attach creator metadata (``id`` plus any of name, platform, category, price, avg_views)."""
        table = _as_table(table, "creators")
        _require_id(table, "creators")
        dense = self.ids.lookup(table.column("id"), strict=True)
        self._replace_table("creators", self._align_creators(table, dense))

    def _replace_table(self, which: str, table: pa.Table) -> None:
        """Swap in a new creator or account table; every index derived from tables is dropped."""
        with self._lock:
            setattr(self, f"_{which}_src", table)
            self.__dict__.pop(which, None)
        self.drop_derived()

    def drop_derived(self) -> None:
        """Forget every derived index (the next use rebuilds it; benchmarks time builds so)."""
        with self._lock:
            self._derived.clear()

    def derived(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The index ``key`` of this graph, built by ``build()`` on first use.

        Capabilities keep their per-graph indexes here (dense audience bitsets, candidate
        rows, sketches...), so they live and die with the graph. Concurrent first callers
        of one key wait for a single build; other keys build in parallel. Replacing a
        table (:meth:`set_accounts`, :meth:`set_creators`, :meth:`set_account_column`)
        drops them all.
        """
        try:
            return self._derived[key]
        except KeyError:
            pass
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._derived:
                self._derived[key] = build()
            return self._derived[key]

    # --- summary and persistence ------------------------------------------------------
    def info(self, top: int = 10) -> dict:
        """Counts, degree statistics, tier counts and top creators by followers (JSON-ready)."""
        ind, outd = self.in_degree, self.out_degree
        out: dict[str, Any] = {
            "accounts": self.n_accounts,
            "edges": self.n_edges,
            "creators": self.n_creators,
            "id_kind": self.ids.kind,
            "has_followed_at": self.followed_at is not None,
            "has_account_attributes": self.has_account_attributes,
            "followers": _degree_stats(ind),
            "following": _degree_stats(outd),
        }
        creators = self.creators
        if creators is not None and creators.num_rows:
            tiers = creators.column("tier").to_numpy(zero_copy_only=False)
            out["tiers"] = {t: int((tiers == t).sum()) for t in TIER_NAMES}
            fol = creators.column("followers").to_numpy()
            best = np.argsort(-fol, kind="stable")[:top]
            rows = creators.take(pa.array(best)).to_pylist()
            out["top_creators"] = [{k: r.get(k) for k in ("id", "name", "category", "followers", "tier") if k in r}
                                   for r in rows]
        else:
            counts = np.bincount(np.searchsorted([10_000, 100_000, 500_000, 1_000_000], ind, side="right"),
                                 minlength=5)
            out["tiers_all_accounts"] = {t: int(c) for t, c in zip(TIER_NAMES, counts, strict=True)}
            best = np.argsort(-ind, kind="stable")[:top]
            out["top_accounts"] = [{"id": i, "followers": int(d)} for i, d in
                                   zip(self.external(best), ind[best], strict=True)]
        return out

    def __getstate__(self) -> dict:  # locks do not pickle; derived indexes are rebuilt
        state = dict(self.__dict__)
        for k in ("_lock", "_key_locks", "_derived"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock, self._key_locks, self._derived = threading.Lock(), {}, {}

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (f"FollowerGraph(accounts={self.n_accounts:,}, edges={self.n_edges:,}, "
                f"creators={self.n_creators:,}{where})")


def graph_method(fn: Callable) -> Callable:
    """Also expose the capability ``fn(g, ...)`` as the method ``g.fn(...)``.

    Capabilities are functions of a graph (``kolgraph.reach.reach(g, ids)``, as in
    networkx); the method is sugar. Each capability module registers its own, so this
    module never imports a capability and the layers stay one-way.
    """
    setattr(FollowerGraph, fn.__name__, fn)
    return fn


def _degree_stats(d: np.ndarray) -> dict:
    if len(d) == 0:
        return {"mean": 0.0, "median": 0.0, "p99": 0.0, "max": 0}
    return {"mean": float(d.mean()), "median": float(np.median(d)),
            "p99": float(np.percentile(d, 99)), "max": int(d.max())}


def _column(values: Any) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):
        return values
    if isinstance(values, pa.Array):
        return pa.chunked_array([values])
    if hasattr(values, "to_numpy") and hasattr(values, "dtype") and not isinstance(values, np.ndarray):
        values = values.to_numpy()  # pandas Series
    arr = np.asarray(values) if not isinstance(values, list) else None
    if arr is not None and arr.dtype.kind == "M":  # datetime64 keeps its unit (tolist() gives ns ints)
        return pa.chunked_array([pa.array(arr)])
    if arr is not None and arr.dtype.kind in "iu":
        return pa.chunked_array([pa.array(int64_ids(arr))])
    seq = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in seq):
        return pa.chunked_array([pa.array(seq, pa.int64())])
    return pa.chunked_array([pa.array([None if v is None else str(v) for v in seq], pa.large_string())])


def _as_table(obj: Any, what: str) -> pa.Table | None:
    if obj is None or isinstance(obj, pa.Table):
        return obj
    if hasattr(obj, "columns") and hasattr(obj, "iloc"):  # pandas DataFrame
        return pa.Table.from_pandas(obj, preserve_index=False)
    if isinstance(obj, dict):
        return pa.table(obj)
    raise InputError(f"{what}: expected a pyarrow Table, pandas DataFrame or dict of columns, "
                     f"got {type(obj).__name__}")


def _require_id(table: pa.Table, what: str) -> None:
    if "id" not in table.column_names:
        raise InputError(f"{what} table needs an 'id' column (columns: {', '.join(table.column_names)})")


def _epoch_seconds(values: Any) -> np.ndarray:
    from kolgraph.tables import coerce_column

    col = _column(values) if not isinstance(values, pa.ChunkedArray | pa.Array) else values
    col = coerce_column(col, pa.timestamp("s", tz="UTC"), "followed_at", "edges")
    if col.null_count:
        raise InputError("edges: followed_at has empty values")
    return col.cast(pa.int64()).to_numpy()

