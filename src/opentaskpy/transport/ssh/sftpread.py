"""Reading a remote file over SFTP with a sliding window of read requests.

paramiko's ``readv``/prefetch issues requests from a helper thread, and when
the reader catches up with that thread it can decide the prefetch is over
(the set of outstanding requests is briefly empty). It then falls back to
one synchronous request per block and never reads the data still arriving
for the prefetch: the download slows to one round trip per block and keeps
every late block in memory until the file is closed (seen on a 1 GiB file:
RSS growing by ~5 MB/s). Here one loop keeps a fixed number of requests
outstanding, consumes the answers in order and asks for the next block as
each one arrives, so memory is bounded by the window and the pipe never
drains between windows.

Small files are dominated by round trips, so the file is opened and
stat'ed in one (both requests go out together) and closed without waiting
for the answer: two round trips fewer per file.

This uses paramiko's request/response primitives (``_async_request``,
``_read_response``, ``_convert_status``, ``_request``), which its own file
objects are built on.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Generator, Iterator
from typing import Any, Protocol, cast

from opentaskpy.transport.ssh.paramiko_import import paramiko

_sftp = paramiko.sftp
CMD_READ, CMD_DATA, CMD_STATUS = _sftp.CMD_READ, _sftp.CMD_DATA, _sftp.CMD_STATUS
CMD_OPEN, CMD_STAT, CMD_CLOSE = _sftp.CMD_OPEN, _sftp.CMD_STAT, _sftp.CMD_CLOSE
CMD_HANDLE, CMD_ATTRS = _sftp.CMD_HANDLE, _sftp.CMD_ATTRS
CMD_WRITE, CMD_FSTAT = _sftp.CMD_WRITE, _sftp.CMD_FSTAT


class Primitives(Protocol):
    """The private ``SFTPClient`` methods used here (absent from the stubs)."""

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...

    def _read_response(self, waitfor: int | None = None) -> object: ...

    def _request(self, t: int, *args: object) -> tuple[int, paramiko.Message]: ...

    def _convert_status(self, msg: paramiko.Message) -> None: ...


class Answers:
    """Receives the responses to our read requests (paramiko's callback)."""

    def __init__(self) -> None:
        self.by_request: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, t: int, msg: paramiko.Message, num: int) -> None:
        self.by_request[num] = (t, msg)


def expect_status(
    wire: Primitives, t: int, msg: paramiko.Message, what: str = "request"
) -> None:
    """Check a status answer to a ``what``; raise the server's error, if any."""
    if t != CMD_STATUS:
        raise OSError(f"unexpected SFTP response type {t} to a {what}")
    wire._convert_status(msg)


def handle_of(wire: Primitives, t: int, msg: paramiko.Message) -> bytes:
    """Return the handle an open was answered with; raise the server's error."""
    if t == CMD_STATUS:
        wire._convert_status(msg)
    if t != CMD_HANDLE:
        raise OSError(f"unexpected SFTP response type {t} to an open")
    return bytes(msg.get_binary())


def read_answer(client: Primitives, t: int, msg: paramiko.Message) -> bytes:
    """Return the data of a read's answer; raise its error (or a short file's)."""
    if t == CMD_STATUS:
        try:
            client._convert_status(msg)
        except EOFError:
            raise OSError("the file became shorter while it was read") from None
    if t != CMD_DATA:
        raise OSError(f"unexpected SFTP response type {t} to a read")
    return bytes(msg.get_string())


def read_pipelined(
    client: paramiko.SFTPClient, path: str | bytes, block: int, window: int
) -> Iterator[bytes]:
    """Yield the content of ``path`` in order, ``block`` bytes per request.

    Args:
        client: an open SFTP session.
        path: the remote file.
        block: bytes asked for per request.
        window: bytes requested ahead at most (memory bound).

    Raises:
        OSError: the file cannot be opened or read, or became shorter.
        paramiko.SSHException: the connection was lost.
    """
    wire = cast(Primitives, client)
    answers = Answers()
    sent = _send_open(wire, answers, path)
    yield from _read_opened(wire, answers, sent, path, block, window)


class StartedRead:
    """A :func:`read_pipelined` whose open request is already on its way.

    Creating it sends the open (and stat) at once, without waiting, so the
    caller can open the destination file meanwhile: the two round trips
    overlap without a thread. Iterate it for the content; :meth:`close`
    closes the remote file whether or not it was read.
    """

    def __init__(
        self, client: paramiko.SFTPClient, path: str | bytes, block: int, window: int
    ):
        """Send the open of ``path`` (see :func:`read_pipelined` for the rest)."""
        self._wire = cast(Primitives, client)
        self._answers = Answers()
        self._sent = _send_open(self._wire, self._answers, path)
        self._content = _read_opened(
            self._wire, self._answers, self._sent, path, block, window
        )
        self._started = False

    def __iter__(self) -> StartedRead:
        return self

    def __next__(self) -> bytes:
        self._started = True
        return next(self._content)

    def close(self) -> None:
        """Stop reading and close the remote file (its open is answered first)."""
        if self._started:
            self._content.close()
            return
        self._started = True  # an unstarted generator's close runs nothing
        with contextlib.suppress(Exception):  # not opened, or the session is gone
            handle, _ = _finish_open(self._wire, self._answers, self._sent)
            _close_unanswered(self._wire, handle)


