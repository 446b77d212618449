"""A run store that is corrupt, locked or too new never stops a plain run."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from support.processes import run_task_run
from support.runs_helpers import otf_runs, otf_runs_json, runs_env, write_execution


def _run(cfg: Path, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return run_task_run("-t", "plain", "-c", cfg, cwd=cwd, env=env, timeout=120)


def _warnings(stderr: str) -> list[str]:
    return [
        line for line in stderr.splitlines() if line.startswith("task-run: warning")
    ]


def test_corrupt_file_warns_once_and_runs(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    db = tmp_path / "runs.sqlite3"
    db.write_bytes(b"this is not a database at all" * 200)
    write_execution(cfg_dir, "plain", "true")
    result = _run(cfg_dir, runs_env(db), isolated_env)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert _warnings(result.stderr) == [
        f"task-run: warning: run store {db}: file is not a database (corrupt or "
        "not an SQLite file: move it away to start anew); this run is not recorded"
    ]
    status = otf_runs(runs_env(db), "status")
    assert status.returncode == 1
    assert status.stderr.splitlines() == [
        f"otf-runs: error: run store {db}: file is not a database (corrupt or "
        "not an SQLite file: move it away to start anew)"
    ]
    # the overlap lock does not need the database: it still holds
    assert (tmp_path / "runs.sqlite3.locks").is_dir()


def test_locked_file_warns_once_and_runs(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    db = tmp_path / "runs.sqlite3"
    write_execution(cfg_dir, "plain", "true")
    env = runs_env(db, OTF_RUNS_BUSY_SECONDS="0.5")
    assert _run(cfg_dir, env, isolated_env).returncode == 0  # creates it
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = _run(cfg_dir, env, isolated_env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    [warning] = _warnings(result.stderr)
    assert warning.startswith(f"task-run: warning: run store {db}: database is locked")
    assert len(otf_runs_json(runs_env(db), "history")) == 1


def test_rolling_upgrade_shares_the_database(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    db = tmp_path / "runs.sqlite3"
    write_execution(cfg_dir, "plain", "true")
    env = runs_env(db)
    assert _run(cfg_dir, env, isolated_env).returncode == 0
    # a newer release added a column and moved the schema on, additively
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE otf_runs ADD COLUMN newer_field TEXT")
        conn.execute("UPDATE otf_meta SET value = '2' WHERE key = 'schema_version'")
    result = _run(cfg_dir, env, isolated_env)
    assert result.returncode == 0 and _warnings(result.stderr) == []
    assert len(otf_runs_json(env, "history")) == 2
    # a release that needs a non-additive change raises min_reader_version
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE otf_meta SET value = '2' WHERE key = 'min_reader_version'")
    result = _run(cfg_dir, env, isolated_env)
    assert result.returncode == 0
    assert _warnings(result.stderr) == [
        f"task-run: warning: run store {db}: needs a newer opentaskpy (schema "
        "reader version 2, this release reads 1); this run is not recorded"
    ]


def test_bad_setting_is_one_line(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    write_execution(cfg_dir, "plain", "true")
    env = runs_env(tmp_path / "runs.sqlite3", OTF_LOCK_WAIT="soon")
    result = _run(cfg_dir, env, isolated_env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "task-run: error: environment variable OTF_LOCK_WAIT='soon': "
        "must be a number of seconds"
    )
    assert "Traceback" not in result.stderr


def test_unwritable_place_warns_and_runs(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    db = blocker / "runs.sqlite3"
    write_execution(cfg_dir, "plain", "true")
    result = _run(cfg_dir, runs_env(db), isolated_env)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    warnings = _warnings(result.stderr)
    assert warnings[0].startswith("task-run: warning: overlap lock not taken: ")
    assert warnings[1].startswith(f"task-run: warning: run store {db}: ")
    assert warnings[1].endswith("; this run is not recorded")
    assert len(warnings) == 2
