"""Small helpers shared by tests (import as ``from support.helpers import ...``).

Tests must not import from ``conftest``: several directories have a
``conftest.py`` and the module name is ambiguous.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path
