"""SIGTERM, SIGINT and SIGHUP end a run cleanly: logs, temporary files, resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from support.flow import batch_task
from support.helpers import local_transfer, pid_alive, wait_for, write_json
from support.processes import log_names, start_task_run, wait_pid
from support.runs_helpers import write_execution

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


def _check_killed_logs(root: Path, signum: int, expect: list[str]) -> None:
    """No log left running; the listed logs closed failed with the signal line."""
    names = log_names(root)
    assert not [n for n in names if n.endswith("_running.log")], names
    line = f"Run ended by {signal.Signals(signum).name} (signal {int(signum)})"
    for fragment in expect:
        matching = [n for n in names if fragment in n]
        assert matching, (fragment, names)
        for name in matching:
            assert name.endswith("_failed.log"), name
            assert line in (root / name).read_text(), name


def _stop(proc) -> tuple[str, str]:  # noqa: ANN001
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_mid_batch_closes_logs_and_rerun_resumes(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, signum: int
) -> None:
    work = tmp_path / "data"
    work.mkdir()
    pid_file = work / "sleep.pid"
    write_execution(cfg_dir, "touch-step", "touch touched.txt", work)
    write_execution(
        cfg_dir, "slow-step", f"sleep 300 & echo $! > {pid_file}; wait", work
    )
    batch_task(
        cfg_dir,
        "killed-batch",
        [
            {"order_id": 1, "task_id": "touch-step"},
            {"order_id": 2, "task_id": "slow-step", "dependencies": [1]},
        ],
    )
    summary = tmp_path / "summary.json"
    proc = start_task_run(
        "-t", "killed-batch", "-c", cfg_dir, "--summary", summary, cwd=isolated_env
    )
    try:
        sleep_pid = wait_pid(pid_file)
        assert sleep_pid is not None and pid_alive(sleep_pid)
        proc.send_signal(signum)
        _, stderr = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    assert stderr.rstrip().splitlines()[-1] == (
        f"task-run: error: killed-batch: ended by {name}"
    )
    assert wait_for(lambda: not pid_alive(sleep_pid), timeout=15)
    _check_killed_logs(isolated_env, signum, ["_B_", "_WRAPPER_"])
    slow_logs = [n for n in log_names(isolated_env) if "slow-step" in n]
    assert len(slow_logs) == 1 and slow_logs[0].endswith("_E_failed.log")
    assert f"(run ended by {name})" in (isolated_env / slow_logs[0]).read_text()

    data = json.loads(summary.read_text())
    assert data["outcome"] == "killed"
    assert data["exit_code"] == 128 + signum
    assert data["signal"] == name
    assert data["error_class"] == "interrupted"
    assert data["error"] == f"ended by {name}"
    assert data["type"] == "batch"
    assert [(s["order_id"], s["task_id"], s["outcome"]) for s in data["steps"]] == [
        (1, "touch-step", "completed"),
        (2, "slow-step", "killed"),
    ]

    # The rerun resumes from the killed step: step 1 is not run again.
    (work / "touched.txt").unlink()
    write_execution(cfg_dir, "slow-step", "echo done > slow.txt", work)
    rerun = start_task_run("-t", "killed-batch", "-c", cfg_dir, cwd=isolated_env)
    _, stderr = _stop(rerun)
    assert rerun.returncode == 0, stderr
    assert not (work / "touched.txt").exists()
    assert (work / "slow.txt").read_text() == "done\n"
    batch_logs = [n for n in log_names(isolated_env) if n.endswith("_B.log")]
    assert len(batch_logs) == 1
    text = (isolated_env / batch_logs[0]).read_text()
    assert "Found log mark: ORDER_ID::1::TASK::touch-step::COMPLETED" in text


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_mid_transfer_removes_partial_file(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, signum: int
) -> None:
    source, dest = tmp_path / "src", tmp_path / "dest"
    source.mkdir()
    dest.mkdir()
    (source / "a.bin").write_bytes(os.urandom(200_000))
    # A named pipe: the copy of b.bin is under way until the writer closes it.
    os.mkfifo(source / "b.bin")
    write_json(
        cfg_dir / "slow-copy.json",
        local_transfer(source, r".*\.bin", dest),
    )
    summary = tmp_path / "summary.json"
    proc = start_task_run(
        "-t", "slow-copy", "-c", cfg_dir, "--summary", summary, cwd=isolated_env
    )
    writer = None
    try:
        writer = os.open(source / "b.bin", os.O_WRONLY)  # waits for the reader
        os.write(writer, b"x" * 4096)
        assert wait_for(
            lambda: any(p.name.endswith(".otf-partial") for p in dest.iterdir())
        )
        proc.send_signal(signum)
        _, stderr = _stop(proc)
    finally:
        if writer is not None:
            os.close(writer)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in dest.iterdir()) == ["a.bin"]
    _check_killed_logs(isolated_env, signum, ["_T_", "_WRAPPER_"])
    data = json.loads(summary.read_text())
    assert (data["outcome"], data["type"], data["signal"]) == (
        "killed",
        "transfer",
        signal.Signals(signum).name,
    )
    assert data["files"] == {
        "total": 2,
        "done": 1,
        "bytes_total": 200_000,
        "bytes": 200_000,
    }
    assert data["destinations"] == [
        {"name": f"local:{dest}", "files": 1, "bytes": 200_000}
    ]
