"""The ``ssh`` protocol: transfers between hosts and remote executions.

Connections come from :mod:`.sshconn`, file operations from :mod:`.sftpfs`
and :mod:`.fileops`. File work uses SFTP operations; a shell is only used for
``scp`` between two remote hosts, ``chown``/``chgrp`` and the fallback ``mv``
across file systems, always with every argument quoted.

An SSH destination receives files in ``$HOME/otf/{task_id}/`` first; the
final step moves each into a temporary name in the destination directory,
checks its size, sets mode/owner/group and renames it into place.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import shlex

from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers import fileops, streaming
from opentaskpy.remotehandlers.paramiko_import import paramiko
from opentaskpy.remotehandlers.sftpbase import SFTPBackedTransfer
from opentaskpy.remotehandlers.sftpfs import SFTPFileSystem
from opentaskpy.remotehandlers.ssh_execution import SSHExecution
from opentaskpy.remotehandlers.ssh_utils import (
    setup_host_key_validation,
    strict_host_key_option,
)
from opentaskpy.remotehandlers.sshconn import SSHConnection
from opentaskpy.verbosity import VERBOSE2

# The reference's option string, kept for compatibility; commands built here
# use strict_host_key_option() so only ``hostKeyValidation: false`` disables
# host-key checking.
SSH_OPTIONS = "-o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=5"
REMOTE_SCRIPT_BASE_DIR = "/tmp"
_SCP_OPTIONS = "-o BatchMode=yes -o ConnectTimeout=5"
_GLOB_CHARS = "\\*?["

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


class SSHTransfer(SFTPBackedTransfer):
    """SSH source or destination."""

    def __init__(self, spec: dict):
        """Create the (unconnected) client; nothing is contacted yet."""
        super().__init__(spec)
        task_id = spec.get("task_id")
        self.logger = init_logging(__name__, task_id, self.TASK_TYPE)
        self.ssh_client = paramiko.SSHClient()
        self.ssh_client.set_log_channel(
            f"opentaskpy.remotehandlers.ssh.{task_id}.paramiko.transport"
        )
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
        )
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
        """Close the SFTP session and the client."""
        if self._conn is not None:
            self._conn.close()
        else:
            self.ssh_client.close()

    def get_staging_directory(self, remote_spec: dict | None = None) -> str:
        """``$HOME/otf/{task_id}/`` of the login user on this host."""
        return f"{self.connection().home()}/otf/{self.spec['task_id']}/"

    def _run_logged(self, conn: SSHConnection, command: str, label: str) -> int:
        self.logger.info(f"[{conn.hostname}] Running: {command}")
        self.logger.info("### START OF REMOTE OUTPUT ###")
        result = conn.run(
            command,
            on_stdout=lambda line: self.logger.info(
                f"[{conn.hostname}] REMOTE OUTPUT: {line}"
            ),
        )
        if result.stderr.strip():
            self.logger.info(
                f"[{conn.hostname}] Remote stderr returned:\n{result.stderr}"
            )
        self.logger.info("### END OF REMOTE OUTPUT ###")
        self.logger.info(
            f"[{conn.hostname}] Got return code {result.exit_code} from {label}"
        )
        return result.exit_code

    # -- destination side --------------------------------------------------

    def _prepare_staging(self) -> tuple[SFTPFileSystem, str]:
        staging = self.get_staging_directory()
        fs = self.filesystem()
        fs.makedirs(staging.rstrip("/"))
        return fs, staging

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Upload worker files into the remote staging directory."""
        paths = self.worker_files(local_staging_directory, file_list)
        return self.push_streams([streaming.worker_file(path) for path in paths])

    def can_stream_to(self) -> bool:
        """SSH destinations take streams into their remote staging directory."""
        return True

    def push_streams(self, contents: list[streaming.Content]) -> int:
        """Upload contents into the remote staging directory (size-checked)."""
        try:
            fs, staging = self._prepare_staging()
        except Exception as exc:  # noqa: BLE001 - reported as a failed push
            self.logger.error(
                f"[{self.host}] Unable to prepare staging directory: {exc}"
            )
            return 1
        for content in contents:
            target = staging + content.name
            self.logger.info(f"[{self.host}] Uploading {content.label} to {target}")
            try:
                written = content.write_to(fs, target)
                if written is not None:
                    fileops.check_written(fs, target, written)
            except Exception as exc:  # noqa: BLE001 - partial upload removed below
                self.logger.error(
                    f"[{self.host}] Unable to upload {content.label}: {exc}"
                )
                with contextlib.suppress(Exception):  # connection may be gone
                    fs.remove(target)
                return 1
        return 0

    def pull_files(self, files: dict, remote_spec: dict | None = None) -> int:  # type: ignore[override]
        """Have this host fetch the files from the source host with ``scp``."""
        user = self.spec["protocol"]["credentials"]["transferUsername"]
        try:
            _, staging = self._prepare_staging()
        except Exception as exc:  # noqa: BLE001
            self.logger.error(
                f"[{self.host}] Unable to prepare staging directory: {exc}"
            )
            return 1
        remote_spec = remote_spec or self.remote_spec or {}
        src_protocol = remote_spec.get("protocol") or {}
        sources = " ".join(
            _scp_remote(user, remote_spec["hostname"], path) for path in files
        )
        command = (
            f"scp -P {int(src_protocol.get('port', 22))} "
            f"{strict_host_key_option(src_protocol)} {_SCP_OPTIONS} -- "
            f"{sources} {shlex.quote(staging)}"
        )
        return self._run_logged(self.connection(), command, "SCP command")

    def move_files_to_final_location(self, files: dict) -> int:
        """Publish each staged file into ``directory`` (atomic, quoted)."""
        try:
            conn = self.connection()
            fs, staging = self._prepare_staging()
            directory = self.spec["directory"]
            if fs.stat(directory) is None:
                if not self.spec.get("createDirectoryIfNotExists"):
                    missing = f"Destination directory {directory} does not exist"
                    self.logger.error(f"[{self.host}] {missing}")
                    return 1
                fs.makedirs(directory)
            names = [posixpath.basename(p) for p in files]
            fileops.remove_stale_partials(
                fs, directory, {self.final_name(n) for n in names}, self.logger
            )
            for name in names:
                self._publish_staged(
                    conn, fs, staging + name, directory, self.final_name(name)
                )
        except Exception as exc:  # noqa: BLE001 - reported as one failure
            self.logger.error(
                f"[{self.host}] Error moving file into final location: {exc}"
            )
            return 1
        return 0

    def _publish_staged(
        self,
        conn: SSHConnection,
        fs: SFTPFileSystem,
        staged: str,
        directory: str,
        final_name: str,
    ) -> None:
        st = fs.stat(staged)
        if st is None:
            raise FileNotFoundError(f"Staged file {staged} not found")

        def place(temporary: str) -> None:
            try:
                fs.rename(staged, temporary)
            except OSError:
                # Different file systems: posix-rename cannot cross them.
                command = f"mv -f -- {shlex.quote(staged)} {shlex.quote(temporary)}"
                rc = conn.run(command).exit_code
                if rc != 0:
                    self.logger.error(
                        f"[{self.host}] Got return code {rc} from SSH mv command"
                    )
                    raise OSError(f"Unable to move {staged} to {directory}") from None

        def ownership(temporary: str) -> None:
            permissions = self.spec.get("permissions") or {}
            for tool, key in (("chown", "owner"), ("chgrp", "group")):
                if permissions.get(key):
                    value = shlex.quote(permissions[key])
                    command = f"{tool} -- {value} {shlex.quote(temporary)}"
                    rc = conn.run(command).exit_code
                    if rc != 0:
                        # The reference ignores these exit codes.
                        self.logger.warning(f"[{self.host}] {tool} returned {rc}")

        self.logger.info(f"[{self.host}] Moving {staged} to {directory}/{final_name}")
        fileops.publish(
            fs,
            staged,
            directory,
            final_name,
            mode=self.spec.get("mode"),
            place=place,
            expected_size=st.size,
            before_rename=ownership,
        )

    # -- source side -------------------------------------------------------

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
        try:
            source = self.connection()
            staging = dest_remote_handler.get_staging_directory(remote_spec)
            dest_fs = dest_remote_handler.filesystem()
            dest_fs.makedirs(staging.rstrip("/"))
        except Exception as exc:  # noqa: BLE001 - e.g. destination unreachable
            self.logger.error(f"[{self.host}] Unable to prepare the transfer: {exc}")
            return 1
        dest_protocol = remote_spec.get("protocol") or {}
        creds = dest_protocol.get("credentials") or {}
        user = creds.get("transferUsername") or creds["username"]
        paths = " ".join(shlex.quote(p) for p in files)
        target = shlex.quote(f"{user}@{remote_spec['hostname']}:{staging}")
        command = (
            f"scp -P {int(dest_protocol.get('port', 22))} "
            f"{strict_host_key_option(dest_protocol)} {_SCP_OPTIONS} -- {paths} "
            f"{target}"
        )
        rc = self._run_logged(source, command, "SCP command")
        if rc != 0:
            for path in files:
                with contextlib.suppress(Exception):  # may not exist
                    dest_fs.remove(staging + posixpath.basename(path))
        return rc
