"""A local directory used as an object bucket: the ``folder`` transfer protocol.

Protocol name: ``opentaskpy.addons.example.remotehandlers.folder.FolderTransfer``.

A spec names the bucket (an absolute directory standing in for an object
store) and an optional ``directory`` prefix inside it. Object keys are
``<directory>/<file name>``; the files dict the framework passes around is
keyed by the absolute path of each object.

Two folder buckets copy to each other directly (``supports_direct_transfer``);
any other pairing goes through the worker's staging directory. Every write is
atomic: the data goes to a hidden ``.<name>.partial`` file first and is renamed
into place, so a reader never sees half an object.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

import opentaskpy.otflogging
from opentaskpy.remotehandlers.remotehandler import RemoteTransferHandler


class FolderTransfer(RemoteTransferHandler):
    """Transfer handler for a directory-as-a-bucket."""

    TASK_TYPE = "T"

    def __init__(self, spec: dict):
        """Build the handler; cheap, no I/O.

        Args:
            spec: this end's source or destination spec, with ``task_id``.
        """
        self.logger = opentaskpy.otflogging.init_logging(
            __name__, spec["task_id"], self.TASK_TYPE
        )
        super().__init__(spec)
        self.closed = False

    # -- helpers ---------------------------------------------------------

    def _prefix_dir(self, directory: str | None = None) -> str:
        prefix = directory if directory is not None else self.spec.get("directory")
        return os.path.join(self.spec["bucket"], prefix or "")

    def _target_name(self, file_name: str, spec: dict | None = None) -> str:
        rename = (spec or self.spec).get("rename")
        if rename:
            file_name = re.sub(rename["pattern"], rename["sub"], file_name)
        return file_name

    def _atomic_copy(self, source: str, target: str) -> None:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = os.path.join(
            os.path.dirname(target), f".{os.path.basename(target)}.partial"
        )
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    # -- the abstract methods ---------------------------------------------

    def supports_direct_transfer(self) -> bool:
        """Two folder buckets can copy between each other without staging."""
        return True

    def list_files(
        self, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        """List the objects under a prefix whose name matches a pattern.

        Args:
            directory: prefix inside the bucket; ``None`` means ``spec["directory"]``.
            file_pattern: regex matched (``re.match``) against the object's name;
                ``None`` means ``spec["fileRegex"]``.

        Returns:
            ``{absolute path: {"size": bytes, "modified_time": epoch seconds}}``,
            empty when the prefix does not exist.
        """
        pattern = file_pattern if file_pattern is not None else self.spec["fileRegex"]
        base = self._prefix_dir(directory)
        self.logger.info(f"Listing objects in {base} matching {pattern}")
        found: dict = {}
        if not os.path.isdir(base):
            return found
        for entry in os.scandir(base):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if re.match(pattern, entry.name):
                stat = entry.stat()
                found[entry.path] = {
                    "size": stat.st_size,
                    "modified_time": stat.st_mtime,
                }
        return found

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        """Copy objects straight into another folder bucket.

        Args:
            files: the files dict from ``list_files`` (only keys are used).
            remote_spec: the destination's spec.
            dest_remote_handler: the destination handler (its spec wins).

        Returns:
            0 when every object was copied, 1 otherwise.
        """
        dest_spec = getattr(dest_remote_handler, "spec", None) or remote_spec
        dest_dir = os.path.join(dest_spec["bucket"], dest_spec.get("directory", ""))
        result = 0
        for path in files:
            target = os.path.join(
                dest_dir, self._target_name(os.path.basename(path), dest_spec)
            )
            self.logger.info(f"Copying {path} to {target}")
            try:
                self._atomic_copy(path, target)
            except OSError as exc:
                self.logger.error(f"Failed to copy {path}: {exc}")
                result = 1
        return result

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        """Copy objects into the worker's staging directory.

        Args:
            files: the files dict from ``list_files``.
            local_staging_directory: where to put them (already created).

        Returns:
            0 on success, 1 if any copy failed.
        """
        result = 0
        for path in files:
            target = os.path.join(local_staging_directory, os.path.basename(path))
            try:
                shutil.copyfile(path, target)
            except OSError as exc:
                self.logger.error(f"Failed to fetch {path}: {exc}")
                result = 1
        return result

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Upload files from the worker into this bucket.

        Args:
            local_staging_directory: the staging directory.
            file_list: when given, upload exactly its keys (local paths);
                otherwise every file in the staging directory.

        Returns:
            0 on success, 1 if any upload failed.
        """
        if file_list:
            sources = list(file_list)
        else:
            sources = sorted(glob.glob(f"{local_staging_directory}/*"))
        result = 0
        for source in sources:
            target = os.path.join(
                self._prefix_dir(), self._target_name(os.path.basename(source))
            )
            self.logger.info(f"Uploading {source} to {target}")
            try:
                self._atomic_copy(source, target)
            except OSError as exc:
                self.logger.error(f"Failed to upload {source}: {exc}")
                result = 1
        return result

    def pull_files(self, files: dict) -> int:
        """Not supported: a bucket cannot fetch from another host by itself."""
        raise NotImplementedError("folder buckets do not support transferType pull")

    def move_files_to_final_location(self, files: dict) -> int:
        """Not needed: uploads are already atomic."""
        raise NotImplementedError

    def handle_post_copy_action(self, files: dict) -> int:
        """Delete or move the source objects after every destination succeeded.

        Args:
            files: the files dict that was transferred.

        Returns:
            0 on success, 1 on failure.
        """
        action = self.spec["postCopyAction"]
        try:
            for path in files:
                if action["action"] == "delete":
                    os.remove(path)
                elif action["action"] == "move":
                    target_dir = os.path.join(
                        self.spec["bucket"], action["destination"]
                    )
                    os.makedirs(target_dir, exist_ok=True)
                    os.replace(path, os.path.join(target_dir, os.path.basename(path)))
        except OSError as exc:
            self.logger.error(f"Post copy action failed: {exc}")
            return 1
        return 0

    # -- optional hooks ------------------------------------------------------

    def create_flag_files(self) -> int:
        """Create the empty flag object named by ``flags.fullPath``.

        Returns:
            0 on success, 1 on failure.
        """
        path = os.path.join(self.spec["bucket"], self.spec["flags"]["fullPath"])
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb"):
                pass
        except OSError as exc:
            self.logger.error(f"Failed to create flag {path}: {exc}")
            return 1
        return 0

    def tidy(self) -> None:
        """Nothing to close for a directory; record that tidy ran."""
        self.closed = True
