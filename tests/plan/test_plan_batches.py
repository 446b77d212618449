"""``task-run --plan`` for batches: start order and what a resume would skip.

The failed runs planned from are real ``task-run`` processes recording into
a real SQLite store (or, with the store off, leaving their logs).
"""

from __future__ import annotations

from pathlib import Path

from support.flow import batch_task, exec_task
from support.plan_helpers import run_plan, tree_snapshot
from support.runs_helpers import otf_runs_json


def _batch(cfg: Path, work: Path) -> None:
    """Steps 1 -> 2 -> 4, 3 on its own, 5 a foreach; 2 and item b fail."""
    exec_task(cfg, "one", "echo x >> one.count", work)
    exec_task(cfg, "two", "echo x >> two.count; [ -f go ]", work)
    exec_task(cfg, "three", "true", work)
    exec_task(cfg, "four", "true", work)
    exec_task(cfg, "each", "[ {{ item }} != b ] || [ -f go ]", work)
    batch_task(
        cfg,
        "nightly",
        [
            {"order_id": 1, "task_id": "one"},
            {"order_id": 2, "task_id": "two", "dependencies": [1]},
            {"order_id": 3, "task_id": "three"},
            {"order_id": 4, "task_id": "four", "dependencies": [2]},
            {"order_id": 5, "task_id": "each", "foreach": ["a", "b", "c"]},
        ],
    )


def _order(plan: dict) -> list[tuple[int, int | None, bool]]:
    return [(s["order_id"], s["wave"], s["skipped_on_resume"]) for s in plan["steps"]]


def test_plan_of_a_failed_batch_shows_what_the_resume_skips(
    cfg_dir, task_run, isolated_env, tmp_path
):
    _batch(cfg_dir, isolated_env)
    env = {"OTF_RUNS_DB": str(tmp_path / "runs.sqlite3")}
    fresh = run_plan(task_run, cfg_dir, "nightly", env)
    assert _order(fresh) == [
        (1, 0, False),
        (3, 0, False),
        (5, 0, False),
        (2, 1, False),
        (4, 2, False),
    ]
    assert fresh["steps"][0]["plan"]["command"] == "echo x >> one.count"
    assert task_run("-t", "nightly", "-c", cfg_dir, env=env).returncode == 1
    history = otf_runs_json(env, "history", "--steps")
    before = tree_snapshot(isolated_env)

    plan = run_plan(task_run, cfg_dir, "nightly", env)

    assert tree_snapshot(isolated_env) == before  # no log, no count
    assert otf_runs_json(env, "history", "--steps") == history  # nothing recorded
    assert plan["resume"]["from"] == "run records"
    assert plan["resume"]["outcome"] == "failed"
    assert _order(plan) == [
        (1, None, True),
        (3, None, True),
        (2, 0, False),
        (5, 0, False),
        (4, 1, False),
    ]
    each = next(s for s in plan["steps"] if s["order_id"] == 5)
    assert [i["skipped_on_resume"] for i in each["instances"]] == [True, False, True]
    assert "plan" not in next(s for s in plan["steps"] if s["order_id"] == 1)

    text = run_plan(task_run, cfg_dir, "nightly", env, as_json=False)
    assert "step 1 (one): skipped on resume" in text
    assert "step 2 (two): wave 0" in text
    assert "item 2 (b):" in text


def test_plan_after_success_skips_nothing(cfg_dir, task_run, isolated_env, tmp_path):
    _batch(cfg_dir, isolated_env)
    (isolated_env / "go").touch()
    env = {"OTF_RUNS_DB": str(tmp_path / "runs.sqlite3")}
    assert task_run("-t", "nightly", "-c", cfg_dir, env=env).returncode == 0
    plan = run_plan(task_run, cfg_dir, "nightly", env)
    assert plan["resume"]["outcome"] == "success"
    assert not any(s["skipped_on_resume"] for s in plan["steps"])


def test_plan_with_the_store_off_reads_the_failed_log(cfg_dir, task_run, isolated_env):
    _batch(cfg_dir, isolated_env)
    env = {"OTF_RUNS_DB": "off"}
    assert task_run("-t", "nightly", "-c", cfg_dir, env=env).returncode == 1
    plan = run_plan(task_run, cfg_dir, "nightly", env)
    assert plan["resume"]["from"] == "log file"
    assert plan["resume"]["log"].endswith("_B_failed.log")
    skipped = {s["order_id"] for s in plan["steps"] if s["skipped_on_resume"]}
    assert skipped == {1, 3}
