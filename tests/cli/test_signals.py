"""A scheduler's SIGTERM stops task-run and everything it started."""

from __future__ import annotations

import signal
from pathlib import Path

from support.flow import batch_task, exec_task
from support.helpers import pid_alive, wait_for
from support.processes import start_task_run, wait_pid


def test_sigterm_kills_batch_commands(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    exec_task(
        cfg_dir, "long-sleep", f"sleep 300 & echo $! > {pid_file}; wait", tmp_path
    )
    batch_task(cfg_dir, "sleepy-batch", [{"order_id": 1, "task_id": "long-sleep"}])
    proc = start_task_run("-t", "sleepy-batch", "-c", cfg_dir, cwd=isolated_env)
    try:
        sleep_pid = wait_pid(pid_file)
        assert pid_alive(sleep_pid)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert wait_for(lambda: not pid_alive(sleep_pid), timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
