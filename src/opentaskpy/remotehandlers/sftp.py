"""The ``sftp`` protocol: SFTP only, never a shell.

Works against servers restricted with ``ForceCommand internal-sftp``.
Deliveries are atomic (temporary name in the destination directory, size
check, mode, posix-rename) unless ``supportsPosixRename`` is false, in which
case files are written directly under their final name. A server that does
not announce posix-rename gets a plain rename (after removing an existing
target) instead.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from opentaskpy.exceptions import RemoteTransferError
from opentaskpy.fs import inflight, publishing, streaming
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers.sftpbase import SFTPBackedTransfer
from opentaskpy.transport.ssh.sshahead import Ahead
from opentaskpy.transport.ssh.sshconn import SSHConnection
from opentaskpy.transport.ssh.ssherrors import describe_error
from opentaskpy.transport.ssh.sshretry import should_retry

if TYPE_CHECKING:
    from opentaskpy.transport.ssh.paramiko_import import paramiko


class SFTPTransfer(SFTPBackedTransfer):
    """SFTP source or destination."""

    CREATE_POST_COPY_DIRS = True

    def __init__(self, spec: dict):
        """Set up the handler; no connection is made yet."""
        super().__init__(spec)
        self.logger = init_logging(__name__, spec.get("task_id"), self.TASK_TYPE)
        self.spec.setdefault("createDirectoryIfNotExists", False)
        self.ssh_client = None
        self.sftp_client = None
        self._conn: SSHConnection | None = None
        self._fs: SFTPFileSystem | None = None
        self._ahead: Ahead[tuple[SSHConnection, paramiko.SFTPClient]] | None = None

    @property
    def protocol(self) -> dict:
        """The protocol object."""
        return self.spec.get("protocol") or {}

    def supports_direct_transfer(self) -> bool:
        """SFTP sources always stage on the worker."""
        return False

    def connect(self, hostname: str) -> None:
        """Open (or verify and reuse) the SFTP session to ``hostname``.

        Raises:
            Exception: the connection failed; with ``retry: false`` the error is
                wrapped as ``Unable to connect to {host}. Not retrying ...``.
        """
        if self._fs is not None and self._conn is not None and self._conn.is_active():
            try:
                # One round trip; listdir would also decode every name in
                # the home directory (strict UTF-8) and fail on an odd one.
                self._fs.sftp.stat(".")
                return
            except Exception as exc:  # noqa: BLE001 - any failure means reconnect
                self.logger.warning(
                    f"[{hostname}] SFTP session unusable, reconnecting: {exc}"
                )
                self.tidy()
        retry = self.protocol.get("retry", True) is not False
        opened = self._adopt_ahead(hostname)
        if opened is None:
            opened = self._open(hostname, self.logger, retry, wrap=not retry)
        self._conn, sftp = opened
        self.ssh_client = self._conn.client  # type: ignore[assignment]
        self.sftp_client = sftp  # type: ignore[assignment]
        self._fs = SFTPFileSystem(
            sftp,
            hostname,
            posix_rename=self.protocol.get("supportsPosixRename", True) is not False,
        )

    def _open(
        self, hostname: str, logger: logging.Logger, retry: bool, wrap: bool
    ) -> tuple[SSHConnection, paramiko.SFTPClient]:
        """Connect and open the SFTP session (see :meth:`connect`).

        ``wrap``: a failed connection is raised as ``Unable to connect ...``.
        """
        timeout = float(self.protocol.get("timeout", 3))
        task_id = self.spec.get("task_id")
        conn = SSHConnection(
            hostname,
            self.protocol,
            logger,
            timeout=timeout,
            allow_password=True,
            log_channel=f"opentaskpy.remotehandlers.sftp.{task_id}.paramiko.transport",
            shared=True,  # in a batch: the host's shared connection
        )
        conn.channels = inflight.files_in_flight() + 1
        try:
            conn.connect(retry=retry, fresh_client=True)
        except Exception as exc:
            conn.close()
            if wrap:
                message = f"Unable to connect to {hostname}. Not retrying due to config"
                raise Exception(f"{message}: {exc}") from exc
            raise
        try:
            sftp = conn.sftp()
        except BaseException:
            conn.close()
            raise
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(timeout)
        if os.environ.get("OTF_PARAMIKO_ULTRA_DEBUG") == "1":
            sftp.ultra_debug = True
        conn.logger = self.logger  # later lines go to the task's log
        return conn, sftp

    def connect_ahead(self) -> None:
        """Start connecting in the background (see :mod:`.sshahead`).

        One attempt, raising what the first attempt of :meth:`connect` would.
        """
        if self._fs is not None or self._ahead is not None:
            return
        hostname = self.spec["hostname"]
        retry = self.protocol.get("retry", True) is not False
        self._ahead = Ahead(
            lambda logger: self._open(hostname, logger, False, wrap=not retry),
            lambda opened: opened[0].close(),
        )

    def _adopt_ahead(
        self, hostname: str
    ) -> tuple[SSHConnection, paramiko.SFTPClient] | None:
        """Return the connection opened ahead, or ``None``; raise a failure kept.

        A failure is kept when :meth:`connect` would have ended with it too:
        without retries, or one that is never retried (a refused login).
        """
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if hostname != self.spec.get("hostname"):
            ahead.abandon()
            return None
        retry = self.protocol.get("retry", True) is not False
        return ahead.adopt(self.logger, lambda exc: not retry or not should_retry(exc))

    def reader_request(self) -> dict:
        """Return connection settings for a reader process (password allowed)."""
        return {
            "hostname": self.spec["hostname"],
            "protocol": self.protocol,
            "timeout": float(self.protocol.get("timeout", 3)),
            "allow_password": True,
        }

    def connect_with_retry(self, client_kwargs: dict) -> None:
        """Connect to ``client_kwargs["hostname"]`` with the configured retry."""
        self.connect(client_kwargs["hostname"])

    def filesystem(self) -> SFTPFileSystem:
        """Connect if needed and return the SFTP file system."""
        self.connect(self.spec["hostname"])
        assert self._fs is not None
        return self._fs

    def tidy(self) -> None:
        """Close the session and client."""
        if self._ahead is not None:
            self._ahead.abandon()
            self._ahead = None
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._fs = None
        self.ssh_client = None
        self.sftp_client = None

    def push_streams(self, contents: list[streaming.Content]) -> int:
        """Publish each content into the destination directory, atomically."""
        try:
            fs = self.filesystem()
        except Exception as exc:  # noqa: BLE001 - one clear line, then failure
            self.logger.error(f"[{self.host}] {exc or type(exc).__name__}")
            return 1
        self.logger.info(f"[{self.host}] Validating destination dir")
        return publishing.publish_all(
            fs,
            self.spec["directory"],
            contents,
            spec=self.spec,
            logger=self.logger,
            final_name=self.final_name,
            prefix=f"[{self.host}] ",
            on_failure=self._publish_failed,
            verify_size=self.protocol.get("supportsStatAfterUpload", True) is not False,
            atomic=self.protocol.get("supportsPosixRename", True) is not False,
            in_flight=None,
            session=self.channels().use,
        )

    def _publish_failed(self, label: str, target: str, exc: BaseException) -> None:
        """Log a file that could not be published and keep it as ``last_error``."""
        reason = describe_error(exc)
        message = (
            f"Unable to transfer file via SFTP: writing {target} "
            f"on {self.host} failed: {reason}"
        )
        self.logger.error(f"[{self.host}] {message}")
        self.last_error = RemoteTransferError(
            message, host=self.host, protocol="sftp", cause=reason
        )

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        """Not supported: SFTP never copies host to host."""
        raise NotImplementedError

    def pull_files(self, files: dict, remote_spec: dict | None = None) -> int:
        """Not supported."""
        raise NotImplementedError

    def move_files_to_final_location(self, files: dict) -> int:
        """Not supported (SFTP destinations publish directly)."""
        raise NotImplementedError
