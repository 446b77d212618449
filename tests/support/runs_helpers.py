"""Helpers for the run-record tests: tasks, real task-run/otf-runs processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.helpers import local_exec, wait_for, write_json
from support.processes import start_task_run, task_run_env


def write_execution(
    cfg: Path, task_id: str, command: str, directory: Path | str = "/tmp"
) -> Path:
    """Write a local execution task running ``command`` in ``directory``."""
    return write_json(cfg / f"{task_id}.json", local_exec(command, str(directory)))


def runs_env(db: str | Path, host: str | None = None, **extra: str) -> dict[str, str]:
    """A clean environment (no OTF_* from outside) recording into ``db``."""
    if host:
        extra = {"OTF_RUNS_HOST": host, **extra}
    return task_run_env(**{"OTF_RUNS_DB": str(db), **extra})


def start_task(
    cfg: Path, task_id: str, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.Popen:
    """Start ``task-run -t task_id -c cfg ARGS`` (output captured as text)."""
    return start_task_run("-t", task_id, "-c", cfg, *args, cwd=cwd, env=env)


def otf_runs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run the ``otf-runs`` command."""
    return subprocess.run(
        [sys.executable, "-m", "opentaskpy.runs.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def otf_runs_json(env: dict[str, str], *args: str) -> Any:
    """Run ``otf-runs ... --json`` and return the parsed output."""
    result = otf_runs(env, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def first_value(fetch: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    """Return the first truthy value of ``fetch()``; fail the test on timeout."""
    found: list[Any] = []

    def check() -> bool:
        value = fetch()
        if value:
            found.append(value)
        return bool(value)

    assert wait_for(check, timeout), f"timed out waiting for {what or fetch}"
    return found[-1]


def running_record(env: dict[str, str], task_id: str) -> dict | None:
    """The running record of ``task_id`` seen through ``otf-runs status``."""
    for record in otf_runs_json(env, "status", "--task", task_id):
        return record
    return None


def stop_task_run(proc: subprocess.Popen) -> None:
    """End a task-run; SIGTERM first so that it stops its own children."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.communicate(timeout=30)