def _read_opened(
    wire: Primitives,
    answers: Answers,
    sent: tuple[int, int],
    path: str | bytes,
    block: int,
    window: int,
) -> Generator[bytes, None, None]:
    """Yield the content once the open was sent (see :func:`read_pipelined`)."""
    depth = max(1, window // block)
    handle, size = _finish_open(wire, answers, sent)
    if 0 < size <= block:
        yield _read_small(wire, answers, handle, size, path)
        return
    outstanding: deque[tuple[int, int, int]] = deque()
    next_offset = 0

    def ask() -> None:
        nonlocal next_offset
        length = min(block, size - next_offset)
        num = wire._async_request(
            answers, CMD_READ, handle, _sftp.int64(next_offset), int(length)
        )
        outstanding.append((num, next_offset, length))
        next_offset += length

    try:
        while next_offset < size and len(outstanding) < depth:
            ask()
        while outstanding:
            num, offset, length = outstanding.popleft()
            data = read_answer(wire, *answer(wire, answers, num))
            while 0 < len(data) < length:  # a short answer: ask for the rest
                try:
                    t, msg = wire._request(
                        CMD_READ,
                        handle,
                        _sftp.int64(offset + len(data)),
                        int(length - len(data)),
                    )
                except EOFError:
                    break
                data += read_answer(wire, t, msg)
            if len(data) != length:
                raise OSError("the file became shorter while it was read")
            if next_offset < size:
                ask()
            yield data
    finally:
        _close_unanswered(wire, handle)


def _read_small(
    wire: Primitives, answers: Answers, handle: bytes, size: int, path: str | bytes
) -> bytes:
    """Read a file that one request can hold, closing it in the same write.

    The close goes out with the read (the server handles them in order):
    one round trip and one channel write for the whole file. Should the
    server answer short anyway, the rest is read from a fresh open.
    """
    with corked(wire):
        num = wire._async_request(answers, CMD_READ, handle, _sftp.int64(0), size)
        _close_unanswered(wire, handle)
    data = read_answer(wire, *answer(wire, answers, num))
    if 0 < len(data) < size:
        again, _ = _finish_open(wire, answers, _send_open(wire, answers, path))
        try:
            while 0 < len(data) < size:
                try:
                    t, msg = wire._request(
                        CMD_READ, again, _sftp.int64(len(data)), size - len(data)
                    )
                except EOFError:
                    break
                data += read_answer(wire, t, msg)
        finally:
            _close_unanswered(wire, again)
    if len(data) != size:
        raise OSError("the file became shorter while it was read")
    return data


@contextlib.contextmanager
def corked(client: object) -> Iterator[None]:
    """Send the requests made inside as one write on the channel.

    paramiko writes every request to the channel on its own: one SSH
    packet, one encryption and one system call each, and on the server one
    wake-up each. Requests that go out together anyway (an open and a stat;
    the last write, the size check and the close) cost one of each when
    written at once. They are written when the block ends, also when it
    ends with an error: a request number handed out is always sent, so its
    answer comes and no one waits for ever. Nested blocks write with the
    outermost.
    """
    session: Any = client
    if "_write_all" in vars(session):  # already corked
        yield
        return
    parts: list[bytes] = []
    session._write_all = parts.append
    try:
        yield
    finally:
        del session._write_all
        if parts:
            session._write_all(b"".join(parts))


def answer(
    wire: Primitives, answers: Answers, num: int
) -> tuple[int, paramiko.Message]:
    """Wait for the answer to request ``num`` and return it."""
    while num not in answers.by_request:
        wire._read_response()
    return answers.by_request.pop(num)


def attributes(wire: Primitives, t: int, msg: paramiko.Message) -> Any:
    """Return the ``SFTPAttributes`` of a (f)stat answer; raise its error."""
    if t == CMD_STATUS:
        wire._convert_status(msg)
    if t != CMD_ATTRS:
        raise OSError(f"unexpected SFTP response type {t} to a stat")
    return cast(Any, paramiko.SFTPAttributes)._from_msg(msg)


def _send_open(
    wire: Primitives, answers: Answers, path: str | bytes
) -> tuple[int, int]:
    """Send an open of ``path`` for reading and a stat of it, not waiting.

    Returns:
        The numbers of the two requests (see :func:`_finish_open`).
    """
    with corked(wire):
        num_open = wire._async_request(
            answers,
            CMD_OPEN,
            path,
            int(_sftp.SFTP_FLAG_READ),
            paramiko.SFTPAttributes(),
        )
        return num_open, wire._async_request(answers, CMD_STAT, path)


def _finish_open(
    wire: Primitives, answers: Answers, sent: tuple[int, int]
) -> tuple[bytes, int]:
    """Take the answers to :func:`_send_open` (both arrive in one round trip).

    Returns:
        The handle and the file's size.
    """
    num_open, num_stat = sent
    t, msg = answer(wire, answers, num_open)
    stat_t, stat_msg = answer(wire, answers, num_stat)
    handle = handle_of(wire, t, msg)
    try:
        attrs = attributes(wire, stat_t, stat_msg)
    except BaseException:
        _close_unanswered(wire, handle)
        raise
    return handle, int(attrs.st_size or 0)


def _close_unanswered(wire: Primitives, handle: bytes) -> None:
    """Close a read handle without waiting for the answer.

    The server handles requests in order, so whatever is sent on the session
    next (a rename or delete of the file, say) runs after the close; the
    answer is consumed, and ignored, by the next wait on the session.
    """
    with contextlib.suppress(Exception):  # a lost connection is reported elsewhere
        wire._async_request(type(None), CMD_CLOSE, handle)
