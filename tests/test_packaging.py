"""Packaging: kernels/ and api/ install only as kolgraph.kernels and kolgraph.api, the wheel
holds nothing else at the top level, and ruff bans the bare top-level names."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def clean_env(**extra) -> dict:
    """This environment without PYTHONPATH, so only installed packages are importable."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra)
    return env


# --- (a) no generic top-level modules --------------------------------------------------

@pytest.mark.parametrize("bare", ["kernels", "api"])
def test_bare_top_level_names_are_not_importable(tmp_path, bare):
    res = run([sys.executable, "-c", f"import {bare}"], cwd=tmp_path, env=clean_env())
    assert res.returncode != 0
    assert f"ModuleNotFoundError: No module named '{bare}'" in res.stderr


def test_namespaced_packages_import(tmp_path):
    code = ("import kolgraph.kernels, kolgraph.api, kolgraph.kernels.csr, kolgraph.kernels.idmap; "
            "print(kolgraph.kernels.csr.__name__)")
    res = run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "kolgraph.kernels.csr"


# --- (b) the wheel ---------------------------------------------------------------------------

def _backend_available_locally() -> bool:
    """setuptools>=68 (as pyproject.toml requires) that can build wheels without downloads."""
    try:
        st_version = tuple(int(x) for x in version("setuptools").split(".")[:2])
    except Exception:
        return False
    has_bdist_wheel = st_version >= (70, 1) or importlib.util.find_spec("wheel") is not None
    return st_version >= (68, 0) and has_bdist_wheel


_UNAVAILABLE = re.compile(r"No matching distribution found|Could not find a version|"
                          r"Failed to establish a new connection|Network is unreachable|"
                          r"Temporary failure in name resolution|No module named build")


def build_wheel(src: Path, out: Path) -> Path:
    """Build with ``python -m build`` when present, else ``pip wheel``; skip only when the build
    backend can be neither found locally nor downloaded."""
    if importlib.util.find_spec("build") is not None:
        args = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)]
        if _backend_available_locally():
            args.insert(3, "--no-isolation")
    else:
        args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(src)]
        if _backend_available_locally():
            args.insert(4, "--no-build-isolation")
    res = run(args, cwd=src, env=clean_env(PIP_NO_INPUT="1"))
    if res.returncode != 0:
        output = res.stdout + res.stderr
        if _UNAVAILABLE.search(output):
            pytest.skip("no wheel build backend here: setuptools>=68 with bdist_wheel is neither "
                        f"installed nor downloadable ({' '.join(args[1:4])} failed)")
        pytest.fail(f"wheel build failed:\n{output[-4000:]}")
    wheels = sorted(out.glob("kolgraph-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source (the build leaves nothing in the work tree)."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for item in REPO.iterdir():
        if item.name in ("kolgraph", "kernels", "api"):
            shutil.copytree(item, src / item.name, ignore=ignore)
        elif item.name == "pyproject.toml" or item.name.upper().startswith(("README", "LICENSE")):
            shutil.copy2(item, src / item.name)
    return build_wheel(src, tmp_path_factory.mktemp("dist"))


@pytest.mark.slow
def test_wheel_holds_only_the_kolgraph_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = re.compile(r"^kolgraph-[^/]+\.dist-info/")
    stray = [n for n in names if not (n.startswith("kolgraph/") or dist_info.match(n))]
    assert stray == [], f"files outside kolgraph/ in the wheel: {stray}"
    assert not any(n.startswith(("kernels/", "api/", "tests/", "benchmarks/")) for n in names)
    for needed in ("kolgraph/__init__.py", "kolgraph/graph.py", "kolgraph/store.py",
                   "kolgraph/kernels/__init__.py", "kolgraph/kernels/csr.py",
                   "kolgraph/kernels/idmap.py", "kolgraph/api/__init__.py",
                   # the planner page's files (served at /, nothing from a CDN)
                   "kolgraph/api/web/index.html", "kolgraph/api/web/app.js",
                   "kolgraph/api/web/charts.js", "kolgraph/api/web/app.css",
                   "kolgraph/api/routers/web.py", "kolgraph/api/routers/search.py"):
        assert needed in names, needed
    with zipfile.ZipFile(wheel) as z:
        info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert z.read(info).decode().split() == ["kolgraph"]
        entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert re.search(r"kolgraph\s*=\s*kolgraph\.cli:main", z.read(entry).decode())


@pytest.mark.slow
def test_installed_wheel_imports_as_kolgraph_only(wheel, tmp_path):
    target = tmp_path / "site"
    res = run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target),
               str(wheel)], cwd=tmp_path, env=clean_env(PIP_NO_INPUT="1"))
    assert res.returncode == 0, res.stderr
    top = {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")}
    assert top - {"bin"} == {"kolgraph"}  # bin/ holds the console script
    env = clean_env(PYTHONPATH=str(target))
    code = "import kolgraph.kernels.csr as c, kolgraph.api as a; print(c.__file__); print(a.__file__)"
    res = run([sys.executable, "-c", code], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    csr_file, api_file = res.stdout.split()
    assert Path(csr_file) == target / "kolgraph" / "kernels" / "csr.py"
    assert Path(api_file) == target / "kolgraph" / "api" / "__init__.py"
    res = run([sys.executable, "-c", "import kernels"], cwd=tmp_path, env=env)
    assert "No module named 'kernels'" in res.stderr


# --- (c) lint ----------------------------------------------------------------------------------

def _ruff() -> list[str]:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    exe = shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    return [exe]


def _repo_python_files() -> list[str]:
    """The repo's tracked Python files (not other people's uncommitted work in a shared
    tree); everything under the repo when this is not a git checkout."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        return ["."]
    res = run([git, "ls-files", "--", "*.py", "*.pyi"], cwd=REPO)
    return res.stdout.split() if res.returncode == 0 and res.stdout.strip() else ["."]


def test_ruff_passes_on_the_repo():
    files = _repo_python_files()
    assert files == ["."] or "tests/test_packaging.py" in files
    res = run([*_ruff(), "check", "--no-cache", "--force-exclude", *files], cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr


BAD_IMPORTS = {
    "import kernels\n": "kernels",
    "from kernels import csr\n": "kernels",
    "import kernels.csr as k\n": "kernels",
    "import api\n": "api",
    "from api import app\n": "api",
}


@pytest.mark.parametrize("source", list(BAD_IMPORTS), ids=lambda s: s.strip())
def test_ruff_bans_bare_top_level_imports(tmp_path, source):
    f = tmp_path / "bad.py"
    f.write_text(source)
    res = run([*_ruff(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"),
               "--select", "TID251", "--output-format", "concise", str(f)], cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "TID251" in res.stdout
    name = BAD_IMPORTS[source]
    assert f"import kolgraph.{name}, never the bare top-level name" in res.stdout


def test_ruff_allows_the_namespaced_imports(tmp_path):
    f = tmp_path / "good.py"
    f.write_text("import kolgraph.api\nfrom kolgraph.kernels import csr\n\nprint(kolgraph.api, csr)\n")
    res = run([*_ruff(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"),
               "--select", "TID251", str(f)], cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
