"""Overlap lock, live status and kill on one host (SQLite store)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from opentaskpy.runs.settings import host
from support.runs_helpers import (
    first_value,
    otf_runs,
    otf_runs_json,
    running_record,
    runs_env,
    start_task,
    stop_task_run,
    write_execution,
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite3"


def test_second_run_names_the_holder(
    cfg_dir: Path, db: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "long", "sleep 30")
    env = runs_env(db)
    first = start_task(cfg_dir, "long", env, isolated_env, "-r", "first-run")
    try:
        holder = first_value(lambda: running_record(env, "long"), what="first run")
        second = start_task(cfg_dir, "long", env, isolated_env)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1
        lines = err.strip().splitlines()
        assert lines[-1].startswith("task-run: error: task long is already running")
        assert (
            f"host {host()}, pid {first.pid}, run id first-run, started " in lines[-1]
        )
        assert "Traceback" not in err
        # the refused run is recorded as locked
        [refused] = otf_runs_json(env, "history", "--outcome", "failed")
        assert refused["error_class"] == "locked" and refused["pid"] == second.pid
        # other overrides = another definition: not blocked
        other = start_task(
            cfg_dir,
            "long",
            {**env, "OTF_OVERRIDE_EXECUTION_COMMAND": "true"},
            isolated_env,
        )
        assert other.wait(timeout=60) == 0
        # the lock can be turned off
        off = start_task(
            cfg_dir,
            "long",
            {**env, "OTF_LOCK": "0", "OTF_OVERRIDE_EXECUTION_COMMAND": "sleep 30"},
            isolated_env,
        )
        assert holder["id"]
    finally:
        stop_task_run(first)
    try:
        # OTF_LOCK=0 with the very same definition also runs alongside
        env_same = {**env, "OTF_LOCK": "0"}
        again = start_task(cfg_dir, "long", env_same, isolated_env)
        third = start_task(cfg_dir, "long", env_same, isolated_env)
        first_value(
            lambda: len(otf_runs_json(env, "status", "--task", "long")) >= 2,
            what="two runs",
        )
    finally:
        for proc in (off, again, third):
            stop_task_run(proc)


def test_lock_wait_then_runs(cfg_dir: Path, db: Path, isolated_env: Path) -> None:
    write_execution(cfg_dir, "short", "sleep 2")
    env = runs_env(db)
    first = start_task(cfg_dir, "short", env, isolated_env)
    first_value(lambda: running_record(env, "short"), what="first run")
    second = start_task(cfg_dir, "short", {**env, "OTF_LOCK_WAIT": "60"}, isolated_env)
    assert first.wait(timeout=60) == 0
    _, err = second.communicate(timeout=90)
    assert second.returncode == 0, err
    outcomes = [r["outcome"] for r in otf_runs_json(env, "history")]
    assert outcomes == ["success", "success"]


def test_sigkilled_holder_releases_lock(
    cfg_dir: Path, db: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "long", "sleep 30")
    env = runs_env(db)
    first = start_task(cfg_dir, "long", env, isolated_env)
    first_value(lambda: running_record(env, "long"), what="first run")
    first.kill()
    first.communicate(timeout=30)
    second = start_task(cfg_dir, "long", env, isolated_env)
    try:
        record = first_value(
            lambda: [
                r
                for r in otf_runs_json(env, "status", "--task", "long")
                if r["pid"] == second.pid
            ],
            what="run after the killed holder",
        )
        assert record[0]["status"] == "running"
        dead = [r for r in otf_runs_json(env, "history") if r["pid"] == first.pid]
        assert dead[0]["status"] == "dead" and dead[0]["outcome"] == "running"
    finally:
        stop_task_run(second)


def _status(env: dict, pid: int) -> str | None:
    for record in otf_runs_json(env, "history", "--limit", "5"):
        if record["pid"] == pid:
            return record["status"]
    return None


def test_status_moves_running_silent_stalled_dead(
    cfg_dir: Path, db: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "quiet", "sleep 60")
    env = runs_env(db, OTF_RUNS_STALL_SECONDS="8", OTF_RUNS_HEARTBEAT="0.5")
    proc = start_task(cfg_dir, "quiet", env, isolated_env)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "stalled" not in seen:
            status = _status(env, proc.pid)
            if status and (not seen or seen[-1] != status):
                seen.append(status)
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        seen.append(_status(env, proc.pid) or "none")
    finally:
        stop_task_run(proc)
    assert seen == ["running", "silent", "stalled", "dead"]


def test_kill_by_run_id_same_host(cfg_dir: Path, db: Path, isolated_env: Path) -> None:
    write_execution(cfg_dir, "long", "sleep 30")
    env = runs_env(db)
    proc = start_task(cfg_dir, "long", env, isolated_env, "-r", "to-kill")
    try:
        first_value(lambda: running_record(env, "long"), what="run")
        result = otf_runs_json(env, "kill", "to-kill", "--wait", "30")
        assert result["action"] == f"SIGTERM sent to pid {proc.pid}"
        assert result["outcome"] == "killed"
        assert proc.wait(timeout=30) == 143
        shown = otf_runs_json(env, "show", "to-kill")
        assert shown["outcome"] == "killed"
        assert shown["error_class"] == "interrupted"
        assert shown["reason"].startswith("ended by SIGTERM")
        again = otf_runs(env, "kill", "to-kill")
        assert again.returncode == 1
        assert "already ended (killed)" in again.stderr
    finally:
        stop_task_run(proc)


def test_fifty_concurrent_runs_all_recorded(
    cfg_dir: Path, db: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "many", "true")
    env = runs_env(db, OTF_LOCK="0")
    procs = [start_task(cfg_dir, "many", env, isolated_env) for _ in range(50)]
    errors = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0 or "locked" in err or "warning" in err:
            errors.append(err[-500:])
    assert errors == []
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT pid) FROM otf_runs WHERE outcome = 'success'"
        ).fetchone()
    assert rows == (50, 50)


def test_lock_holds_with_records_off(cfg_dir: Path, isolated_env: Path) -> None:
    write_execution(cfg_dir, "long", "sleep 30")
    env = runs_env("off")
    first = start_task(cfg_dir, "long", env, isolated_env, "-r", "unrecorded")
    try:
        locks = Path(os.environ["XDG_STATE_HOME"]) / "opentaskpy" / "locks"
        first_value(
            lambda: (
                any("unrecorded" in p.read_text() for p in locks.glob("*.lock"))
                if locks.is_dir()
                else False
            ),
            what="the lock file",
        )
        second = start_task(cfg_dir, "long", env, isolated_env)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"pid {first.pid}, run id unrecorded" in err.strip().splitlines()[-1]
    finally:
        stop_task_run(first)
