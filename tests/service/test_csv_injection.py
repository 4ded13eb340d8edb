"""Issue 15, finding 11: ids and usernames that start like spreadsheet formulas are escaped
in every CSV kolgraph writes (a leading '), unless --raw."""

from __future__ import annotations

import csv
import io

import pytest

import kolgraph
from kolgraph.cli import main

EVIL = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "plain"]


@pytest.fixture
def evil_store(tmp_path):
    followers = [f"{e}{i}" for i, e in enumerate(EVIL)] * 2
    followees = [EVIL[0]] * len(EVIL) + [EVIL[3]] * len(EVIL)
    g = kolgraph.FollowerGraph.from_edges(followers, followees)
    path = tmp_path / "evil.kg"
    g.save(path)
    return path


def _cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _number(c: str) -> bool:
    try:
        float(c)
    except ValueError:
        return False
    return True


def _formulas(cells) -> list[str]:
    """Text cells a spreadsheet would run (numeric cells such as -1 are numbers)."""
    return [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(c)]


def test_export_escapes_formula_cells_unless_raw(evil_store, tmp_path, capsys):
    out = tmp_path / "edges.csv"
    assert main(["export", str(evil_store), "--out", str(out)]) == 0
    cells = _cells(out.read_text())
    assert _formulas(cells) == [] and "'=HYPERLINK(\"http://x\")0" in cells
    assert main(["export", str(evil_store), "--out", str(out), "--raw"]) == 0
    assert "=HYPERLINK(\"http://x\")0" in _cells(out.read_text())


def test_reach_csv_escapes_ids(evil_store, capsys):
    assert main(["reach", str(evil_store), EVIL[0], EVIL[3], "--csv"]) == 0
    cells = _cells(capsys.readouterr().out)
    assert _formulas(cells) == [] and "'@SUM(A1)" in cells


def test_fraud_export_escapes_every_csv(evil_store, tmp_path):
    g = kolgraph.open(evil_store)
    written = g.fraud(mass_following=0).export(tmp_path / "review")  # every follower flagged
    cells = []
    for name in ("clusters", "cluster_members", "flagged_accounts"):
        text = open(written[name]).read()
        assert _formulas(_cells(text)) == [], name
        cells += _cells(text)
    assert "'+1+11" in cells  # the flagged follower, escaped
