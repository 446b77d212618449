"""skip_if and check conditions, and dependencies on a step's outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.flow import batch_log, batch_task, exec_task
from support.helpers import write_json


@pytest.mark.parametrize(("env", "skipped"), [("test", True), ("prod", False)])
def test_skip_if(cfg_dir: Path, tmp_path: Path, task_run, env: str, skipped: bool):
    write_json(cfg_dir / "variables.json", {"ENV": env})
    exec_task(cfg_dir, "maybe", "touch maybe.ran", tmp_path)
    exec_task(cfg_dir, "next", "touch next.ran", tmp_path)
    batch_task(
        cfg_dir,
        "skip-batch",
        [
            {"order_id": 1, "task_id": "maybe", "skip_if": "ENV == 'test'"},
            {"order_id": 2, "task_id": "next", "dependencies": [1]},
        ],
    )
    proc = task_run("-t", "skip-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "maybe.ran").exists() is not skipped
    # A skipped step counts as done for its dependants.
    assert (tmp_path / "next.ran").exists()
    log = batch_log(Path.cwd(), "skip-batch")
    reason = "Task 1 (maybe) skipped: skip_if \"ENV == 'test'\" is true"
    assert (reason in log) is skipped
    assert ("ORDER_ID::1::TASK::maybe::SKIPPED" in log) is skipped


def test_check_turns_failure_into_success(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "expect-fail", "exit 3", tmp_path)
    exec_task(cfg_dir, "then", "touch then.ran", tmp_path)
    batch_task(
        cfg_dir,
        "check-ok-batch",
        [
            {
                "order_id": 1,
                "task_id": "expect-fail",
                "check": "step.outcome == 'failure'",
            },
            {"order_id": 2, "task_id": "then", "dependencies": [1]},
        ],
    )
    proc = task_run("-t", "check-ok-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "then.ran").exists()
    log = batch_log(Path.cwd(), "check-ok-batch")
    assert "check \"step.outcome == 'failure'\" turns failure into success" in log


def test_check_turns_success_into_failure(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "first", "true", tmp_path)
    exec_task(cfg_dir, "judged", "touch judged.ran", tmp_path)
    batch_task(
        cfg_dir,
        "check-bad-batch",
        [
            {"order_id": 1, "task_id": "first"},
            {
                "order_id": 2,
                "task_id": "judged",
                "dependencies": [1],
                # Succeeds only if step 1 had failed: it did not.
                "check": "steps[1].outcome == 'failure'",
            },
        ],
    )
    proc = task_run("-t", "check-bad-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert (tmp_path / "judged.ran").exists()
    log = batch_log(Path.cwd(), "check-bad-batch")
    assert "turns success into failure" in log
    assert "ORDER_ID::2::TASK::judged::FAILED" in log


def test_unevaluable_skip_if_is_a_configuration_error(
    cfg_dir: Path, tmp_path: Path, task_run
):
    exec_task(cfg_dir, "guarded", "touch guarded.ran", tmp_path)
    batch_task(
        cfg_dir,
        "bad-skip-batch",
        [{"order_id": 1, "task_id": "guarded", "skip_if": "NO_SUCH_VAR > 1"}],
    )
    proc = task_run("-t", "bad-skip-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert not (tmp_path / "guarded.ran").exists()
    log = batch_log(Path.cwd(), "bad-skip-batch")
    assert (
        "Task 1 (guarded) not run: configuration error: step 1 (guarded): "
        "skip_if 'NO_SUCH_VAR > 1' cannot be evaluated" in log
    )


def _cleanup_batch(cfg: Path, workdir: Path, first_command: str) -> None:
    exec_task(cfg, "work", first_command, workdir)
    exec_task(cfg, "on-failure", "touch cleanup.ran", workdir)
    exec_task(cfg, "on-any", "touch notify.ran", workdir)
    exec_task(cfg, "on-success", "touch success.ran", workdir)
    batch_task(
        cfg,
        "cleanup-batch",
        [
            {"order_id": 1, "task_id": "work"},
            {
                "order_id": 2,
                "task_id": "on-failure",
                "dependencies": [{"order_id": 1, "on": "failure"}],
            },
            {
                "order_id": 3,
                "task_id": "on-any",
                "dependencies": [{"order_id": 1, "on": "any"}],
            },
            {"order_id": 4, "task_id": "on-success", "dependencies": [1]},
        ],
    )


def test_cleanup_runs_when_a_step_fails(cfg_dir: Path, tmp_path: Path, task_run):
    _cleanup_batch(cfg_dir, tmp_path, "exit 1")
    proc = task_run("-t", "cleanup-batch", "-c", cfg_dir)
    # The handlers ran, yet the batch still failed: step 1 failed.
    assert proc.returncode == 1
    assert (tmp_path / "cleanup.ran").exists()
    assert (tmp_path / "notify.ran").exists()
    assert not (tmp_path / "success.ran").exists()
    assert "Batch completed with result False" in proc.stderr


def test_cleanup_is_skipped_when_the_step_succeeds(
    cfg_dir: Path, tmp_path: Path, task_run
):
    _cleanup_batch(cfg_dir, tmp_path, "true")
    proc = task_run("-t", "cleanup-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cleanup.ran").exists()
    assert (tmp_path / "notify.ran").exists()
    assert (tmp_path / "success.ran").exists()
    log = batch_log(Path.cwd(), "cleanup-batch")
    assert "Task 2 (on-failure) skipped: it runs only when task 1 fails" in log


def test_any_dependency_runs_after_a_step_that_never_ran(
    cfg_dir: Path, tmp_path: Path, task_run
):
    exec_task(cfg_dir, "breaks", "exit 1", tmp_path)
    exec_task(cfg_dir, "needs-it", "touch needs.ran", tmp_path)
    exec_task(cfg_dir, "report", "touch report.ran", tmp_path)
    batch_task(
        cfg_dir,
        "blocked-batch",
        [
            {"order_id": 1, "task_id": "breaks"},
            {"order_id": 2, "task_id": "needs-it", "dependencies": [1]},
            {
                "order_id": 3,
                "task_id": "report",
                "dependencies": [{"order_id": 2, "on": "any"}],
            },
        ],
    )
    proc = task_run("-t", "blocked-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert not (tmp_path / "needs.ran").exists()
    assert (tmp_path / "report.ran").exists()
