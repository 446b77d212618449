"""What the README documents, the commands' --help tells too."""

from __future__ import annotations

import re
import subprocess
import sys

from support.helpers import REPO_ROOT


def _help(module: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_environment_variable_of_the_readme_is_in_task_run_help():
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`(OTF_[A-Z0-9_]+)", table)) - {"OTF_OVERRIDE_"}
    assert "OTF_RUNS_DB" in names  # the table was found
    text = _help("opentaskpy")
    missing = sorted(name for name in names if name not in text)
    assert not missing, f"in README.md but not in task-run --help: {missing}"


def test_otf_runs_help_names_its_store_variables():
    text = _help("opentaskpy.runs.cli")
    for name in ("OTF_RUNS_DB", "OTF_RUNS_HOST", "OTF_RUNS_HEARTBEAT"):
        assert name in text
