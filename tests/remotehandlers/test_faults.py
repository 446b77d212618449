"""Faults through the real CLI: a server dying mid-transfer and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.helpers import local_source, transfer_def, write_json
from support.ssh_helpers import (
    cli_env,
    remote_dest,
    remote_source,
    upload_to_killed_sftp,
)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "ERROR" in line or "Error" in line]


def test_sftp_server_killed_mid_transfer(
    ssh_env, dirs, tmp_path, task_run, cfg_dir, ssh_client_env
):
    result, killed, payload = upload_to_killed_sftp(
        ssh_env,
        lambda task: task_run("-t", task, "-c", cfg_dir, env=cli_env(ssh_client_env)),
        cfg_dir,
        tmp_path / "big",
        dirs["dst"],
        "fault-big",
        mib=200,
    )
    assert killed
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert not (dirs["dst"] / "big.bin").exists()
    assert payload.exists() and payload.stat().st_size == 200 * 1024 * 1024
    rerun = task_run("-t", "fault-big", "-c", cfg_dir, env=cli_env(ssh_client_env))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (dirs["dst"] / "big.bin").stat().st_size == 200 * 1024 * 1024
    assert os.listdir(dirs["dst"]) == ["big.bin"]  # stale partial cleaned up


def _run_failing(task_run, cfg_dir, env, name, definition):
    env = cli_env(env)
    write_json(cfg_dir / "transfers" / f"{name}.json", definition)
    result = task_run("-t", name, "-c", cfg_dir, env=env, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def _local_src(tmp_path: Path) -> dict:
    src = tmp_path / "s"
    src.mkdir(exist_ok=True)
    (src / "f.txt").write_text("x")
    return local_source(src, r"f\.txt")


#: What the one error line says for each way an SFTP/SSH end is broken.
EXPECTED = {
    "unreachable": "Unable to connect",
    "refused_key": "Authentication failed",
    "wrong_password": "Authentication failed",
    "missing_dir": "does not exist",
    "permission_denied": "Permission denied",
}


def _break_end(ssh_env, spec: dict, case: str, tmp_path: Path) -> None:
    """Break an SFTP/SSH end: closed port, refused key, wrong password, no dir.

    ``permission_denied`` is left to the test (the directory to lock differs).
    """
    if case == "unreachable":
        spec["protocol"]["port"] = 1
    elif case == "refused_key":
        other = tmp_path / "other_key"
        import paramiko

        paramiko.RSAKey.generate(2048).write_private_key_file(str(other))
        spec["protocol"]["credentials"]["keyFile"] = str(other)
    elif case == "wrong_password":
        if not ssh_env.password:
            pytest.skip("password authentication needs the root-created test user")
        spec["protocol"]["credentials"] = {
            "username": ssh_env.user,
            "password": "wrong-password",
        }
    elif case == "missing_dir":
        spec["directory"] = f"{spec['directory']}/absent"


@pytest.mark.parametrize(
    "case",
    [
        "unreachable",
        "refused_key",
        "wrong_password",
        "missing_dir",
        "permission_denied",
    ],
)
def test_one_clear_error_line(
    ssh_env, dirs, tmp_path, task_run, cfg_dir, ssh_client_env, case
):
    dest = remote_dest(ssh_env, "sftp", dirs["dst"])
    expected = EXPECTED[case]
    _break_end(ssh_env, dest, case, tmp_path)
    if case == "permission_denied":
        if not ssh_env.created_user:
            pytest.skip("permission checks need an unprivileged test user")
        locked = ssh_env.make_dir(dirs["dst"].parent.name, "locked")
        os.chown(locked, 0, 0)
        locked.chmod(0o755)
        dest["directory"] = str(locked)
    dest["protocol"]["retry"] = False
    result = _run_failing(
        task_run,
        cfg_dir,
        ssh_client_env,
        f"fault-{case}",
        transfer_def(_local_src(tmp_path), dest),
    )
    handler_errors = [
        line
        for line in result.stderr.splitlines()
        if " ERROR - opentaskpy.remotehandlers." in line
    ]
    assert len(handler_errors) == 1, result.stderr
    assert expected.lower() in handler_errors[0].lower()
    assert result.stderr.count("Push of files to destination errored") == 1


def open_logs() -> str:
    return "".join(p.read_text() for p in Path("logs").rglob("*.log"))


# ssh accepts no password (schema), so wrong_password is an SFTP-only case.
SOURCE_FAULTS = [
    (protocol, case)
    for protocol in ("ssh", "sftp")
    for case in (
        "unreachable",
        "refused_key",
        "wrong_password",
        "missing_dir",
        "permission_denied",
    )
    if not (protocol == "ssh" and case == "wrong_password")
]


@pytest.mark.parametrize(("protocol", "case"), SOURCE_FAULTS)
def test_source_faults_one_clear_error(
    ssh_env, dirs, tmp_path, task_run, cfg_dir, ssh_client_env, case, protocol
):
    host = "ssh1" if protocol == "ssh" else "sftp"
    ssh_env.write_file(dirs["src"] / "f.txt", "x")
    source = remote_source(ssh_env, host, dirs["src"], r"f\.txt")
    expected = {**EXPECTED, "unreachable": "Unable to connect to port 1"}[case]
    _break_end(ssh_env, source, case, tmp_path)
    if case == "permission_denied":
        if not ssh_env.created_user:
            pytest.skip("permission checks need an unprivileged test user")
        dirs["src"].chmod(0o000)
        os.chown(dirs["src"], 0, 0)
    local = tmp_path / "local"
    local.mkdir()
    result = _run_failing(
        task_run,
        cfg_dir,
        ssh_client_env,
        f"srcfault-{protocol}-{case}",
        transfer_def(source, {"directory": str(local), "protocol": {"name": "local"}}),
    )
    task_errors = [
        line.split(" \u2014 ", 2)[-1]
        for line in result.stderr.splitlines()
        if " ERROR - " in line and ".cli." not in line
    ]
    # One line names the cause; at most one more gives the task's outcome.
    cause = [line for line in task_errors if expected.lower() in line.lower()]
    assert len(cause) == 1, result.stderr
    assert len(task_errors) <= 2, result.stderr
    assert len(set(task_errors)) == len(task_errors), result.stderr
    if case == "unreachable":  # an exception out of run(): the CLI's own line
        cli_lines = [
            line for line in result.stderr.splitlines() if line.startswith("task-run:")
        ]
        assert len(cli_lines) == 1, result.stderr
        assert f"srcfault-{protocol}-{case}.json" in cli_lines[0]
        assert expected in cli_lines[0]
    assert os.listdir(local) == []
    log = open_logs()
    assert expected.lower() in log.lower()
