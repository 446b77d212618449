"""The file-system interface every protocol provides, and path helpers.

A protocol handler hands the shared file logic (listing, atomic publishing,
post-copy actions, flag files) a :class:`FileSystem` for the local disk, an
SFTP session, ...; the logic only ever calls the methods declared here.
"""

from __future__ import annotations

import posixpath
import re
import stat as stat_module
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

#: Longest file name in bytes on almost every file system (``NAME_MAX``).
DEFAULT_NAME_MAX = 255


class FileStat(NamedTuple):
    """The attributes the framework needs from a file."""

    size: int
    modified_time: float
    is_dir: bool = False
    #: Why a listed entry could not be resolved (a symlink loop, a dangling
    #: link: ``listing.DANGLING``, no permission); empty for a usable entry.
    error: str = ""

    @staticmethod
    def from_mode(size: int | None, mtime: float | None, mode: int | None) -> FileStat:
        """Build from ``os.stat``/SFTP style attributes."""
        return FileStat(
            size=int(size or 0),
            modified_time=float(mtime or 0),
            is_dir=bool(mode is not None and stat_module.S_ISDIR(mode)),
        )


class FileSystem(ABC):
    """The operations a protocol must provide to use the shared file logic.

    Paths are strings in the file system's own syntax (POSIX for SFTP and
    the local disk). Methods raise ``OSError`` (``FileNotFoundError``,
    ``PermissionError`` ...) on failure.
    """

    #: Name of the host, used as a log prefix.
    host: str = "localhost"

    @abstractmethod
    def stat(self, path: str) -> FileStat | None:
        """Return the attributes of ``path`` (following links), or ``None``."""

    @abstractmethod
    def listdir_attr(self, directory: str) -> list[tuple[str, FileStat]]:
        """List a directory with attributes in one call; raise if it is missing.

        Links are followed; an entry that cannot be resolved is listed with
        :attr:`FileStat.error` set instead of raising.
        """

    #: ``write_chunks`` checks the written file's size itself (so
    #: :func:`publish` need not stat it again).
    checks_written_size = False

    @abstractmethod
    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a worker file to ``remote_path`` (streaming, constant memory)."""

    @abstractmethod
    def get(self, remote_path: str, local_path: str) -> None:
        """Copy ``remote_path`` to a worker file (streaming, constant memory)."""

    def read_chunks(self, path: str) -> Iterator[bytes]:
        """Yield the content of ``path`` in chunks (for streaming transfers).

        Optional: a file system that cannot stream raises
        ``NotImplementedError`` and its transfers go through staging files.
        """
        raise NotImplementedError

    def start_read(self, path: str) -> Iterator[bytes]:
        """Like :meth:`read_chunks`, but the file is asked for at once.

        For a file system that can overlap it with other work (SFTP sends the
        open without waiting for the answer); the result may have a
        ``close()`` that releases the file whether or not it was read.
        """
        return self.read_chunks(path)

    def write_chunks(self, chunks: Iterable[bytes], path: str) -> int:
        """Write ``chunks`` to ``path`` and return the bytes written (optional)."""
        raise NotImplementedError

    #: Small files can be published in groups, each step's requests for the
    #: whole group sent at once (:meth:`start_small_creates`; see
    #: :mod:`~opentaskpy.fs.smallfiles`).
    small_file_rounds = False
    #: Small files can be read in groups (:meth:`start_small_reads`).
    small_file_reads = False

    def small_file_limit(self) -> int:
        """Return the largest file one request reads or writes."""
        raise NotImplementedError

    def start_small_reads(self, paths: list[str], limit: int) -> Any:
        """Send the opens of ``paths``; the result's ``contents()`` reads them.

        Each content is the file's bytes or the exception it met (a file
        over ``limit`` bytes is refused). With ``small_file_reads`` only.
        """
        raise NotImplementedError

    def start_small_creates(self, paths: list[str]) -> Any:
        """Send exclusive creates of ``paths``; the result writes and renames.

        See :class:`~opentaskpy.transport.ssh.sftpbulk.Writes`. With
        ``small_file_rounds`` only.
        """
        raise NotImplementedError

    @abstractmethod
    def rename(self, source: str, target: str) -> None:
        """Rename, atomically replacing ``target`` if it exists."""

    def start_rename(self, source: str, target: str) -> Callable[[], None] | None:
        """Send a :meth:`rename` without waiting for it, where that is possible.

        Returns:
            What confirms it (raising its error), to be called before the
            rename is relied on; ``None`` when nothing was sent (use
            :meth:`rename`).
        """
        return None

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete a file."""

    @abstractmethod
    def mkdir(self, path: str) -> None:
        """Create one directory level."""

    @abstractmethod
    def chmod(self, path: str, mode: int) -> None:
        """Change permission bits."""

    @abstractmethod
    def touch(self, path: str) -> None:
        """Create or truncate an empty file."""

    def name_max(self, directory: str) -> int:
        """Longest file name in bytes that ``directory`` accepts."""
        return DEFAULT_NAME_MAX

    def reopen(self) -> None:
        """Get ready for clean-up after an operation was interrupted mid-way.

        A session still busy with the interrupted operation is replaced, so
        removing a temporary file does not wait behind it. Nothing to do
        where operations cannot be left half-way (the local disk).
        """
        return

    def makedirs(self, path: str) -> None:
        """Create ``path`` and every missing parent."""
        missing: list[str] = []
        current = path.rstrip("/") or "/"
        while current not in ("", "/", ".") and self.stat(current) is None:
            missing.append(current)
            current = posixpath.dirname(current)
        for directory in reversed(missing):
            self.mkdir(directory)


def join(directory: str, name: str) -> str:
    """Join like the reference: ``{directory}/{name}``, but never ``//`` at root."""
    if directory == "/":
        return "/" + name
    return f"{directory}/{name}"


def apply_rename(name: str, rename: dict | None) -> str:
    """Apply a ``{pattern, sub}`` rename to a bare file name."""
    if not rename:
        return name
    return re.sub(rename["pattern"], rename["sub"], name)
