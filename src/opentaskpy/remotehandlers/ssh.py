"""The ``ssh`` protocol: transfers between hosts and remote executions.

Connections come from :mod:`opentaskpy.transport.ssh.sshconn`, file
operations from :mod:`opentaskpy.fs.sftpfs` and :mod:`opentaskpy.fs.fileops`.
File work uses SFTP operations; a shell is only used for ``scp`` between two
remote hosts, ``chown``/``chgrp`` and the fallback ``mv`` across file
systems, always with every argument quoted.

An SSH destination receives a run's files in a private hidden directory
inside the destination directory (or, with ``stageInHomeDirectory``, in the
reference's ``$HOME/otf/{task_id}/``, see :mod:`.sshstaging`); the final
step checks each file's size, sets mode/owner/group and renames it into
place. Host-to-host ``scp`` runs with the no-progress timeout's OpenSSH
options, and a command whose host stops answering is stopped there when the
host can still be reached.
"""

from __future__ import annotations

import contextlib
import logging
import shlex

from opentaskpy.fs import inflight
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers import sshstaging
from opentaskpy.remotehandlers.ssh_execution import SSHExecution, stop_remote_process
from opentaskpy.remotehandlers.ssh_utils import (
    setup_host_key_validation,
    strict_host_key_option,
)
from opentaskpy.remotehandlers.sshdest import SSHReceiving
from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sshconn import SSHConnection
from opentaskpy.transport.ssh.ssherrors import (
    HostNotAnsweringError,
    quiet_transport_errors,
)
from opentaskpy.transport.ssh.sshoptions import openssh_liveness_options
from opentaskpy.verbosity import VERBOSE2

# The reference's option string, kept for compatibility; commands built here
# use strict_host_key_option() so only ``hostKeyValidation: false`` disables
# host-key checking.
SSH_OPTIONS = "-o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=5"
REMOTE_SCRIPT_BASE_DIR = "/tmp"
_SCP_OPTIONS = "-o BatchMode=yes"  # ConnectTimeout: openssh_liveness_options
_GLOB_CHARS = "\\*?["
_PID_MARKER = "__OTF_PID__"

__all__ = [
    "REMOTE_SCRIPT_BASE_DIR",
    "SSH_OPTIONS",
    "SSHExecution",
    "SSHTransfer",
    "log_stdout",
    "mkdir_p",
]


def log_stdout(str_stdout: str, hostname: str, logger: logging.Logger) -> None:
    """Log each line as ``[{hostname}] REMOTE OUTPUT: {line}``."""
    for line in str_stdout.splitlines():
        logger.info(f"[{hostname}] REMOTE OUTPUT: {line}")


def mkdir_p(sftp: paramiko.SFTPClient, remote_directory: str) -> bool:
    """Create ``remote_directory`` and its parents; ``True`` if one was created.

    Unlike the reference this does not change the session's directory.
    """
    fs = SFTPFileSystem(sftp, "")
    existed = fs.stat(remote_directory) is not None
    fs.makedirs(remote_directory)
    return not existed


def _scp_remote(user: str, host: str, path: str) -> str:
    # scp (SFTP mode) expands globs in remote paths; escape them.
    escaped = "".join("\\" + c if c in _GLOB_CHARS else c for c in path)
    return shlex.quote(f"{user}@{host}:{escaped}")


def _fault_host(cause: str, runner: str, peer: str, destination: str) -> str:
    """Return the host a copy failed on: full disk, silent peer, else the runner."""
    if "ENOSPC" in cause:
        return destination
    return peer if peer in cause else runner


