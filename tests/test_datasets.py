"""Loaders of the public datasets map them faithfully to canonical columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest

from kolgraph.datasets import instagram_accounts, load_brand_graph, mib_accounts
from kolgraph.exceptions import InputError
from kolgraph.tables import ACCOUNT_COLUMNS

DATA = Path(__file__).parent / "data"


def test_mib_profiles_map_to_canonical_columns():
    t = mib_accounts(DATA / "mib-fake-twitter-profiles")
    assert t.num_rows == 1481 + 1337
    assert sum(t.column("label").to_pylist()) == 1337
    for name in ("posts", "followers", "following", "has_avatar", "username", "bio", "verified",
                 "private", "created_at", "language"):
        assert t.schema.field(name).type == ACCOUNT_COLUMNS[name], name
    assert t.column("created_at").null_count == 0
    # spot-check one row against the raw CSV
    with open(DATA / "mib-fake-twitter-profiles/users.csv", newline="") as fh:
        raw = next(csv.DictReader(fh))
    row = t.slice(0, 1).to_pylist()[0]
    assert row["id"] == int(raw["id"]) and row["username"] == raw["screen_name"]
    assert row["posts"] == int(raw["statuses_count"]) and row["following"] == int(raw["friends_count"])
    assert row["created_at"].strftime("%a %b %d %H:%M:%S +0000 %Y") == raw["created_at"]
    assert row["has_avatar"] == (raw["default_profile_image"] != "1")


def test_instagram_profiles_map_to_canonical_columns():
    t = instagram_accounts(DATA / "instagram-fake-spammer-genuine/train.csv")
    assert t.num_rows == 576 and sum(t.column("label").to_pylist()) == 288
    assert t.schema.field("has_avatar").type == pa.bool_()
    with open(DATA / "instagram-fake-spammer-genuine/train.csv", newline="") as fh:
        raw = list(csv.DictReader(fh))
    assert t.column("posts").to_pylist() == [int(r["#posts"]) for r in raw]
    assert t.column("following").to_pylist() == [int(r["#follows"]) for r in raw]
    assert t.column("username_digit_ratio").to_pylist() == [float(r["nums/length username"]) for r in raw]


def test_brand_graph_matches_the_json():
    path = DATA / "twitter-brand-follower-graphs/hersheycareers.json"
    doc = json.loads(path.read_text())
    g = load_brand_graph(path)
    expected = {(a, b) for a, b in doc["edges"] if a != b}
    src, dst = g.edge_arrays()
    got = set(zip(g.external(src), g.external(dst), strict=True))
    assert got == expected
    assert g.n_accounts == len(doc["labels"])
    labels = dict(zip(g.accounts.column("id").to_pylist(), g.accounts.column("gender").to_pylist(),
                      strict=True))
    assert all(labels[int(k)] == v for k, v in doc["labels"].items())


def test_bad_files_are_clear_errors(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"nodes": []}')
    with pytest.raises(InputError, match="not a brand graph JSON"):
        load_brand_graph(bad)
    with pytest.raises(InputError, match="users.csv: missing"):
        mib_accounts(tmp_path)
    short = tmp_path / "ig.csv"
    short.write_text("profile pic,fake\n1,0\n")
    with pytest.raises(InputError, match="missing column"):
        instagram_accounts(short)
