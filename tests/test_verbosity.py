"""opentaskpy.verbosity is the one place for the verbose levels and ``-v``."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from opentaskpy import verbosity
from support.helpers import python_stdout

SRC = Path(verbosity.__file__).resolve().parent


@pytest.mark.parametrize(
    ("flag", "level"),
    [(None, 20), (0, 20), (1, 12), (2, 11), (3, 10), (4, 20), (-1, 20)],
)
def test_cli_level_maps_the_flag(flag, level):
    assert verbosity.cli_level(flag) == level


def test_cli_level_registers_the_level_names():
    verbosity.cli_level(None)
    assert logging.getLevelName(12) == "VERBOSE1"
    assert logging.getLevelName(11) == "VERBOSE2"


def test_importing_the_library_registers_no_level_name():
    # Only the CLIs name the levels; library users keep "Level 12".
    out = python_stdout(
        "import logging, opentaskpy.taskrun, opentaskpy.verbosity\n"
        "print(logging.getLevelName(12), logging.getLevelName(11), sep=',')"
    )
    assert out.strip() == "Level 12,Level 11"


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if p.name != "verbosity.py"]


def test_no_other_module_defines_the_levels():
    defined = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
                if names & {"VERBOSE1", "VERBOSE2"}:
                    defined.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in {
                "addLevelName"
            }:
                defined.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not defined, f"define or register levels in verbosity.py: {defined}"


def test_no_module_logs_at_a_raw_verbose_number():
    raw = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "log"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in {11, 12}
            ):
                raw.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not raw, f"use verbosity.VERBOSE1/VERBOSE2: {raw}"