class SSHTransfer(SSHReceiving):
    """SSH source or destination."""

    final_move_on_host = True  # files arrive in a staging directory first

    def __init__(self, spec: dict):
        """Create the (unconnected) client; nothing is contacted yet."""
        super().__init__(spec)
        task_id = spec.get("task_id")
        self.logger = init_logging(__name__, task_id, self.TASK_TYPE)
        self.ssh_client = paramiko.SSHClient()
        log_channel = f"opentaskpy.remotehandlers.ssh.{task_id}.paramiko.transport"
        self.ssh_client.set_log_channel(log_channel)
        quiet_transport_errors(log_channel)
        setup_host_key_validation(self.ssh_client, spec, self.logger)
        self.spec.setdefault("createDirectoryIfNotExists", False)
        self._conn: SSHConnection | None = None

    @property
    def sftp_connection(self) -> paramiko.SFTPClient | None:
        """The open SFTP session, or ``None`` before connecting."""
        return self._conn._sftp if self._conn else None

    def supports_direct_transfer(self) -> bool:
        """SSH hosts can copy to each other with ``scp``."""
        return True

    def connect(
        self, hostname: str, ssh_client: paramiko.SSHClient | None = None
    ) -> None:
        """Connect (reusing an active connection) and open the SFTP session."""
        if self._conn is not None and self._conn.is_active():
            return
        protocol = self.spec.get("protocol") or {}
        self._conn = SSHConnection(
            hostname,
            protocol,
            self.logger,
            timeout=3,
            client=ssh_client or self.ssh_client,
            # In a batch, share the host's connection (unless a caller
            # brought its own client).
            shared=ssh_client is None,
        )
        self._conn.channels = inflight.files_in_flight() + 1
        self._conn.connect()
        uname = self._conn.uname()
        self.logger.log(VERBOSE2, f"[{hostname}] Remote uname: {uname}")
        self._conn.sftp()

    def reader_request(self) -> dict:
        """Return connection settings for a reader process (keys only, as here)."""
        return {
            "hostname": self.spec["hostname"],
            "protocol": self.spec.get("protocol") or {},
            "timeout": 3,
            "allow_password": False,
        }

    def connect_with_retry(self, ssh_client: paramiko.SSHClient, kwargs: dict) -> None:
        """Connect ``ssh_client`` with the module's retry policy."""
        self.connect(kwargs["hostname"], ssh_client)

    def connection(self) -> SSHConnection:
        """Return the connected :class:`SSHConnection` to this end's host."""
        self.connect(self.spec["hostname"])
        assert self._conn is not None
        return self._conn

    def filesystem(self) -> SFTPFileSystem:
        """Return the SFTP file system of this end's host."""
        return SFTPFileSystem(self.connection().sftp(), self.host)

    def tidy(self) -> None:
        """Remove an unpublished receiving directory, close the session and client."""
        if self._conn is not None:
            self.discard_received()
            self._conn.close()
        else:
            self.ssh_client.close()

    # -- host-to-host copies ----------------------------------------------

    def _run_copy(
        self, conn: SSHConnection, command: str, peer: str
    ) -> tuple[int, str]:
        """Run a host-to-host ``scp`` on ``conn``'s host; (rc, cause).

        The command reports its PID first, so that it can be stopped on the
        host if our session to the host stops answering.
        """
        runner = conn.hostname
        operation = f"scp from {runner} to {peer}"
        pid: int | None = None

        def on_line(line: str) -> None:
            nonlocal pid
            if pid is None and line.startswith(_PID_MARKER):
                with contextlib.suppress(ValueError):
                    pid = int(line[len(_PID_MARKER) :])
                return
            self.logger.info(f"[{runner}] REMOTE OUTPUT: {line}")

        self.logger.info(f"[{runner}] Running: {command}")
        self.logger.info("### START OF REMOTE OUTPUT ###")
        try:
            result = conn.run(
                f'echo "{_PID_MARKER}$$"; exec {command}',
                on_stdout=on_line,
                operation=operation,
            )
        except HostNotAnsweringError as exc:
            self.logger.info("### END OF REMOTE OUTPUT ###")
            stop_remote_process(conn, pid, self.logger)
            return 1, str(exc)
        if result.stderr.strip():
            self.logger.info(f"[{runner}] Remote stderr returned:\n{result.stderr}")
        self.logger.info("### END OF REMOTE OUTPUT ###")
        self.logger.info(
            f"[{runner}] Got return code {result.exit_code} from SCP command"
        )
        if result.exit_code == 0:
            return 0, ""
        return 1, sshstaging.describe_copy_failure(result.stderr, runner, peer)

    def pull_files(self, files: dict, remote_spec: dict | None = None) -> int:  # type: ignore[override]
        """Have this host fetch the files from the source host with ``scp``."""
        user = self.spec["protocol"]["credentials"]["transferUsername"]
        remote_spec = remote_spec or self.remote_spec or {}
        peer = remote_spec["hostname"]
        try:
            _, staging = self.prepare_receiving()
        except Exception as exc:  # noqa: BLE001 - reported as a failed pull
            return self._failed(f"Unable to prepare receiving from {peer}", exc)
        src_protocol = remote_spec.get("protocol") or {}
        sources = " ".join(_scp_remote(user, peer, path) for path in files)
        command = (
            f"scp -P {int(src_protocol.get('port', 22))} "
            f"{strict_host_key_option(src_protocol)} {_SCP_OPTIONS} "
            f"{openssh_liveness_options()} -- {sources} {shlex.quote(staging)}"
        )
        self.expect_files(files)
        rc, cause = self._run_copy(self.connection(), command, peer)
        if rc:
            cause = self.explain_failure(cause)
            self.discard_received()
            return self._failed(
                f"Host-to-host copy (scp) from {peer} to {self.host} failed",
                cause,
                host=_fault_host(cause, self.host, peer, self.host),
            )
        return 0

    def transfer_files(
        self,
        files: dict,
        remote_spec: dict,
        dest_remote_handler: SSHTransfer | None = None,
    ) -> int:
        """Copy files from this host straight to the destination host with ``scp``.

        Unlike the reference, the destination handler connects with the
        destination's own protocol (port, credentials, host-key policy).
        """
        if dest_remote_handler is None:
            dest_remote_handler = SSHTransfer(remote_spec)
        peer = remote_spec["hostname"]
        try:
            source = self.connection()
            _, staging = dest_remote_handler.prepare_receiving()
        except Exception as exc:  # noqa: BLE001 - e.g. destination unreachable
            return self._failed(
                f"Unable to prepare the transfer to {peer}", exc, host=peer
            )
        dest_protocol = remote_spec.get("protocol") or {}
        creds = dest_protocol.get("credentials") or {}
        user = creds.get("transferUsername") or creds["username"]
        paths = " ".join(shlex.quote(p) for p in files)
        target = shlex.quote(f"{user}@{peer}:{staging}")
        command = (
            f"scp -P {int(dest_protocol.get('port', 22))} "
            f"{strict_host_key_option(dest_protocol)} {_SCP_OPTIONS} "
            f"{openssh_liveness_options()} -- {paths} {target}"
        )
        dest_remote_handler.expect_files(files)
        rc, cause = self._run_copy(source, command, peer)
        if rc:
            cause = dest_remote_handler.explain_failure(cause)
            dest_remote_handler.discard_received()
            self._failed(
                f"Host-to-host copy (scp) from {self.host} to {peer} failed",
                cause,
                host=_fault_host(cause, self.host, peer, peer),
            )
        return rc
