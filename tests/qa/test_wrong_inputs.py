"""Wrong inputs a new user makes: each is one line naming the value, status 1.

Every case runs the real commands (``task-run``, ``otf-batch-validator``,
``otf-runs``) in subprocesses, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.flow import batch_task, exec_task
from support.flow import run_validator as validator
from support.helpers import local_exec, write_json
from support.runs_helpers import otf_runs, runs_env


def _error_lines(stderr: str) -> list[str]:
    """The lines a user reads: stderr without the log records (`` — ``)."""
    return [line for line in stderr.splitlines() if " — " not in line]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTF_RUNS_HEARTBEAT", "x"),
        ("OTF_RUNS_BUSY_SECONDS", "abc"),
        ("OTF_LOCK", "maybe"),
        ("OTF_RUNS_DB", "mysql://otf:hunter2@db/runs"),
    ],
)
def test_bad_run_store_setting_is_one_line(
    name: str, value: str, cfg_dir: Path, tmp_path: Path, task_run
):
    # Before: a traceback from the heartbeat thread and status 0 (heartbeat),
    # two lines and status 0 (busy), or silently accepted (lock, and a
    # "mysql:" directory holding an SQLite file for the URL).
    write_json(cfg_dir / "hello.json", local_exec("true", str(tmp_path)))
    env = runs_env(tmp_path / "runs.sqlite3", **{name: value})
    run = task_run("-t", "hello", "-c", cfg_dir, env=env)
    assert run.returncode == 1
    lines = _error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"task-run: error: environment variable {name}=")
    assert "Traceback" not in run.stderr
    assert "hunter2" not in run.stderr
    status = otf_runs(env, "status")
    assert status.returncode == 1
    assert status.stderr.startswith(f"otf-runs: error: environment variable {name}=")
    assert "hunter2" not in status.stderr
    assert not list(Path.cwd().glob("mysql*"))


def test_otf_runs_into_a_closed_pipe_is_quiet(tmp_path: Path, isolated_env: Path):
    # Before: `otf-runs history | head -1` ended in a BrokenPipeError traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    env = runs_env(tmp_path / "runs.sqlite3")
    proc = subprocess.run(
        [sys.executable, "-m", "opentaskpy.runs.cli", "history", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=60,
    )
    os.close(write_end)
    assert "Traceback" not in proc.stderr
    assert "BrokenPipe" not in proc.stderr
    assert proc.returncode == 141


def _remote_execution(cfg_dir: Path, key: Path) -> None:
    write_json(
        cfg_dir / "remote.json",
        {
            "type": "execution",
            "hosts": ["127.0.0.1"],
            "directory": "/tmp",
            "command": "true",
            "protocol": {
                "name": "ssh",
                "port": 1,  # closed: nothing here needs a server
                "credentials": {"username": "nobody", "keyFile": str(key)},
            },
        },
    )


def test_bad_ssh_retry_wait_scale_is_named(cfg_dir: Path, tmp_path: Path, task_run):
    # Before: "could not convert string to float: 'soon'", naming nothing.
    import paramiko

    key = tmp_path / "id_rsa"
    paramiko.RSAKey.generate(1024).write_private_key_file(str(key))
    key.chmod(0o600)
    _remote_execution(cfg_dir, key)
    env = runs_env(tmp_path / "runs.sqlite3", OTF_SSH_RETRY_WAIT_SCALE="soon")
    run = task_run("-t", "remote", "-c", cfg_dir, env=env)
    assert run.returncode == 1
    lines = _error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert "environment variable OTF_SSH_RETRY_WAIT_SCALE='soon'" in lines[0]


def test_a_key_file_that_is_no_key_is_named_and_not_retried(
    cfg_dir: Path, tmp_path: Path, task_run
):
    # Before: cryptography's "Unable to load PEM file. See https://..." with
    # no file name, after six attempts over about a minute.
    key = tmp_path / "id_not_a_key"
    key.write_text("this is not a key\n")
    key.chmod(0o600)
    _remote_execution(cfg_dir, key)
    env = runs_env(tmp_path / "runs.sqlite3")
    run = task_run("-t", "remote", "-c", cfg_dir, env=env)
    assert run.returncode == 1
    lines = _error_lines(run.stderr)
    assert len(lines) == 1, run.stderr
    assert f"Private key file {key} cannot be used" in lines[0]
    assert "cryptography.io" not in run.stderr
    assert run.stderr.count("Connection attempt failed") <= 1, run.stderr


def _noop_and_validator(cfg: Path, task_id: str, workdir: Path, task_run) -> list:
    env = runs_env(workdir / "runs.sqlite3")
    return [
        task_run("--noop", "-t", task_id, "-c", cfg, env=env),
        validator("-t", task_id, "-c", cfg, cwd=workdir),
    ]


def test_foreach_on_a_non_list_is_found_before_the_run(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    # Before: both checks said the batch was valid; only the run failed.
    (cfg_dir / "variables.json.j2").write_text('{"REGIONS": 5}')
    exec_task(cfg_dir, "fetch", "true", tmp_path)
    batch = batch_task(
        cfg_dir,
        "by-region",
        [{"order_id": 1, "task_id": "fetch", "foreach": "REGIONS"}],
    )
    for proc in _noop_and_validator(cfg_dir, "by-region", isolated_env, task_run):
        assert proc.returncode == 1
        assert (
            f"{batch}: step 1 (fetch): foreach 'REGIONS' is not a list (got int)"
            in proc.stderr
        )
        assert "Traceback" not in proc.stderr


def test_foreach_min_success_above_the_items(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    # Before: valid for both checks, and the run's last line was only
    # "Task 1 (fetch) has failed" although every instance succeeded.
    exec_task(cfg_dir, "fetch", "true", tmp_path)
    step = {"order_id": 1, "task_id": "fetch", "foreach": ["eu", "us"]}
    batch = batch_task(cfg_dir, "two", [{**step, "foreach_min_success": 3}])
    for proc in _noop_and_validator(cfg_dir, "two", isolated_env, task_run):
        assert proc.returncode == 1
        assert (
            f"{batch}: step 1 (fetch): foreach_min_success is 3 but foreach "
            "gives 2 item(s)" in proc.stderr
        )
    run = task_run("-t", "two", "-c", cfg_dir, env=runs_env(tmp_path / "r.sqlite3"))
    assert run.returncode == 1
    assert _error_lines(run.stderr) == [
        f"task-run: error: {batch}: Task 1 (fetch): 2 of 2 items succeeded (3 needed)"
    ]


def test_missing_step_task_names_the_batch_once(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    # Before: the validator printed the problem twice (a log record and the
    # error line), both naming "task ghost" instead of the batch file.
    batch = batch_task(cfg_dir, "ghostly", [{"order_id": 1, "task_id": "ghost"}])
    expected = f"{batch}: step 1 (ghost): Couldn't find task with name: ghost"
    noop, checked = _noop_and_validator(cfg_dir, "ghostly", isolated_env, task_run)
    assert noop.returncode == 1
    assert _error_lines(noop.stderr) == [f"task-run: error: {expected}"]
    assert checked.returncode == 1
    assert checked.stderr.count("Couldn't find task with name: ghost") == 1
    assert f"otf-batch-validator: error: {expected}" in checked.stderr
    assert "Traceback" not in noop.stderr + checked.stderr


def test_unknown_dependency_names_the_file_in_noop_and_all(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    # Before: "task-run: error: Task 1 has a dependency on task 7 which is not
    # defined" with no file; with --all over many batches, no way to tell which.
    exec_task(cfg_dir, "a", "true", tmp_path)
    batch = batch_task(
        cfg_dir, "dangling", [{"order_id": 1, "task_id": "a", "dependencies": [7]}]
    )
    line = f"{batch}: Task 1 has a dependency on task 7 which is not defined"
    noop = task_run("--noop", "-t", "dangling", "-c", cfg_dir)
    assert noop.returncode == 1
    assert _error_lines(noop.stderr) == [f"task-run: error: {line}"]
    every = validator("--all", "-c", cfg_dir, cwd=isolated_env)
    assert every.returncode == 1
    assert line in every.stderr


def test_validator_on_a_task_that_is_not_a_batch(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
):
    step = exec_task(cfg_dir, "just-a-step", "true", tmp_path)
    proc = validator("-t", "just-a-step", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert (
        f"{step}: tasks: missing or not a list (its type is execution, not batch)"
        in proc.stderr
    )


def test_task_id_with_its_directory_matches_exactly(
    cfg_dir: Path, tmp_path: Path, task_run
):
    # Before: "-t steps/hello" warned "matches no file name exactly ... its
    # name only ends with the id" for cfg/steps/hello.json.
    write_json(cfg_dir / "steps" / "hello.json", local_exec("true", str(tmp_path)))
    run = task_run(
        "-t", "steps/hello", "-c", cfg_dir, env=runs_env(tmp_path / "r.sqlite3")
    )
    assert run.returncode == 0, run.stderr
    assert "matches no file name exactly" not in run.stderr


def test_list_of_a_missing_config_dir_is_one_line(tmp_path: Path, task_run):
    # Before: a FileNotFoundError traceback from ConfigLoader.
    missing = tmp_path / "no-such-cfg"
    run = task_run("--list", "-c", missing)
    assert run.returncode == 1
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"task-run: error: {missing}")
