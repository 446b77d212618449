"""Exit codes: 1 for every failure by default, one per class when detailed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opentaskpy.cli import exit_codes
from opentaskpy.exceptions import ErrorClass
from support.flow import batch_task
from support.helpers import local_transfer, wait_for, write_json
from support.processes import start_task_run, task_run_env
from support.runs_helpers import write_execution
from support.sshd import _free_port

DETAILED = {"OTF_EXIT_CODES": "detailed", "OTF_SSH_RETRY_ATTEMPTS": "1"}


def _configuration_error(cfg: Path, tmp_path: Path) -> str:
    write_json(
        cfg / "no-command.json",
        {"type": "execution", "protocol": {"name": "local"}, "directory": "/tmp"},
    )
    return "no-command"


def _connection_error(cfg: Path, tmp_path: Path) -> str:
    # Nothing listens on this loopback port: the connection is refused.
    write_json(
        cfg / "unreachable.json",
        {
            "type": "execution",
            "protocol": {
                "name": "ssh",
                "port": _free_port("127.0.0.1"),
                "credentials": {"username": "nobody"},
            },
            "hosts": ["127.0.0.1"],
            "directory": "/tmp",
            "command": "true",
        },
    )
    return "unreachable"


def _no_files(cfg: Path, tmp_path: Path) -> str:
    (tmp_path / "empty").mkdir()
    write_json(
        cfg / "nothing-there.json",
        local_transfer(tmp_path / "empty", r".*\.csv", tmp_path),
    )
    return "nothing-there"


def _failing_execution(cfg: Path, tmp_path: Path) -> str:
    write_execution(cfg, "exits-three", "exit 3")
    return "exits-three"


def _step_timeout(cfg: Path, tmp_path: Path) -> str:
    write_execution(cfg, "sleeps-long", "sleep 60")
    batch_task(
        cfg, "slow-batch", [{"order_id": 1, "task_id": "sleeps-long", "timeout": 1}]
    )
    return "slow-batch"


CASES = {
    "configuration": (_configuration_error, 3),
    "connection": (_connection_error, 4),
    "no_files": (_no_files, 5),
    "execution": (_failing_execution, 7),
    "timeout": (_step_timeout, 8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_detailed_exit_code_per_class(
    case: str, cfg_dir: Path, tmp_path: Path, task_run
) -> None:
    make, code = CASES[case]
    task_id = make(cfg_dir, tmp_path)
    summary = tmp_path / "summary.json"
    proc = task_run("-t", task_id, "-c", cfg_dir, "--summary", summary, env=DETAILED)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(summary.read_text())
    assert (data["error_class"], data["exit_code"]) == (case, code)
    assert exit_codes.DETAILED[ErrorClass(case)] == code

    simple = task_run("-t", task_id, "-c", cfg_dir)
    assert simple.returncode == 1, simple.stderr


def test_connection_error_line_names_the_host(
    cfg_dir: Path, tmp_path: Path, task_run
) -> None:
    task_id = _connection_error(cfg_dir, tmp_path)
    summary = tmp_path / "summary.json"
    proc = task_run("-t", task_id, "-c", cfg_dir, "--summary", summary, env=DETAILED)
    error = json.loads(summary.read_text())["error"]
    assert "[127.0.0.1]" in error, error
    assert proc.stderr.rstrip().splitlines()[-1] == f"task-run: error: {error}"


def test_unknown_exit_code_mode_is_one_clear_line(cfg_dir: Path, task_run) -> None:
    write_execution(cfg_dir, "fine", "true")
    proc = task_run("-t", "fine", "-c", cfg_dir, env={"OTF_EXIT_CODES": "fancy"})
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "task-run: error: environment variable OTF_EXIT_CODES='fancy': "
        "expected 'simple' or 'detailed'"
    )


def test_table_is_distinct_and_clear_of_reserved_codes() -> None:
    codes = [code for cls, code in exit_codes.DETAILED.items() if cls != "error"]
    assert len(set(codes)) == len(codes)
    assert not {0, 2, 129, 130, 143} & set(exit_codes.DETAILED.values())
    every_class = set(ErrorClass) - {ErrorClass.INTERRUPTED}
    assert set(exit_codes.DETAILED) == every_class
    assert exit_codes.exit_code(ErrorClass.CONNECTION, detailed=False) == 1
    assert exit_codes.exit_code(ErrorClass.CONNECTION, signum=15, detailed=True) == 143
    assert exit_codes.exit_code(None, detailed=True) == 0


def test_detailed_exit_code_for_a_run_locked_by_its_twin(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
) -> None:
    write_execution(cfg_dir, "held", f"touch {tmp_path}/started; sleep 60")
    store = {"OTF_RUNS_DB": str(tmp_path / "runs.sqlite3")}
    holder = start_task_run(
        "-t", "held", "-c", cfg_dir, cwd=isolated_env, env=task_run_env(**store)
    )
    try:
        assert wait_for(lambda: (tmp_path / "started").exists())
        summary = tmp_path / "summary.json"
        proc = task_run(
            "-t", "held", "-c", cfg_dir, "--summary", summary, env={**DETAILED, **store}
        )
    finally:
        holder.terminate()
        holder.communicate(timeout=60)
    assert proc.returncode == 9, proc.stderr
    data = json.loads(summary.read_text())
    assert (data["error_class"], data["exit_code"]) == ("locked", 9)
    assert "is already running with the same definition" in data["error"]
