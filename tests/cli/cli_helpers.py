"""Shared helpers for the CLI tests (definitions and stderr checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support.helpers import REPO_ROOT

CLI_DIR = REPO_ROOT / "src" / "opentaskpy" / "cli"
PREFIX = r"\d{8}-\d{6}\.\d{3}"


def error_lines(stderr: str, prog: str = "task-run") -> list[str]:
    """Lines that are the CLI's own one-line error report."""
    return [line for line in stderr.splitlines() if line.startswith(f"{prog}: error:")]


def assert_one_error(
    proc: subprocess.CompletedProcess, *fragments: str, prog: str = "task-run"
) -> str:
    """Exit 1, no traceback, exactly one error line, last on stderr."""
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = error_lines(proc.stderr, prog)
    assert len(lines) == 1, proc.stderr
    assert proc.stderr.rstrip("\n").splitlines()[-1] == lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def run_script(
    name: str, *args: object, cwd: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``src/opentaskpy/cli/<name>.py`` directly as a script file."""
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(CLI_DIR / f"{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def log_files(root: Path) -> list[str]:
    """Log file paths under ``root/logs`` relative to ``root``, sorted."""
    return sorted(str(p.relative_to(root)) for p in (root / "logs").rglob("*.log"))


def matches(pattern: str, names: list[str]) -> list[str]:
    """Names fully matching ``pattern``."""
    return [n for n in names if re.fullmatch(pattern, n)]
