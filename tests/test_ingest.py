"""Ingest: formats, oracle edge sets, round trips, bad input with line numbers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kolgraph
from kolgraph.exceptions import EmptyInputError, InputError, MalformedInputError, StoreError
from kolgraph.ingest import export_edges, ingest, read_graph, sniff

DATA = Path(__file__).parent / "data"
REAL_EDGE_LISTS = [
    "email-Eu-core/email-Eu-core.txt",
    "konect-ego-twitter/out.ego-twitter",
    "wiki-Vote/wiki-Vote.txt",
]


def naive_edges(path: Path) -> set[tuple[int, int]]:
    """The edge set of a SNAP/KONECT file, parsed line by line (the oracle)."""
    out = set()
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s or s[0] in "#%":
            continue
        a, b = s.split()[:2]
        if a != b:
            out.add((int(a), int(b)))
    return out


def graph_edges(g: kolgraph.FollowerGraph) -> set[tuple]:
    src, dst = g.edge_arrays()
    names = g.external(np.arange(g.n_accounts))
    return {(names[u], names[v]) for u, v in zip(src.tolist(), dst.tolist(), strict=True)}


@pytest.mark.parametrize("name", REAL_EDGE_LISTS, ids=lambda n: n.split("/")[0])
def test_real_edge_lists_match_naive_parse(name):
    path = DATA / name
    g = read_graph(path)
    expected = naive_edges(path)
    assert graph_edges(g) == expected
    assert g.n_edges == len(expected)
    assert g.report["parser"] == "fast"  # clean published files take the fast path


def test_email_eu_core_counts_self_follows():
    path = DATA / "email-Eu-core/email-Eu-core.txt"
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    g = read_graph(path)
    assert g.report["self_follows"] == sum(a == b for a, b in lines)
    assert g.report["input_edges"] == len(lines)


def test_brand_json_graph():
    g = read_graph(DATA / "twitter-brand-follower-graphs/hersheycareers.json")
    assert (g.n_accounts, g.n_edges) == (3726, 23939)
    genders = set(g.accounts.column("gender").to_pylist())
    assert genders == {"m", "f"}


# --- formats ------------------------------------------------------------------------------
def write_edges(path: Path, rows: list[tuple], *, delimiter: str, header: bool, comments: bool,
                trailing: bool, crlf: bool, blank: bool, gz: bool) -> Path:
    sep = " " if delimiter == "ws" else delimiter
    lines = []
    if comments:
        lines += ["# a comment", "% another comment"]
    if header:
        lines.append(sep.join(["follower", "followee"]))
    for i, (a, b) in enumerate(rows):
        lines.append(f"{a}{sep}{b}{sep if trailing and sep == ' ' else ''}")
        if blank and i == len(rows) // 2:
            lines.append("")
        if comments and i == len(rows) // 3:
            lines.append("# a comment in the middle")
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    if gz:
        path = path.with_suffix(path.suffix + ".gz")
        with gzip.open(path, "wt", newline="") as fh:
            fh.write(text)
    else:
        path.write_bytes(text.encode())
    return path


ids_int = st.integers(min_value=0, max_value=40)
ids_str = st.sampled_from(["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ida", "émile"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.one_of(st.lists(st.tuples(ids_int, ids_int), min_size=1, max_size=40),
                   st.lists(st.tuples(ids_str, ids_str), min_size=1, max_size=40)),
    delimiter=st.sampled_from([",", "\t", "ws"]),
    header=st.booleans(), comments=st.booleans(), trailing=st.booleans(), crlf=st.booleans(),
    blank=st.booleans(), gz=st.booleans(),
)
def test_any_format_gives_the_input_edge_set(tmp_path, rows, delimiter, header, comments, trailing,
                                             crlf, blank, gz):
    if all(a == b for a, b in rows):
        rows = rows + [(rows[0][0], "zed" if isinstance(rows[0][0], str) else 99)]
    path = write_edges(tmp_path / "e.txt", rows, delimiter=delimiter, header=header, comments=comments,
                       trailing=trailing, crlf=crlf, blank=blank, gz=gz)
    g = read_graph(path)
    expected = {(a, b) for a, b in rows if a != b}
    assert graph_edges(g) == expected
    assert g.report["duplicate_edges"] == sum(a != b for a, b in rows) - len(expected)
    # round trip: export then ingest again gives the same edge set
    out = tmp_path / ("back.csv" if gz else "back.tsv")
    export_edges(g, out)
    assert graph_edges(read_graph(out)) == expected


def test_header_and_column_selection_by_name(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("ts,creator,user\n1700000000,c1,u1\n1700000100,c1,u2\n1700000200,c2,u1\n")
    g = read_graph(p, follower_col="user", followee_col="creator", time_col="ts")
    assert graph_edges(g) == {("u1", "c1"), ("u2", "c1"), ("u1", "c2")}
    c1 = int(g.index(["c1"])[0])
    assert g.followed_at[g.in_indptr[c1]: g.in_indptr[c1 + 1]].tolist() == [1700000000, 1700000100]
    with pytest.raises(InputError, match=r"no column 'nope' \(columns: ts, creator, user\)"):
        read_graph(p, follower_col="nope")


def test_edge_times_iso_and_epoch_and_earliest_duplicate(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("a,b,2024-01-02T00:00:00\na,b,1704067200\nb,a,2024-01-03\n")
    g = read_graph(p, edge_times=True)
    a, b = g.index(["a", "b"])
    assert g.report["duplicate_edges"] == 1
    assert g.followed_at[g.in_indptr[b]] == 1704067200  # 2024-01-01, the earlier of the two
    assert g.followed_at[g.in_indptr[a]] == 1704240000


def test_numeric_usernames_with_id_type_str(tmp_path):
    p = tmp_path / "e.txt"
    p.write_text("007 42\n42 007\n")
    as_int = read_graph(p)
    as_str = read_graph(p, id_type="str")
    assert as_int.ids.kind == "int" and sorted(as_int.external([0, 1])) == [7, 42]
    assert as_str.ids.kind == "str" and sorted(as_str.external([0, 1])) == ["007", "42"]


def test_parquet_edges_and_nulls(tmp_path):
    p = tmp_path / "e.parquet"
    pq.write_table(pa.table({"source": pa.array([1, 2, None, 4]), "target": [2, 3, 4, 1]}), p)
    with pytest.raises(MalformedInputError, match="row 3"):
        read_graph(p)
    g = read_graph(p, skip_bad=True)
    assert graph_edges(g) == {(1, 2), (2, 3), (4, 1)} and g.report["bad_rows"] == 1


def test_sniff_detects_delimiter_header_and_comments(tmp_path):
    p = tmp_path / "e.tsv"
    p.write_text("# c\n# d\nsrc\tdst\n1\t2\n")
    fmt = sniff(p)
    assert (fmt.delimiter, fmt.header, fmt.skip_lines) == ("\t", ["src", "dst"], 2)


# --- bad input ---------------------------------------------------------------------------
def test_malformed_rows_fail_with_line_numbers_and_write_nothing(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("# header comment\n1 2\n3\n4 5\nx 6\n7 8\n")
    out = tmp_path / "g.kg"
    with pytest.raises(MalformedInputError) as err:
        ingest(p, out)
    msg = str(err.value)
    assert "2 malformed row(s)" in msg
    assert f"{p}:3: '3' (expected at least 2 fields)" in msg
    assert f"{p}:5: 'x 6' (not an integer id)" in msg
    assert err.value.count == 2 and [e[1] for e in err.value.errors] == [3, 5]
    assert not out.exists() and not list(tmp_path.glob(".g.kg*"))


def test_skip_bad_skips_and_reports(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("1 2\n3\n4 5\nx 6\n7 8\n")
    g = ingest(p, tmp_path / "g.kg", skip_bad=True)
    assert graph_edges(g) == {(1, 2), (4, 5), (7, 8)}
    assert g.report["bad_rows"] == 2
    assert [e["line"] for e in g.report["bad_examples"]] == [2, 4]
    assert "skipped 2 malformed row(s)" in g.report["warnings"][0]


@pytest.mark.parametrize("text", ["", "# only a comment\n% and another\n\n"], ids=["empty", "comments-only"])
def test_empty_files_are_clear_errors(tmp_path, text):
    p = tmp_path / "e.txt"
    p.write_text(text)
    with pytest.raises(EmptyInputError, match="no data rows"):
        read_graph(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_graph(tmp_path / "nope.csv")


def test_creators_and_accounts_tables(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("follower,followee\n1,10\n2,10\n3,11\n")
    creators = tmp_path / "creators.csv"
    creators.write_text("id,name,category,price\n10,Ten,beauty,100\n11,Eleven,gaming,50\n12,Idle,food,5\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("id,posts,has_avatar,country\n1,5,yes,NL\n2,0,no,DE\n99,1,yes,FR\n")
    g = ingest(edges, tmp_path / "g.kg", creators=creators, accounts=accounts)
    c = {r["id"]: r for r in g.creators.to_pylist()}
    assert c[10]["followers"] == 2 and c[11]["followers"] == 1 and c[12]["followers"] == 0
    assert c[10]["tier"] == "nano" and c[10]["name"] == "Ten"
    acc = g.accounts
    row = {r["id"]: r for r in acc.to_pylist()}
    assert row[1]["posts"] == 5 and row[1]["has_avatar"] is True and row[2]["has_avatar"] is False
    assert row[3]["posts"] is None  # no attribute row: nulls
    warnings = " ".join(g.report["warnings"])
    assert "1 row(s) describe accounts that are not in the graph" in warnings and "99" in warnings
    assert "1 creator(s) have no followers" in warnings


def test_duplicate_creator_ids_are_an_error(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("1,10\n")
    creators = tmp_path / "c.csv"
    creators.write_text("id,name\n10,a\n10,b\n")
    with pytest.raises(InputError, match="listed more than once: 10"):
        read_graph(edges, creators=creators)


def test_non_numeric_attribute_names_row_and_value(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("1,10\n2,10\n")
    accounts = tmp_path / "a.csv"
    accounts.write_text("id,posts\n1,5\n2,lots\n")
    with pytest.raises(InputError, match=r"column 'posts' must be a whole number; row 2 has 'lots'"):
        read_graph(edges, accounts=accounts)


def test_text_creator_ids_against_integer_edges(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("1,10\n")
    creators = tmp_path / "c.csv"
    creators.write_text("id\nalice\n")
    with pytest.raises(InputError, match="ids are text but the edge list has integer ids"):
        read_graph(edges, creators=creators)


def test_ingest_refuses_to_overwrite_without_force(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("1,2\n")
    ingest(edges, tmp_path / "g.kg")
    with pytest.raises(StoreError, match="already exists"):
        ingest(edges, tmp_path / "g.kg")
    edges.write_text("1,2\n2,3\n")
    assert ingest(edges, tmp_path / "g.kg", overwrite=True).n_edges == 2


def test_report_has_timings_and_peak_memory(tmp_path):
    edges = tmp_path / "e.csv"
    rng = np.random.default_rng(7)
    np.savetxt(edges, rng.integers(0, 1000, size=(5000, 2)), fmt="%d", delimiter=",")
    g = ingest(edges, tmp_path / "g.kg")
    for key in ("read_seconds", "build_seconds", "write_seconds", "peak_rss_bytes"):
        assert g.report[key] >= 0, key
    assert g.report["peak_rss_bytes"] > 10 * 2**20
    reopened = kolgraph.open(tmp_path / "g.kg")
    assert reopened.report["input_edges"] == 5000


def test_export_with_times_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 50, 400), rng.integers(0, 50, 400)
    times = rng.integers(1_500_000_000, 1_700_000_000, 400)
    g = kolgraph.FollowerGraph.from_edges(src, dst, followed_at=times)
    for name in ("e.csv", "e.tsv.gz", "e.parquet"):
        export_edges(g, tmp_path / name)
        back = read_graph(tmp_path / name, edge_times=True)
        assert graph_edges(back) == graph_edges(g)
        assert np.array_equal(back.in_indices, g.in_indices)
        assert np.array_equal(back.followed_at, g.followed_at), name


@pytest.mark.parametrize("stamp", ["2024-02-24 20:58:13Z", "2024-02-24T22:58:13+02:00",
                                   "2024-02-24T20:58:13", "1708808293"])
def test_time_formats_agree(tmp_path, stamp):
    p = tmp_path / "e.csv"
    p.write_text(f"1,2,{stamp}\n2,1,{stamp}\n")
    assert read_graph(p, edge_times=True).followed_at.tolist() == [1708808293, 1708808293]


def test_mixed_time_formats_in_one_file(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("1,2,2024-02-24 20:58:13Z\n2,3,2024-02-24T20:58:13\n3,4,1708808293\n")
    g = read_graph(p, edge_times=True)
    assert g.followed_at.tolist() == [1708808293] * 3


def test_account_times_mix_formats_and_name_bad_rows(tmp_path):
    edges = tmp_path / "e.csv"
    edges.write_text("1,2\n2,3\n3,1\n")
    accounts = tmp_path / "a.csv"
    accounts.write_text("id,created_at\n1,1708808293\n2,2024-02-24T22:58:13+02:00\n3,2024-02-24 20:58:13\n")
    g = read_graph(edges, accounts=accounts)
    assert g.accounts.column("created_at").cast(pa.int64()).to_pylist() == [1708808293] * 3
    accounts.write_text("id,created_at\n1,1708808293\n2,last tuesday\n")
    with pytest.raises(InputError, match=r"column 'created_at' must be a time.*row 2 has 'last tuesday'"):
        read_graph(edges, accounts=accounts)
