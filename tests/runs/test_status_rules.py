"""Status and stall-limit rules, and the pid-reuse guard of kill."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from opentaskpy.runs import procinfo
from opentaskpy.runs.engines import open_store
from opentaskpy.runs.settings import host, stall_seconds
from opentaskpy.runs.status import live_status
from support.runs_helpers import otf_runs, runs_env


def _row(**fields: object) -> dict:
    now = time.time()
    row = {
        "id": "r1",
        "run_id": "r1",
        "root_id": "r1",
        "task_id": "t",
        "host": host(),
        "pid": 0,
        "proc_start": None,
        "started_at": now,
        "outcome": "running",
        "stall_limit": 100.0,
        "heartbeat_at": now,
        "progress_at": now,
    }
    row.update(fields)
    return row


@pytest.fixture
def sleeper() -> subprocess.Popen:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_status_thresholds(sleeper: subprocess.Popen) -> None:
    alive = {"pid": sleeper.pid, "proc_start": procinfo.start_ticks(sleeper.pid)}
    now = time.time()
    assert live_status(_row(**alive, progress_at=now - 24), now) == "running"
    assert live_status(_row(**alive, progress_at=now - 26), now) == "silent"
    assert live_status(_row(**alive, progress_at=now - 99), now) == "silent"
    assert live_status(_row(**alive, progress_at=now - 101), now) == "stalled"
    assert live_status(_row(**alive, outcome="success"), now) == "success"


def test_reused_pid_is_dead(sleeper: subprocess.Popen) -> None:
    start = procinfo.start_ticks(sleeper.pid)
    assert start is not None
    assert live_status(_row(pid=sleeper.pid, proc_start=start)) == "running"
    assert live_status(_row(pid=sleeper.pid, proc_start=str(int(start) - 7))) == "dead"


def test_other_host_dead_after_heartbeat_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTF_RUNS_HEARTBEAT", "1")
    now = time.time()
    assert live_status(_row(host="elsewhere", pid=1, heartbeat_at=now - 5)) == "running"
    assert live_status(_row(host="elsewhere", pid=1, heartbeat_at=now - 7)) == "dead"


def test_kill_never_signals_a_reused_pid(
    tmp_path: Path, sleeper: subprocess.Popen
) -> None:
    db = tmp_path / "runs.sqlite3"
    store = open_store(str(db))
    start = procinfo.start_ticks(sleeper.pid)
    store.begin(
        [
            _row(
                id="reused",
                run_id="reused",
                root_id="reused",
                pid=sleeper.pid,
                proc_start=str(int(start) - 7),
            )
        ]
    )
    store.close()
    result = otf_runs(runs_env(db), "kill", "reused")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "otf-runs: error: run reused is dead: its process is gone"
    )
    time.sleep(0.2)
    assert sleeper.poll() is None


def test_stall_limit_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stall_seconds({}) == 3600
    assert stall_seconds({"timeout": 45}) == 45
    assert stall_seconds({"source": {"fileWatch": {"timeout": 120}}}) == 120
    assert stall_seconds({"source": {"logWatch": {"timeout": 30}}}) == 30
    monkeypatch.setenv("OTF_RUNS_STALL_SECONDS", "7")
    assert stall_seconds({"timeout": 45}) == 7
