"""Issue 15, finding 10: store integrity while serving. A same-size altered array fails at
open (not in a kernel), `kolgraph serve --verify` checks the sha256 of every file, and the
tables are pinned when the store opens (a swapped store cannot mix with the open arrays)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import kolgraph
from kolgraph.cli import main
from kolgraph.exceptions import StoreCorruptedError


def _copy(stores, tmp_path, name="beta"):
    dst = tmp_path / f"{name}.kg"
    shutil.copytree(stores[name], dst)
    return dst


def _poke(f, offset_from_end: int, value: bytes) -> None:
    """Overwrite bytes in place: the file keeps its size (and its .npy header)."""
    with open(f, "r+b") as fh:
        fh.seek(-offset_from_end, os.SEEK_END)
        fh.write(value)


@pytest.mark.parametrize("what", ["out_of_range", "unsorted"])
def test_a_same_size_altered_array_fails_at_open(stores, tmp_path, what):
    path = _copy(stores, tmp_path)
    g = kolgraph.open(path)
    idx = np.asarray(g.in_indices)
    if what == "out_of_range":
        value = np.int32(g.n_accounts + 5).tobytes()
        at = 4
    else:  # the last row's last two entries swapped
        value = np.array([idx[-1], idx[-2]], dtype=idx.dtype).tobytes()
        at = 2 * idx.itemsize
    del g, idx
    _poke(path / "in_indices.npy", at, value)
    with pytest.raises(StoreCorruptedError, match="in_indices.npy"):
        kolgraph.open(path)


def test_serve_verify_checks_every_file(stores, tmp_path, capsys):
    path = _copy(stores, tmp_path)
    _poke(path / "accounts.parquet", 200, b"\x00")  # same size, inside the data pages
    kolgraph.open(path)  # sizes and structure still check out
    assert main(["serve", str(path), "--verify", "--port", "1"]) == 4
    err = capsys.readouterr().err
    assert "accounts.parquet" in err and "sha256" in err


def test_tables_are_pinned_when_the_store_opens(stores, tmp_path):
    path = _copy(stores, tmp_path)
    other = _copy(stores, tmp_path, "alpha")
    g = kolgraph.open(path)
    want = g.n_accounts
    os.replace(other / "accounts.parquet", path / "accounts.parquet")  # swapped under it
    assert g.accounts.num_rows == want  # the file opened with the store, not the new one
