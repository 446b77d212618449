"""Every attempt of a retried step keeps its own log file."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.flow import batch_task, exec_task

# Fails on its first two runs; each run prints which try it is.
TRIES = (
    "c=$(cat tries 2>/dev/null || echo 0); c=$((c+1)); echo $c > tries; "
    "echo try-number-$c; [ $c -ge 3 ]"
)


def _attempt_logs(directory: Path, pattern: str) -> dict[str, str]:
    """``{file name with the timestamp prefix dropped: text}`` of the matches."""
    return {p.name.split("_", 1)[1]: p.read_text() for p in directory.glob(pattern)}


@pytest.mark.parametrize("run_id", [None, "nightly"])
def test_three_attempts_keep_three_logs(
    cfg_dir: Path, tmp_path: Path, task_run, isolated_env: Path, run_id: str | None
):
    exec_task(cfg_dir, "flaky-log", TRIES, tmp_path)
    exec_task(cfg_dir, "steady-log", "echo steady", tmp_path)
    batch_task(
        cfg_dir,
        "attempt-log-batch",
        [
            {"order_id": 1, "task_id": "flaky-log", "retries": 2, "retry_delay": 0},
            {"order_id": 2, "task_id": "steady-log", "dependencies": [1]},
        ],
    )
    args = ["-t", "attempt-log-batch", "-c", cfg_dir]
    proc = task_run(*args, *(["-r", run_id] if run_id else []))
    assert proc.returncode == 0, proc.stderr
    logs = isolated_env / "logs"
    if run_id:
        flaky = _attempt_logs(logs / run_id, "*_E_flaky-log*.log")
        steady = _attempt_logs(logs / run_id, "*_E_steady-log*.log")
        tag = "_flaky-log"
    else:
        flaky = _attempt_logs(logs / "flaky-log", "*.log")
        steady = _attempt_logs(logs / "steady-log", "*.log")
        tag = ""
    # The usual name holds the last attempt and says the step succeeded;
    # the earlier attempts sit beside it, each with its own output.
    assert sorted(flaky) == sorted(
        [f"E{tag}.log", f"E{tag}_attempt1_failed.log", f"E{tag}_attempt2_failed.log"]
    )
    assert "try-number-1" in flaky[f"E{tag}_attempt1_failed.log"]
    assert "try-number-2" in flaky[f"E{tag}_attempt2_failed.log"]
    assert "try-number-3" in flaky[f"E{tag}.log"]
    # Each file holds one attempt only: nothing was appended or merged.
    assert all(text.count("try-number-") == 1 for text in flaky.values())
    # A step without retries has the layout it always had.
    assert sorted(steady) == [f"E{tag.replace('flaky', 'steady')}.log"]


def test_single_run_attempts_keep_their_logs(
    cfg_dir: Path, tmp_path: Path, task_run, isolated_env: Path
):
    exec_task(cfg_dir, "flaky-single-log", TRIES, tmp_path)
    proc = task_run(
        "-t",
        "flaky-single-log",
        "-c",
        cfg_dir,
        env={"OTF_RETRIES": "2", "OTF_RETRY_DELAY": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    logs = _attempt_logs(isolated_env / "logs" / "flaky-single-log", "*_E*.log")
    assert sorted(logs) == ["E.log", "E_attempt1_failed.log", "E_attempt2_failed.log"]
    assert "try-number-1" in logs["E_attempt1_failed.log"]
    assert "try-number-2" in logs["E_attempt2_failed.log"]
    assert "try-number-3" in logs["E.log"]
    assert all(text.count("try-number-") == 1 for text in logs.values())
