"""foreach: one instance per item, under a cap, resumed per instance."""

from __future__ import annotations

from pathlib import Path

from support.flow import batch_log, batch_task, exec_task
from support.helpers import write_json


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def test_foreach_25_items_never_more_than_5(cfg_dir: Path, tmp_path: Path, task_run):
    marks = tmp_path / "marks"
    marks.mkdir()
    write_json(cfg_dir / "variables.json", {"ITEMS": [f"i{n}" for n in range(25)]})
    # Start and end times are written inside the execution, so each recorded
    # interval lies within the time its instance really ran.
    exec_task(
        cfg_dir,
        "per-item",
        "date +%s.%N > {{ item }}.start; sleep 0.2; date +%s.%N > {{ item }}.end",
        marks,
    )
    batch_task(
        cfg_dir,
        "fan-batch",
        [
            {
                "order_id": 1,
                "task_id": "per-item",
                "foreach": "ITEMS",
                "foreach_concurrency": 5,
            }
        ],
    )
    proc = task_run("-t", "fan-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    intervals = []
    for n in range(25):
        start = float((marks / f"i{n}.start").read_text())
        end = float((marks / f"i{n}.end").read_text())
        intervals.append((start, end))
    assert 1 <= _max_overlap(intervals) <= 5
    # Each instance has its own log.
    for n in range(1, 26):
        assert list((Path.cwd() / "logs" / f"per-item.{n}").glob("*_E.log"))
    log = batch_log(Path.cwd(), "fan-batch")
    assert "Task 1 (per-item): 25 of 25 items succeeded (25 needed)" in log
    assert "ORDER_ID::1::ITEM::25::TASK::per-item::COMPLETED" in log


def test_batch_cap_also_limits_instances(cfg_dir: Path, tmp_path: Path, task_run):
    marks = tmp_path / "marks"
    marks.mkdir()
    exec_task(
        cfg_dir,
        "capped",
        "date +%s.%N > {{ item }}.start; sleep 0.2; date +%s.%N > {{ item }}.end",
        marks,
    )
    batch_task(
        cfg_dir,
        "cap-batch",
        [{"order_id": 1, "task_id": "capped", "foreach": "range(8) | list"}],
    )
    proc = task_run(
        "-t", "cap-batch", "-c", cfg_dir, env={"OTF_BATCH_MAX_CONCURRENCY": "2"}
    )
    assert proc.returncode == 0, proc.stderr
    intervals = [
        (
            float((marks / f"{n}.start").read_text()),
            float((marks / f"{n}.end").read_text()),
        )
        for n in range(8)
    ]
    assert 1 <= _max_overlap(intervals) <= 2


def test_rerun_retries_only_the_failed_instance(
    cfg_dir: Path, tmp_path: Path, task_run
):
    # Item "c" fails until allow.txt exists; every run appends what ran.
    exec_task(
        cfg_dir,
        "each",
        "echo {{ item }} >> ran.txt; [ '{{ item }}' != c ] || [ -f allow.txt ]",
        tmp_path,
    )
    exec_task(cfg_dir, "after-each", "touch after.ran", tmp_path)
    batch_task(
        cfg_dir,
        "rerun-batch",
        [
            {"order_id": 1, "task_id": "each", "foreach": ["a", "b", "c", "d"]},
            {"order_id": 2, "task_id": "after-each", "dependencies": [1]},
        ],
    )
    first = task_run("-t", "rerun-batch", "-c", cfg_dir)
    assert first.returncode == 1
    assert sorted((tmp_path / "ran.txt").read_text().split()) == ["a", "b", "c", "d"]
    assert not (tmp_path / "after.ran").exists()
    log = batch_log(Path.cwd(), "rerun-batch")
    assert "Task 1 (each) item 3 has failed" in log
    assert "Task 1 (each): 3 of 4 items succeeded (4 needed)" in log

    (tmp_path / "ran.txt").unlink()
    (tmp_path / "allow.txt").touch()
    second = task_run("-t", "rerun-batch", "-c", cfg_dir)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "ran.txt").read_text().split() == ["c"]
    assert (tmp_path / "after.ran").exists()
    log = batch_log(Path.cwd(), "rerun-batch")
    assert "Task 1 (each) item 1 succeeded last time, so marking it as complete" in log


def test_foreach_at_least_n(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "mostly", "[ {{ item }} -ne 2 ]", tmp_path)
    batch_task(
        cfg_dir,
        "min-batch",
        [
            {
                "order_id": 1,
                "task_id": "mostly",
                "foreach": [1, 2, 3],
                "foreach_min_success": 2,
            }
        ],
    )
    proc = task_run("-t", "min-batch", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert "Task 1 (mostly): 2 of 3 items succeeded (2 needed)" in proc.stderr


def test_foreach_expression_that_is_not_a_list(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "x", "true", tmp_path)
    batch_task(
        cfg_dir, "not-list-batch", [{"order_id": 1, "task_id": "x", "foreach": "42"}]
    )
    proc = task_run("-t", "not-list-batch", "-c", cfg_dir)
    assert proc.returncode == 1
    assert "foreach '42' is not a list (got int)" in proc.stderr
    assert "Traceback" not in proc.stderr
