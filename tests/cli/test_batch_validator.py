"""otf-batch-validator: main() in process, the script and the console entry."""

from __future__ import annotations

import logging
import os

import pytest
from cli_helpers import assert_one_error, run_script

from opentaskpy.cli import batch_validator
from support.flow import run_validator as console
from support.helpers import local_exec, write_json


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    # main() sets OTF_NOOP and CONFIG_PATH for the process (upstream quirk)
    # and configures the root logger: undo all of it after each test.
    monkeypatch.setenv("OTF_NOOP", "placeholder")
    monkeypatch.delenv("OTF_NOOP")
    monkeypatch.setattr(batch_validator, "CONFIG_PATH", batch_validator.CONFIG_PATH)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def make_batch(cfg, tasks, name="batch"):
    return write_json(cfg / f"{name}.json", {"type": "batch", "tasks": tasks})


def make_steps(cfg, *names):
    for name in names:
        write_json(cfg / "steps" / f"{name}.json", local_exec("true"))


def test_valid_batch(cfg_dir, caplog):
    make_steps(cfg_dir, "one", "two")
    make_batch(
        cfg_dir,
        [
            {"order_id": 1, "task_id": "one"},
            {"order_id": 2, "task_id": "two", "dependencies": [1]},
        ],
    )
    caplog.set_level(logging.INFO)
    assert batch_validator.main("batch", None, str(cfg_dir)) is True
    assert "Batch definition is valid" in caplog.messages
    assert any(m.startswith("Batch definition is valid in ") for m in caplog.messages)
    assert os.environ["OTF_NOOP"] == "true"
    # configDir persists as the module default.
    assert str(cfg_dir) == batch_validator.CONFIG_PATH


def test_missing_order_id(cfg_dir, caplog):
    make_steps(cfg_dir, "one", "two")
    make_batch(
        cfg_dir,
        [{"order_id": 1, "task_id": "one"}, {"order_id": 3, "task_id": "two"}],
    )
    assert batch_validator.main("batch", configDir=str(cfg_dir)) is False
    assert "Task 2 is missing from the batch definition" in caplog.messages


def test_undefined_dependency(cfg_dir, caplog):
    make_steps(cfg_dir, "one")
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "one", "dependencies": [5]}])
    assert batch_validator.main("batch", configDir=str(cfg_dir)) is False
    assert "Task 1 has a dependency on task 5 which is not defined" in caplog.messages


def test_invalid_step_names_file_and_field(cfg_dir, caplog):
    make_steps(cfg_dir, "one")
    bad = local_exec("true")
    bad["directory"] = ["not", "a", "string"]
    bad_path = write_json(cfg_dir / "steps" / "bad.json", bad)
    make_batch(
        cfg_dir,
        [{"order_id": 1, "task_id": "one"}, {"order_id": 2, "task_id": "bad"}],
    )
    assert batch_validator.main("batch", configDir=str(cfg_dir)) is False
    assert "JSON format does not match schema" in caplog.messages
    detail = [m for m in caplog.messages if m.startswith(f"{bad_path}: ")]
    assert len(detail) == 1
    assert "directory" in detail[0]


def test_missing_step_raises(cfg_dir):
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "ghost"}])
    with pytest.raises(FileNotFoundError, match="Couldn't find task with name: ghost"):
        batch_validator.main("batch", configDir=str(cfg_dir))


def test_tasks_not_a_list(cfg_dir, caplog):
    path = write_json(cfg_dir / "batch.json", {"type": "batch"})
    assert batch_validator.main("batch", configDir=str(cfg_dir)) is False
    assert f"{path}: tasks: missing or not a list" in caplog.messages


def test_script_valid_and_unknown(cfg_dir, isolated_env):
    make_steps(cfg_dir, "one")
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "one"}])
    ok = run_script("batch_validator", "-t", "batch", "-c", cfg_dir, cwd=isolated_env)
    assert ok.returncode == 0, ok.stderr
    assert "Batch definition is valid" in ok.stderr
    unknown = run_script(
        "batch_validator", "-t", "nope", "-c", cfg_dir, cwd=isolated_env
    )
    assert_one_error(
        unknown, "Couldn't find task with name: nope", prog="otf-batch-validator"
    )


def test_script_invalid_batch_exits_one(cfg_dir, isolated_env):
    make_steps(cfg_dir, "one")
    make_batch(cfg_dir, [{"order_id": 2, "task_id": "one"}])
    proc = run_script("batch_validator", "-t", "batch", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert "Task 1 is missing from the batch definition" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_script_verbosity_levels(cfg_dir, isolated_env):
    make_steps(cfg_dir, "one")
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "one"}])
    proc = run_script(
        "batch_validator", "-t", "batch", "-c", cfg_dir, "-v", "2", cwd=isolated_env
    )
    assert proc.returncode == 0, proc.stderr
    assert " — VERBOSE2 - " in proc.stderr
    assert "Log verbosity: 2" in proc.stderr


def test_script_missing_task_id_is_usage_error(isolated_env):
    proc = run_script("batch_validator", cwd=isolated_env)
    assert proc.returncode == 2
    assert "-t/--taskId" in proc.stderr


def test_console_entry_exit_codes(cfg_dir, isolated_env):
    make_steps(cfg_dir, "one")
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "one"}], name="good")
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "one", "dependencies": [9]}], "bad")
    # Fixed quirk: 0 for valid, 1 for invalid.
    assert console("-t", "good", "-c", cfg_dir, cwd=isolated_env).returncode == 0
    assert console("-t", "bad", "-c", cfg_dir, cwd=isolated_env).returncode == 1
    missing = console("-t", "nope", "-c", cfg_dir, cwd=isolated_env)
    assert_one_error(
        missing, "Couldn't find task with name: nope", prog="otf-batch-validator"
    )


def test_script_step_with_unknown_protocol(cfg_dir, isolated_env):
    step = local_exec("true")
    step["protocol"] = {"name": "telnet"}
    step_path = write_json(cfg_dir / "steps" / "old.json", step)
    make_batch(cfg_dir, [{"order_id": 1, "task_id": "old"}])
    proc = run_script("batch_validator", "-t", "batch", "-c", cfg_dir, cwd=isolated_env)
    assert_one_error(
        proc,
        f"{step_path}: unknown protocol 'telnet' at protocol.name",
        prog="otf-batch-validator",
    )
