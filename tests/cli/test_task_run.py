"""task-run end to end: arguments, exit codes, log files, verbosity, output."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli_helpers import (
    PREFIX,
    assert_one_error,
    error_lines,
    log_files,
    matches,
    run_script,
)

from support.helpers import local_exec, write_json


def test_help_exits_zero(task_run):
    proc = task_run("-h")
    assert proc.returncode == 0
    assert "--taskId" in proc.stdout
    assert "OTF_OVERRIDE_" in proc.stdout
    assert "OTF_LOG_DIRECTORY" in proc.stdout


def test_missing_task_id_is_usage_error(task_run, cfg_dir):
    proc = task_run("-c", cfg_dir)
    assert proc.returncode == 2
    assert "-t/--taskId" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_flag_is_usage_error(task_run, cfg_dir):
    proc = task_run("-t", "x", "-c", cfg_dir, "--bogus")
    assert proc.returncode == 2
    assert "unrecognized arguments: --bogus" in proc.stderr


def test_successful_execution_logs_and_exit_code(task_run, cfg_dir, isolated_env):
    marker = isolated_env / "ran.txt"
    write_json(cfg_dir / "execs" / "touch-it.json", local_exec(f"touch {marker}"))
    proc = task_run("-t", "touch-it", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()
    assert "Starting task of type Execution" in proc.stderr
    assert "Task completed with result: True" in proc.stderr
    assert error_lines(proc.stderr) == []
    assert proc.stdout == ""
    files = log_files(isolated_env)
    wrapper = matches(rf"logs/touch-it/{PREFIX}_WRAPPER\.log", files)
    execution = matches(rf"logs/touch-it/{PREFIX}_E\.log", files)
    assert len(wrapper) == 1 and len(execution) == 1, files
    # One prefix for every file of the process.
    assert Path(wrapper[0]).name[:19] == Path(execution[0]).name[:19]
    assert "Task completed with result: True" in (isolated_env / wrapper[0]).read_text()


def test_preset_run_prefix_is_overwritten(task_run, cfg_dir, isolated_env):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok", "-c", cfg_dir, env={"OTF_LOG_RUN_PREFIX": "preset"})
    assert proc.returncode == 0, proc.stderr
    files = log_files(isolated_env)
    assert not [f for f in files if "preset" in f]
    assert matches(rf"logs/ok/{PREFIX}_WRAPPER\.log", files)


def test_failing_execution_exits_one_with_failed_logs(task_run, cfg_dir, isolated_env):
    write_json(cfg_dir / "fail.json", local_exec("exit 3"))
    proc = task_run("-t", "fail", "-c", cfg_dir)
    assert proc.returncode == 1
    assert "Task completed with result: False" in proc.stderr
    assert "Traceback" not in proc.stderr
    files = log_files(isolated_env)
    assert matches(rf"logs/fail/{PREFIX}_WRAPPER_failed\.log", files), files
    assert matches(rf"logs/fail/{PREFIX}_E_failed\.log", files), files


def test_run_id_groups_logs(task_run, cfg_dir, isolated_env):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok", "-c", cfg_dir, "-r", "nightly")
    assert proc.returncode == 0, proc.stderr
    files = log_files(isolated_env)
    assert matches(rf"logs/nightly/{PREFIX}_WRAPPER_ok\.log", files), files
    assert matches(rf"logs/nightly/{PREFIX}_E_ok\.log", files), files
    assert not (isolated_env / "logs" / "ok").exists()


def test_task_id_with_directory_part(task_run, cfg_dir, isolated_env):
    write_json(cfg_dir / "execs" / "deep.json", local_exec("true"))
    proc = task_run("-t", "execs/deep", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert matches(rf"logs/execs/deep/{PREFIX}_WRAPPER\.log", log_files(isolated_env))


def test_default_config_dir_is_cwd_cfg(task_run, isolated_env):
    cfg = isolated_env / "cfg"
    write_json(cfg / "variables.json.j2", {})
    write_json(cfg / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok")
    assert proc.returncode == 0, proc.stderr


def test_noop_valid_does_not_run(task_run, cfg_dir, isolated_env):
    marker = isolated_env / "ran.txt"
    write_json(cfg_dir / "touch-it.json", local_exec(f"touch {marker}"))
    proc = task_run("-t", "touch-it", "-c", cfg_dir, "--noop")
    assert proc.returncode == 0, proc.stderr
    assert "Noop set, exiting" in proc.stderr
    assert not marker.exists()
    files = log_files(isolated_env)
    # Nothing closes the WRAPPER log in noop mode (upstream quirk).
    assert matches(rf"logs/touch-it/{PREFIX}_WRAPPER_running\.log", files), files
    assert not [f for f in files if "_E" in f]


def test_noop_lookup_returns_noop(task_run, cfg_dir, isolated_env):
    out = isolated_env / "out.txt"
    definition = local_exec(f"echo {{{{ lookup('file', path='/no/such') }}}} > {out}")
    (cfg_dir / "lk.json").write_text(json.dumps(definition))
    proc = task_run("-t", "lk", "-c", cfg_dir, "--noop")
    assert proc.returncode == 0, proc.stderr
    assert "Noop set, exiting" in proc.stderr


def test_noop_invalid_definition(task_run, cfg_dir):
    definition = local_exec("true")
    del definition["directory"]
    definition["bogus"] = 1
    path = write_json(cfg_dir / "bad.json", definition)
    proc = task_run("-t", "bad", "-c", cfg_dir, "--noop")
    line = assert_one_error(proc, str(path), "$")
    assert "JSON format does not match schema" in proc.stderr
    assert "(value:" in line
    # The schema message also goes to stdout.
    assert proc.stdout.strip()
    assert "Noop set" not in proc.stderr


def test_schema_violation_names_file_path_and_value(task_run, cfg_dir):
    definition = local_exec("true")
    definition["directory"] = 42
    path = write_json(cfg_dir / "sub" / "bad-dir.json", definition)
    proc = task_run("-t", "bad-dir", "-c", cfg_dir)
    line = assert_one_error(proc, f"{path}: ", "directory", "42")
    assert "is not of type 'string'" in line
    assert "is not of type 'string'" in proc.stdout


def test_verbosity_1(task_run, cfg_dir):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok", "-c", cfg_dir, "-v", "1")
    assert proc.returncode == 0, proc.stderr
    assert " — VERBOSE1 - " in proc.stderr
    assert "Log verbosity" not in proc.stderr  # logged at VERBOSE2 (11)
    assert " — DEBUG - " not in proc.stderr


def test_verbosity_2(task_run, cfg_dir):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok", "-c", cfg_dir, "-v", "2")
    assert proc.returncode == 0, proc.stderr
    verbosity = [
        line for line in proc.stderr.splitlines() if "Log verbosity: 2" in line
    ]
    assert len(verbosity) == 1
    assert " — VERBOSE2 - opentaskpy.cli.task_run.ok - " in verbosity[0]


def test_verbosity_3_shows_debug_level(task_run, cfg_dir):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    env = {"OTF_LOG_INIT_EVENTS": "1"}  # logs "Logging initialised" at DEBUG
    proc = task_run("-t", "ok", "-c", cfg_dir, "-v", "3", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Log verbosity: 3" in proc.stderr
    assert " — DEBUG - " in proc.stderr
    assert "Logging initialised" in proc.stderr
    quiet = task_run("-t", "ok", "-c", cfg_dir, env=env)
    assert quiet.returncode == 0
    assert " — DEBUG - " not in quiet.stderr


def test_default_verbosity_is_info(task_run, cfg_dir):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok", "-c", cfg_dir, "-v", "7")
    assert proc.returncode == 0, proc.stderr
    assert " — INFO - " in proc.stderr
    assert "VERBOSE" not in proc.stderr


def test_json_logging_on_stderr(task_run, cfg_dir):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = task_run("-t", "ok", "-c", cfg_dir, env={"OTF_LOG_JSON": "1"})
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines() if line]
    assert records
    assert all(r["task_id"] == "ok" for r in records)
    assert any(r["message"] == "Task completed with result: True" for r in records)


def test_json_logging_error_line_is_json(task_run, cfg_dir):
    proc = task_run("-t", "missing", "-c", cfg_dir, env={"OTF_LOG_JSON": "1"})
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stderr.splitlines() if line]
    assert records[-1]["level"] == "ERROR"
    assert records[-1]["message"].startswith("task-run: error: ")
    assert "Couldn't find task with name: missing" in records[-1]["message"]


def test_script_form(cfg_dir, isolated_env):
    write_json(cfg_dir / "ok.json", local_exec("true"))
    proc = run_script(
        "task_run", "-t", "ok", "-c", cfg_dir, "-v", "2", cwd=isolated_env
    )
    assert proc.returncode == 0, proc.stderr
    # The CLI logger is named after __main__ when the file is run directly.
    assert "VERBOSE2 - __main__.ok - " in proc.stderr
    assert matches(rf"logs/ok/{PREFIX}_WRAPPER\.log", log_files(isolated_env))


def test_script_form_error(cfg_dir, isolated_env):
    proc = run_script("task_run", "-t", "nope", "-c", cfg_dir, cwd=isolated_env)
    assert_one_error(proc, "Couldn't find task with name: nope")


def test_noop_env_var_from_cli_reaches_lookups(task_run, cfg_dir, isolated_env):
    # Without --noop the failing lookup is a real error.
    definition = local_exec("echo {{ lookup('file', path='/no/such/file') }}")
    (cfg_dir / "lk.json").write_text(json.dumps(definition))
    proc = task_run("-t", "lk", "-c", cfg_dir)
    assert_one_error(proc, "while trying to run lookup plugin 'file'")
    assert os.environ.get("OTF_NOOP") is None
