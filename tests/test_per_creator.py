"""``kolgraph.ingest.read_per_creator`` / ``kolgraph ingest --per-creator``: one follower
export per creator (CSV, JSON, JSONL, .gz) into one graph, checked against Python sets."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from kolgraph.exceptions import InputError, MalformedInputError
from kolgraph.ingest import ingest_per_creator, read_per_creator


def _audience(g, creator) -> set:
    i = g.ids.lookup([creator])[0]
    return set(g.external(np.asarray(g.followers_idx(int(i)))))


@pytest.fixture
def exports(tmp_path):
    """Four creators in four formats, as scrapers write them, with their true audiences."""
    d = tmp_path / "exports"
    d.mkdir()
    (d / "nike_followers.csv").write_text(
        "pk,username,full_name,is_private,is_verified,follower_count,following_count\n"
        "11,ann,Ann A,false,false,120,300\n12,bob,Bob B,true,false,5,4000\n"
        "13,cy,,false,true,90000,10\n11,ann,Ann A,false,false,120,300\n")
    with gzip.open(d / "adidas.jsonl.gz", "wt") as f:
        for r in ({"id": 12, "username": "bob"}, {"id": 14, "username": "dee", "is_private": True},
                  {"id": 15}):
            f.write(json.dumps(r) + "\n")
    (d / "puma.json").write_text(json.dumps({"followers": [{"pk": 13}, {"pk": 16}]}))
    (d / "reebok.csv").write_text("11\n16\n17\n")  # a bare id list, no header
    (d / "notes.txt").write_text("not an export")
    truth = {"nike": {11, 12, 13}, "adidas": {12, 14, 15}, "puma": {13, 16},
             "reebok": {11, 16, 17}}
    return d, truth


def test_read_per_creator_matches_the_files(exports):
    d, truth = exports
    g = read_per_creator(d)
    assert g.ids.kind == "str"  # creators are named by file: one id space of text
    creators = set(g.external(g.creators.column("idx").to_numpy()))
    assert creators == set(truth)
    for c, followers in truth.items():
        assert _audience(g, c) == {str(f) for f in followers}, c
    assert g.reach(list(truth)).unique_reach == len(set().union(*truth.values()))
    assert g.report["files"] == 4 and g.report["duplicate_edges"] == 1
    assert g.report["input_edges"] == 12 and g.report["edges"] == 11


def test_follower_attributes_go_to_the_account_table(exports):
    d, _ = exports
    g = read_per_creator(d)
    acc = g.accounts
    row = {c: acc.column(c)[int(g.ids.lookup(["12"])[0])].as_py() for c in acc.column_names}
    assert row["username"] == "bob" and row["full_name"] == "Bob B"
    assert row["private"] is True and row["verified"] is False
    assert row["followers"] == 5 and row["following"] == 4000
    dee = int(g.ids.lookup(["14"])[0])
    assert acc.column("username")[dee].as_py() == "dee" and acc.column("private")[dee].as_py()


def test_integer_ids_with_a_creator_column(tmp_path):
    (tmp_path / "part1.csv").write_text("creator,user_id\n100,1\n100,2\n200,2\n")
    (tmp_path / "part2.jsonl").write_text('{"creator": 200, "user_id": 3}\n')
    g = read_per_creator(tmp_path)
    assert g.ids.kind == "int"
    assert _audience(g, 100) == {1, 2} and _audience(g, 200) == {2, 3}
    assert sorted(g.external(g.creators.column("idx").to_numpy())) == [100, 200]


def test_malformed_rows_are_named_with_file_and_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1}\n{"id": 2\n{"username": ""}\n')
    (tmp_path / "b.csv").write_text("id,username\n5,eve\n6,fay,extra\n")
    with pytest.raises(MalformedInputError) as err:
        read_per_creator(tmp_path)
    msg = str(err.value)
    assert err.value.count == 3
    assert f"{tmp_path / 'a.jsonl'}:2:" in msg and "not JSON" in msg
    assert f"{tmp_path / 'a.jsonl'}:3:" in msg and "no follower id" in msg
    assert f"{tmp_path / 'b.csv'}:3:" in msg and "3 fields, the header has 2" in msg
    g = read_per_creator(tmp_path, skip_bad=True)
    assert g.report["bad_rows"] == 3 and _audience(g, "a") == {"1"} and _audience(g, "b") == {"5"}


def test_nothing_is_written_on_failure(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.json").write_text("[1, 2, {\"oops\": [1]}]")
    out = tmp_path / "out.kg"
    with pytest.raises(InputError, match=r"x\.json item 3"):
        ingest_per_creator(tmp_path / "in", out)
    assert not out.exists()
    (tmp_path / "in" / "x.json").write_text("[1, 2, 3]")
    g = ingest_per_creator(tmp_path / "in", out)
    assert out.is_dir() and g.n_edges == 3 and _audience(g, "x") == {"1", "2", "3"}


def test_inputs_refused_with_a_reason(tmp_path):
    with pytest.raises(InputError, match="no creator export files"):
        read_per_creator(tmp_path)
    (tmp_path / "x.csv").write_text("colour,size\nred,3\n")
    with pytest.raises(InputError, match="no follower id or username column"):
        read_per_creator(tmp_path)
    (tmp_path / "x.csv").write_text("username\nann\n")
    with pytest.raises(InputError, match="id_type='int'"):
        read_per_creator(tmp_path, id_type="int")


def test_cli_ingest_per_creator(exports, tmp_path):
    d, truth = exports
    out = tmp_path / "pc.kg"
    proc = subprocess.run([sys.executable, "-m", "kolgraph", "ingest", "--per-creator", str(d),
                           "--out", str(out), "--json"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["files"] == 4 and report["duplicate_edges"] == 1
    import kolgraph

    g = kolgraph.open(out)
    assert _audience(g, "puma") == {"13", "16"}
    both = subprocess.run([sys.executable, "-m", "kolgraph", "ingest", "edges.csv",
                           "--per-creator", str(d), "--out", str(tmp_path / "x.kg")],
                          capture_output=True, text=True, timeout=300)
    assert both.returncode != 0 and "one of the two" in both.stderr
