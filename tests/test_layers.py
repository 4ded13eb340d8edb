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



FUNCTION_LINES, MODULE_LINES = 80, 600


def _oversized(path: Path) -> list[str]:
    """Units of ``path`` over the limits whose lines above (or module head) carry no ``# size:`` reason."""
    import ast

    src = path.read_text()
    lines = src.splitlines()
    rel = path.relative_to(ROOT)
    found = []
    if len(lines) > MODULE_LINES and not any(ln.startswith("# size:") for ln in lines[:30]):
        found.append(f"{rel}: {len(lines)} lines")
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            n = node.end_lineno - start + 1
            if n > FUNCTION_LINES and not lines[start - 2].lstrip().startswith("# size:"):
                found.append(f"{rel}:{start} {node.name}(): {n} lines")
    return found


def test_units_a_reader_can_hold():
    found = [u for root in ("kolgraph", "api", "kernels")
             for p in sorted((ROOT / root).rglob("*.py")) for u in _oversized(p)]
    assert not found, "over the size limits (add a '# size: why' comment if it must be):\n" + "\n".join(found)


def test_size_check_catches_a_long_function(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"def long():\n{body}\n\n\n# size: one loop, measured faster\ndef ok():\n{body}\n")
    assert _oversized(tmp_path / "m.py") == ["m.py:1 long(): 81 lines"]
