"""SSH failures end with a line that names the host, the operation and the cause."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentaskpy.exceptions import RemoteTransferError
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def, write_json
from support.ssh_faults import files_below, silent_server, small_tmpfs
from support.ssh_helpers import (
    cli_env,
    remote_dest,
    remote_source,
    upload_to_killed_sftp,
)


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line]


@pytest.fixture
def needs_root(ssh_env) -> None:
    """Skip unless the test may mount file systems (root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")


@pytest.mark.parametrize(
    ("source_host", "in_home"),
    [("ssh1", False), ("ssh1", True), ("local", False)],
    ids=["host-to-host", "host-to-host-in-home", "from-worker"],
)
def test_full_destination_disk_says_enospc_and_leaves_nothing(
    ssh_env,
    dirs,
    cfg_dir,
    task_run,
    ssh_client_env,
    needs_host_to_host,
    needs_root,
    source_host,
    in_home,
):
    ssh_env.write_file(dirs["src"] / "big.bin", os.urandom(8 * 1024 * 1024))
    if source_host == "local":
        source = {
            "directory": str(dirs["src"]),
            "fileRegex": r"big\.bin",
            "protocol": {"name": "local"},
        }
    else:
        source = remote_source(ssh_env, source_host, dirs["src"], r"big\.bin")
    full = dirs["dst"] / "full"
    with small_tmpfs(ssh_env, full, "4m"):
        dest = remote_dest(ssh_env, "ssh2", full)
        if in_home:
            dest["stageInHomeDirectory"] = True
        write_json(cfg_dir / "transfers" / "enospc.json", transfer_def(source, dest))
        result = task_run("-t", "enospc", "-c", cfg_dir, env=cli_env(ssh_client_env))
        left = files_below(full)
    assert result.returncode != 0
    host = ssh_env.hosts["ssh2"].address
    assert any(
        host in line and "No space left on device" in line
        for line in _errors(result.stderr)
    ), result.stderr[-3000:]
    assert left == []
    staging = ssh_env.home / "otf" / "enospc"
    assert not staging.exists() or os.listdir(staging) == []


@contextlib.contextmanager
def _transfer_user_knows_no_hosts(ssh_env, tmp_path: Path) -> Iterator[None]:
    """Empty the test user's known_hosts (used by scp on the hosts), then restore."""
    known = ssh_env.home / ".ssh" / "known_hosts"
    saved = tmp_path / "saved_known_hosts"
    had = known.exists()
    if had:
        shutil.copy2(known, saved)
    try:
        ssh_env.write_file(known, "")
        yield
    finally:
        if had:
            shutil.copy2(saved, known)
        else:
            known.unlink(missing_ok=True)


def _strict_h2h(ssh_env, dirs, tmp_path: Path) -> dict:
    """ssh1 -> ssh2 with strict host keys; we know ssh2's key, the hosts do not."""
    ssh_env.write_file(dirs["src"] / "k.txt", "k")
    ours = tmp_path / "our_known_hosts"
    ours.write_text(ssh_env.hosts["ssh2"].host_key_line + "\n")
    dest = remote_dest(ssh_env, "ssh2", dirs["dst"])
    dest["protocol"].update(hostKeyValidation=True, knownHostsFile=str(ours))
    return transfer_def(remote_source(ssh_env, "ssh1", dirs["src"], r"k\.txt"), dest)


def test_host_key_refusal_inside_host_to_host_copy_is_named(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host, tmp_path
):
    write_json(
        cfg_dir / "transfers" / "h2h-hostkey.json", _strict_h2h(ssh_env, dirs, tmp_path)
    )
    with _transfer_user_knows_no_hosts(ssh_env, tmp_path):
        result = task_run(
            "-t", "h2h-hostkey", "-c", cfg_dir, env=cli_env(ssh_client_env)
        )
    assert result.returncode != 0
    dest_host = ssh_env.hosts["ssh2"]
    assert any(
        dest_host.address in line and "Host key verification failed" in line
        for line in _errors(result.stderr)
    ), result.stderr[-3000:]
    assert files_below(dirs["dst"]) == []


def test_the_raised_error_carries_host_protocol_and_cause(
    ssh_env, dirs, ssh_client_env, needs_host_to_host, tmp_path
):
    definition = _strict_h2h(ssh_env, dirs, tmp_path)
    with (
        _transfer_user_knows_no_hosts(ssh_env, tmp_path),
        pytest.raises(RemoteTransferError) as raised,
    ):
        Transfer(None, "h2h-structured", definition).run()
    error = raised.value
    assert error.host == ssh_env.hosts["ssh2"].address
    assert error.protocol == "ssh"
    assert error.cause and "Host key verification failed" in error.cause
    assert error.cause in str(error)


def test_lost_sftp_destination_connection_has_a_cause(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    result, killed, _ = upload_to_killed_sftp(
        ssh_env,
        lambda task: task_run("-t", task, "-c", cfg_dir, env=cli_env(ssh_client_env)),
        cfg_dir,
        tmp_path / "big",
        dirs["dst"],
        "sftp-lost",
        mib=64,
    )
    assert killed
    assert result.returncode != 0
    lines = [
        line for line in _errors(result.stderr) if "Unable to transfer file" in line
    ]
    assert lines, result.stderr[-3000:]
    for line in lines:
        assert not re.search(r"via SFTP:\s*$", line), line
        assert ssh_env.hosts["sftp"].address in line
        assert "connection lost" in line or "Socket" in line, line


def test_silent_server_is_named_not_no_existing_session(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path: Path
):
    with silent_server() as (port, _):
        source = remote_source(ssh_env, "ssh1", dirs["src"], r"x\.txt")
        source["protocol"]["port"] = port
        local = {"directory": str(tmp_path), "protocol": {"name": "local"}}
        write_json(cfg_dir / "transfers" / "silent.json", transfer_def(source, local))
        env = cli_env(ssh_client_env)
        env["OTF_SSH_RETRY_ATTEMPTS"] = "1"
        result = task_run("-t", "silent", "-c", cfg_dir, env=env)
    assert result.returncode != 0
    assert "No existing session" not in result.stderr
    assert "Traceback" not in result.stderr
    assert any(
        "127.0.0.1" in line and "did not answer the SSH handshake" in line
        for line in _errors(result.stderr)
    ), result.stderr[-3000:]
