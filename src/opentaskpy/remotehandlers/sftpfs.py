"""The shared file-operations layer implemented over an SFTP session.

Transfers stream with pipelined requests, so memory stays flat whatever the
file size: downloads keep a sliding window of read requests
(:mod:`~opentaskpy.remotehandlers.sftpread`), uploads pipelined writes
bounded by the channel window. ``read_chunks``/``write_chunks`` let a
transfer stream from one host to another without a staging file.

Request sizes follow the SSH packets that carry them (paramiko pays per
packet, in Python): a write fills one packet of the server's maximum size
exactly instead of spilling a few bytes into a second one, and reads from
OpenSSH's sftp-server, which serves up to 64 KiB per request in every
version, are 64 KiB answered in one packet (the session channel is opened
with room for them, see ``sshconn.SFTP_MAX_PACKET``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator

from opentaskpy.remotehandlers.fileops import FileStat, FileSystem
from opentaskpy.remotehandlers.paramiko_import import paramiko
from opentaskpy.remotehandlers.sftpread import read_pipelined

#: Bytes requested per download window (bounds memory at any file size).
WINDOW_BYTES = 8 * 1024 * 1024
#: Read size every SFTP server supports.
BASIC_READ = 32768
#: Read size for OpenSSH's sftp-server.
OPENSSH_READ = 65536
#: Room for the SFTP and SSH channel headers around a write's data.
WRITE_HEADROOM = 128
#: Buffer of files opened for reading (one SFTP read request per refill).
READ_BUFFER = 32768


def request_sizes(sftp: paramiko.SFTPClient) -> tuple[int, int]:
    """Return ``(read_size, write_size)`` for requests on ``sftp``."""
    channel = sftp.get_channel()
    if channel is None:
        return BASIC_READ, BASIC_READ
    transport = channel.get_transport()
    version = getattr(transport, "remote_version", "") or ""
    read_size = OPENSSH_READ if "OpenSSH" in version else BASIC_READ
    write_size = max(
        4096, min(BASIC_READ, channel.out_max_packet_size) - WRITE_HEADROOM
    )
    return read_size, write_size


class SFTPFileSystem(FileSystem):
    """A :class:`FileSystem` backed by a paramiko ``SFTPClient``."""

    def __init__(self, sftp: paramiko.SFTPClient, host: str, posix_rename: bool = True):
        """Wrap ``sftp``.

        Args:
            sftp: an open SFTP session.
            host: host name used as a log prefix.
            posix_rename: use the ``posix-rename@openssh.com`` extension;
                ``False`` falls back to plain SFTP rename (which cannot
                replace an existing target, so the target is removed first).
        """
        self.sftp = sftp
        self.host = host
        self.posix_rename = posix_rename

    def stat(self, path: str) -> FileStat | None:
        """Stat ``path`` (following links); ``None`` if missing."""
        try:
            attrs = self.sftp.stat(path)
        except FileNotFoundError:
            return None
        return FileStat.from_mode(attrs.st_size, attrs.st_mtime, attrs.st_mode)

    def listdir_attr(self, directory: str) -> list[tuple[str, FileStat]]:
        """List ``directory`` with attributes in one round trip."""
        return [
            (a.filename, FileStat.from_mode(a.st_size, a.st_mtime, a.st_mode))
            for a in self.sftp.listdir_attr(directory)
        ]

    def put(self, local_path: str, remote_path: str) -> None:
        """Upload a worker file: pipelined writes of one packet each."""
        _, write_size = request_sizes(self.sftp)
        with open(local_path, "rb") as handle:
            self.write_chunks(iter(lambda: handle.read(write_size), b""), remote_path)

    def get(self, remote_path: str, local_path: str) -> None:
        """Download to a worker file (see :meth:`read_chunks`)."""
        chunks = self.read_chunks(remote_path)
        first = next(chunks, b"")  # the remote file is open before the local one
        with open(local_path, "wb") as handle:
            handle.write(first)
            for data in chunks:
                handle.write(data)

    def read_chunks(self, path: str, window: int = WINDOW_BYTES) -> Iterator[bytes]:
        """Yield the file's content, read with a sliding window of requests.

        At most ``window`` bytes are requested ahead, so memory stays flat
        at any file size (see :mod:`~opentaskpy.remotehandlers.sftpread`).
        """
        read_size, _ = request_sizes(self.sftp)
        yield from read_pipelined(self.sftp, path, read_size, window)

    def write_chunks(self, chunks: Iterable[bytes], path: str) -> int:
        """Write ``chunks`` to ``path`` with pipelined writes of one packet each.

        Returns:
            The number of bytes written.
        """
        _, write_size = request_sizes(self.sftp)
        written = 0
        pending = bytearray()
        with self.sftp.open(path, "wb", bufsize=0) as remote:
            remote.MAX_REQUEST_SIZE = write_size
            remote.set_pipelined(True)
            for chunk in chunks:
                if not pending and len(chunk) == write_size:
                    remote.write(chunk)
                    written += write_size
                    continue
                pending += chunk
                while len(pending) >= write_size:
                    remote.write(bytes(pending[:write_size]))
                    del pending[:write_size]  # O(1) at the front of a bytearray
                    written += write_size
            if pending:
                remote.write(bytes(pending))
                written += len(pending)
        return written

    def rename(self, source: str, target: str) -> None:
        """Rename, replacing ``target``."""
        if self.posix_rename:
            self.sftp.posix_rename(source, target)
            return
        try:
            self.sftp.rename(source, target)
        except OSError:
            if self.stat(target) is None:
                raise
            self.sftp.remove(target)
            self.sftp.rename(source, target)

    def remove(self, path: str) -> None:
        """Delete a file."""
        self.sftp.remove(path)

    def mkdir(self, path: str) -> None:
        """Create one directory; an existing directory is fine."""
        try:
            self.sftp.mkdir(path)
        except OSError as exc:
            st = self.stat(path)
            if st is None or not st.is_dir:
                if not exc.errno:
                    raise OSError(errno.EIO, f"Cannot create {path}: {exc}") from exc
                raise

    def chmod(self, path: str, mode: int) -> None:
        """Change permission bits."""
        self.sftp.chmod(path, mode)

    def touch(self, path: str) -> None:
        """Create or truncate an empty file."""
        with self.sftp.open(path, "w"):
            pass

    def open_read(self, path: str) -> paramiko.SFTPFile:
        """Open a remote file for buffered reading (log watches).

        No prefetch: paramiko's ``prefetch()`` requests the whole file from
        offset 0 and buffers it in memory, even when the caller only checks
        readability or seeks to the end of a large log (``tail``).
        """
        return self.sftp.open(path, "rb", bufsize=READ_BUFFER)
