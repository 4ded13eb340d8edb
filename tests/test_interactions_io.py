"""Interaction input and storage: CSV/Parquet/JSON exports, ingest and add-interactions
(atomic, errors named by file and line, duplicates counted, accounts added), the store
part, the synthetic truth, the real-shaped set and the CLI."""

from __future__ import annotations

import csv
import json

import naive_interactions as naive
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kolgraph
from kolgraph import FollowerGraph, MalformedInputError
from kolgraph.cli import main
from kolgraph.exceptions import InputError, StoreCorruptedError
from kolgraph.ingest import ingest
from kolgraph.interactions_io import add_interactions
from kolgraph.store import read_manifest, read_truth, write_store

EVENTS = """account,creator,time,kind,post,reply_to
1,10,2024-01-01T10:00:00Z,comment,p1,
2,10,1704103200,like,p1,
2,10,1704103200,like,p1,
99,10,2024-01-09T10:00:00,comment,p2,
10,10,2024-01-09T11:00:00,reply,p2,99
1,11,2024-01-10T10:00:00,share,,
"""


@pytest.fixture
def store(tmp_path):
    g = FollowerGraph.from_edges([1, 2, 3], [10, 10, 11], followed_at=[0, 0, 0])
    g.set_account_column("flagged", [False, True, False, False, False])
    return write_store(g, tmp_path / "s.kg")


def _write(path, text):
    path.write_text(text)
    return path


def test_add_interactions_grows_the_accounts_and_counts_duplicates(store, tmp_path):
    out = add_interactions(store, _write(tmp_path / "ev.csv", EVENTS))
    assert (out["events"], out["added_events"], out["duplicate_events"], out["new_accounts"]) == (5, 6, 1, 1)
    g = kolgraph.open(store)
    assert g.n_accounts == 6 and g.index([99]).tolist() == [5]
    assert g.followers(10) == [1, 2] and g.accounts.column("flagged").to_pylist()[5] is None
    row = g.engagement([10])["creators"][0]
    assert (row["engaged"], row["engaged_non_followers"], row["comments"], row["answered_comments"]) == (3, 1, 2, 1)
    assert row["flagged_interactions"] == 1  # account 2 is flagged
    again = add_interactions(store, tmp_path / "ev.csv")  # every event is already there
    assert (again["events"], again["duplicate_events"], again["new_accounts"]) == (5, 6, 0)


def test_a_store_without_interactions_works_as_before(store):
    g = kolgraph.open(store)
    assert g.interactions is None and "interactions" not in read_manifest(store)
    assert g.reach([10, 11]).unique_reach == 3


def test_malformed_rows_are_named_and_nothing_is_written(store, tmp_path):
    before = read_manifest(store)
    bad = _write(tmp_path / "bad.csv", EVENTS + "3,10,yesterday,like,,\n4,10,1704103200,,p1,\n5,10\n")
    with pytest.raises(MalformedInputError, match=r"wrong number of fields") as exc:
        add_interactions(store, bad)
    assert f"{bad}:10" in str(exc.value)
    bad.write_text(EVENTS + "3,10,yesterday,like,,\n4,10,1704103200,,p1,\n")
    with pytest.raises(MalformedInputError) as exc:
        add_interactions(store, bad)
    msg = str(exc.value)
    assert f"{bad}:8" in msg and "ISO 8601" in msg and f"{bad}:9" in msg and "empty kind" in msg
    assert "nothing was written" in msg
    text_ids = _write(tmp_path / "text.csv", "account,creator,time,kind\nann,10,0,like\n")
    with pytest.raises(MalformedInputError, match=r"text.csv:2.*not an integer id"):
        add_interactions(store, text_ids)
    with pytest.raises(InputError, match="no kind column"):
        add_interactions(store, _write(tmp_path / "nokind.csv", "account,creator,time\n1,10,0\n"))
    assert read_manifest(store) == before


