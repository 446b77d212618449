"""Helpers for the ``task-run --plan`` tests: run a plan, snapshot directories."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def tree_snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``roots`` (hidden ones too): path -> (size, mtime ns)."""
    found: dict[str, tuple[int, int]] = {}
    for root in roots:
        if not root.exists():
            found[str(root)] = (-1, -1)
            continue
        for folder, subdirs, names in os.walk(root):
            for name in subdirs + names:
                st = os.lstat(os.path.join(folder, name))
                found[os.path.join(folder, name)] = (st.st_size, st.st_mtime_ns)
    return found


def run_plan(
    task_run: Callable[..., Any],
    cfg: Path,
    task_id: str,
    env: dict | None = None,
    as_json: bool = True,
) -> Any:
    """Run ``task-run --plan`` (``--json``: parsed); it must exit 0."""
    args = ["--plan", "-t", task_id, "-c", cfg] + (["--json"] if as_json else [])
    result = task_run(*args, env=env or {}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout) if as_json else result.stdout


def by_dest_name(destination: dict) -> dict[str, dict]:
    """A planned destination's files keyed by their name at the destination."""
    return {entry["dest_name"]: entry for entry in destination["files"]}
