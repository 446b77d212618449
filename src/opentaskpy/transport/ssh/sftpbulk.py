"""A group of small files per round trip: each step's requests sent at once.

One small file costs a handful of requests (open, stat, read and close at
the source; create, write, size check and close, rename at the
destination) and almost no data, so handled one by one it is paid for in
round trips, SSH packets and thread wake-ups rather than bytes. Here every
step is taken for a whole group at once: the requests of all files go out
in one channel write (see :func:`~opentaskpy.transport.ssh.sftpread.corked`),
the server answers them in order, and their answers mostly arrive together,
so a group of 32 files costs about what one file did.

Each function sends one step for every item and returns what the next step
needs, per item: a value, or the exception that item met (the others go
on). Requests whose answers are not needed (closes after a read, removals
of temporary files) are not waited for; the server handles requests in
order, so whatever is sent next on the session runs after them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import NamedTuple, cast

from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpread import (
    CMD_CLOSE,
    CMD_FSTAT,
    CMD_OPEN,
    CMD_READ,
    CMD_STAT,
    CMD_WRITE,
    Answers,
    Primitives,
    answer,
    attributes,
    corked,
    expect_status,
    handle_of,
    read_answer,
)

_sftp = paramiko.sftp
CMD_FSETSTAT, CMD_REMOVE = _sftp.CMD_FSETSTAT, _sftp.CMD_REMOVE
CMD_EXTENDED = _sftp.CMD_EXTENDED
#: Create exclusively (``O_EXCL``): a name that exists, a link included, fails.
CREATE_FLAGS = int(
    _sftp.SFTP_FLAG_WRITE | _sftp.SFTP_FLAG_CREATE | _sftp.SFTP_FLAG_EXCL
)


class TooLarge(OSError):
    """The file is larger than one read request: it goes the usual way."""


class Opened(NamedTuple):
    """A source file opened for reading, and its size at that moment."""

    handle: bytes
    size: int


Outcome = BaseException | None


def _session(client: paramiko.SFTPClient) -> tuple[Primitives, Answers]:
    return cast(Primitives, client), Answers()


class Reads:
    """Reads of small files: :meth:`send_opens`, then :meth:`contents`."""

    def __init__(self, client: paramiko.SFTPClient, limit: int):
        """Read on ``client``; files larger than ``limit`` bytes are refused."""
        self._wire, self._answers = _session(client)
        self._limit = limit
        self._sent: list[tuple[int, int]] = []

    def send_opens(self, paths: Sequence[str | bytes]) -> None:
        """Send an open and a stat of every path, not waiting."""
        wire, answers = self._wire, self._answers
        flags = int(_sftp.SFTP_FLAG_READ)
        with corked(wire):
            self._sent = [
                (
                    wire._async_request(
                        answers, CMD_OPEN, path, flags, paramiko.SFTPAttributes()
                    ),
                    wire._async_request(answers, CMD_STAT, path),
                )
                for path in paths
            ]

    def contents(self) -> list[bytes | BaseException]:
        """Each file's content, or why it could not be read here."""
        wire, answers = self._wire, self._answers
        opened: list[Opened | BaseException] = []
        for num_open, num_stat in self._sent:
            opened.append(self._opened(num_open, num_stat))
        reads: list[int | BaseException] = []
        with corked(wire):
            for item in opened:
                if isinstance(item, BaseException):
                    reads.append(item)
                    continue
                reads.append(
                    wire._async_request(
                        answers, CMD_READ, item.handle, _sftp.int64(0), item.size
                    )
                    if item.size
                    else _EMPTY
                )
                _close_quietly(wire, item.handle)
        pairs = zip(reads, opened, strict=True)
        return [self._content(num, item) for num, item in pairs]

    def _opened(self, num_open: int, num_stat: int) -> Opened | BaseException:
        wire, answers = self._wire, self._answers
        t, msg = answer(wire, answers, num_open)
        stat_t, stat_msg = answer(wire, answers, num_stat)
        try:
            handle = handle_of(wire, t, msg)
        except Exception as exc:  # noqa: BLE001 - this item's failure
            return exc
        try:
            size = int(attributes(wire, stat_t, stat_msg).st_size or 0)
            if size > self._limit:
                raise TooLarge(f"{size} bytes")
        except Exception as exc:  # noqa: BLE001 - this item's failure
            _close_quietly(wire, handle)
            return exc
        return Opened(handle, size)

    def _content(
        self, num: int | BaseException, item: Opened | BaseException
    ) -> bytes | BaseException:
        if isinstance(num, BaseException) or isinstance(item, BaseException):
            return cast(BaseException, item)
        if num is _EMPTY:
            return b""
        try:
            data = read_answer(self._wire, *answer(self._wire, self._answers, num))
        except Exception as exc:  # noqa: BLE001 - this item's failure
            return exc
        if len(data) != item.size:  # a short answer: the usual path reads on
            return TooLarge(f"answered {len(data)} of {item.size} bytes")
        return data


