"""The import-linter layer contracts of pyproject.toml hold (``[tool.importlinter]``).

kernels/ and api/ install as kolgraph.kernels and kolgraph.api but live at the top of
the repository, so the linter reads a mirror of the installed layout.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_layer_contracts_hold(tmp_path):
    pkg = tmp_path / "kolgraph"
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "kolgraph", pkg, ignore=ignore)
    shutil.copytree(ROOT / "kernels", pkg / "kernels", ignore=ignore)
    shutil.copytree(ROOT / "api", pkg / "api", ignore=ignore)
    lint = Path(sys.executable).with_name("lint-imports")
    # run in the mirror: the linter puts the working directory first on sys.path
    done = subprocess.run([str(lint), "--no-cache", str(ROOT / "pyproject.toml")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout

