"""The shared file-operations layer implemented over an SFTP session.

Transfers stream with pipelined requests, so memory stays flat whatever the
file size: downloads keep a sliding window of read requests
(:mod:`~opentaskpy.transport.ssh.sftpread`), uploads a sliding window of
write requests (:mod:`~opentaskpy.transport.ssh.sftpwrite`).
``read_chunks``/``write_chunks`` let a transfer stream from one host to
another without a staging file.

Request sizes: :mod:`~opentaskpy.transport.ssh.sftpsession`.
"""

from __future__ import annotations

import errno
import stat as stat_module
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import cast

from opentaskpy.fs.checksums import tap
from opentaskpy.fs.fileops import FileStat, FileSystem
from opentaskpy.fs.sftplist import read_directory, resolve
from opentaskpy.names import wire
from opentaskpy.safewrite import open_for_write
from opentaskpy.transport.ssh import sftpbulk
from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpread import (
    Answers,
    Primitives,
    StartedRead,
    answer,
    expect_status,
    read_pipelined,
)
from opentaskpy.transport.ssh.sftpsession import (
    SFTPSession,
    announces,
    name_max,
    request_sizes,
    share_request_sizes,
)
from opentaskpy.transport.ssh.sftpwrite import write_pipelined
from opentaskpy.transport.ssh.sshio import open_session

CMD_EXTENDED = paramiko.sftp.CMD_EXTENDED
#: Bytes requested per download window (bounds memory at any file size).
WINDOW_BYTES = 8 * 1024 * 1024
#: Bytes of write requests in flight at most (several channel windows).
WRITE_WINDOW_BYTES = 8 * 1024 * 1024
#: Buffer of files opened for reading (one SFTP read request per refill).
READ_BUFFER = 32768
#: Seconds a clean-up session may take to open and answer (see ``reopen``).
REOPEN_TIMEOUT = 1.5


def regroup(chunks: Iterable[bytes], size: int) -> Generator[bytes, None, None]:
    """Yield the bytes of ``chunks`` in pieces of ``size`` (the last one shorter)."""
    pending = bytearray()
    for chunk in chunks:
        if not pending and len(chunk) == size:
            yield chunk
            continue
        pending += chunk
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]  # O(1) at the front of a bytearray
    if pending:
        yield bytes(pending)


class SFTPFileSystem(FileSystem):
    """A :class:`FileSystem` backed by a paramiko ``SFTPClient``."""

    checks_written_size = True  # see sftpwrite.write_pipelined
    small_file_reads = True  # see sftpbulk.Reads

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
        #: ``name_max`` answers by directory (shared with sibling sessions).
        self.name_limits: dict[str, int] = {}

    def stat(self, path: str) -> FileStat | None:
        """Stat ``path`` (following links); ``None`` if missing."""
        try:
            attrs = self.sftp.stat(wire(path))
        except FileNotFoundError:
            return None
        return FileStat.from_mode(attrs.st_size, attrs.st_mtime, attrs.st_mode)

    def listdir_attr(self, directory: str) -> list[tuple[str, FileStat]]:
        """List ``directory`` with attributes (one more round trip per link).

        Names that are not UTF-8 are kept (surrogate escapes); links are
        followed, and those that cannot be carry :attr:`FileStat.error`.
        """
        entries = []
        for name, attrs in read_directory(self.sftp, directory):
            st = resolve(self.sftp, f"{directory.rstrip('/')}/{name}", attrs)
            if st is not None:
                entries.append((name, st))
        return entries

    def put(self, local_path: str, remote_path: str) -> None:
        """Upload a worker file: pipelined writes of one packet each."""
        _, write_size = request_sizes(self.sftp)
        with open(local_path, "rb") as handle:
            chunks = tap(iter(lambda: handle.read(write_size), b""), local_path)
            self.write_chunks(chunks, remote_path)

    def get(self, remote_path: str, local_path: str) -> None:
        """Download to a worker file (see :meth:`read_chunks`)."""
        chunks = tap(self.read_chunks(remote_path), local_path)
        first = next(chunks, b"")  # the remote file is open before the local one
        with open(open_for_write(local_path), "wb") as handle:
            handle.write(first)
            for data in chunks:
                handle.write(data)

    def read_chunks(self, path: str, window: int = WINDOW_BYTES) -> Iterator[bytes]:
        """Yield the file's content, read with a sliding window of requests.

        At most ``window`` bytes are requested ahead, so memory stays flat
        at any file size (see :mod:`~opentaskpy.transport.ssh.sftpread`).
        """
        read_size, _ = request_sizes(self.sftp)
        yield from read_pipelined(self.sftp, wire(path), read_size, window)

    def start_read(self, path: str) -> StartedRead:
        """Send the open of ``path`` now; iterate the result for the content."""
        read_size, _ = request_sizes(self.sftp)
        return StartedRead(self.sftp, wire(path), read_size, WINDOW_BYTES)

    def write_chunks(self, chunks: Iterable[bytes], path: str) -> int:
        """Write ``chunks`` to ``path`` with pipelined writes of one packet each.

        Returns:
            The number of bytes written.
        """
        _, write_size = request_sizes(self.sftp)
        depth = max(1, WRITE_WINDOW_BYTES // write_size)
        blocks = regroup(chunks, write_size)
        try:
            return write_pipelined(self.sftp, wire(path), blocks, depth, "wxb")
        except OSError:
            import inspect  # only when the name exists already

            if inspect.getgeneratorstate(blocks) != inspect.GEN_CREATED:
                raise  # the file was created: a write failed
            mode = self._mode_for_existing(path)
            if mode is None:
                raise
        return write_pipelined(self.sftp, wire(path), blocks, depth, mode)

    def _mode_for_existing(self, path: str) -> str | None:
        """How to open ``path`` after an exclusive create failed; ``None`` if missing.

        Files are created exclusively (``O_EXCL`` on the server, which fails
        on any existing name, a symbolic link included), so no write ever
        follows a link. When the name exists it is looked at: a link is
        removed and the file created exclusively again (the link is
        replaced, its target never written); a regular file is truncated.
        """
        try:
            attrs = self.sftp.lstat(wire(path))  # type: ignore[arg-type]
        except FileNotFoundError:
            return None
        if stat_module.S_ISLNK(attrs.st_mode or 0):
            self.sftp.remove(wire(path))  # type: ignore[arg-type]
            return "wxb"
        return "wb"

    @property
    def small_file_rounds(self) -> bool:  # type: ignore[override]
        """Groups need posix-rename (a plain SFTP rename cannot replace)."""
        return self.posix_rename and announces(self.sftp, "posix-rename@openssh.com")

    def small_file_limit(self) -> int:
        """Return the smaller of one read's and one write's size on this session."""
        return min(request_sizes(self.sftp))

    def start_small_reads(self, paths: list[str], limit: int) -> sftpbulk.Reads:
        """Send the opens (and stats) of ``paths`` at once, not waiting."""
        reads = sftpbulk.Reads(self.sftp, limit)
        reads.send_opens([wire(path) for path in paths])
        return reads

    def start_small_creates(self, paths: list[str]) -> sftpbulk.Writes:
        """Send exclusive creates of ``paths`` at once, not waiting."""
        writes = sftpbulk.Writes(self.sftp)
        writes.send_creates([wire(path) for path in paths])
        return writes

    def rename(self, source: str, target: str) -> None:
        """Rename, replacing ``target``."""
        if self.posix_rename and announces(self.sftp, "posix-rename@openssh.com"):
            self.sftp.posix_rename(wire(source), wire(target))  # type: ignore[arg-type]
            return
        try:
            self.sftp.rename(wire(source), wire(target))  # type: ignore[arg-type]
        except OSError:
            if self.stat(target) is None:
                raise
            self.sftp.remove(wire(target))  # type: ignore[arg-type]
            self.sftp.rename(wire(source), wire(target))  # type: ignore[arg-type]

    def start_rename(self, source: str, target: str) -> Callable[[], None] | None:
        """Send a posix-rename now; the answer is read with later ones.

        ``None`` (use :meth:`rename`) without the extension.
        """
        if not (self.posix_rename and announces(self.sftp, "posix-rename@openssh.com")):
            return None
        client = cast(Primitives, self.sftp)
        answers = Answers()
        num = client._async_request(
            answers,
            CMD_EXTENDED,
            "posix-rename@openssh.com",
            wire(source),
            wire(target),
        )

        def confirm() -> None:
            try:
                t, msg = answer(client, answers, num)
            except Exception:
                # The session was replaced before the answer was read (a
                # signal's clean-up reopens it): the rename went out, so what
                # the directory shows now is the answer.
                if self.stat(source) is None and self.stat(target) is not None:
                    return
                raise
            expect_status(client, t, msg, "rename")

        return confirm

    def remove(self, path: str) -> None:
        """Delete a file."""
        self.sftp.remove(wire(path))  # type: ignore[arg-type]

    def mkdir(self, path: str) -> None:
        """Create one directory; an existing directory is fine."""
        try:
            self.sftp.mkdir(wire(path))  # type: ignore[arg-type]
        except OSError as exc:
            st = self.stat(path)
            if st is None or not st.is_dir:
                if not exc.errno:
                    raise OSError(errno.EIO, f"Cannot create {path}: {exc}") from exc
                raise

    def chmod(self, path: str, mode: int) -> None:
        """Change permission bits."""
        self.sftp.chmod(wire(path), mode)  # type: ignore[arg-type]

    def touch(self, path: str) -> None:
        """Create or truncate an empty file (a link there is replaced, not followed)."""
        self.write_chunks((), path)

    def name_max(self, directory: str) -> int:
        """Return the server's ``statvfs`` name limit for ``directory`` (asked once)."""
        if directory not in self.name_limits:
            self.name_limits[directory] = name_max(self.sftp, directory) or 255
        return self.name_limits[directory]

    def sibling(self) -> SFTPFileSystem:
        """Open another SFTP session on this one's connection, set up alike.

        For a second file in flight (see
        :mod:`~opentaskpy.fs.inflight`); the name limits and
        request sizes already asked for are shared, not asked again.
        """
        channel = self.sftp.get_channel()
        transport = channel.get_transport() if channel is not None else None
        if channel is None or transport is None or not transport.is_active():
            raise OSError(f"the connection to {self.host} is closed")
        fresh = open_session(
            transport, channel.in_window_size, channel.in_max_packet_size
        )
        fresh.settimeout(channel.gettimeout())
        fresh.invoke_subsystem("sftp")
        other = SFTPFileSystem(SFTPSession(fresh), self.host, self.posix_rename)
        other.name_limits = self.name_limits
        share_request_sizes(self.sftp, other.sftp)
        return other

    def reopen(self) -> None:
        """Replace the session by a fresh one on the same connection.

        After an interrupted transfer the session's channel still holds
        megabytes of queued writes; a clean-up request sent on it would wait
        behind all of them. Closing the channel discards them, and a new
        session answers at once.
        """
        channel = self.sftp.get_channel()
        transport = channel.get_transport() if channel is not None else None
        self.sftp.close()
        if transport is None or not transport.is_active():
            return
        fresh = transport.open_session(timeout=REOPEN_TIMEOUT)
        fresh.settimeout(REOPEN_TIMEOUT)
        fresh.invoke_subsystem("sftp")
        self.sftp = SFTPSession(fresh)

    def open_read(self, path: str) -> paramiko.SFTPFile:
        """Open a remote file for buffered reading (log watches).

        No prefetch: paramiko's ``prefetch()`` requests the whole file from
        offset 0 and buffers it in memory, even when the caller only checks
        readability or seeks to the end of a large log (``tail``).
        """
        return self.sftp.open(wire(path), "rb", bufsize=READ_BUFFER)  # type: ignore[arg-type]
