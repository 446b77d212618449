"""Handlers that record every call the framework makes into a JSON-lines file.

The file is named by ``spec["record"]`` (transfers: in the source or
destination spec; executions: at the top level). ``spec["fail"]`` names a
method that should return failure, ``spec["raise"]`` one that should raise
``RuntimeError`` (``"__init__"`` included).
"""

from __future__ import annotations

import json
import os
import threading

import opentaskpy.otflogging
from opentaskpy.remotehandlers.remotehandler import (
    RemoteExecutionHandler,
    RemoteTransferHandler,
)


class _Recording:
    spec: dict

    def _record(self, method: str, **args: object) -> int:
        with open(self.spec["record"], "a", encoding="utf-8") as fh:
            entry = {"role": self.spec.get("role", "exec"), "method": method, **args}
            fh.write(json.dumps(entry, default=str) + "\n")
        if self.spec.get("raise") == method:
            raise RuntimeError(f"recorder {method} raised")
        return 1 if self.spec.get("fail") == method else 0


class RecorderTransfer(_Recording, RemoteTransferHandler):
    """Transfer handler over a local directory that records its calls."""

    TASK_TYPE = "T"

    def __init__(self, spec: dict):
        self.logger = opentaskpy.otflogging.init_logging(
            __name__, spec["task_id"], self.TASK_TYPE
        )
        super().__init__(spec)
        self._record("__init__", task_id=spec["task_id"])
        self.logger.info("recorder handler ready")

    def supports_direct_transfer(self) -> bool:
        self._record("supports_direct_transfer")
        return bool(self.spec.get("direct", False))

    def list_files(  # keyword-only: the framework must call it by keyword
        self, *, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        self._record("list_files", directory=directory, file_pattern=file_pattern)
        base = directory or self.spec["directory"]
        return {
            os.path.join(base, n): {
                "size": os.path.getsize(os.path.join(base, n)),
                "modified_time": os.path.getmtime(os.path.join(base, n)),
            }
            for n in sorted(os.listdir(base))
            if n.startswith(file_pattern or self.spec["fileRegex"])
        }

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        return self._record(
            "transfer_files",
            files=sorted(files),
            dest_is_handler=dest_remote_handler is not None,
        )

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        return self._record(
            "push_files_from_worker", file_list=sorted(file_list) if file_list else None
        )

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        return self._record(
            "pull_files_to_worker", files=sorted(files), files_type=type(files).__name__
        )

    def pull_files(self, files: dict, *args: object) -> int:
        return self._record("pull_files", files=sorted(files), extra_args=len(args))

    def move_files_to_final_location(self, files: dict) -> int:
        return self._record("move_files_to_final_location")

    def handle_post_copy_action(self, files: dict) -> int:
        return self._record("handle_post_copy_action", files=sorted(files))

    def create_flag_files(self) -> int:
        return self._record("create_flag_files")

    def tidy(self) -> None:
        self._record("tidy")


class RecorderExecution(_Recording, RemoteExecutionHandler):
    """Execution handler that records its calls; fails when asked to."""

    TASK_TYPE = "E"

    def __init__(self, spec: dict):
        self.logger = opentaskpy.otflogging.init_logging(
            __name__, spec["task_id"], self.TASK_TYPE
        )
        super().__init__(spec)
        self._killed = threading.Event()
        self._record("__init__", task_id=spec["task_id"], keys=sorted(spec))

    def execute(self) -> bool:
        self.logger.info("recorder execution running")
        if self.spec.get("block"):
            # Runs until kill() is called (batch timeout / kill event).
            self._record("execute")
            killed = self._killed.wait(30)
            return not killed
        return self._record("execute") == 0

    def kill(self) -> None:
        self._record("kill")
        self._killed.set()

    def tidy(self) -> None:
        self._record("tidy")


class NotAHandler:
    """A class that is not a remote handler."""

    def __init__(self, spec: dict):
        self.spec = spec
