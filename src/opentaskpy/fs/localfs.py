"""The worker's own disk as a :class:`~opentaskpy.fs.fileops.FileSystem`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator

from opentaskpy.fs.fileops import FileStat, FileSystem
from opentaskpy.fs.listing import DANGLING
from opentaskpy.fs.localcopy import copy_file
from opentaskpy.safewrite import open_for_write

#: Read size for streaming a local file.
CHUNK_BYTES = 1024 * 1024


class LocalFileSystem(FileSystem):
    """File operations on the local file system."""

    host = "LOCALHOST"

    def stat(self, path: str) -> FileStat | None:
        """Attributes of ``path`` following links, or ``None`` if missing."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileStat.from_mode(st.st_size, st.st_mtime, st.st_mode)

    def listdir_attr(self, directory: str) -> list[tuple[str, FileStat]]:
        """Entries of ``directory`` with attributes (links followed).

        Vanished entries are skipped; entries that cannot be resolved (a
        symlink loop, a dangling link) carry :attr:`FileStat.error`.
        """
        entries = []
        with os.scandir(directory) as scan:
            for entry in scan:
                st = _entry_stat(entry)
                if st is not None:
                    entries.append((entry.name, st))
        return entries

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy (see :mod:`~opentaskpy.fs.localcopy`) plus the mode bits.

        Copying the permission bits matches the reference's ``shutil.copy``.
        """
        copy_file(local_path, remote_path)
        shutil.copymode(local_path, remote_path)

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy a file to the worker path."""
        copy_file(remote_path, local_path)

    def read_chunks(self, path: str) -> Iterator[bytes]:
        """Yield the content of ``path`` in 1 MiB chunks."""
        with open(path, "rb") as handle:
            while data := handle.read(CHUNK_BYTES):
                yield data

    def write_chunks(self, chunks: Iterable[bytes], path: str) -> int:
        """Write ``chunks`` to ``path`` (see ``open_for_write``); return the bytes."""
        written = 0
        with open(open_for_write(path), "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                written += len(chunk)
        return written

    def rename(self, source: str, target: str) -> None:
        """Atomic rename replacing ``target`` (same file system only)."""
        os.replace(source, target)

    def remove(self, path: str) -> None:
        """Delete a file."""
        os.remove(path)

    def mkdir(self, path: str) -> None:
        """Create one directory level."""
        os.mkdir(path)

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its missing parents."""
        os.makedirs(path, exist_ok=True)

    def chmod(self, path: str, mode: int) -> None:
        """Change permission bits."""
        os.chmod(path, mode)

    def touch(self, path: str) -> None:
        """Create or truncate an empty file (a link there is replaced, not followed)."""
        os.close(open_for_write(path))

    def name_max(self, directory: str) -> int:
        """Return the file system's name limit for ``directory`` (``NAME_MAX``)."""
        try:
            return os.pathconf(directory, "PC_NAME_MAX")
        except (OSError, ValueError):
            return super().name_max(directory)


def _entry_stat(entry: os.DirEntry[str]) -> FileStat | None:
    """Return the entry's attributes following links; ``None`` if it vanished."""
    try:
        st = entry.stat()
    except OSError as exc:
        try:
            is_link = entry.is_symlink()
        except OSError:
            return None
        if isinstance(exc, FileNotFoundError):
            if not is_link or not os.path.lexists(entry.path):
                return None  # deleted while listing
            return FileStat(0, 0.0, error=DANGLING)
        return FileStat(0, 0.0, error=exc.strerror or type(exc).__name__)
    return FileStat.from_mode(st.st_size, st.st_mtime, st.st_mode)
