"""Issue 15, load and soak, short version: 8 sensible clients beside 4 hostile ones (the
heaviest requests the schema allows) against a real ``kolgraph serve`` process on loopback,
a few seconds per phase. The 60-second run: ``python -m benchmarks.service_soak``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SECONDS = 8


def test_hostile_clients_do_not_stall_sensible_ones(stores):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.service_soak", "--seconds",
                           str(SECONDS), "--timeout", "3", "--store", stores["alpha"]], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    print(json.dumps(r, indent=1))
    assert r["server_errors_5xx"] == 0, r
    assert r["sensible_timeouts"] == 0, r
    assert r["engine_calls_running_1s_after"] == 0, r
    assert sum(r["hostile_status"].values()) > 10, r  # the hostile clients did send
    # the target (3x) is measured by the 60-second run. Here an 8-second phase alone has
    # a p99 of about 15 ms and the p99 beside hostile clients is its 10 slowest requests: a
    # fresh CI machine measured 444 ms there (the 60-second run: 125.5 ms against 91 ms).
    # Bound it well inside the request timeout instead.
    assert r["with_hostile"]["p99_ms"] <= 1_000.0, r
