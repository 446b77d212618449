"""The scheduler does not import the batch handler (no batch <-> scheduler circle)."""

from __future__ import annotations

import ast
from pathlib import Path

from support.helpers import python_stdout

SRC = Path(__file__).resolve().parents[2] / "src" / "opentaskpy"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_scheduler_never_imports_batch():
    imported = _imports(SRC / "taskhandlers" / "scheduler.py")
    assert "opentaskpy.taskhandlers.batch" not in imported
    assert not any(name.endswith(".batch") for name in imported)
    out = python_stdout(
        "import sys, opentaskpy.taskhandlers.scheduler\n"
        "print('opentaskpy.taskhandlers.batch' in sys.modules)"
    )
    assert out.strip() == "False"


def test_flow_modules_keep_their_layer():
    # config never reaches up into task handlers or the CLI.
    for name in ("batch_spec.py", "expressions.py", "batch_checks.py"):
        imported = _imports(SRC / "config" / name)
        assert not any(m.startswith("opentaskpy.taskhandlers") for m in imported)
        assert not any(m.startswith("opentaskpy.cli") for m in imported)
    for name in ("steprunner.py", "batchsteps.py", "retry.py", "scheduler.py"):
        imported = _imports(SRC / "taskhandlers" / name)
        assert not any(m.startswith("opentaskpy.cli") for m in imported)
