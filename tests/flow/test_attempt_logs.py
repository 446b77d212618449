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


# Fails on its first run only (a marker file tells the runs apart).
MARKER = (
    "if [ -e marker ]; then echo second-run; "
    "else touch marker; echo first-run; exit 1; fi"
)


@pytest.mark.parametrize("run_id", [None, "nightly"])
def test_nested_batch_attempts_keep_their_steps_logs(
    cfg_dir: Path, tmp_path: Path, task_run, isolated_env: Path, run_id: str | None
):
    exec_task(cfg_dir, "prepare", "echo prepared", tmp_path)
    exec_task(cfg_dir, "once-fails", MARKER, tmp_path)
    exec_task(cfg_dir, "plain-step", "echo plain", tmp_path)
    batch_task(
        cfg_dir,
        "inner-batch",
        [
            {"order_id": 1, "task_id": "prepare"},
            {"order_id": 2, "task_id": "once-fails", "dependencies": [1]},
        ],
    )
    batch_task(
        cfg_dir,
        "outer-batch",
        [
            {"order_id": 1, "task_id": "inner-batch", "retries": 1, "retry_delay": 0},
            {"order_id": 2, "task_id": "plain-step", "dependencies": [1]},
        ],
    )
    proc = task_run(
        "-t", "outer-batch", "-c", cfg_dir, *(["-r", run_id] if run_id else [])
    )
    assert proc.returncode == 0, proc.stderr

    def logs(task_id: str) -> dict[str, str]:
        if run_id:
            found = _attempt_logs(isolated_env / "logs" / run_id, f"*_{task_id}*.log")
            return {name.replace(f"_{task_id}", ""): t for name, t in found.items()}
        return _attempt_logs(isolated_env / "logs" / task_id, "*.log")

    steps = logs("once-fails")
    assert sorted(steps) == ["E.log", "E_attempt1_failed.log"]
    assert "first-run" in steps["E_attempt1_failed.log"]
    assert "second-run" in steps["E.log"]
    assert all(
        t.count("first-run") + t.count("second-run") == 1 for t in steps.values()
    )
    # The nested batch's own logs, and a step that ran in attempt 1 only
    # (attempt 2 resumed past it): its log says which attempt wrote it.
    assert sorted(logs("inner-batch")) == ["B.log", "B_attempt1_failed.log"]
    assert sorted(logs("prepare")) == ["E_attempt1.log"]
    # A step that is not retried (nor inside a retried one) is unchanged.
    assert sorted(logs("plain-step")) == ["E.log"]


def test_nested_batch_failing_twice_keeps_every_attempt(
    cfg_dir: Path, tmp_path: Path, task_run, isolated_env: Path
):
    exec_task(cfg_dir, "twice-fails", TRIES, tmp_path)
    batch_task(cfg_dir, "inner-twice", [{"order_id": 1, "task_id": "twice-fails"}])
    batch_task(
        cfg_dir,
        "outer-twice",
        [{"order_id": 1, "task_id": "inner-twice", "retries": 2, "retry_delay": 0}],
    )
    proc = task_run("-t", "outer-twice", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    steps = _attempt_logs(isolated_env / "logs" / "twice-fails", "*.log")
    # Two failed attempts used to write the same _failed name: one was lost.
    assert sorted(steps) == ["E.log", "E_attempt1_failed.log", "E_attempt2_failed.log"]
    assert all(t.count("try-number-") == 1 for t in steps.values())
    assert "try-number-1" in steps["E_attempt1_failed.log"]
    assert "try-number-2" in steps["E_attempt2_failed.log"]
    assert "try-number-3" in steps["E.log"]


def test_retried_step_in_retried_nested_batch(
    cfg_dir: Path, tmp_path: Path, task_run, isolated_env: Path
):
    # Fails on runs 1-3: the step's two attempts in the batch's attempt 1,
    # then its first attempt in the batch's attempt 2; run 4 succeeds.
    exec_task(cfg_dir, "deep-step", TRIES.replace("-ge 3", "-ge 4"), tmp_path)
    batch_task(
        cfg_dir,
        "mid-batch",
        [{"order_id": 1, "task_id": "deep-step", "retries": 1, "retry_delay": 0}],
    )
    batch_task(
        cfg_dir,
        "top-batch",
        [{"order_id": 1, "task_id": "mid-batch", "retries": 1, "retry_delay": 0}],
    )
    proc = task_run("-t", "top-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    steps = _attempt_logs(isolated_env / "logs" / "deep-step", "*.log")
    # The step's own attempt first, then the batch step's attempt.
    expected = {
        "E_attempt1_attempt1_failed.log": 1,
        "E_attempt2_attempt1_failed.log": 2,
        "E_attempt1_failed.log": 3,
        "E.log": 4,
    }
    assert sorted(steps) == sorted(expected)
    for name, run in expected.items():
        assert steps[name].count("try-number-") == 1, name
        assert f"try-number-{run}" in steps[name], name
