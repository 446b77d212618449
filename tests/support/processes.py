"""Running ``task-run`` in the background and watching processes and logs.

For tests that signal a run part-way or read its terminal output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without any ``OTF_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    env["OTF_VALIDATION_CACHE"] = "0"
    env.update(extra)
    return env


def start_task_run(
    *args: object, cwd: Path, env: dict[str, str] | None = None, **popen: object
) -> subprocess.Popen[str]:
    """Start ``python -m opentaskpy ARGS`` (stdout/stderr piped unless given)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "opentaskpy", *map(str, args)],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        text=True,
        **popen,
    )


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> bool:
    """Poll ``predicate`` every 0.05 s until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(path: Path) -> int | None:
    """The pid written to ``path``, once it is there in full."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") and text.strip().isdigit() else None


def log_names(root: Path) -> list[str]:
    """Every log file under ``root/logs``, relative to ``root``, sorted."""
    return sorted(str(p.relative_to(root)) for p in (root / "logs").rglob("*.log"))
