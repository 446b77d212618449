"""Step retries with backoff, per-attempt timeouts, and retries of a single run."""

from __future__ import annotations

from pathlib import Path

from support.flow import batch_log, batch_task, exec_task, fail_until, read_times
from support.processes import start_task_run


def test_step_fails_twice_then_succeeds(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "flaky", fail_until("flaky", 3), tmp_path)
    exec_task(cfg_dir, "after", "touch after.ran", tmp_path)
    batch_task(
        cfg_dir,
        "retry-batch",
        [
            {
                "order_id": 1,
                "task_id": "flaky",
                "retries": 3,
                "retry_delay": 0.5,
                "retry_backoff": 2,
            },
            {"order_id": 2, "task_id": "after", "dependencies": [1]},
        ],
    )
    proc = task_run("-t", "retry-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "flaky.count").read_text().strip() == "3"
    assert (tmp_path / "after.ran").exists()
    times = read_times(tmp_path / "flaky.times")
    assert len(times) == 3
    # Lower bounds only: 0.5 s, then 0.5 * 2 s.
    assert times[1] - times[0] >= 0.5
    assert times[2] - times[1] >= 1.0
    log = batch_log(Path.cwd(), "retry-batch")
    for line in (
        "Task 1 (flaky): attempt 1 of 4 failed (execution)",
        "Task 1 (flaky): retrying in 0.5 s",
        "Task 1 (flaky): attempt 2 of 4 failed (execution)",
        "Task 1 (flaky): retrying in 1 s",
        "Task 1 (flaky): attempt 3 of 4",
        "ORDER_ID::1::TASK::flaky::COMPLETED",
    ):
        assert line in log
    assert "attempt 4 of 4" not in log


def test_retries_give_up_and_max_delay(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "never", fail_until("never", 99), tmp_path)
    batch_task(
        cfg_dir,
        "give-up-batch",
        [
            {
                "order_id": 1,
                "task_id": "never",
                "retries": 2,
                "retry_delay": 0.2,
                "retry_backoff": 10,
                "retry_max_delay": 0.3,
            }
        ],
    )
    proc = task_run("-t", "give-up-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert (tmp_path / "never.count").read_text().strip() == "3"
    log = batch_log(Path.cwd(), "give-up-batch")
    assert "Task 1 (never): retrying in 0.2 s" in log
    assert "Task 1 (never): retrying in 0.3 s" in log  # capped, not 2 s
    assert "Task 1 (never): not retrying: no retries left" in log


def test_configuration_error_is_not_retried(cfg_dir: Path, tmp_path: Path, task_run):
    # The step runs, then its check cannot be evaluated (there is no step 9):
    # a configuration error, which the same definition repeats on every try.
    exec_task(cfg_dir, "counted", fail_until("counted", 1), tmp_path)
    check = "steps[9].outcome == 'success'"
    batch_task(
        cfg_dir,
        "config-error-batch",
        [
            {
                "order_id": 1,
                "task_id": "counted",
                "retries": 3,
                "retry_delay": 0,
                "check": check,
            }
        ],
    )
    proc = task_run("-t", "config-error-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert (tmp_path / "counted.count").read_text().strip() == "1"
    log = batch_log(Path.cwd(), "config-error-batch")
    assert f"step 1 (counted): check {check!r} cannot be evaluated" in log
    assert "attempt 1 of 4 failed (configuration)" in log
    assert "not retrying: configuration errors are not retried" in log
    assert "attempt 2 of 4" not in log


def test_timeout_applies_per_attempt(cfg_dir: Path, tmp_path: Path, task_run):
    # The first attempt hangs and is killed at the timeout; the second is quick.
    command = "if [ -f first ]; then exit 0; fi; touch first; sleep 60"
    exec_task(cfg_dir, "hangs-once", command, tmp_path)
    batch_task(
        cfg_dir,
        "attempt-timeout-batch",
        [
            {
                "order_id": 1,
                "task_id": "hangs-once",
                "timeout": 1,
                "retries": 1,
                "retry_delay": 0,
            }
        ],
    )
    proc = task_run("-t", "attempt-timeout-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    log = batch_log(Path.cwd(), "attempt-timeout-batch")
    assert "Task 1 (hangs-once) has timed out" in log
    assert "attempt 1 of 2 failed (timeout)" in log
    assert "ORDER_ID::1::TASK::hangs-once::COMPLETED" in log


def test_overall_timeout_stops_retrying(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "slow-fail", "sleep 0.5; exit 1", tmp_path)
    batch_task(
        cfg_dir,
        "overall-batch",
        [
            {
                "order_id": 1,
                "task_id": "slow-fail",
                "retries": 10,
                "retry_delay": 1,
                "retry_backoff": 1,
                "overall_timeout": 2,
            }
        ],
    )
    proc = task_run("-t", "overall-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    log = batch_log(Path.cwd(), "overall-batch")
    assert "attempt 10 of 11" not in log
    assert "overall timeout" in log


def test_single_task_run_retries_from_environment(
    cfg_dir: Path, tmp_path: Path, task_run
):
    exec_task(cfg_dir, "flaky-single", fail_until("single", 3), tmp_path)
    proc = task_run(
        "-t",
        "flaky-single",
        "-c",
        cfg_dir,
        env={"OTF_RETRIES": "2", "OTF_RETRY_DELAY": "0.3", "OTF_RETRY_BACKOFF": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    times = read_times(tmp_path / "single.times")
    assert len(times) == 3
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.3
    assert "Task flaky-single: attempt 2 of 3 failed (execution)" in proc.stderr
    assert "Task flaky-single: attempt 3 of 3 succeeded" in proc.stderr
    # Without retries the same task fails at once.
    (tmp_path / "single.count").unlink()
    assert task_run("-t", "flaky-single", "-c", cfg_dir).returncode == 1


def test_single_task_run_bad_retry_setting(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "plain", "true", tmp_path)
    proc = task_run("-t", "plain", "-c", cfg_dir, env={"OTF_RETRIES": "lots"})
    assert proc.returncode == 1
    assert "OTF_RETRIES='lots'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigterm_ends_the_wait_between_attempts(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
):
    import signal
    import subprocess
    import time

    exec_task(cfg_dir, "fails-slowly", "exit 1", tmp_path)
    batch_task(
        cfg_dir,
        "wait-batch",
        [{"order_id": 1, "task_id": "fails-slowly", "retries": 1, "retry_delay": 600}],
    )
    proc = start_task_run(
        "-t", "wait-batch", "-c", cfg_dir, cwd=isolated_env, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            logs = list((isolated_env / "logs" / "wait-batch").glob("*_B_*.log"))
            if logs and "retrying in 600 s" in logs[0].read_text():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the batch never started waiting")
        proc.send_signal(signal.SIGTERM)
        # Far below the 600 s delay: the wait ended when the batch was stopped.
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "attempt 2 of 2" not in batch_log(isolated_env, "wait-batch")
