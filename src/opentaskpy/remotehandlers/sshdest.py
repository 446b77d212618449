"""How an SSH destination receives and publishes files (base of ``SSHTransfer``).

Files arrive (host-to-host ``scp``, pull, or SFTP from the worker) in the
run's receiving directory (:mod:`.sshstaging`); publishing then checks each
file's size, sets mode, owner and group, and renames it to its final name.
The receiving directory is removed after publishing, after a failure and
when the handler is tidied, so no temporary file outlives the run.
"""

from __future__ import annotations

import contextlib
import posixpath
import shlex
from typing import TYPE_CHECKING

from opentaskpy.exceptions import OTFError, RemoteTransferError
from opentaskpy.fs import checksums, fileops, inflight, streaming
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.remotehandlers import sshstaging
from opentaskpy.remotehandlers.sftpbase import SFTPBackedTransfer
from opentaskpy.transport.ssh.ssherrors import HostNotAnsweringError, describe_error
from opentaskpy.transport.ssh.sshoptions import no_progress_timeout

if TYPE_CHECKING:
    from opentaskpy.transport.ssh.sshconn import SSHConnection


class _UploadFailed(Exception):
    """Stops the other uploads in flight (the failure itself is kept aside)."""


class SSHReceiving(SFTPBackedTransfer):
    """The destination side of the ``ssh`` protocol."""

    def __init__(self, spec: dict):
        """No receiving directory is chosen or created yet."""
        super().__init__(spec)
        self._run_dir: str | None = None
        self._received: dict[str, int | None] = {}
        self._discarded = False

    def connection(self) -> SSHConnection:
        """Return the connected session to this end's host."""
        raise NotImplementedError

    def _stages_in_home(self) -> bool:
        return bool(self.spec.get("stageInHomeDirectory"))

    def get_staging_directory(self, remote_spec: dict | None = None) -> str:
        """Where this destination receives the run's files (ends with ``/``).

        A private hidden directory inside ``directory``, the same for the
        whole run; with ``stageInHomeDirectory`` ``$HOME/otf/{task_id}/``.
        """
        if self._stages_in_home():
            return f"{self.connection().home()}/otf/{self.spec['task_id']}/"
        if self._run_dir is None:
            self._run_dir = sshstaging.run_directory(self.spec["directory"])
        return self._run_dir

    def _failed(
        self, message: str, exc: BaseException | str, host: str | None = None
    ) -> int:
        """Log one line naming host, operation and cause; remember it; 1.

        ``host`` is the host at fault when it is not this end's.
        """
        cause = exc if isinstance(exc, str) else describe_error(exc)
        if host is None:
            host = exc.host if isinstance(exc, OTFError) and exc.host else self.host
        self.logger.error(f"[{self.host}] {message}: {cause}")
        self.last_error = RemoteTransferError(
            f"{message}: {cause}", host=host, protocol="ssh", cause=cause
        )
        return 1

    def _ensure_directory(self, fs: SFTPFileSystem) -> None:
        directory = self.spec["directory"]
        if fs.stat(directory) is not None:
            return
        if not self.spec.get("createDirectoryIfNotExists"):
            raise FileNotFoundError(f"Destination directory {directory} does not exist")
        fs.makedirs(directory)

    def prepare_receiving(self) -> tuple[SFTPFileSystem, str]:
        """Create the receiving directory; return the file system and its path."""
        fs = self.filesystem()
        staging = self.get_staging_directory()
        if not self._stages_in_home():
            self._ensure_directory(fs)
            sshstaging.remove_abandoned_run_directories(
                fs, self.spec["directory"], self.logger
            )
        fs.makedirs(staging.rstrip("/"))
        self._discarded = False
        return fs, staging

    def expect_files(self, files: dict) -> None:
        """Record the sizes the files about to arrive must have."""
        for path, meta in files.items():
            size = (meta or {}).get("size")
            name = posixpath.basename(path)
            self._received[name] = size if isinstance(size, int) else None

    def explain_failure(self, cause: str) -> str:
        """``cause``, or ENOSPC when this destination's file system is full."""
        if "stopped answering" in cause or self._conn_or_none() is None:
            return cause
        return sshstaging.explain_write_failure(
            self.connection(), self.spec["directory"], cause
        )

    def _conn_or_none(self) -> SSHConnection | None:
        conn = getattr(self, "_conn", None)
        return conn if conn is not None and conn.is_active() else None

    def discard_received(self) -> None:
        """Remove what arrived and was not published (once per failure).

        A host that does not answer a probe within 5 s is left alone (and
        the leftover named) rather than waited for once per operation.
        """
        conn = self._conn_or_none()
        if self._discarded or conn is None:
            return
        self._discarded = True
        try:
            conn.check_alive("clean-up", min(5.0, no_progress_timeout()))
        except HostNotAnsweringError as exc:
            leftover = self.get_staging_directory()
            self.logger.warning(f"[{self.host}] Not removing {leftover}: {exc}")
            return
        if self._stages_in_home():
            fs = self.filesystem()
            staging = self.get_staging_directory()
            for name in self._received:
                with contextlib.suppress(OSError):
                    fs.remove(staging + name)
        elif self._run_dir is not None:
            sshstaging.remove_run_directory(self.filesystem(), self._run_dir)
            self._run_dir = None

    # -- from the worker -----------------------------------------------------

    def push_streams(self, contents: list[streaming.Content]) -> int:
        """Upload contents into the receiving directory (size-checked).

        Several files are in flight at once (see
        :mod:`~opentaskpy.fs.inflight`), each on a session of
        its own; the first failure stops the others taking new files, and
        everything received is then removed.
        """
        try:
            fs, staging = self.prepare_receiving()
        except Exception as exc:  # noqa: BLE001 - reported as a failed push
            return self._failed("Unable to prepare the receiving directory", exc)
        channels = self.channels() if len(contents) > 1 else None
        failures: list[tuple[str, str, BaseException]] = []

        def upload(content: streaming.Content) -> None:
            target = staging + content.name
            self.logger.info(f"[{self.host}] Uploading {content.label} to {target}")
            self._received[content.name] = None  # removed on failure, even partial
            try:
                with channels.use() if channels else contextlib.nullcontext(fs) as on:
                    written = content.write_to(on, target)
                    if written is not None:
                        fileops.check_written(on, target, written)
            except Exception as exc:  # noqa: BLE001 - reported once all stopped
                failures.append((content.label, target, exc))
                raise _UploadFailed from exc

        with contextlib.suppress(_UploadFailed):
            inflight.run_each(contents, upload)
        if not failures:
            return 0
        label, target, error = failures[0]
        cause = self.explain_failure(describe_error(error))
        self.discard_received()
        return self._failed(f"Unable to upload {label} to {self.host}:{target}", cause)

    # -- publishing ------------------------------------------------------------

    def move_files_to_final_location(self, files: dict) -> int:
        """Publish each received file into ``directory`` (atomic, quoted)."""
        directory = self.spec["directory"]
        try:
            conn = self.connection()
            fs = self.filesystem()
            if self._stages_in_home():
                self._ensure_directory(fs)
                names = [posixpath.basename(p) for p in files]
                fileops.remove_stale_partials(
                    fs, directory, {self.final_name(n) for n in names}, self.logger
                )
            staging = self.get_staging_directory()
            names = [posixpath.basename(path) for path in files]
            if self._stages_in_home():
                for name in names:
                    self._publish_staged(
                        conn, fs, staging + name, directory, self.final_name(name)
                    )
            else:
                self._publish_all_in_place(conn, staging, names)
        except Exception as exc:  # noqa: BLE001 - reported as one failure
            cause = self.explain_failure(describe_error(exc))
            self.discard_received()
            return self._failed("Error moving file into final location", cause)
        if not self._stages_in_home() and self._run_dir is not None:
            with contextlib.suppress(OSError):
                fs.sftp.rmdir(self._run_dir.rstrip("/"))
            self._run_dir = None
        self._discarded = True
        return 0

    def _publish_all_in_place(
        self, conn: SSHConnection, staging: str, names: list[str]
    ) -> None:
        """Publish the received files, several at once (see ``inflight``).

        Each file is checked and renamed on its own; the first failure stops
        the others taking files and is raised once they have ended. Owner
        and group are set by commands on the connection: one file at a time
        then.
        """
        permissions = self.spec.get("permissions") or {}
        count = 1 if permissions.get("owner") or permissions.get("group") else None
        channels = self.channels()

        def publish(name: str) -> None:
            with channels.use() as on:
                self._publish_in_place(conn, on, staging + name, name)

        inflight.run_each(names, publish, count)

    def _publish_in_place(
        self, conn: SSHConnection, fs: SFTPFileSystem, received: str, name: str
    ) -> None:
        """Check, set attributes, then rename within the destination's file system."""
        final_path = fileops.join(self.spec["directory"], self.final_name(name))
        st = fs.stat(received)
        if st is None:
            raise FileNotFoundError(f"Received file {received} not found")
        expected = self._received.get(name)
        if expected is not None and st.size != expected:
            raise OSError(
                f"Size check failed for {final_path}: expected {expected} bytes, "
                f"found {st.size}"
            )
        mode = self.spec.get("mode")
        if mode:
            fs.chmod(received, int(mode, 8))
        self._set_ownership(conn, received)
        self.logger.info(f"[{self.host}] Moving {received} to {final_path}")
        checksums.observed_rename(
            fs, received, final_path, received, st.size, fs.rename
        )

    def _set_ownership(self, conn: SSHConnection, path: str) -> None:
        permissions = self.spec.get("permissions") or {}
        for tool, key in (("chown", "owner"), ("chgrp", "group")):
            if permissions.get(key):
                value = shlex.quote(permissions[key])
                command = f"{tool} -- {value} {shlex.quote(path)}"
                rc = conn.run(command, operation=tool).exit_code
                if rc != 0:
                    # The reference ignores these exit codes.
                    self.logger.warning(f"[{self.host}] {tool} returned {rc}")

    def _publish_staged(
        self,
        conn: SSHConnection,
        fs: SFTPFileSystem,
        staged: str,
        directory: str,
        final_name: str,
    ) -> None:
        """Publish from ``$HOME/otf``: move across, check, set attributes, rename."""
        st = fs.stat(staged)
        if st is None:
            raise FileNotFoundError(f"Staged file {staged} not found")

        def place(temporary: str) -> None:
            try:
                fs.rename(staged, temporary)
            except OSError:
                # Different file systems: posix-rename cannot cross them.
                command = f"mv -f -- {shlex.quote(staged)} {shlex.quote(temporary)}"
                result = conn.run(command, operation="mv")
                if result.exit_code != 0:
                    reason = result.stderr.strip() or f"exit code {result.exit_code}"
                    raise OSError(
                        f"mv of {staged} to {directory} failed: {reason}"
                    ) from None

        self.logger.info(f"[{self.host}] Moving {staged} to {directory}/{final_name}")
        fileops.publish(
            fs,
            staged,
            directory,
            final_name,
            mode=self.spec.get("mode"),
            place=place,
            expected_size=st.size,
            before_rename=lambda temporary: self._set_ownership(conn, temporary),
        )
