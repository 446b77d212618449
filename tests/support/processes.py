"""Running ``task-run`` in the background and watching processes and logs.

For tests that signal a run part-way or read its terminal output (polling
and process checks: :func:`support.helpers.wait_for`, ``pid_alive``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.helpers import wait_for


def task_run_env(**extra: str) -> dict[str, str]:
    """This environment without any ``OTF_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    env["OTF_VALIDATION_CACHE"] = "0"
    env.update(extra)
    return env


def run_task_run(
    *args: object,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    **run: object,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m opentaskpy ARGS`` to its end, output captured as text."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "opentaskpy", *map(str, args)],
        cwd=cwd,
        env=env if env is not None else task_run_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **run,
    )


def start_task_run(
    *args: object, cwd: Path, env: dict[str, str] | None = None, **popen: object
) -> subprocess.Popen[str]:
    """Start ``python -m opentaskpy ARGS`` (stdout/stderr piped unless given)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "opentaskpy", *map(str, args)],
        cwd=cwd,
        env=env if env is not None else task_run_env(),
        text=True,
        **popen,
    )


def read_pid(path: Path) -> int | None:
    """The pid written to ``path``, once it is there in full."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") and text.strip().isdigit() else None


def wait_pid(path: Path, timeout: float = 30) -> int:
    """The pid written to ``path``; fail the test if it is not there in time."""
    assert wait_for(lambda: read_pid(path) is not None, timeout), f"no pid in {path}"
    return read_pid(path)  # type: ignore[return-value]


def log_names(root: Path) -> list[str]:
    """Every log file under ``root/logs``, relative to ``root``, sorted."""
    return sorted(str(p.relative_to(root)) for p in (root / "logs").rglob("*.log"))
