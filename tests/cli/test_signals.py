"""A scheduler's SIGTERM stops task-run and everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.helpers import write_json


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_sigterm_kills_batch_commands(cfg_dir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "sleep.pid"
    write_json(
        cfg_dir / "long-sleep.json",
        {
            "type": "execution",
            "protocol": {"name": "local"},
            "directory": str(tmp_path),
            "command": f"sleep 300 & echo $! > {pid_file}; wait",
        },
    )
    write_json(
        cfg_dir / "sleepy-batch.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "long-sleep"}]},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opentaskpy", "-t", "sleepy-batch", "-c", str(cfg_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
        sleep_pid = int(pid_file.read_text())
        assert _alive(sleep_pid)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert _wait_for(lambda: not _alive(sleep_pid), timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
