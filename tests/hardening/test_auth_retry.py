"""A refused authentication is tried once; key files are checked like OpenSSH.

Attempts are counted in the server's own log: each connection that offered
the wrong key logs ``Failed publickey ... port N ... <fingerprint>``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import paramiko

from support.helpers import local_dest, transfer_def, write_json
from support.ssh_helpers import cli_env, remote_source


def _cli_env(client_env: dict, **extra: str) -> dict:
    env = cli_env(client_env)
    env.pop("OTF_SSH_RETRY_ATTEMPTS", None)  # the default policy (6 attempts)
    env.update(extra)
    return env


def _fingerprint(path: Path) -> str:
    key = paramiko.RSAKey.from_private_key_file(str(path))
    return "SHA256:" + key.fingerprint.split("SHA256:")[-1]


def _write_task(cfg_dir: Path, name: str, source: dict, local: Path) -> None:
    write_json(
        cfg_dir / "transfers" / f"{name}.json", transfer_def(source, local_dest(local))
    )


def _run_with_key(ssh_env, dirs, cfg, task_run, client_env, name, key, local):
    """Pull from ssh1 into ``local``, logging in with the key file ``key``.

    Returns the result and what the server logged meanwhile.
    """
    source = remote_source(ssh_env, "ssh1", dirs["src"], r"x\.txt")
    source["protocol"]["credentials"]["keyFile"] = str(key)
    _write_task(cfg, name, source, local)
    log = ssh_env.hosts["ssh1"].log
    offset = log.stat().st_size
    result = task_run("-t", name, "-c", cfg, env=_cli_env(client_env))
    return result, log.read_bytes()[offset:].decode(errors="replace")


def test_a_refused_key_is_tried_once(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    wrong = tmp_path / "wrong_key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(wrong))
    result, new_lines = _run_with_key(
        ssh_env, dirs, cfg_dir, task_run, ssh_client_env, "auth-once", wrong, tmp_path
    )
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
    fingerprint = _fingerprint(wrong)
    ports = {
        match.group(1)
        for line in new_lines.splitlines()
        if fingerprint in line and "Failed publickey" in line
        for match in [re.search(r" port (\d+) ", line)]
        if match
    }
    assert len(ports) == 1, new_lines[-3000:]


def test_a_connection_failure_is_still_retried(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    source = remote_source(ssh_env, "ssh1", dirs["src"], r"x\.txt")
    source["protocol"]["port"] = 1  # closed loopback port
    _write_task(cfg_dir, "auth-retry-conn", source, tmp_path)
    env = _cli_env(ssh_client_env, OTF_SSH_RETRY_ATTEMPTS="3")
    result = task_run("-t", "auth-retry-conn", "-c", cfg_dir, env=env)
    assert result.returncode != 0
    assert result.stderr.count("Connection attempt failed") == 3, result.stderr


def test_a_key_file_readable_by_others_is_refused(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    ssh_env.write_file(dirs["src"] / "x.txt", "x")
    open_key = tmp_path / "open_key"
    shutil.copy(ssh_env.client_key, open_key)
    open_key.chmod(0o644)
    result, new_lines = _run_with_key(
        ssh_env, dirs, cfg_dir, task_run, ssh_client_env, "key-open", open_key, tmp_path
    )
    assert result.returncode != 0
    assert not (tmp_path / "x.txt").exists()
    refusals = [
        line
        for line in result.stderr.splitlines()
        if "UNPROTECTED PRIVATE KEY FILE" in line
    ]
    assert refusals and str(open_key) in refusals[0], result.stderr
    assert "Traceback" not in result.stderr
    # Refused before connecting: the server never saw the key.
    assert "Accepted publickey" not in new_lines


def test_a_missing_key_file_is_named_in_the_error(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    missing = tmp_path / "keys" / "no_such_key"
    result, _ = _run_with_key(
        ssh_env,
        dirs,
        cfg_dir,
        task_run,
        ssh_client_env,
        "key-missing",
        missing,
        tmp_path,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(missing) in result.stderr, result.stderr
    assert "No such file" in result.stderr
