"""A batch resumes from its run records: after SIGKILL, across dates, chained.

Every test runs real ``task-run`` processes against a real SQLite store. A
step counts its runs by appending to ``<name>.count`` in the work directory,
so "not run again" is a count that did not grow.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from support.flow import batch_log, batch_task, exec_task
from support.helpers import wait_for
from support.processes import run_task_run, start_task_run
from support.runs_helpers import otf_runs_json, runs_env


def _step(n: int, after: int | None = None) -> dict:
    entry: dict = {"order_id": n, "task_id": f"s{n}"}
    if after is not None:
        entry["dependencies"] = [after]
    return entry


def _count(work: Path, name: str) -> int:
    path = work / f"{name}.count"
    return len(path.read_text().split()) if path.exists() else 0


def _counting(name: str, then: str = "true") -> str:
    return f"echo x >> {name}.count; {then}"


def _chain(cfg: Path, work: Path, commands: list[str]) -> None:
    """Batch ``b``: steps s1..sN, each depending on the one before."""
    for n, command in enumerate(commands, start=1):
        exec_task(cfg, f"s{n}", command, work)
    batch_task(cfg, "b", [_step(n, n - 1 if n > 1 else None) for n in range(1, 4)])


def _run(cfg: Path, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_task_run("-t", "b", "-c", cfg, cwd=work, env=env, timeout=120)


@pytest.fixture
def setup(cfg_dir: Path, isolated_env: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The config dir, the work dir (the cwd) and the run store's path."""
    return cfg_dir, isolated_env, tmp_path / "runs.sqlite3"


def test_sigkill_leaves_running_log_and_rerun_resumes_from_records(setup):
    cfg, work, db = setup
    _chain(
        cfg,
        work,
        [
            _counting("s1"),
            _counting("s2", "[ -f go ] || { touch started2; exec sleep 60; }"),
            _counting("s3"),
        ],
    )
    env = runs_env(db)
    first = start_task_run(
        "-t",
        "b",
        "-c",
        cfg,
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for((work / "started2").exists, 60), "step 2 never started"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    running = list((work / "logs" / "b").glob("*_B_running.log"))
    assert running, "SIGKILL should leave the batch log named _running"
    (work / "go").touch()

    second = _run(cfg, work, env)

    assert second.returncode == 0, second.stderr
    assert (_count(work, "s1"), _count(work, "s2"), _count(work, "s3")) == (1, 2, 1)
    assert "Resuming from the run record of" in batch_log(work, "b")
    history = otf_runs_json(env, "history", "--task", "b")
    assert [h["outcome"] for h in history] == ["success", "running"]
    assert [h["status"] for h in history] == ["success", "dead"]


def test_resume_ignores_log_date_and_missing_logs(setup):
    cfg, work, db = setup
    _chain(cfg, work, [_counting("s1"), _counting("s2", "[ -f go ]"), _counting("s3")])
    env = runs_env(db)
    assert _run(cfg, work, env).returncode == 1
    for log in (work / "logs").rglob("*.log"):  # as if the logs were rotated away
        log.unlink()
    (work / "go").touch()
    # The log-based resume would look for a log of another day.
    later = runs_env(db, OTF_BATCH_RESUME_LOG_DATE="20000101")

    second = _run(cfg, work, later)

    assert second.returncode == 0, second.stderr
    assert (_count(work, "s1"), _count(work, "s2"), _count(work, "s3")) == (1, 2, 1)


def test_resume_of_a_resumed_run_skips_steps_done_two_runs_ago(setup):
    cfg, work, db = setup
    _chain(
        cfg,
        work,
        [_counting("s1"), _counting("s2", "[ -f go2 ]"), _counting("s3", "[ -f go3 ]")],
    )
    env = runs_env(db)
    assert _run(cfg, work, env).returncode == 1  # fails at 2
    (work / "go2").touch()
    assert _run(cfg, work, env).returncode == 1  # resumes at 2, fails at 3
    (work / "go3").touch()

    third = _run(cfg, work, env)

    assert third.returncode == 0, third.stderr
    assert (_count(work, "s1"), _count(work, "s2"), _count(work, "s3")) == (1, 2, 2)
    latest = otf_runs_json(env, "history", "--task", "b", "--limit", "1")[0]
    steps = otf_runs_json(env, "show", latest["id"])["steps"]
    resumed = {s["order_id"]: s["reason"] for s in steps if s["reason"]}
    assert set(resumed) == {1, 2}
    assert all("not run again" in reason for reason in resumed.values())


def test_rerun_after_success_runs_everything(setup):
    cfg, work, db = setup
    _chain(cfg, work, [_counting("s1"), _counting("s2"), _counting("s3")])
    env = runs_env(db)
    assert _run(cfg, work, env).returncode == 0
    assert _run(cfg, work, env).returncode == 0
    assert (_count(work, "s1"), _count(work, "s2"), _count(work, "s3")) == (2, 2, 2)


def test_foreach_instances_that_succeeded_are_not_run_again(setup):
    cfg, work, db = setup
    exec_task(
        cfg,
        "each",
        "echo x >> {{ item }}.count; [ {{ item }} != b ] || [ -f go ]",
        work,
    )
    batch_task(
        cfg, "b", [{"order_id": 1, "task_id": "each", "foreach": ["a", "b", "c"]}]
    )
    env = runs_env(db)
    assert _run(cfg, work, env).returncode == 1
    (work / "go").touch()

    second = _run(cfg, work, env)

    assert second.returncode == 0, second.stderr
    assert (_count(work, "a"), _count(work, "b"), _count(work, "c")) == (1, 2, 1)


def test_without_records_the_log_based_resume_is_the_fallback(setup):
    cfg, work, db = setup
    _chain(cfg, work, [_counting("s1"), _counting("s2", "[ -f go ]"), _counting("s3")])
    off = runs_env("off")
    assert _run(cfg, work, off).returncode == 1
    (work / "go").touch()
    # Store switched on now: it holds no run of b, so the log decides.
    second = _run(cfg, work, runs_env(db))

    assert second.returncode == 0, second.stderr
    assert (_count(work, "s1"), _count(work, "s2"), _count(work, "s3")) == (1, 2, 1)
    assert "Found previous log file" in batch_log(work, "b")


def test_store_off_resumes_from_logs(setup):
    cfg, work, _ = setup
    _chain(cfg, work, [_counting("s1"), _counting("s2", "[ -f go ]"), _counting("s3")])
    off = runs_env("off")
    assert _run(cfg, work, off).returncode == 1
    (work / "go").touch()
    assert _run(cfg, work, off).returncode == 0
    assert (_count(work, "s1"), _count(work, "s2"), _count(work, "s3")) == (1, 2, 1)
