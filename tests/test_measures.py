"""A new overlap measure is one registered function in kolgraph/measures.py: the reach
report, its JSON, the CLI's --by choices, the heatmap and the service's response all read
the registry."""

import json
import subprocess
import sys

import numpy as np

from kolgraph import FollowerGraph
from kolgraph.measures import MEASURE_NAMES, MEASURES

# the new measure is registered before anything else reads the registry, as a function
# added to kolgraph/measures.py would be
ADD_DICE = """
import json, sys
import numpy as np
import kolgraph.measures as m

@m._measure("dice", "Dice 2|A∩B|/(|A|+|B|)")
def dice(c, a, n):
    a = a.astype(float)
    return m.divide(2 * np.asarray(c), a[:, None] + a[None, :])

m.MEASURE_NAMES = tuple(m.MEASURES)

import argparse
from kolgraph import FollowerGraph, plots
from kolgraph.api.privacy import MATRICES
from kolgraph.api.schemas import Overlap
from kolgraph.cli import build_parser

g = FollowerGraph.from_edges(np.array([10, 11, 12, 11, 12, 13]), np.array([1, 1, 1, 2, 2, 2]))
report = g.reach([1, 2])
sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
by = next(a for a in sub.choices["overlap"]._actions if "--by" in a.option_strings)
png = plots.overlap_heatmap(report, sys.argv[1], by="dice")
print(json.dumps({"json": report.to_dict()["overlap"]["dice"], "cli": list(by.choices),
                  "api": "dice" in Overlap.model_fields, "privacy": "dice" in MATRICES,
                  "heatmap": png.stat().st_size > 0}))
"""


def test_a_new_measure_reaches_every_surface(tmp_path):
    done = subprocess.run([sys.executable, "-c", ADD_DICE, str(tmp_path / "dice.png")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # audiences {10,11,12} and {11,12,13}: 2 * 2 / (3 + 3)
    assert np.allclose(seen["json"], [[1.0, 2 / 3], [2 / 3, 1.0]])
    assert "dice" in seen["cli"] and seen["api"] and seen["privacy"] and seen["heatmap"]


def test_every_measure_is_symmetric_where_it_should_be_and_bounded():
    rng = np.random.default_rng(7)
    src, dst = rng.integers(100, 400, 3000), rng.integers(0, 8, 3000)
    report = FollowerGraph.from_edges(src, dst).reach(list(range(8)))
    for name in MEASURE_NAMES:
        mat = report.overlap(name)
        assert mat.shape == (8, 8) and np.isfinite(mat).all(), name
        if name != "directional":
            assert np.allclose(mat, mat.T), name
        if not MEASURES[name].integer and name != "lift":
            assert (mat >= 0).all() and (mat <= 1 + 1e-12).all(), name
