"""Small helpers shared by tests (import as ``from support.helpers import ...``).

Tests must not import from ``conftest``: several directories have a
``conftest.py`` and the module name is ambiguous.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


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
