"""A host that stops answering mid-run ends the run with a line naming it.

The host is made silent by freezing its sshd processes (SIGSTOP); they are
continued in ``finally``. The no-progress timeout is set small through
``OTF_SSH_NO_PROGRESS_TIMEOUT``.
"""

from __future__ import annotations

import contextlib

import psutil

from support.helpers import transfer_def, wait_for, write_json
from support.ssh_faults import (
    HostFreezer,
    files_below,
    largest_file_below,
    user_processes,
)
from support.ssh_helpers import cli_env, remote_dest, remote_source

BIG = 512 * 1024 * 1024


def _env(client_env: dict) -> dict:
    return {**cli_env(client_env), "OTF_SSH_NO_PROGRESS_TIMEOUT": "4"}


def test_frozen_destination_ends_host_to_host_copy_without_orphans(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host
):
    big = dirs["src"] / "big.bin"
    with big.open("wb") as handle:  # sparse: quick to make, read like data
        handle.truncate(BIG)
    ssh_env.chown(big)
    dest_host = ssh_env.hosts["ssh2"]
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"big\.bin"),
        remote_dest(ssh_env, "ssh2", dirs["dst"]),
    )
    write_json(cfg_dir / "transfers" / "hang-h2h.json", definition)
    freezer = HostFreezer(dest_host)
    # Wherever this run's copy lands (destination or the old $HOME/otf staging).
    landing = (dirs["dst"], ssh_env.home / "otf" / "hang-h2h")
    freezer.freeze_when(lambda: largest_file_below(*landing) > 16 * 2**20)
    copy_target = f"@{dest_host.address}:"
    try:
        result = task_run(
            "-t", "hang-h2h", "-c", cfg_dir, env=_env(ssh_client_env), timeout=90
        )

        def source_copies() -> list[str]:
            return [
                line
                for line in user_processes(ssh_env.uid)
                if copy_target in line or f" {dest_host.address} " in f" {line} "
            ]

        no_orphans = wait_for(lambda: not source_copies())
    finally:
        freezer.thaw()
    assert freezer.froze.is_set()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert any(
        dest_host.address in line and "stopped answering" in line for line in errors
    ), result.stderr[-3000:]
    assert no_orphans, source_copies()
    assert not (dirs["dst"] / "big.bin").exists()
    # The silent host kept the receiving directory; the next run removes it.
    rerun = task_run("-t", "hang-h2h", "-c", cfg_dir, env=_env(ssh_client_env))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert files_below(dirs["dst"]) == ["big.bin"]


def test_frozen_host_ends_an_ssh_execution(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env
):
    host = ssh_env.hosts["ssh1"]
    marker = dirs["dst"] / "started"
    definition = {
        "type": "execution",
        "hosts": [host.address],
        "directory": str(dirs["dst"]),
        "command": f"touch {marker} && sleep 300",
        "protocol": ssh_env.protocol("ssh1"),
    }
    write_json(cfg_dir / "executions" / "hang-exec.json", definition)
    freezer = HostFreezer(host)
    freezer.freeze_when(marker.exists)
    try:
        result = task_run(
            "-t", "hang-exec", "-c", cfg_dir, env=_env(ssh_client_env), timeout=90
        )
    finally:
        freezer.thaw()
        # The host could not be reached to stop the command: stop it here.
        for proc in psutil.process_iter(["uids", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if proc.info["uids"].real == ssh_env.uid and proc.info["cmdline"] == [
                    "sleep",
                    "300",
                ]:
                    proc.kill()
    assert freezer.froze.is_set()
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert any(
        host.address in line and "stopped answering" in line for line in errors
    ), result.stderr[-3000:]
