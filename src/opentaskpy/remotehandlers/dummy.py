"""The ``dummy`` source: finds no files, never fails for it, writes a token.

Used to exercise destinations (e.g. an email without attachments) and
cacheable variables without a real source.
"""

from __future__ import annotations

import random

from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers.remotehandler import RemoteTransferHandler


class DummyTransfer(RemoteTransferHandler):
    """A source with no files whose ``accessToken`` changes on every construction."""

    TASK_TYPE = "T"
    missing_files_fail = False  # it never has files
    keeps_staging_dir = True  # the reference leaves it; kept for compatibility

    def __init__(self, spec: dict):
        """Store the spec, set a new random ``accessToken`` and cache it.

        Raises:
            ValueError: a cacheable ``variableName`` is not a valid path.
        """
        super().__init__(spec)
        self.logger = init_logging(__name__, spec.get("task_id"), self.TASK_TYPE)
        self.spec["accessToken"] = random.randint(1, 100000)
        if "cacheableVariables" in self.spec:
            self.handle_cacheable_variables()

    def handle_cacheable_variables(self) -> None:
        """Write each cacheable variable's current value through its plugin."""
        from opentaskpy.config.variablecaching import cache_utils

        for entry in self.spec["cacheableVariables"]:
            value = self.obtain_variable_from_spec(entry["variableName"], self.spec)
            self.logger.info(f"Caching variable {entry['variableName']}")
            cache_utils.update_cache(entry, value)

    def supports_direct_transfer(self) -> bool:
        """Files (there are none) would go through the worker."""
        return False

    def list_files(
        self, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        """Never any files."""
        return {}

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        """Nothing to fetch."""
        return 0

    def handle_post_copy_action(self, files: dict) -> int:
        """Nothing to do."""
        return 0

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        """Not supported."""
        raise NotImplementedError("Not supported by dummy")

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Not supported: dummy is a source only."""
        raise NotImplementedError("Not supported by dummy")

    def pull_files(self, files: dict) -> int:
        """Not supported."""
        raise NotImplementedError("Not supported by dummy")

    def move_files_to_final_location(self, files: dict) -> int:
        """Not supported."""
        raise NotImplementedError("Not supported by dummy")