_EMPTY = -1  # no read request for an empty file


class Writes:
    """Publishing small files under temporary names: create, write, rename."""

    def __init__(self, client: paramiko.SFTPClient):
        """Write on ``client``."""
        self._wire, self._answers = _session(client)
        self._creates: list[int] = []

    def send_creates(self, paths: Sequence[str | bytes]) -> None:
        """Send an exclusive create of every (temporary) path, not waiting."""
        wire, answers = self._wire, self._answers
        with corked(wire):
            self._creates = [
                wire._async_request(
                    answers, CMD_OPEN, path, CREATE_FLAGS, paramiko.SFTPAttributes()
                )
                for path in paths
            ]

    def write(
        self, contents: Sequence[bytes | BaseException], mode: int | None
    ) -> list[Outcome]:
        """Write each content into its created file, check its size, close it.

        A content that is an exception is not written (its file, if created,
        is only closed) and is returned as its outcome. ``mode``: permission
        bits set on each file before it is closed.

        Returns:
            Per file ``None`` (written, size checked, closed) or the failure.
        """
        wire = self._wire
        handles = [self._handle(num) for num in self._creates]
        sent: list[tuple[int, int, int | None, int] | BaseException] = []
        with corked(wire):
            for handle, data in zip(handles, contents, strict=True):
                if isinstance(handle, BaseException):
                    sent.append(handle)
                    continue
                if isinstance(data, BaseException):
                    _close_quietly(wire, handle)
                    sent.append(data)
                    continue
                sent.append(self._send_write(handle, data, mode))
        outcomes: list[Outcome] = []
        for item, data in zip(sent, contents, strict=True):
            if isinstance(item, BaseException):
                outcomes.append(item)
                continue
            outcomes.append(self._written(item, len(cast(bytes, data))))
        return outcomes

    def _handle(self, num: int) -> bytes | BaseException:
        t, msg = answer(self._wire, self._answers, num)
        try:
            return handle_of(self._wire, t, msg)
        except Exception as exc:  # noqa: BLE001 - this item's failure
            return exc

    def _send_write(
        self, handle: bytes, data: bytes, mode: int | None
    ) -> tuple[int, int, int | None, int]:
        wire, answers = self._wire, self._answers
        write = (
            wire._async_request(answers, CMD_WRITE, handle, _sftp.int64(0), data)
            if data
            else _EMPTY
        )
        size = wire._async_request(answers, CMD_FSTAT, handle)
        setstat = None
        if mode is not None:
            attrs = paramiko.SFTPAttributes()
            attrs.st_mode = mode
            setstat = wire._async_request(answers, CMD_FSETSTAT, handle, attrs)
        return write, size, setstat, wire._async_request(answers, CMD_CLOSE, handle)

    def _written(self, sent: tuple[int, int, int | None, int], length: int) -> Outcome:
        wire, answers = self._wire, self._answers
        write, size, setstat, close = sent
        # Every answer is taken, even after a failure: none may be left behind.
        replies = {
            what: answer(wire, answers, num)
            for what, num in (
                ("write", write),
                ("size", size),
                ("chmod", setstat),
                ("close", close),
            )
            if num is not None and num != _EMPTY
        }
        try:
            for what in ("write", "chmod", "close"):
                if what in replies:
                    expect_status(wire, *replies[what], what)
            found = attributes(wire, *replies["size"]).st_size
            if found != length:
                raise OSError(
                    f"Size check failed: wrote {length} bytes, the file has {found}"
                )
        except Exception as exc:  # noqa: BLE001 - this item's failure
            return exc
        return None

    def rename(self, pairs: Sequence[tuple[str | bytes, str | bytes]]) -> list[Outcome]:
        """posix-rename each temporary path over its final path."""
        wire, answers = self._wire, self._answers
        with corked(wire):
            nums = [
                wire._async_request(
                    answers, CMD_EXTENDED, "posix-rename@openssh.com", source, target
                )
                for source, target in pairs
            ]
        outcomes: list[Outcome] = []
        for num in nums:
            try:
                t, msg = answer(wire, answers, num)
                expect_status(wire, t, msg, "rename")
            except Exception as exc:  # noqa: BLE001 - this item's failure
                outcomes.append(exc)
                continue
            outcomes.append(None)
        return outcomes

    def remove_quietly(self, paths: Sequence[str | bytes]) -> None:
        """Send a removal of each path; the answers are not waited for."""
        with corked(self._wire), contextlib.suppress(Exception):
            for path in paths:
                self._wire._async_request(type(None), CMD_REMOVE, path)


def _close_quietly(wire: Primitives, handle: bytes) -> None:
    with contextlib.suppress(Exception):  # a lost connection is reported elsewhere
        wire._async_request(type(None), CMD_CLOSE, handle)
