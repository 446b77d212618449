"""Batches through the real ``task-run`` CLI (a subprocess per run)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from batch_helpers import logs_of

from support.flow import batch_task, exec_task
from support.helpers import pid_alive, wait_for
from support.processes import start_task_run, wait_pid


def _names(task_id: str, suffix: str) -> list[str]:
    return [n for n in logs_of(task_id) if n.endswith(suffix)]


def test_cli_batch_success_writes_all_logs(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "cli-first", "echo first >> trail.txt", tmp_path)
    exec_task(cfg_dir, "cli-second", "echo second >> trail.txt", tmp_path)
    batch_task(
        cfg_dir,
        "cli-batch",
        [
            {"order_id": 1, "task_id": "cli-first"},
            {"order_id": 2, "task_id": "cli-second", "dependencies": [1]},
        ],
    )
    proc = task_run("-t", "cli-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "trail.txt").read_text() == "first\nsecond\n"
    assert "Batch completed with result True" in proc.stderr
    assert "Task completed with result: True" in proc.stderr
    assert len(_names("cli-batch", "_B.log")) == 1
    assert len(_names("cli-batch", "_WRAPPER.log")) == 1
    assert len(_names("cli-first", "_E.log")) == 1
    assert len(_names("cli-second", "_E.log")) == 1
    prefix = _names("cli-batch", "_B.log")[0].split("_")[0]
    assert _names("cli-first", "_E.log")[0].startswith(prefix)


def test_cli_resume_after_failure(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "cli-touch", "touch touched.txt", tmp_path)
    exec_task(cfg_dir, "cli-fail-command", "test -f allow.txt", tmp_path)
    batch_task(
        cfg_dir,
        "cli-resume-batch",
        [
            {"order_id": 1, "task_id": "cli-touch"},
            {"order_id": 2, "task_id": "cli-fail-command"},
        ],
    )
    first = task_run("-t", "cli-resume-batch", "-c", cfg_dir)
    assert first.returncode == 1
    assert len(_names("cli-resume-batch", "_B_failed.log")) == 1
    assert len(_names("cli-touch", "_E.log")) == 1
    assert len(_names("cli-fail-command", "_E_failed.log")) == 1
    (tmp_path / "touched.txt").unlink()

    time.sleep(0.01)  # distinct millisecond prefixes
    second = task_run("-t", "cli-resume-batch", "-c", cfg_dir)
    assert second.returncode == 1
    assert "Found log mark: ORDER_ID::1::TASK::cli-touch::COMPLETED" in second.stderr
    assert not (tmp_path / "touched.txt").exists()
    assert len(logs_of("cli-touch")) == 1
    assert len(_names("cli-fail-command", "_E_failed.log")) == 2

    (tmp_path / "allow.txt").touch()
    time.sleep(0.01)
    third = task_run("-t", "cli-resume-batch", "-c", cfg_dir)
    assert third.returncode == 0, third.stderr
    assert not (tmp_path / "touched.txt").exists()
    assert len(_names("cli-resume-batch", "_B.log")) == 1


def test_cli_timeout_kills_sleep(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(
        cfg_dir,
        "cli-sleep-300",
        "{ sleep 300 & echo $! > sleep.pid; wait; }",
        tmp_path,
    )
    batch_task(
        cfg_dir,
        "cli-timeout-batch",
        [{"order_id": 1, "task_id": "cli-sleep-300", "timeout": 1}],
    )
    proc = task_run("-t", "cli-timeout-batch", "-c", cfg_dir, timeout=120)
    assert proc.returncode == 1
    assert "Task 1 (cli-sleep-300) has timed out" in proc.stderr
    sleep_pid = wait_pid(tmp_path / "sleep.pid")
    assert wait_for(lambda: not pid_alive(sleep_pid))
    assert len(_names("cli-timeout-batch", "_B_failed.log")) == 1
    assert len(_names("cli-sleep-300", "_E_failed.log")) == 1


def test_cli_missing_sub_task(cfg_dir: Path, task_run):
    batch_task(cfg_dir, "cli-hollow-batch", [{"order_id": 1, "task_id": "cli-absent"}])
    proc = task_run("-t", "cli-hollow-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert "Couldn't find task with name: cli-absent" in proc.stderr


def test_cli_memory_usage(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "cli-mem-step", "true", tmp_path)
    batch_task(cfg_dir, "cli-mem-batch", [{"order_id": 1, "task_id": "cli-mem-step"}])
    proc = task_run(
        "-t", "cli-mem-batch", "-c", cfg_dir, env={"OTF_LOG_MEMORY_USAGE": "1"}
    )
    assert proc.returncode == 0, proc.stderr
    values = re.findall(r"\[memory\] RSS: (\d+\.\d+) MB", proc.stderr)
    assert values and all(float(v) > 0 for v in values)


def _interrupt_cli(cfg: Path, task_id: str, pid_file: Path, workdir: Path) -> int:
    proc = start_task_run(
        "-t",
        task_id,
        "-c",
        cfg,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sleep_pid = wait_pid(pid_file)
        assert pid_alive(sleep_pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    return sleep_pid


def test_ctrl_c_stops_batch_steps(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    exec_task(
        cfg_dir, "int-sleep", "{ sleep 300 & echo $! > sleep.pid; wait; }", tmp_path
    )
    batch_task(cfg_dir, "int-batch", [{"order_id": 1, "task_id": "int-sleep"}])
    sleep_pid = _interrupt_cli(
        cfg_dir, "int-batch", tmp_path / "sleep.pid", isolated_env
    )
    assert wait_for(lambda: not pid_alive(sleep_pid))


def test_ctrl_c_stops_execution(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    exec_task(
        cfg_dir, "int-exec", "{ sleep 300 & echo $! > exec.pid; wait; }", tmp_path
    )
    sleep_pid = _interrupt_cli(cfg_dir, "int-exec", tmp_path / "exec.pid", isolated_env)
    assert wait_for(lambda: not pid_alive(sleep_pid))