def test_parquet_and_per_creator_json_exports_read_the_same(store, tmp_path):
    rows = list(csv.DictReader(EVENTS.splitlines()))
    table = pa.table({k: [r[k] for r in rows] for k in rows[0]})
    table = table.set_column(2, "time", pa.array([1704103200] * len(rows), pa.int64()))
    pq.write_table(table, tmp_path / "ev.parquet")
    out = add_interactions(store, tmp_path / "ev.parquet")
    assert (out["events"], out["duplicate_events"]) == (5, 1)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "10_comments.jsonl").write_text(
        '{"user": {"id": 1}, "created_at": "2024-02-01T00:00:00Z", "media_id": "p9"}\n\n'
        '{"username": 3, "timestamp": 1706745600, "post_id": "p9"}\n')
    (exports / "11.json").write_text(json.dumps({"items": [
        {"account": 2, "time": 1706745600, "kind": "like", "weight": 2.5}]}))
    out = add_interactions(store, exports)
    assert out["added_events"] == 3 and "comment" in out["kinds"]
    g = kolgraph.open(store)
    feb = g.engagement([10, 11], since="2024-02-01", until="2024-02-02")["creators"]
    assert feb[0]["by_kind"] == {"comment": 2} and feb[1]["weighted_interactions"] == 2.5
    (exports / "12_likes.jsonl").write_text('{"account": 1, "time": 0}\nnot json\n')
    with pytest.raises(MalformedInputError, match=r"12_likes.jsonl:2.*bad JSON"):
        add_interactions(store, exports)


def test_posts_give_per_post_rates(store, tmp_path):
    posts = _write(tmp_path / "posts.csv", "creator,post,time\n10,p1,2024-01-01\n10,p2,2024-01-08\n")
    add_interactions(store, _write(tmp_path / "ev.csv", EVENTS), posts)
    row = kolgraph.open(store).engagement([10], since="2024-01-01", until="2024-02-01")["creators"][0]
    assert row["posts"] == 2 and row["rate_basis"] == "per_post_per_follower"
    assert row["engagement_rate"] == pytest.approx(3 / 2 / 2)  # 3 interactions (not the reply)


def test_an_altered_part_is_reported(store, tmp_path):
    add_interactions(store, _write(tmp_path / "ev.csv", EVENTS))
    part = read_manifest(store)["interactions"]["dir"]
    np.save(store / part / "c_indptr.npy", np.zeros(7, np.int64))  # same size, wrong offsets
    with pytest.raises(StoreCorruptedError, match="interactions"):
        kolgraph.open(store)


def test_synthetic_truth_is_what_engagement_finds(tmp_path):
    from kolgraph.synth import synth_store

    path = synth_store(tmp_path / "syn.kg", accounts=3_000, creators=30, edges=20_000, seed=4,
                       interactions=True)
    g, truth = kolgraph.open(path), read_truth(path)
    creators = truth["interaction_creators"].to_pydict()
    out = g.engagement(g.external(creators["creator"]))["creators"]
    assert [r["loyal_fans"] for r in out] == creators["loyal"]
    assert [r["engaged_non_followers"] for r in out] == [  # pod members follow no creator they work
        o + p for o, p in zip(creators["outsiders"], creators["pod_engagers"], strict=True)]
    assert sum(creators["pod_engagers"]) > 0
    assert sum(creators["loyal"]) > 0 and not all(creators["replies"])
    for r, replies in zip(out, creators["replies"], strict=True):
        assert (r["answered_comments"] > 0) == (replies and r["comments"] > 0) or r["comments"] < 4
        if not replies:
            assert r["answered_comments"] == 0
    pairs = truth["loyal_fans"].to_pydict()
    first = creators["creator"][0]
    want = {a for c, a in zip(pairs["creator"], pairs["account"], strict=True) if c == first}
    loyal = g.reach(g.external([first]), audience="loyal")
    assert loyal.unique_reach == len(want)


def _read_csv_events(path):
    out = []
    for r in csv.DictReader(open(path)):
        out.append((int(r["account"]), int(r["creator"]), int(r["time"]), r["kind"], r["post"] or None,
                    int(r["reply_to"]) if r["reply_to"] else None))
    return out


def test_the_real_shaped_set_against_the_oracle(data_dir, tmp_path):
    folder = data_dir / "interactions-hershey"
    g = ingest(data_dir / "twitter-brand-follower-graphs" / "hersheycareers.json", tmp_path / "h.kg",
               interactions=folder / "interactions.csv", posts=folder / "posts.csv")
    events = _read_csv_events(folder / "interactions.csv")
    creators = sorted({e[1] for e in events})
    assert g.report["interactions"]["events"] == len(set(events))
    since, until = 1_704_067_200 + 7 * 86_400, 1_704_067_200 + 70 * 86_400
    out = g.engagement(creators, since=since, until=until, loyal_k=3)
    for row in out["creators"]:
        c = row["id"]
        followers = set(g.followers(c))
        want = naive.engagement(events, c, followers, None, since, until, None, 3, 30.0, "posts")
        want.pop("flagged_interactions")
        assert {k: row[k] for k in want} == want
    rates = [r["reply_rate"] for r in out["creators"]]
    assert out["loyalty"]["by"] == "posts" and 0.0 in rates and max(rates) > 0.2  # silent and not
    sets = [set(naive.engaged_units(events, c, since, until, ["comment"], "posts")) for c in creators[:8]]
    r = g.reach(creators[:8], audience="engaged", since=since, until=until, kinds=["comment"])
    assert r.unique_reach == len(set().union(*sets))
    assert r.exclusive.tolist() == [len(s - set().union(*(t for t in sets if t is not s))) for s in sets]


