"""What a task-run records, read back with ``otf-runs --json`` (SQLite)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

from support.flow import batch_task
from support.helpers import write_json
from support.runs_helpers import otf_runs, otf_runs_json, runs_env, write_execution


def _iso_epoch(text: str) -> float:
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def test_successful_run_fields(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    db = tmp_path / "runs.sqlite3"
    write_execution(cfg_dir, "hello", "echo hi")
    before = time.time()
    result = task_run(
        "-t", "hello", "-c", cfg_dir, "-r", "nightly-1", env={"OTF_RUNS_DB": str(db)}
    )
    assert result.returncode == 0, result.stderr
    env = runs_env(db)
    [record] = otf_runs_json(env, "history")
    assert record["run_id"] == "nightly-1"
    assert record["id"] != "nightly-1" and record["id"]
    assert record["parent_id"] is None and record["order_id"] is None
    assert record["task_id"] == "hello"
    assert record["task_type"] == "execution"
    assert record["config_dir"] == str(cfg_dir)
    definition = json.loads((cfg_dir / "hello.json").read_text())
    assert len(record["definition_sha256"]) == 64
    assert record["host"] == os.uname().nodename
    assert isinstance(record["pid"], int) and record["pid"] != os.getpid()
    assert record["user"]
    assert _iso_epoch(record["started"]) >= int(before) - 1
    assert _iso_epoch(record["ended"]) >= _iso_epoch(record["started"])
    assert record["duration"] > 0
    assert record["outcome"] == "success" and record["status"] == "success"
    assert record["error_class"] is None and record["reason"] is None
    assert record["log_file"].endswith("_E_hello.log")
    assert Path(record["log_file"]).exists()
    assert record["stall_limit"] == 3600
    assert isinstance(record["progress"], dict)
    assert record["kill_requested_by"] is None
    # show by run id gives the same record (and no steps)
    shown = otf_runs_json(env, "show", "nightly-1")
    assert shown["id"] == record["id"] and shown["steps"] == []
    assert definition["command"] == "echo hi"


def test_failure_and_batch_steps(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    db = tmp_path / "runs.sqlite3"
    write_execution(cfg_dir, "ok", "true")
    write_execution(cfg_dir, "boom", "exit 3")
    batch_task(
        cfg_dir,
        "b",
        [
            {"order_id": 1, "task_id": "ok"},
            {"order_id": 2, "task_id": "boom", "dependencies": [1], "timeout": 77},
        ],
    )
    result = task_run("-t", "b", "-c", cfg_dir, env={"OTF_RUNS_DB": str(db)})
    assert result.returncode == 1
    env = runs_env(db)
    [batch] = otf_runs_json(env, "history", "--task", "b")
    assert batch["outcome"] == "failed" and batch["task_type"] == "batch"
    assert "return code 3" in batch["reason"] and "\n" not in batch["reason"]
    assert batch["error_class"] == "execution"  # as its failed step
    shown = otf_runs_json(env, "show", batch["id"])
    steps = {step["order_id"]: step for step in shown["steps"]}
    assert set(steps) == {1, 2}
    assert steps[1]["task_id"] == "ok" and steps[1]["outcome"] == "success"
    assert steps[2]["task_id"] == "boom" and steps[2]["outcome"] == "failed"
    assert steps[2]["stall_limit"] == 77
    assert steps[2]["error_class"] == "execution"
    assert "return code 3" in steps[2]["reason"]
    assert steps[1]["error_class"] is None and steps[1]["reason"] is None
    for step in steps.values():
        assert step["parent_id"] == batch["id"]
        assert step["run_id"] == batch["run_id"]
        assert step["id"] == f"{batch['id']}.{step['order_id']}"
        assert step["duration"] is not None and step["ended"]
    assert steps[2]["log_file"].endswith("_E_failed.log")
    # history hides steps unless asked; filters combine
    assert len(otf_runs_json(env, "history", "--steps")) == 3
    assert otf_runs_json(env, "history", "--outcome", "success") == []
    assert otf_runs_json(env, "history", "--host", "elsewhere") == []
    assert len(otf_runs_json(env, "history", "--since", "1h")) == 1
    table = otf_runs(env, "history").stdout
    assert "TASK" in table.splitlines()[0] and "b" in table


def test_configuration_failure_recorded(
    cfg_dir: Path, tmp_path: Path, task_run
) -> None:
    db = tmp_path / "runs.sqlite3"
    write_json(cfg_dir / "bad.json", {"type": "execution", "nonsense": 1})
    result = task_run("-t", "bad", "-c", cfg_dir, env={"OTF_RUNS_DB": str(db)})
    assert result.returncode == 1
    [record] = otf_runs_json(runs_env(db), "history")
    assert record["outcome"] == "failed"
    assert record["error_class"] == "configuration"
    assert "bad.json" in record["reason"]


def test_no_secret_is_stored(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    db = tmp_path / "runs.sqlite3"
    (cfg_dir / "variables.json.j2").write_text(
        json.dumps({"db_password": "S3cretValue99"})
    )
    # A schema violation quotes the offending value in the error line.
    write_json(cfg_dir / "leak.json", {"type": "execution", "x": "{{ db_password }}"})
    result = task_run("-t", "leak", "-c", cfg_dir, env={"OTF_RUNS_DB": str(db)})
    assert result.returncode == 1
    [record] = otf_runs_json(runs_env(db), "history")
    assert '"x": "********"' in record["reason"]
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert "S3cretValue99" not in dump


def test_off_records_nothing(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    write_execution(cfg_dir, "hello", "true")
    result = task_run("-t", "hello", "-c", cfg_dir, env={"OTF_RUNS_DB": "off"})
    assert result.returncode == 0
    status = otf_runs(runs_env("off"), "status")
    assert status.returncode == 1
    assert (
        status.stderr.strip()
        == "otf-runs: error: run records are off (OTF_RUNS_DB=off)"
    )


def test_default_store_is_under_xdg_state_home(cfg_dir: Path, task_run) -> None:
    write_execution(cfg_dir, "hello", "true")
    assert task_run("-t", "hello", "-c", cfg_dir).returncode == 0
    default = Path(os.environ["XDG_STATE_HOME"]) / "opentaskpy" / "runs.sqlite3"
    with sqlite3.connect(default) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (
            conn.execute(
                "SELECT count(*) FROM otf_runs WHERE config_dir = ?", (str(cfg_dir),)
            ).fetchone()[0]
            == 1
        )
    assert socket.gethostname()


def test_tables_fit_the_terminal(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    db = tmp_path / "runs.sqlite3"
    write_json(cfg_dir / "wide.json", {"type": "execution", "nonsense": "x" * 200})
    task_run("-t", "wide", "-c", cfg_dir, env={"OTF_RUNS_DB": str(db)})
    env = {**runs_env(db), "COLUMNS": "100"}
    lines = otf_runs(env, "history").stdout.splitlines()
    assert lines[0].split() == [
        "TASK",
        "RUN",
        "ID",
        "HOST",
        "PID",
        "STATUS",
        "STARTED",
        "DURATION",
        "ERROR",
    ]
    assert len(lines) == 2
    assert all(len(line) <= 100 for line in lines)
    assert lines[1].endswith("…")


def test_foreach_instances_recorded(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    db = tmp_path / "runs.sqlite3"
    write_execution(cfg_dir, "region", "test {{ item }} != bad")
    batch_task(
        cfg_dir,
        "regions",
        [{"order_id": 1, "task_id": "region", "foreach": ["eu", "bad"]}],
    )
    result = task_run(
        "-t", "regions", "-c", cfg_dir, "-r", "fe", env={"OTF_RUNS_DB": str(db)}
    )
    assert result.returncode == 1
    shown = otf_runs_json(runs_env(db), "show", "fe")
    by_id = {step["id"].rsplit(".", 1)[-1]: step for step in shown["steps"]}
    assert set(by_id) == {"1#1", "1#2"}
    assert by_id["1#1"]["outcome"] == "success"
    assert by_id["1#2"]["outcome"] == "failed"
    assert by_id["1#2"]["error_class"] == "execution"
    for step in by_id.values():
        assert step["task_id"] == "region" and step["order_id"] == 1
    assert by_id["1#1"]["definition_sha256"] != by_id["1#2"]["definition_sha256"]
    assert by_id["1#2"]["log_file"].endswith("_E_region.2_failed.log")
