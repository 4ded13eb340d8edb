"""Loaders for the public datasets kolgraph is tested on (see ``tests/data/README.md``).

Edge lists (SNAP, KONECT) need no loader: :func:`kolgraph.ingest.read_graph`
reads them as they are published. Here are the formats that need mapping:

- the brand follower graphs (JSON ``{"labels": {id: "m"|"f"}, "edges": [[src, dst], ...]}``),
  read into a FollowerGraph whose account table carries the label as ``gender``;
- the labelled profile sets, mapped to kolgraph's canonical account columns
  (see :data:`kolgraph.tables.ACCOUNT_COLUMNS`) plus ``label`` (1 = fake):
  MIB "Fame for sale" (Cresci et al. 2015) and the Instagram fake/genuine set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from kolgraph.columns import _nonempty
from kolgraph.exceptions import InputError
from kolgraph.graph import FollowerGraph
from kolgraph.tables import ACCOUNT_COLUMNS, normalize_table


def load_brand_graph(path: str | Path) -> FollowerGraph:
    """A brand follower graph (JSON, ids anonymised per file); edge ``[a, b]``: a follows b."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        edges = np.asarray(doc["edges"], dtype=np.int64).reshape(-1, 2)
        labels = doc.get("labels", {})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a brand graph JSON ({{'labels': ..., 'edges': [[a, b], ...]}}): "
                         f"{exc}") from None
    ids = np.asarray([int(k) for k in labels], dtype=np.int64)
    g = FollowerGraph.from_edges(edges[:, 0], edges[:, 1], nodes=ids,
                                 report={"source": str(path), "format": "brand-json"})
    if labels:
        g.set_accounts(pa.table({"id": ids, "gender": pa.array(list(labels.values()), pa.string())}))
    return g


def mib_accounts(folder: str | Path) -> pa.Table:
    """MIB "Fame for sale" profiles: ``users.csv`` (humans, label 0) + ``fusers.csv`` (bought, label 1).

    Columns: ``id`` (Twitter id), the canonical ``posts, followers, following,
    has_avatar, username, full_name, bio, external_url, verified, private, created_at,
    language``, plus
    ``label`` and ``dataset`` (the MIB subset name).
    """
    folder = Path(folder)
    parts = []
    for name, label in (("users.csv", 0), ("fusers.csv", 1)):
        f = folder / name
        if not f.is_file():
            raise InputError(f"{f}: missing (expected the MIB users.csv and fusers.csv)")
        t = pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(
            column_types={"protected": pa.int64(), "verified": pa.int64(),
                          "default_profile_image": pa.int64(), "created_at": pa.string()}))
        parts.append(pa.table({
            "id": t.column("id"),
            "posts": t.column("statuses_count"),
            "followers": t.column("followers_count"),
            "following": t.column("friends_count"),
            "has_avatar": pc.invert(_flag(t, "default_profile_image")),
            "username": t.column("screen_name"),
            "full_name": t.column("name").cast(pa.string()),
            "bio": pc.fill_null(t.column("description"), ""),
            "external_url": pc.fill_null(_nonempty(t.column("url").cast(pa.string())), False),
            "verified": _flag(t, "verified"),
            "private": _flag(t, "protected"),
            "created_at": _twitter_time(t.column("created_at")),
            "language": t.column("lang"),
            "label": pa.array(np.full(t.num_rows, label, np.int8)),
            "dataset": t.column("dataset"),
        }))
    return normalize_table(pa.concat_tables(parts), ACCOUNT_COLUMNS, str(folder))


def instagram_accounts(path: str | Path) -> pa.Table:
    """The Instagram fake/genuine set; it has no ids or names, so ids are ``ig-<row>`` and the
    username/bio come as derived numbers (``username_digit_ratio``, ``bio_length``, ...)."""
    path = Path(path)
    t = pacsv.read_csv(path)
    need = ["profile pic", "nums/length username", "fullname words", "nums/length fullname",
            "name==username", "description length", "external URL", "private", "#posts",
            "#followers", "#follows", "fake"]
    missing = [c for c in need if c not in t.column_names]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}")
    as_bool = lambda c: pc.equal(t.column(c), 1)  # noqa: E731
    return normalize_table(pa.table({
        "id": pa.array([f"ig-{i}" for i in range(t.num_rows)], pa.string()),
        "has_avatar": as_bool("profile pic"),
        "username_digit_ratio": t.column("nums/length username"),
        "fullname_words": t.column("fullname words"),
        "fullname_digit_ratio": t.column("nums/length fullname"),
        "name_equals_username": as_bool("name==username"),
        "bio_length": t.column("description length"),
        "external_url": as_bool("external URL"),
        "private": as_bool("private"),
        "posts": t.column("#posts"),
        "followers": t.column("#followers"),
        "following": t.column("#follows"),
        "label": t.column("fake").cast(pa.int8()),
    }), ACCOUNT_COLUMNS, str(path))


def _flag(t: pa.Table, col: str) -> pa.ChunkedArray:
    # the MIB dump writes false as an empty field
    return pc.fill_null(pc.equal(t.column(col), 1), False)


def _twitter_time(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """'Fri Apr 06 10:58:22 +0000 2007' (Twitter's format) to timestamp[s, UTC]."""
    return pc.strptime(col, format="%a %b %d %H:%M:%S %z %Y", unit="s", error_is_null=True)