def test_cli_ingest_engagement_and_engaged_reach(tmp_path, capsys):
    edges = _write(tmp_path / "edges.csv", "follower,followee\n1,10\n2,10\n3,11\n")
    ev = _write(tmp_path / "ev.csv", EVENTS)
    out = tmp_path / "c.kg"
    assert main(["ingest", str(edges), "--out", str(out), "--interactions", str(ev), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["interactions"]["duplicate_events"] == 1
    assert main(["engagement", str(out), "10", "11", "--kinds", "comment,like", "--loyal-k", "1",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["creators"]
    assert [r["interactions"] for r in rows] == [3, 0] and rows[0]["loyal_fans"] == 3
    assert main(["reach", str(out), "10", "11", "--audience", "engaged", "--since", "2024-01-01",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unique_reach"] == 3 and d["filters"]["audience"] == "engaged"
    assert main(["add-interactions", str(out), str(ev), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["new_accounts"] == 0
    assert main(["reach", str(out), "10", "--until", "2024-01-01"]) == 3
    assert "only with audience" in capsys.readouterr().err


def _store_arrays(path):
    g = kolgraph.open(path)
    inter = g.interactions
    return ({k: np.asarray(getattr(inter, k)).tolist() for k in
             ("c_indptr", "c_account", "c_time", "c_kind", "c_post", "c_weight", "c_reply_to",
              "a_indptr", "a_event")}, inter.kinds, inter.post_ids.to_arrow().to_pylist(),
            g.ids.to_arrow().to_pylist())


def test_typed_parquet_reads_as_its_text_csv(tmp_path):
    """Integer ids and posts, timestamps and numeric weights in Parquet are read as typed
    columns (no round trip through text) and give the store the CSV text gives."""
    rng = np.random.default_rng(3)
    n = 3000
    acc, cr = rng.integers(1, 60, n), rng.integers(100, 105, n)
    t = 1_704_067_200 + rng.integers(0, 5, n) * 3600  # many (creator, time) ties
    kind = rng.choice(["like", "comment", "share"], n)
    post = rng.integers(0, 8, n)
    weight = rng.integers(0, 3, n) / 2
    g = FollowerGraph.from_edges(list(range(1, 60)), [100] * 59)
    text, typed = write_store(g, tmp_path / "text.kg"), write_store(g, tmp_path / "typed.kg")
    with open(tmp_path / "ev.csv", "w") as fh:
        fh.write("account,creator,time,kind,post,weight\n")
        for row in zip(acc, cr, t, kind, post, weight, strict=True):
            fh.write(",".join(map(str, row)) + "\n")
    pq.write_table(pa.table({
        "account": acc, "creator": cr.astype(np.int32),
        "time": pa.array(t * 1000, pa.timestamp("ms", tz="UTC")), "kind": kind,
        "post": post.astype(np.int32), "weight": weight}), tmp_path / "ev.parquet")
    a = add_interactions(text, tmp_path / "ev.csv")
    b = add_interactions(typed, tmp_path / "ev.parquet")
    assert a["duplicate_events"] == b["duplicate_events"] > 0
    assert _store_arrays(text) == _store_arrays(typed)


def test_typed_parquet_names_bad_rows(tmp_path, store):
    pq.write_table(pa.table({"account": pa.array([1, None], pa.int64()), "creator": [10, 10],
                             "time": [0, 0], "kind": ["like", "like"],
                             "weight": [1.0, -2.0]}), tmp_path / "bad.parquet")
    with pytest.raises(MalformedInputError, match=r"bad.parquet row 2.*empty account") as e:
        add_interactions(store, tmp_path / "bad.parquet")
    assert e.value.count == 1  # the negative weight is on the same row as the empty account
