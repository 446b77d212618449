"""Transfer operations shared by the SSH and SFTP handlers.

Both protocols reach files through an SFTP session
(:class:`~opentaskpy.fs.sftpfs.SFTPFileSystem`) and the shared
:mod:`~opentaskpy.fs.fileops` functions; only how they connect
and how files reach an SSH destination differ.
"""

from __future__ import annotations

import glob
import logging
import os
import posixpath

from opentaskpy.exceptions import OTFError
from opentaskpy.fs import fileops, inflight, listing, streaming
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.names import NameMatcher, escape_name, wire
from opentaskpy.remotehandlers.remotehandler import RemoteTransferHandler


class SFTPBackedTransfer(RemoteTransferHandler):
    """Listing, fetching, post-copy actions, flags and log watches over SFTP."""

    TASK_TYPE = "T"
    FILE_NAME_DELIMITER = "|||"
    logger: logging.Logger
    log_watch_start_row = 0
    #: Byte offset where a log watch starts reading (end of file for ``tail``).
    _log_start_offset = 0
    #: SSH sources require the post-copy directory to exist; SFTP creates it.
    CREATE_POST_COPY_DIRS = False
    #: What the last failed operation reported (host, protocol, cause), for
    #: the task's error message.
    last_error: OTFError | None = None
    _channels: inflight.Channels | None = None

    def filesystem(self) -> SFTPFileSystem:
        """Connect if needed and return the file system of this end."""
        raise NotImplementedError

    def channels(self) -> inflight.Channels:
        """Connect if needed and return the sessions of the files in flight.

        A new set follows a reconnect: the old sessions went with the old
        connection.
        """
        fs = self.filesystem()
        if self._channels is None or self._channels.primary is not fs:
            self._channels = inflight.Channels(fs, self.logger)
        return self._channels

    @property
    def host(self) -> str:
        """The configured host name."""
        return str(self.spec.get("hostname", ""))

    def list_files(
        self, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        """List files matching ``file_pattern`` in ``directory`` (missing → ``{}``)."""
        directory = directory or self.spec["directory"]
        file_pattern = file_pattern or self.spec["fileRegex"]
        fs = self.filesystem()
        self.logger.info(
            f"[{self.host}] Listing files in {directory} matching {file_pattern}"
        )
        if fs.stat(directory) is None:
            self.logger.error(f"[{self.host}] Directory {directory} does not exist")
            return {}
        files = listing.list_matching(fs, directory, file_pattern, self.logger)
        self.logger.info(
            f"Found {len(files)} files in {directory} that match {file_pattern}"
        )
        return files

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        """Download each file to ``{staging}/{basename}`` (several at once)."""
        channels = self.channels()
        os.makedirs(local_staging_directory, exist_ok=True)
        failed = False

        def fetch(path: str) -> None:
            nonlocal failed
            target = os.path.join(local_staging_directory, posixpath.basename(path))
            self.logger.info(f"[{self.host}] Downloading file {path} to {target}")
            try:
                with channels.use() as fs:
                    fs.get(path, target)
            except OSError as exc:
                self.logger.error(
                    f"[{self.host}] Unable to download file {path}: {exc}"
                )
                if os.path.exists(target):
                    os.remove(target)
                failed = True

        inflight.run_each(list(files), fetch)
        return 1 if failed else 0

    def can_stream_from(self) -> bool:
        """Files are read over SFTP while the destination writes them."""
        return True

    def stream_files(self, files: dict) -> list[streaming.Content]:
        """Return each file as a content read from this host on demand.

        Large files are read by a separate process with its own connection
        (see :mod:`~opentaskpy.fs.streaming`).
        """
        channels = self.channels()
        contents = []
        for path, meta in files.items():
            size = (meta or {}).get("size")
            size = int(size) if isinstance(size, int | float) else None
            content = channels.source_stream(path, size)
            if (size or 0) >= streaming.READER_PROCESS_MIN_BYTES:
                self.logger.info(f"[{self.host}] Reading {path} in a separate process")
                request = self.reader_request()
                content = streaming.process_stream(request, path, fallback=content)
            contents.append(content)
        return contents

    def reader_request(self) -> dict:
        """Return how a reader process connects to this host (``streamreader``)."""
        raise NotImplementedError

    def handle_post_copy_action(self, files: dict) -> int:
        """Move, rename or delete the source files."""
        action = self.spec.get("postCopyAction")
        if not action:
            return 0
        return fileops.post_copy_action(
            self.filesystem(),
            files,
            action,
            self.logger,
            create_missing_dirs=self.CREATE_POST_COPY_DIRS,
        )

    def create_flag_files(self) -> int:
        """Create the empty ``flags.fullPath`` file."""
        return fileops.create_flag(
            self.filesystem(), self.spec["flags"]["fullPath"], self.logger
        )

    def worker_files(
        self, local_staging_directory: str, file_list: dict | None
    ) -> list:
        """Return the worker paths to deliver (``file_list`` keys or all staged)."""
        if file_list is not None:
            return list(file_list)
        return sorted(glob.glob(f"{local_staging_directory}/*"))

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Deliver worker files as streams: one publishing path for both."""
        paths = self.worker_files(local_staging_directory, file_list)
        return self.push_streams([streaming.worker_file(path) for path in paths])

    def can_stream_to(self) -> bool:
        """Destinations over SFTP take streams like staged files."""
        return True

    def final_name(self, path: str) -> str:
        """Return the base name with the destination's ``rename`` applied."""
        return fileops.apply_rename(os.path.basename(path), self.spec.get("rename"))

    # -- log watch -------------------------------------------------------

    def _log_path(self) -> str:
        watch = self.spec["logWatch"]
        return f"{watch['directory']}/{watch['log']}"

    def init_logwatch(self) -> int:
        """Check the log file is readable; with ``tail`` remember where it ends."""
        path = self._log_path()
        fs = self.filesystem()
        try:
            st = fs.sftp.stat(wire(path))  # type: ignore[arg-type]
            with fs.open_read(path) as handle:
                handle.read(1)
        except FileNotFoundError:
            self.logger.error(f"[{self.host}] Log file {path} does not exist")
            return 1
        except OSError as exc:
            self.logger.error(f"[{self.host}] Cannot read log file {path}: {exc}")
            return 1
        # Ignoring every line present now satisfies the reference's tests for
        # ``tail`` (its own start row of 1 is an upstream quirk).
        self.log_watch_start_row = 0
        self._log_start_offset = (
            int(st.st_size or 0) if self.spec["logWatch"].get("tail") else 0
        )
        return 0

    def do_logwatch(self) -> int:
        """0 when a line after the start offset matches ``contentRegex``."""
        path = self._log_path()
        regex = NameMatcher(self.spec["logWatch"]["contentRegex"], "contentRegex")
        subject = f"a line of {escape_name(path)}"  # named if the regex times out
        fs = self.filesystem()
        try:
            with fs.open_read(path) as handle:
                handle.seek(self._log_start_offset)
                for raw in handle:
                    line = raw.decode(errors="replace").strip()
                    if regex.search(line, subject=subject):
                        return 0
        except OSError as exc:
            self.logger.error(f"[{self.host}] Cannot read log file {path}: {exc}")
        return 1
