"""Batch step timeouts really stop the step; the concurrency cap is honoured."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_helpers import log_path, make_batch

from support.flow import batch_task, exec_task
from support.helpers import pid_alive, wait_for, write_json
from support.processes import wait_pid

pytestmark = pytest.mark.usefixtures("debug_logging")


# A shell that starts a child shell which starts `sleep 300`: the kill must
# reach the grandchild too.
SLEEP_TREE = (
    "{ sh -c 'sleep 300 & echo $! > grandchild.pid; wait' & "
    "echo $! > child.pid; wait; }"
)


def test_timeout_kills_process_tree(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "sleep-300-local", SLEEP_TREE, tmp_path)
    exec_task(cfg_dir, "after-sleep", "touch after.ran", tmp_path)
    batch_task(
        cfg_dir,
        "timeout-batch",
        [
            {"order_id": 1, "task_id": "sleep-300-local", "timeout": 2},
            {"order_id": 2, "task_id": "after-sleep", "dependencies": [1]},
        ],
    )
    batch_obj = make_batch(cfg_dir, "timeout-batch")
    assert batch_obj.run() is False
    child = wait_pid(tmp_path / "child.pid")
    grandchild = wait_pid(tmp_path / "grandchild.pid")
    assert wait_for(lambda: not pid_alive(child))
    assert wait_for(lambda: not pid_alive(grandchild))
    assert not (tmp_path / "after.ran").exists()
    assert batch_obj.task_order_tree[1]["status"] == "TIMED_OUT"
    assert batch_obj.task_order_tree[1]["result"] is False
    assert batch_obj.task_order_tree[2]["status"] == "NOT_STARTED"

    text = log_path("timeout-batch", "B", "_failed").read_text()
    for line in (
        "Task 1 (sleep-300-local) has timed out",
        "Sending kill event to task 1 (sleep-300-local)",
        "Task 1 (sleep-300-local) has been killed",
        "ORDER_ID::1::TASK::sleep-300-local::FAILED",
        "Batch completed with result False",
        "Batch failed",
    ):
        assert line in text
    step_log = log_path("sleep-300-local", "E", "_failed").read_text()
    assert "Kill event received, stopping threads" in step_log
    assert "Killing remote processes on LOCAL" in step_log


def test_timeout_with_continue_on_fail(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "slow-step", "sleep 300", tmp_path)
    exec_task(cfg_dir, "then-step", "touch then.ran", tmp_path)
    batch_task(
        cfg_dir,
        "timeout-cof-batch",
        [
            {
                "order_id": 1,
                "task_id": "slow-step",
                "timeout": 1,
                "continue_on_fail": True,
            },
            {"order_id": 2, "task_id": "then-step", "dependencies": [1]},
        ],
    )
    assert make_batch(cfg_dir, "timeout-cof-batch").run() is False
    assert (tmp_path / "then.ran").exists()
    text = log_path("timeout-cof-batch", "B", "_failed").read_text()
    assert "Task 1 (slow-step) has timed out" in text
    assert "Task 1 (slow-step) has failed, but continuing on fail" in text


def test_timeout_stops_transfer_file_watch(cfg_dir: Path, tmp_path: Path):
    write_json(
        cfg_dir / "filewatch-local-300.json",
        {
            "type": "transfer",
            "source": {
                "directory": str(tmp_path),
                "fileRegex": "never-appears.txt",
                "fileWatch": {"timeout": 300},
                "protocol": {"name": "local"},
            },
        },
    )
    batch_task(
        cfg_dir,
        "watch-timeout-batch",
        [{"order_id": 1, "task_id": "filewatch-local-300", "timeout": 1}],
    )
    batch_obj = make_batch(cfg_dir, "watch-timeout-batch")
    assert batch_obj.run() is False
    text = log_path("watch-timeout-batch", "B", "_failed").read_text()
    assert "Task 1 (filewatch-local-300) has timed out" in text
    assert "Task 1 (filewatch-local-300) has been killed" in text
    assert log_path("filewatch-local-300", "T", "_failed").exists()


def test_nested_batch_timeout_propagates(cfg_dir: Path, tmp_path: Path):
    exec_task(cfg_dir, "nested-sleeper", SLEEP_TREE, tmp_path)
    batch_task(cfg_dir, "sleepy-inner", [{"order_id": 1, "task_id": "nested-sleeper"}])
    batch_task(
        cfg_dir,
        "sleepy-outer",
        [{"order_id": 1, "task_id": "sleepy-inner", "timeout": 2}],
    )
    batch_obj = make_batch(cfg_dir, "sleepy-outer")
    assert batch_obj.run() is False
    grandchild = wait_pid(tmp_path / "grandchild.pid")
    assert wait_for(lambda: not pid_alive(grandchild))
    inner = log_path("sleepy-inner", "B", "_failed").read_text()
    assert "Kill event received, stopping threads" in inner
    assert "Task 1 (nested-sleeper) has been killed" in inner
    assert log_path("nested-sleeper", "E", "_failed").exists()
    outer = log_path("sleepy-outer", "B", "_failed").read_text()
    assert "Task 1 (sleepy-inner) has timed out" in outer


def _mutual_wait(cfg: Path, workdir: Path) -> None:
    # Two steps that each wait for the other's marker: they only both finish
    # when they run at the same time.
    exec_task(
        cfg,
        "mutual-a",
        "touch a.marker; while [ ! -f b.marker ]; do sleep 0.05; done",
        workdir,
    )
    exec_task(
        cfg,
        "mutual-b",
        "touch b.marker; while [ ! -f a.marker ]; do sleep 0.05; done",
        workdir,
    )


def test_concurrency_cap_one_serialises(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OTF_BATCH_MAX_CONCURRENCY", "1")
    _mutual_wait(cfg_dir, tmp_path)
    batch_task(
        cfg_dir,
        "capped-batch",
        [
            {"order_id": 1, "task_id": "mutual-a", "timeout": 2},
            {"order_id": 2, "task_id": "mutual-b", "timeout": 20},
        ],
    )
    batch_obj = make_batch(cfg_dir, "capped-batch")
    assert batch_obj.run() is False
    # Step 2 could not start until step 1 had been stopped; by then a.marker
    # existed, so step 2 succeeded on its own.
    assert batch_obj.task_order_tree[1]["status"] == "TIMED_OUT"
    assert batch_obj.task_order_tree[2]["status"] == "COMPLETED"
    text = log_path("capped-batch", "B", "_failed").read_text()
    assert text.index("Task 1 (mutual-a) has been killed") < text.index(
        "Spawned thread for task 2 (mutual-b)"
    )


def test_concurrency_cap_two_allows_pairs_only(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OTF_BATCH_MAX_CONCURRENCY", "2")
    _mutual_wait(cfg_dir, tmp_path)
    running = tmp_path / "running"
    running.mkdir()
    # Each counter step records how many steps are inside the critical
    # section while it is, and stays there until it has seen a partner or
    # its own bounded wait ends.
    counter = (
        "touch running/$$; ls running | wc -l >> counts.txt; "
        "i=0; while [ $i -lt 10 ]; do sleep 0.05; i=$((i+1)); done; "
        "ls running | wc -l >> counts.txt; rm running/$$"
    )
    for n in range(4):
        exec_task(cfg_dir, f"counter-{n}", counter, tmp_path)
    batch_task(
        cfg_dir,
        "pair-batch",
        [
            {"order_id": 1, "task_id": "mutual-a", "timeout": 20},
            {"order_id": 2, "task_id": "mutual-b", "timeout": 20},
        ]
        + [{"order_id": 3 + n, "task_id": f"counter-{n}"} for n in range(4)],
    )
    assert make_batch(cfg_dir, "pair-batch").run() is True
    counts = [int(c) for c in (tmp_path / "counts.txt").read_text().split()]
    assert len(counts) == 8
    assert max(counts) <= 2


def test_invalid_concurrency_value_is_ignored(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OTF_BATCH_MAX_CONCURRENCY", "lots")
    _mutual_wait(cfg_dir, tmp_path)
    batch_task(
        cfg_dir,
        "uncapped-batch",
        [
            {"order_id": 1, "task_id": "mutual-a", "timeout": 20},
            {"order_id": 2, "task_id": "mutual-b", "timeout": 20},
        ],
    )
    assert make_batch(cfg_dir, "uncapped-batch").run() is True
    text = log_path("uncapped-batch", "B").read_text()
    assert "Ignoring OTF_BATCH_MAX_CONCURRENCY='lots'" in text
