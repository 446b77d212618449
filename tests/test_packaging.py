"""Packaging facts (console scripts, package layout, metadata).

Namespace-package levels must have no ``__init__.py`` so that addon
distributions can add ``opentaskpy.addons.*``, ``opentaskpy.plugins.lookup.*``
and ``opentaskpy.variablecaching.*``; the schema JSON files are package data
and must be inside the built wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from support.helpers import python_stdout

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "src" / "opentaskpy"

NAMESPACE_LEVELS = [
    "",
    "plugins",
    "plugins/lookup",
    "filters",
    "cli",
    "config/variablecaching",
]
REGULAR_PACKAGES = ["config", "remotehandlers", "taskhandlers"]


@pytest.mark.parametrize("level", NAMESPACE_LEVELS)
def test_namespace_levels_have_no_init_py(level: str) -> None:
    assert (PKG / level).is_dir(), level
    assert not (PKG / level / "__init__.py").exists(), level


@pytest.mark.parametrize("level", REGULAR_PACKAGES)
def test_regular_packages_have_init_py(level: str) -> None:
    assert (PKG / level / "__init__.py").is_file(), level


def test_nothing_shipped_where_addons_contribute() -> None:
    assert not (PKG / "addons").exists()
    assert not (PKG / "variablecaching").exists()


def test_console_scripts() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == "opentaskpy"
    scripts = project["scripts"]
    assert scripts["task-run"] == "opentaskpy.cli.task_run:main"
    # The spec'd main() returns True for a valid batch; the console script
    # goes through a wrapper that exits 0 for valid, as a shell expects.
    assert scripts["otf-batch-validator"].startswith("opentaskpy.cli.batch_validator:")


def test_public_import_forms() -> None:
    code = (
        "from opentaskpy import taskrun, exceptions\n"
        "from opentaskpy.taskhandlers import batch, execution, transfer\n"
        "import opentaskpy, opentaskpy.plugins.lookup, opentaskpy.filters\n"
        "assert opentaskpy.__file__ is None\n"
        "assert opentaskpy.plugins.lookup.__file__ is None\n"
        "print('ok')\n"
    )
    assert python_stdout(code) == "ok\n"


def test_wheel_contains_schemas_and_no_namespace_init(tmp_path: Path) -> None:
    # Build from a copy so the shared working tree gets no build/ directory.
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, project / name)
    shutil.copytree(
        REPO / "src",
        project / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and "NewConnectionError" in proc.stdout + proc.stderr:
        pytest.skip("pip cannot reach the package index to set up the build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("opentaskpy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    shipped = {
        f"opentaskpy/config/schemas/{p.relative_to(PKG / 'config' / 'schemas')}"
        for p in (PKG / "config" / "schemas").rglob("*.json")
    }
    assert len(shipped) >= 43
    assert shipped <= names, sorted(shipped - names)
    for required in (
        "batch/tasks.json",
        "cacheable_variables.json",
        "execution/ssh/ssh.json",
        "execution/local/protocol.json",
        "transfer/encryption.json",
        "transfer/dummy_source/protocol.json",
        "transfer/email/rename.json",
        "transfer/ssh_source/logWatch.json",
        "transfer/sftp_destination/permissions.json",
    ):
        assert f"opentaskpy/config/schemas/{required}" in names, required

    for level in NAMESPACE_LEVELS:
        init = f"opentaskpy/{level}/__init__.py".replace("//", "/")
        assert init not in names, init
    for level in REGULAR_PACKAGES:
        assert f"opentaskpy/{level}/__init__.py" in names, level
    assert not [n for n in names if n.startswith("opentaskpy/addons/")]
    assert not [n for n in names if n.startswith("opentaskpy/variablecaching/")]
    assert "opentaskpy/cli/task_run.py" in names
    assert "opentaskpy/plugins/lookup/random_number.py" in names


def _declared_dependencies() -> set[str]:
    import re

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower()
        for dep in project["dependencies"]
    }


def test_dependencies_the_published_addons_rely_on_are_declared() -> None:
    # otf-addons-o365 and -gcp import these without declaring them.
    assert {"requests", "tenacity"} <= _declared_dependencies()


def test_every_third_party_import_in_src_is_declared() -> None:
    import ast
    import importlib.metadata

    imported: set[str] = set()
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {
        name
        for name in imported
        if name not in sys.stdlib_module_names and name != "opentaskpy"
    }
    # Optional extras: "memory" (OTF_LOG_MEMORY_USAGE), "postgres" (run store).
    optional = {"psutil", "psycopg"}
    distributions = importlib.metadata.packages_distributions()
    declared = _declared_dependencies()
    missing = {
        name
        for name in third_party - optional
        if not {d.lower() for d in distributions.get(name, [name])} & declared
    }
    assert not missing, f"imported in src/ but not declared: {sorted(missing)}"
