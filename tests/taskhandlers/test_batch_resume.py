"""Resuming a failed batch from the markers in its previous log."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest
from batch_helpers import (
    log_path,
    logs_of,
    make_batch,
    new_prefix,
)

from support.flow import batch_task, exec_task

pytestmark = pytest.mark.usefixtures("debug_logging")


def _touch_then_fail(cfg: Path, workdir: Path, **step_one: object) -> None:
    exec_task(cfg, "touch-step", "touch touched.txt", workdir)
    # Fails until allow.txt exists.
    exec_task(cfg, "fail-command", "test -f allow.txt", workdir)
    batch_task(
        cfg,
        "resume-batch",
        [
            {"order_id": 1, "task_id": "touch-step", **step_one},
            {"order_id": 2, "task_id": "fail-command", "dependencies": [1]},
        ],
    )


def test_resume_skips_completed_step(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _touch_then_fail(cfg_dir, tmp_path)
    first_prefix = new_prefix(monkeypatch)
    first = make_batch(cfg_dir, "resume-batch")
    assert first.run() is False
    assert log_path("resume-batch", "B", "_failed").exists()
    assert log_path("touch-step", "E").exists()
    assert log_path("fail-command", "E", "_failed").exists()
    (tmp_path / "touched.txt").unlink()

    second_prefix = new_prefix(monkeypatch)
    second = make_batch(cfg_dir, "resume-batch")
    tree = second.task_order_tree
    assert tree[1]["status"] == "COMPLETED"
    assert tree[1]["task_handler"] is None
    assert tree[2]["status"] == "NOT_STARTED"
    assert second.run() is False
    assert not (tmp_path / "touched.txt").exists()
    # No new log for the skipped step; a new one for the rerun step.
    assert [n for n in logs_of("touch-step") if n.startswith(second_prefix)] == []
    assert any(n.startswith(first_prefix) for n in logs_of("touch-step"))
    assert log_path("fail-command", "E", "_failed").exists()
    text = log_path("resume-batch", "B", "_failed").read_text()
    assert (
        f"Found previous log file: logs/resume-batch/{first_prefix}_B_failed.log"
        in (text)
    )
    assert "Parsing previous log file for log marks" in text
    assert "Found log mark: ORDER_ID::1::TASK::touch-step::COMPLETED" in text
    assert (
        "Task resume-batch succeeded last time, and is not marked to be rerun, "
        "so marking as complete" in text
    )
    # The mark is logged again, so this log can itself be resumed from.
    assert "__OTF_BATCH_TASK_MARKER__: ORDER_ID::1::TASK::touch-step::COMPLETED" in (
        text
    )

    # Third run, from the second run's log: step 1 still skipped, step 2 passes.
    (tmp_path / "allow.txt").touch()
    new_prefix(monkeypatch)
    third = make_batch(cfg_dir, "resume-batch")
    assert third.task_order_tree[1]["status"] == "COMPLETED"
    assert third.run() is True
    assert not (tmp_path / "touched.txt").exists()
    assert log_path("resume-batch", "B").exists()

    # The latest run succeeded: a new run starts from scratch.
    new_prefix(monkeypatch)
    fourth = make_batch(cfg_dir, "resume-batch")
    assert [e["status"] for e in fourth.task_order_tree.values()] == [
        "NOT_STARTED",
        "NOT_STARTED",
    ]
    assert fourth.run() is True
    assert (tmp_path / "touched.txt").exists()
    assert "No previous log file found" in log_path("resume-batch", "B").read_text()


def test_retry_on_rerun_runs_completed_step_again(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _touch_then_fail(cfg_dir, tmp_path, retry_on_rerun=True)
    new_prefix(monkeypatch)
    assert make_batch(cfg_dir, "resume-batch").run() is False
    (tmp_path / "touched.txt").unlink()

    new_prefix(monkeypatch)
    second = make_batch(cfg_dir, "resume-batch")
    assert second.task_order_tree[1]["status"] == "NOT_STARTED"
    assert second.task_order_tree[1]["retry_on_rerun"] is True
    assert second.run() is False
    assert (tmp_path / "touched.txt").exists()
    text = log_path("resume-batch", "B", "_failed").read_text()
    assert "Task resume-batch succeeded last time, but is marked to be rerun" in text


def test_resume_only_same_day_unless_date_given(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _touch_then_fail(cfg_dir, tmp_path)
    new_prefix(monkeypatch, datetime.date(2020, 1, 2))
    assert make_batch(cfg_dir, "resume-batch").run() is False

    new_prefix(monkeypatch)
    today = make_batch(cfg_dir, "resume-batch")
    assert today.task_order_tree[1]["status"] == "NOT_STARTED"
    # Today's new log is still _running, so it is never a candidate.

    monkeypatch.setenv("OTF_BATCH_RESUME_LOG_DATE", "20200102")
    new_prefix(monkeypatch)
    resumed = make_batch(cfg_dir, "resume-batch")
    assert resumed.task_order_tree[1]["status"] == "COMPLETED"
    assert resumed.task_order_tree[2]["status"] == "NOT_STARTED"


def test_stale_log_is_resumed_only_when_enabled(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _touch_then_fail(cfg_dir, tmp_path)
    new_prefix(monkeypatch)
    assert make_batch(cfg_dir, "resume-batch").run() is False
    # Pretend that run crashed: its log was never renamed, and is old.
    failed = log_path("resume-batch", "B", "_failed")
    crashed = log_path("resume-batch", "B", "_running")
    failed.rename(crashed)
    old = time.time() - 600
    os.utime(crashed, (old, old))

    new_prefix(monkeypatch)
    ignored = make_batch(cfg_dir, "resume-batch")
    assert ignored.task_order_tree[1]["status"] == "NOT_STARTED"
    # (Its own fresh _running log is too new to count as stale below.)

    monkeypatch.setenv("OTF_STALE_RUNNING_LOG_SECONDS", "300")
    new_prefix(monkeypatch)
    resumed = make_batch(cfg_dir, "resume-batch")
    assert resumed.task_order_tree[1]["status"] == "COMPLETED"
    assert resumed.task_order_tree[2]["status"] == "NOT_STARTED"
    assert resumed.run() is False
    assert f"Found previous log file: {crashed}" in (
        log_path("resume-batch", "B", "_failed").read_text()
    )
