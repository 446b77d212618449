"""Batch construction and scheduling with real local executions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from batch_helpers import (
    log_path,
    logs_of,
    make_batch,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers import batch, execution
from opentaskpy.taskhandlers.batch import Batch
from support.flow import batch_task, exec_task
from support.helpers import write_json

pytestmark = pytest.mark.usefixtures("debug_logging")


def test_constants():
    assert batch.DEFAULT_TASK_TIMEOUT == 300
    assert batch.DEFAULT_TASK_CONTINUE_ON_FAIL is False
    assert batch.DEFAULT_TASK_RETRY_ON_RERUN is False
    assert batch.DEFAULT_TASK_EXIT_CODE == 0
    assert batch.TASK_TYPE == "B"
    assert batch.BATCH_TASK_LOG_MARKER == "__OTF_BATCH_TASK_MARKER__"
    assert batch.DEFAULT_BATCH_POLL_INTERVAL == 5


def test_check_all_dependency_statuses_without_self():
    entry = {"order_id": 1, "task_id": "x"}
    assert Batch.check_all_dependency_statuses(None, entry, ["COMPLETED"]) is False


def test_construction_and_dependency_order(cfg_dir: Path, tmp_path: Path):
    out = tmp_path / "order.txt"
    # Each step refuses to run unless its predecessor's line is present.
    exec_task(cfg_dir, "step-one", f"sleep 0.2; echo one >> {out}", tmp_path)
    exec_task(cfg_dir, "step-two", f"grep -q one {out} && echo two >> {out}", tmp_path)
    exec_task(
        cfg_dir, "step-three", f"grep -q two {out} && echo three >> {out}", tmp_path
    )
    batch_task(
        cfg_dir,
        "ordered-batch",
        [
            {"order_id": 3, "task_id": "step-three", "dependencies": [2]},
            {"order_id": 1, "task_id": "step-one", "timeout": 30},
            {"order_id": 2, "task_id": "step-two", "dependencies": [1]},
        ],
    )
    batch_obj = make_batch(cfg_dir, "ordered-batch")
    assert [t["order_id"] for t in batch_obj.batch_definition["tasks"]] == [1, 2, 3]
    assert sorted(batch_obj.tasks) == [1, 2, 3]
    tree = batch_obj.task_order_tree
    assert isinstance(tree[1]["task_handler"], execution.Execution)
    assert tree[1]["timeout"] == 30 and tree[2]["timeout"] == 300
    assert tree[2]["continue_on_fail"] is False and tree[2]["retry_on_rerun"] is False
    assert all(entry["status"] == "NOT_STARTED" for entry in tree.values())
    assert tree[3]["task"]["command"].startswith("grep -q two")

    assert batch_obj.check_all_dependency_statuses(tree[2], ["COMPLETED"]) is False
    assert batch_obj.check_not_dependency_statuses(1, tree[1], ["COMPLETED"]) is True
    assert batch_obj.check_not_dependency_statuses(2, tree[2], ["COMPLETED"]) is False

    assert batch_obj.run() is True
    assert out.read_text() == "one\ntwo\nthree\n"
    assert all(entry["status"] == "COMPLETED" for entry in tree.values())
    assert all(entry["result"] is True for entry in tree.values())
    # Handler references are released once each step finishes.
    assert all(entry["task_handler"] is None for entry in tree.values())
    assert batch_obj.check_all_dependency_statuses(tree[3], ["COMPLETED"]) is True

    text = log_path("ordered-batch", "B").read_text()
    for line in (
        "Running batch",
        "Spawned thread for task 1 (step-one)",
        "All dependencies for task 2 (step-two) have completed",
        "Task 3 (step-three) has completed",
        "__OTF_BATCH_TASK_MARKER__: ORDER_ID::2::TASK::step-two::COMPLETED",
        "No remaining running or runnable tasks. Breaking execution",
        "Batch completed with result True",
        "All batch tasks completed successfully",
    ):
        assert line in text
    for step in ("step-one", "step-two", "step-three"):
        assert log_path(step, "E").exists()


def test_independent_steps_run_in_parallel(cfg_dir: Path, tmp_path: Path):
    # Each step waits for the other's marker: both can only succeed if they
    # really run at the same time (a serial run would time out).
    exec_task(
        cfg_dir,
        "side-a",
        "touch a.marker; while [ ! -f b.marker ]; do sleep 0.05; done",
        tmp_path,
    )
    exec_task(
        cfg_dir,
        "side-b",
        "touch b.marker; while [ ! -f a.marker ]; do sleep 0.05; done",
        tmp_path,
    )
    batch_task(
        cfg_dir,
        "parallel-batch",
        [
            {"order_id": 1, "task_id": "side-a", "timeout": 20},
            {"order_id": 2, "task_id": "side-b", "timeout": 20},
        ],
    )
    assert make_batch(cfg_dir, "parallel-batch").run() is True
    assert "has timed out" not in log_path("parallel-batch", "B").read_text()


def test_continue_on_fail_runs_dependant_but_fails_batch(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "will-fail", "exit 1", tmp_path)
    exec_task(cfg_dir, "after-fail", "touch after.ran", tmp_path)
    batch_task(
        cfg_dir,
        "cof-batch",
        [
            {"order_id": 1, "task_id": "will-fail", "continue_on_fail": True},
            {"order_id": 2, "task_id": "after-fail", "dependencies": [1]},
        ],
    )
    batch_obj = make_batch(cfg_dir, "cof-batch")
    assert batch_obj.run() is False
    assert (tmp_path / "after.ran").exists()
    tree = batch_obj.task_order_tree
    assert tree[1]["status"] == "COMPLETED" and tree[1]["result"] is False
    assert tree[2]["status"] == "COMPLETED" and tree[2]["result"] is True
    text = log_path("cof-batch", "B", "_failed").read_text()
    assert "Task 1 (will-fail) has failed, but continuing on fail" in text
    assert "Batch completed with result False" in text
    assert log_path("will-fail", "E", "_failed").exists()
    assert log_path("after-fail", "E").exists()


def test_failed_dependencies_never_start_and_loop_ends(cfg_dir: Path, tmp_path: Path):
    for name in ("g-one", "g-three", "g-four", "g-five", "g-six"):
        exec_task(cfg_dir, name, f"touch {name}.ran", tmp_path)
    exec_task(cfg_dir, "g-two", "touch g-two.ran; exit 2", tmp_path)
    batch_task(
        cfg_dir,
        "graph-batch",
        [
            {"order_id": 1, "task_id": "g-one"},
            {"order_id": 2, "task_id": "g-two"},
            {"order_id": 3, "task_id": "g-three", "dependencies": [2]},
            {"order_id": 4, "task_id": "g-four", "dependencies": [3]},
            {"order_id": 5, "task_id": "g-five", "dependencies": [1]},
            {"order_id": 6, "task_id": "g-six", "dependencies": [4, 5]},
        ],
    )
    batch_obj = make_batch(cfg_dir, "graph-batch")
    assert batch_obj.run() is False
    ran = sorted(p.name for p in tmp_path.glob("*.ran"))
    assert ran == ["g-five.ran", "g-one.ran", "g-two.ran"]
    statuses = {k: v["status"] for k, v in batch_obj.task_order_tree.items()}
    assert statuses == {
        1: "COMPLETED",
        2: "FAILED",
        3: "NOT_STARTED",
        4: "NOT_STARTED",
        5: "COMPLETED",
        6: "NOT_STARTED",
    }
    text = log_path("graph-batch", "B", "_failed").read_text()
    assert "Task 2 (g-two) has failed" in text
    assert "ORDER_ID::2::TASK::g-two::FAILED" in text
    assert "No remaining running or runnable tasks. Breaking execution" in text
    assert logs_of("g-three") == []  # constructed, never started: no log written


def test_nested_batch(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "inner-step", "echo inner >> trail.txt", tmp_path)
    exec_task(cfg_dir, "outer-step", "echo outer >> trail.txt", tmp_path)
    batch_task(cfg_dir, "inner-batch", [{"order_id": 1, "task_id": "inner-step"}])
    batch_task(
        cfg_dir,
        "outer-batch",
        [
            {"order_id": 1, "task_id": "inner-batch"},
            {"order_id": 2, "task_id": "outer-step", "dependencies": [1]},
        ],
    )
    batch_obj = make_batch(cfg_dir, "outer-batch")
    assert isinstance(batch_obj.task_order_tree[1]["task_handler"], Batch)
    assert batch_obj.task_order_tree[1]["task_handler"].config_loader is (
        batch_obj.config_loader
    )
    assert batch_obj.run() is True
    assert (tmp_path / "trail.txt").read_text() == "inner\nouter\n"
    assert log_path("inner-batch", "B").exists()
    assert log_path("outer-batch", "B").exists()
    assert log_path("inner-step", "E").exists()


def test_same_task_twice(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "append-line", "echo line >> lines.txt", tmp_path)
    batch_task(
        cfg_dir,
        "twice-batch",
        [
            {"order_id": 1, "task_id": "append-line"},
            {"order_id": 2, "task_id": "append-line", "dependencies": [1]},
        ],
    )
    assert make_batch(cfg_dir, "twice-batch").run() is True
    assert (tmp_path / "lines.txt").read_text() == "line\nline\n"


def test_unknown_task_type(cfg_dir: Path):
    write_json(cfg_dir / "weird-task.json", {"type": "nonsense"})
    batch_task(cfg_dir, "weird-batch", [{"order_id": 1, "task_id": "weird-task"}])
    with pytest.raises(exceptions.InvalidConfigError, match="^Unknown task type$"):
        make_batch(cfg_dir, "weird-batch")
    # The batch never ran: no log is left looking like a live run.
    assert not [n for n in logs_of("weird-batch") if "_running" in n]


def test_missing_sub_task(cfg_dir: Path):
    batch_task(cfg_dir, "hollow-batch", [{"order_id": 1, "task_id": "not-there"}])
    with pytest.raises(FileNotFoundError, match="not-there"):
        make_batch(cfg_dir, "hollow-batch")
    assert not [n for n in logs_of("hollow-batch") if "_running" in n]


def test_unknown_dependency_never_runs(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "orphan-step", "touch orphan.ran", tmp_path)
    batch_task(
        cfg_dir,
        "orphan-batch",
        [{"order_id": 1, "task_id": "orphan-step", "dependencies": [7]}],
    )
    assert make_batch(cfg_dir, "orphan-batch").run() is False
    assert not (tmp_path / "orphan.ran").exists()
    text = log_path("orphan-batch", "B", "_failed").read_text()
    assert "depends on task 7, which is not in the batch" in text


def test_step_raising_exception_fails_step(cfg_dir: Path, tmp_path: Path):
    write_json(
        cfg_dir / "missing-file-transfer.json",
        {
            "type": "transfer",
            "source": {
                "directory": str(tmp_path / "src"),
                "fileRegex": "nothing.*",
                "protocol": {"name": "local"},
            },
        },
    )
    exec_task(cfg_dir, "not-after", "touch not-after.ran", tmp_path)
    batch_task(
        cfg_dir,
        "raising-batch",
        [
            {"order_id": 1, "task_id": "missing-file-transfer"},
            {"order_id": 2, "task_id": "not-after", "dependencies": [1]},
        ],
    )
    batch_obj = make_batch(cfg_dir, "raising-batch")
    assert batch_obj.run() is False
    assert batch_obj.task_order_tree[1]["status"] == "FAILED"
    assert not (tmp_path / "not-after.ran").exists()
    text = log_path("raising-batch", "B", "_failed").read_text()
    assert "[missing-file-transfer] Failed to run task" in text
    assert "ORDER_ID::1::TASK::missing-file-transfer::FAILED" in text
    assert log_path("missing-file-transfer", "T", "_failed").exists()


def test_memory_usage_logged(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    exec_task(cfg_dir, "mem-step", "true", tmp_path)
    batch_task(cfg_dir, "mem-batch", [{"order_id": 1, "task_id": "mem-step"}])
    monkeypatch.setenv("OTF_LOG_MEMORY_USAGE", "1")
    assert make_batch(cfg_dir, "mem-batch").run() is True
    values = re.findall(
        r"\[memory\] RSS: (\d+\.\d+) MB", log_path("mem-batch", "B").read_text()
    )
    assert values and all(float(v) > 0 for v in values)


def test_memory_usage_not_logged_by_default(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "quiet-step", "true", tmp_path)
    batch_task(cfg_dir, "quiet-batch", [{"order_id": 1, "task_id": "quiet-step"}])
    assert make_batch(cfg_dir, "quiet-batch").run() is True
    text = log_path("quiet-batch", "B").read_text()
    assert "Batch completed with result True" in text
    assert "[memory]" not in text


def test_legacy_poll_variables_accepted(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OTF_BATCH_POLL_INTERVAL", "0.5")
    monkeypatch.setenv("OTF_NO_THREAD_SLEEP", "1")
    exec_task(cfg_dir, "legacy-step", "touch legacy.ran", tmp_path)
    batch_task(cfg_dir, "legacy-batch", [{"order_id": 1, "task_id": "legacy-step"}])
    assert make_batch(cfg_dir, "legacy-batch").run() is True
    assert (tmp_path / "legacy.ran").exists()


def test_fan_out_runs_all_steps_at_once(cfg_dir: Path, tmp_path: Path):
    # A five-way barrier: each step waits until all five have started.
    barrier = (
        "touch fan.$$; "
        'while [ "$(ls fan.* | wc -l)" -lt 5 ]; do sleep 0.05; done; '
        "touch done.$$"
    )
    for n in range(5):
        exec_task(cfg_dir, f"fan-{n}", barrier, tmp_path)
    exec_task(cfg_dir, "fan-join", "ls done.* | wc -l > joined.txt", tmp_path)
    batch_task(
        cfg_dir,
        "fan-batch",
        [{"order_id": n + 1, "task_id": f"fan-{n}", "timeout": 20} for n in range(5)]
        + [{"order_id": 6, "task_id": "fan-join", "dependencies": [1, 2, 3, 4, 5]}],
    )
    assert make_batch(cfg_dir, "fan-batch").run() is True
    assert (tmp_path / "joined.txt").read_text().strip() == "5"
