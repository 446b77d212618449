"""Small helpers shared by tests (import as ``from support.helpers import ...``).

Tests must not import from ``conftest``: several directories have a
``conftest.py`` and the module name is ambiguous.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def python_stdout(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return its stdout (it must succeed)."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
