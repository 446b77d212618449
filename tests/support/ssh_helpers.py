"""Definition builders for the SSH/SFTP tests."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from support.sshd import SSHHost, SSHTestEnv

if TYPE_CHECKING:
    from opentaskpy.fs.sftpfs import SFTPFileSystem

T = TypeVar("T")


def remote_source(
    env: SSHTestEnv, host: str, directory: Path, regex: str, **extra: object
) -> dict:
    server = env.hosts[host]
    return {
        "hostname": server.address,
        "directory": str(directory),
        "fileRegex": regex,
        "protocol": env.protocol(host),
        **extra,
    }


def remote_dest(env: SSHTestEnv, host: str, directory: Path, **extra: object) -> dict:
    server = env.hosts[host]
    return {
        "hostname": server.address,
        "directory": str(directory),
        "protocol": env.protocol(host),
        **extra,
    }


def cli_env(env: dict) -> dict:
    """The client variables without ``OTF_LOG_LEVEL`` (so ``-v`` decides)."""
    return {k: v for k, v in env.items() if k != "OTF_LOG_LEVEL"}


def log_text(task_id: str) -> str:
    """All log text of a task (cwd is the per-test directory)."""
    return "".join(
        p.read_text() for p in sorted(Path("logs").rglob("*.log")) if task_id in str(p)
    )


def run_killing_host(
    run: Callable[[], T], server: SSHHost, directory: Path, after_bytes: int
) -> tuple[T, bool]:
    """Call ``run`` while killing ``server`` once a partial upload in
    ``directory`` exceeds ``after_bytes``; restart the server afterwards.

    Returns ``run``'s result and whether the server was killed.
    """
    killed = threading.Event()

    def killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(directory):
                    partial = directory / name
                    if (
                        name.endswith(".otf-partial")
                        and partial.stat().st_size > after_bytes
                    ):
                        server.kill()
                        killed.set()
                        return
            time.sleep(0.01)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        result = run()
    finally:
        thread.join()
        if server.process is None:
            server.start()
    return result, killed.is_set()


def upload_to_killed_sftp(
    ssh_env: SSHTestEnv,
    run_task: Callable[[str], T],
    cfg_dir: Path,
    src: Path,
    dst: Path,
    task_id: str,
    mib: int,
) -> tuple[T, bool, Path]:
    """Send a local ``mib`` MiB file to the ``sftp`` host, killed mid-upload.

    Writes ``src/big.bin`` and the transfer ``task_id`` (local source, SFTP
    destination ``dst``), then calls ``run_task(task_id)`` while killing the
    host once 1 MiB of the partial file has arrived (it is restarted after).

    Returns:
        ``run_task``'s result, whether the host was killed, and the source file.
    """
    from support.helpers import transfer_def, write_json

    src.mkdir(exist_ok=True)
    payload = src / "big.bin"
    with payload.open("wb") as handle:
        for _ in range(mib):
            handle.write(os.urandom(1024 * 1024))
    source = {
        "directory": str(src),
        "fileRegex": r"big\.bin",
        "protocol": {"name": "local"},
    }
    definition = transfer_def(source, remote_dest(ssh_env, "sftp", dst))
    write_json(cfg_dir / "transfers" / f"{task_id}.json", definition)
    result, killed = run_killing_host(
        lambda: run_task(task_id), ssh_env.hosts["sftp"], dst, after_bytes=1024 * 1024
    )
    return result, killed, payload


@contextlib.contextmanager
def sftp_filesystem(env: SSHTestEnv, host: str) -> Iterator[SFTPFileSystem]:
    """An :class:`SFTPFileSystem` on a fresh connection to ``host``, closed after."""
    import logging

    from opentaskpy.fs.sftpfs import SFTPFileSystem
    from opentaskpy.transport.ssh.sshconn import SSHConnection

    server = env.hosts[host]
    conn = SSHConnection(
        server.address,
        env.protocol(host, hostKeyValidation=False),
        logging.getLogger(f"tests.sftp_filesystem.{host}"),
        allow_password=True,
    )
    try:
        conn.connect(retry=False)
        yield SFTPFileSystem(conn.sftp(), host)
    finally:
        conn.close()
