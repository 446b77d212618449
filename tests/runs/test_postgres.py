"""Two "machines" sharing one real PostgreSQL run store.

Each machine is a set of processes with its own host identity
(``OTF_RUNS_HOST``): they contend for one overlap lock, see each other's
runs and kill each other's runs through stored kill requests.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from support.flow import batch_task
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


def test_two_machines_share_lock_history_and_kill(
    pg_url: str, cfg_dir: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "nightly", "sleep 60")
    alpha = runs_env(pg_url, "alpha")
    beta = runs_env(pg_url, "beta")
    first = start_task(cfg_dir, "nightly", alpha, isolated_env, "-r", "alpha-run")
    third = None
    try:
        seen = first_value(lambda: running_record(beta, "nightly"), what="alpha's run")
        assert seen["host"] == "alpha" and seen["pid"] == first.pid
        assert seen["run_id"] == "alpha-run" and seen["status"] == "running"
        # beta contends for the same lock and is refused, naming alpha's run
        second = start_task(cfg_dir, "nightly", beta, isolated_env)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "Traceback" not in err
        line = err.strip().splitlines()[-1]
        assert line.startswith("task-run: error: task nightly is already running")
        assert f"host alpha, pid {first.pid}, run id alpha-run" in line
        # alpha sees beta's refused run
        [refused] = otf_runs_json(alpha, "history", "--host", "beta")
        assert refused["error_class"] == "locked" and refused["pid"] == second.pid
        # beta kills alpha's run: no signal can cross hosts, a request does
        result = otf_runs_json(beta, "kill", "alpha-run", "--wait", "30")
        assert result["action"] == "kill requested (honoured within 2 s)"
        assert result["outcome"] == "killed"
        assert first.wait(timeout=30) == 143
        shown = otf_runs_json(alpha, "show", "alpha-run")
        assert shown["outcome"] == "killed"
        assert shown["kill_requested_by"].endswith("@beta")
        assert "kill requested by" in shown["reason"]
        # the lock is free again: beta runs it, and alpha kills beta's run
        third = start_task(cfg_dir, "nightly", beta, isolated_env, "-r", "beta-run")
        seen = first_value(lambda: running_record(alpha, "nightly"), what="beta's run")
        assert seen["host"] == "beta" and seen["run_id"] == "beta-run"
        result = otf_runs_json(alpha, "kill", "beta-run", "--wait", "30")
        assert result["outcome"] == "killed"
        assert third.wait(timeout=30) == 143
        assert otf_runs_json(beta, "show", "beta-run")["kill_requested_by"].endswith(
            "@alpha"
        )
    finally:
        stop_task_run(first)
        if third is not None:
            stop_task_run(third)


def test_sigkilled_holder_releases_advisory_lock(
    pg_url: str, cfg_dir: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "hold", "sleep 60")
    alpha = runs_env(pg_url, "alpha")
    beta = runs_env(pg_url, "beta", OTF_RUNS_HEARTBEAT="0.3")
    first = start_task(cfg_dir, "hold", alpha, isolated_env)
    try:
        first_value(lambda: running_record(beta, "hold"), what="alpha's run")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        # the server frees the lock when the connection drops (a moment later)
        second = start_task(
            cfg_dir, "hold", {**beta, "OTF_LOCK_WAIT": "20"}, isolated_env
        )
        mine = first_value(
            lambda: [
                r
                for r in otf_runs_json(beta, "status", "--task", "hold")
                if r["host"] == "beta"
            ],
            what="beta's run",
        )
        assert mine[0]["status"] == "running"
        # seen from beta, alpha's run is dead once its heartbeat expired
        dead = first_value(
            lambda: [
                r
                for r in otf_runs_json(beta, "history", "--host", "alpha")
                if r["status"] == "dead"
            ],
            what="alpha's run dead",
        )
        assert dead[0]["outcome"] == "running" and dead[0]["pid"] == first.pid
        stop_task_run(second)
    finally:
        stop_task_run(first)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_store(cfg_dir: Path, isolated_env: Path) -> None:
    write_execution(cfg_dir, "plain", "true")
    url = f"postgresql://otf:pw-not-shown@127.0.0.1:{_closed_port()}/runs"
    env = runs_env(url)
    # a plain run (no lock) warns once and runs
    plain = start_task(cfg_dir, "plain", {**env, "OTF_LOCK": "0"}, isolated_env)
    _, err = plain.communicate(timeout=60)
    assert plain.returncode == 0
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        "task-run: warning: run store postgresql://otf@127.0.0.1:"
    )
    assert warnings[0].endswith("; this run is not recorded")
    assert "pw-not-shown" not in err and "Traceback" not in err
    # a run that needs the lock across hosts fails closed
    locked = start_task(cfg_dir, "plain", env, isolated_env)
    _, err = locked.communicate(timeout=60)
    assert locked.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("task-run: error: run store postgresql://otf@127.0.0.1:")
    assert "the overlap lock across hosts needs the run store" in last
    assert "Traceback" not in err and "pw-not-shown" not in err
    # otf-runs says it in one line too
    status = otf_runs(env, "status")
    assert status.returncode == 1
    assert len(status.stderr.strip().splitlines()) == 1
    assert status.stderr.startswith("otf-runs: error: run store postgresql://otf@")


def test_batch_steps_on_postgres(
    pg_url: str, cfg_dir: Path, isolated_env: Path
) -> None:

    write_execution(cfg_dir, "one", "true")
    write_execution(cfg_dir, "two", "true")
    batch_task(
        cfg_dir,
        "pair",
        [
            {"order_id": 1, "task_id": "one"},
            {"order_id": 2, "task_id": "two", "dependencies": [1]},
        ],
    )
    env = runs_env(pg_url, "alpha")
    proc = start_task(cfg_dir, "pair", env, isolated_env, "-r", "pair-run")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    shown = otf_runs_json(runs_env(pg_url, "beta"), "show", "pair-run")
    assert shown["outcome"] == "success" and shown["host"] == "alpha"
    assert [(s["order_id"], s["task_id"], s["outcome"]) for s in shown["steps"]] == [
        (1, "one", "success"),
        (2, "two", "success"),
    ]
    pruned = otf_runs_json(env, "prune", "--older-than", "0s")
    assert pruned == {"deleted": 1}
    assert otf_runs_json(env, "history", "--steps") == []
