"""Small helpers shared by tests (import as ``from support.helpers import ...``).

Tests must not import from ``conftest``: several directories have a
``conftest.py`` and the module name is ambiguous. Every helper used by more
than one test module lives here (or in another ``support`` module), once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The repository checkout the tests run from.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Its ``src`` directory.
SRC = REPO_ROOT / "src"


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def transfer_def(source: dict, *destinations: dict) -> dict:
    """A transfer definition from a source spec and any destination specs."""
    definition: dict = {"type": "transfer", "source": source}
    if destinations:
        definition["destination"] = list(destinations)
    return definition


def local_source(directory: Path, regex: str, **extra: object) -> dict:
    """A local transfer source: ``directory`` and ``fileRegex`` plus ``extra``."""
    return {
        "directory": str(directory),
        "fileRegex": regex,
        "protocol": {"name": "local"},
        **extra,
    }


def local_dest(directory: Path, **extra: object) -> dict:
    """A local transfer destination: ``directory`` plus ``extra``."""
    return {"directory": str(directory), "protocol": {"name": "local"}, **extra}


def local_transfer(
    source: Path, regex: str, *destinations: Path | dict, **source_extra: object
) -> dict:
    """A local-to-local transfer (a destination: a directory or a full spec)."""
    return transfer_def(
        local_source(source, regex, **source_extra),
        *(d if isinstance(d, dict) else local_dest(d) for d in destinations),
    )


def local_exec(command: str, directory: str = "/tmp") -> dict:
    """A minimal local execution definition."""
    return {
        "type": "execution",
        "protocol": {"name": "local"},
        "directory": directory,
        "command": command,
    }


def wait_for(predicate: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed.

    Returns:
        The predicate's last answer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def python_marked_json(
    code: str,
    args: list[str],
    marker: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Any, subprocess.CompletedProcess[str]]:
    """Run ``code`` in a fresh interpreter and read its ``{marker}=<json>`` line.

    The interpreter gets this environment without any ``OTF_*`` variable,
    plus ``env``. It must succeed.

    Returns:
        The decoded JSON and the finished process (for its other output).
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    prefix = f"{marker}="
    line = next(x for x in proc.stdout.splitlines() if x.startswith(prefix))
    return json.loads(line.removeprefix(prefix)), proc


def python_stdout(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return its stdout (it must succeed)."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
