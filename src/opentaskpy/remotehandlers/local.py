"""The ``local`` protocol: files on the worker itself.

``LocalExecution`` (local commands) is implemented in
:mod:`opentaskpy.remotehandlers.local_execution` and re-exported here.
"""

from __future__ import annotations

import glob
import logging
from typing import Any

from opentaskpy.fs import fileops, listing, publishing, streaming
from opentaskpy.fs.localfs import LocalFileSystem
from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers.remotehandler import RemoteTransferHandler


def log_stdout(str_stdout: str, hostname: str, logger: logging.Logger) -> None:
    """Log each line of a command's output as ``[{host}] REMOTE OUTPUT: {line}``."""
    for line in str_stdout.splitlines():
        logger.info(f"[{hostname}] REMOTE OUTPUT: {line}")


class LocalTransfer(RemoteTransferHandler):
    """Source or destination directory on the worker.

    As a source its directory doubles as the worker staging directory, so
    ``pull_files_to_worker`` has nothing to do. Deliveries are atomic: each
    file is copied under a temporary name and renamed into place.
    """

    TASK_TYPE = "T"
    files_on_worker = True

    def __init__(self, spec: dict):
        """Set up the handler; nothing is touched on disk yet.

        Args:
            spec: the source or destination spec, including ``task_id``.
        """
        super().__init__(spec)
        self.logger = init_logging(__name__, spec.get("task_id"), self.TASK_TYPE)
        self.spec.setdefault("createDirectoryIfNotExists", False)
        self.fs = LocalFileSystem()

    def supports_direct_transfer(self) -> bool:
        """Local files always travel through the worker."""
        return False

    def list_files(
        self, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        """List matching files (start-anchored regex); a missing directory is empty."""
        directory = directory or self.spec["directory"]
        file_pattern = file_pattern or self.spec["fileRegex"]
        self.logger.info(f"Listing files in {directory} matching {file_pattern}")
        files = listing.list_matching(self.fs, directory, file_pattern, self.logger)
        self.logger.info(f"Found {len(files)} files in {directory}")
        return files

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        """Nothing to do: the source directory is the staging directory."""
        return 0

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Publish worker files into the destination directory.

        Args:
            local_staging_directory: used when ``file_list`` is not given: every
                entry of ``{staging}/*`` is delivered.
            file_list: exact worker paths to deliver.

        Returns:
            0 when every file was delivered, 1 otherwise.
        """
        if file_list is not None:
            paths = list(file_list)
        else:
            paths = sorted(glob.glob(f"{local_staging_directory}/*"))
        # Local disk to local disk: nothing to overlap, one file after another.
        contents = [streaming.worker_file(path) for path in paths]
        return self._publish(contents, in_flight=1)

    def can_stream_to(self) -> bool:
        """Streams are written straight into the destination directory."""
        return True

    def push_streams(self, contents: list[streaming.Content]) -> int:
        """Publish each content into the destination directory, atomically.

        Streams come from another host, so several are read at once (see
        :mod:`~opentaskpy.fs.inflight`).
        """
        return self._publish(contents, in_flight=None)

    def _publish(self, contents: list[streaming.Content], in_flight: int | None) -> int:
        return publishing.publish_all(
            self.fs,
            self.spec["directory"],
            contents,
            spec=self.spec,
            logger=self.logger,
            final_name=lambda name: fileops.apply_rename(name, self.spec.get("rename")),
            failure="Unable to copy",
            in_flight=in_flight,
        )

    def handle_post_copy_action(self, files: dict) -> int:
        """Move, rename or delete the source files."""
        return fileops.post_copy_action(
            self.fs, files, self.spec["postCopyAction"], self.logger
        )

    def create_flag_files(self) -> int:
        """Create (or truncate) the empty flag file at ``flags.fullPath``."""
        return fileops.create_flag(self.fs, self.spec["flags"]["fullPath"], self.logger)

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        """Not supported: local files go through the worker."""
        raise NotImplementedError("Direct transfers are not supported by local")

    def pull_files(self, files: dict) -> int:
        """Not supported: local destinations are fed from the worker."""
        raise NotImplementedError("Pull transfers are not supported by local")

    def move_files_to_final_location(self, files: dict) -> int:
        """Not supported: files are published in place."""
        raise NotImplementedError("Not supported by local")


def __getattr__(name: str) -> Any:
    """``LocalExecution`` is reachable here too (its home: ``local_execution``).

    Imported on first use, so a local transfer does not load the execution
    machinery (``subprocess`` and friends).
    """
    if name == "LocalExecution":
        from opentaskpy.remotehandlers.local_execution import LocalExecution

        return LocalExecution
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
