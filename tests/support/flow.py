"""Helpers for the batch flow-control tests (tests/flow): configs and logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.helpers import local_exec, write_json


def exec_task(cfg: Path, task_id: str, command: str, directory: Path) -> Path:
    """Write a local execution ``task_id`` running ``command`` in ``directory``."""
    return write_json(
        cfg / "steps" / f"{task_id}.json", local_exec(command, str(directory))
    )


def batch_task(cfg: Path, task_id: str, tasks: list[dict], **extra: object) -> Path:
    """Write a batch ``task_id`` with the given ``tasks`` entries."""
    return write_json(
        cfg / "batches" / f"{task_id}.json", {"type": "batch", "tasks": tasks, **extra}
    )


def batch_log(workdir: Path, task_id: str) -> str:
    """Text of the newest batch log of ``task_id`` under ``workdir/logs``."""
    logs = sorted((workdir / "logs" / task_id).glob("*_B*.log"))
    assert logs, f"no batch log for {task_id}"
    return logs[-1].read_text()


# Fails until it has been run ``n`` times (counted in ``<name>.count``), and
# records the time of every attempt in ``<name>.times``.
def fail_until(name: str, n: int) -> str:
    """Shell command failing on its first ``n - 1`` runs, then succeeding."""
    return (
        f"date +%s.%N >> {name}.times; "
        f"c=$(cat {name}.count 2>/dev/null || echo 0); c=$((c+1)); "
        f"echo $c > {name}.count; [ $c -ge {n} ]"
    )


def read_times(path: Path) -> list[float]:
    """The timestamps (one per line) written by :func:`fail_until`."""
    return [float(line) for line in path.read_text().split()]


def run_validator(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``otf-batch-validator`` (its console entry) with no ``OTF_*`` variables."""
    code = "from opentaskpy.cli.batch_validator import console_main; console_main()"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )
