"""The real ``kolgraph`` command line, run as a subprocess: outputs, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kolgraph", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_ingest_info_verify_export_round_trip(tmp_path):
    store = tmp_path / "wv.kg"
    r = run("ingest", DATA / "wiki-Vote/wiki-Vote.txt", "--out", store, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["edges"] == 103_689 and report["accounts"] == 7_115 and report["bad_rows"] == 0

    r = run("info", store, "--json", "--top", "3")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["accounts"], info["edges"], info["creators"]) == (7_115, 103_689, 0)
    assert len(info["top_accounts"]) == 3
    assert info["top_accounts"][0]["followers"] == info["followers"]["max"]

    r = run("verify", store, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True

    r = run("export", store, "--out", tmp_path / "back.csv.gz")
    assert r.returncode == 0, r.stderr
    r = run("ingest", tmp_path / "back.csv.gz", "--out", tmp_path / "back.kg", "--json")
    assert json.loads(r.stdout)["edges"] == 103_689


def test_human_output_is_readable(tmp_path):
    store = tmp_path / "e.kg"
    r = run("ingest", DATA / "email-Eu-core/email-Eu-core.txt", "-o", store)
    assert r.returncode == 0
    assert "self-follows dropped" in r.stdout and "642" in r.stdout
    r = run("info", store)
    assert "1,005 accounts" in r.stdout and "24,929 follow edges" in r.stdout


def test_malformed_input_exit_code_and_message(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n3\n")
    r = run("ingest", bad, "-o", tmp_path / "g.kg")
    assert r.returncode == 3
    assert r.stderr.startswith("error: ") and f"{bad}:2: '3'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "g.kg").exists()
    r = run("ingest", bad, "-o", tmp_path / "g.kg", "--skip-bad", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["bad_rows"] == 1


def test_store_errors_exit_4(tmp_path):
    r = run("info", tmp_path / "missing.kg")
    assert r.returncode == 4 and "no store at" in r.stderr
    store = tmp_path / "g.kg"
    src = tmp_path / "e.txt"
    src.write_text("1 2\n2 3\n")
    assert run("ingest", src, "-o", store).returncode == 0
    with open(store / "in_indices.npy", "r+b") as fh:  # same size, altered content
        fh.seek(-1, 2)
        fh.write(b"\x7f")
    r = run("verify", store)
    assert r.returncode == 4 and "in_indices.npy" in r.stderr and "sha256" in r.stderr


def test_usage_errors_exit_2_and_debug_shows_traceback(tmp_path):
    r = run("ingest")
    assert r.returncode == 2 and "usage:" in r.stderr
    r = run("--debug", "info", tmp_path / "missing.kg")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_refuses_to_overwrite_without_force(tmp_path):
    src = tmp_path / "e.txt"
    src.write_text("1 2\n")
    assert run("ingest", src, "-o", tmp_path / "g.kg").returncode == 0
    r = run("ingest", src, "-o", tmp_path / "g.kg")
    assert r.returncode == 4 and "--force" in r.stderr
    assert run("ingest", src, "-o", tmp_path / "g.kg", "--force").returncode == 0


def test_profiles_conversion(tmp_path):
    r = run("profiles", "mib", DATA / "mib-fake-twitter-profiles", "-o", tmp_path / "mib.parquet", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["accounts"] == 1481 + 1337 and out["fake"] == 1337
    r = run("profiles", "instagram", DATA / "instagram-fake-spammer-genuine/train.csv",
            "-o", tmp_path / "ig.csv", "--json")
    assert json.loads(r.stdout)["accounts"] == 576


@pytest.mark.parametrize("cmd", ["ingest", "export", "info", "verify", "synth", "demo", "profiles"])
def test_every_subcommand_has_help(cmd):
    r = run(cmd, "--help")
    assert r.returncode == 0 and "usage: kolgraph " + cmd in r.stdout
