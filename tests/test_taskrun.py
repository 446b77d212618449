"""TaskRun in process: loading, dispatch, noop, validation, logs, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opentaskpy import taskrun
from support.helpers import local_exec, write_json


@pytest.fixture(autouse=True)
def _log_everything(monkeypatch):
    # Nothing configures the root logger in process: make task loggers log.
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("OTF_LOG_RUN_PREFIX", "20260101-000000.000")


def wrapper_logs(workdir: Path, task_id: str) -> list[str]:
    return sorted(p.name for p in (workdir / "logs" / task_id).glob("*WRAPPER*.log"))


def test_constant():
    assert taskrun.GLOBAL_VERBOSITY == 1


def test_constructor_attributes(cfg_dir):
    run = taskrun.TaskRun("some-task", str(cfg_dir))
    assert run.task_id == "some-task"
    assert run.config_dir == str(cfg_dir)
    assert run.active_task_definition is None
    assert run.noop is False
    assert run.config_loader.config_dir == str(cfg_dir)
    assert run.logger.name == "opentaskpy.taskrun.some-task"


def test_constructor_propagates_variables_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any variables"):
        taskrun.TaskRun("x", str(tmp_path))


def test_run_execution_success(cfg_dir, isolated_env):
    marker = isolated_env / "ran.txt"
    path = write_json(cfg_dir / "touch.json", local_exec(f"touch {marker}"))
    run = taskrun.TaskRun("touch", str(cfg_dir))
    assert run.run() is True
    assert marker.exists()
    assert run.active_task_definition["command"] == f"touch {marker}"
    assert run.task_file == str(path)
    assert run.failure_reason is None
    assert wrapper_logs(isolated_env, "touch") == ["20260101-000000.000_WRAPPER.log"]
    text = (
        isolated_env / "logs" / "touch" / "20260101-000000.000_WRAPPER.log"
    ).read_text()
    assert "Starting task of type Execution" in text
    assert "Task completed with result: True" in text


def test_run_execution_failure(cfg_dir, isolated_env):
    write_json(cfg_dir / "fail.json", local_exec("exit 1"))
    assert taskrun.TaskRun("fail", str(cfg_dir)).run() is False
    assert wrapper_logs(isolated_env, "fail") == [
        "20260101-000000.000_WRAPPER_failed.log"
    ]


def test_missing_task_raises(cfg_dir):
    run = taskrun.TaskRun("nope", str(cfg_dir))
    with pytest.raises(FileNotFoundError, match="Couldn't find task with name: nope"):
        run.run()


def test_no_type(cfg_dir, isolated_env):
    definition = local_exec("true")
    del definition["type"]
    path = write_json(cfg_dir / "x.json", definition)
    run = taskrun.TaskRun("x", str(cfg_dir))
    assert run.run() is False
    assert run.failure_reason.startswith(f"{path}: type: missing required field")
    # Early return: the WRAPPER log is not closed.
    logs = wrapper_logs(isolated_env, "x")
    assert logs == ["20260101-000000.000_WRAPPER_running.log"]
    text = (isolated_env / "logs" / "x" / logs[0]).read_text()
    assert "Invalid task configuration. Cannot continue" in text


def test_unknown_type(cfg_dir, isolated_env):
    definition = local_exec("true")
    definition["type"] = "other"
    write_json(cfg_dir / "x.json", definition)
    run = taskrun.TaskRun("x", str(cfg_dir))
    assert run.run() is False
    logs = wrapper_logs(isolated_env, "x")
    assert logs == ["20260101-000000.000_WRAPPER_failed.log"]
    text = (isolated_env / "logs" / "x" / logs[0]).read_text()
    assert "Unknown task type!" in text
    assert "Task completed with result: False" in text


def test_noop(cfg_dir, isolated_env):
    marker = isolated_env / "ran.txt"
    write_json(cfg_dir / "touch.json", local_exec(f"touch {marker}"))
    run = taskrun.TaskRun("touch", str(cfg_dir), noop=True)
    assert run.run() is True
    assert not marker.exists()
    logs = wrapper_logs(isolated_env, "touch")
    assert logs == ["20260101-000000.000_WRAPPER_running.log"]
    assert (
        "Noop set, exiting" in (isolated_env / "logs" / "touch" / logs[0]).read_text()
    )


def test_schema_invalid(cfg_dir, isolated_env, capsys):
    definition = local_exec("true")
    definition["unexpected"] = True
    path = write_json(cfg_dir / "x.json", definition)
    run = taskrun.TaskRun("x", str(cfg_dir))
    assert run.run() is False
    assert run.failure_reason.startswith(f"{path}: $")
    assert "unexpected" in run.failure_reason
    assert "unexpected" in capsys.readouterr().out
    text = (
        isolated_env / "logs" / "x" / wrapper_logs(isolated_env, "x")[0]
    ).read_text()
    assert "JSON format does not match schema" in text
    assert run.failure_reason in text


def test_batch_noop_validates_only_batch_document(cfg_dir):
    batch = {"type": "batch", "tasks": [{"order_id": 1, "task_id": "not-there"}]}
    write_json(cfg_dir / "b.json", batch)
    assert taskrun.TaskRun("b", str(cfg_dir), noop=True).run() is True


def test_secret_global_variable_masked_in_logs(cfg_dir, isolated_env):
    write_json(cfg_dir / "variables.json.j2", {"DB_PASSWORD": "hunter2-secret"})
    (cfg_dir / "echo.json").write_text(json.dumps(local_exec("echo {{ DB_PASSWORD }}")))
    assert taskrun.TaskRun("echo", str(cfg_dir)).run() is True
    texts = [p.read_text() for p in (isolated_env / "logs").rglob("*.log")]
    assert texts
    assert not any("hunter2-secret" in t for t in texts)
    assert any("********" in t for t in texts)


def test_secret_in_definition_masked_in_logs(cfg_dir, isolated_env):
    # A secret nested at depth in the task definition itself.
    definition = {
        "type": "transfer",
        "source": {
            "directory": str(isolated_env / "src"),
            "fileRegex": "nothing-matches",
            "protocol": {"name": "local", "credentials": {"token": "tok-abcdef-99"}},
        },
    }
    write_json(cfg_dir / "t.json", definition)
    run = taskrun.TaskRun("t", str(cfg_dir))
    assert run.run() is False  # schema: local has no credentials
    run.logger.error("value is tok-abcdef-99")
    texts = [p.read_text() for p in (isolated_env / "logs").rglob("*.log")]
    assert any("value is ********" in t for t in texts)
    assert not any("tok-abcdef-99" in t for t in texts)
