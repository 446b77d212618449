"""Writing a remote file over SFTP with a sliding window of write requests.

paramiko's pipelined ``SFTPFile.write`` sends requests without waiting, but
once more than 100 are outstanding and any answer has arrived it waits for
*every* outstanding answer, so its pipeline drains to empty again and again,
and it splits data into requests of its own fixed size. Here one loop keeps
up to ``depth`` requests of the caller's size in flight (the size the
server allows, see :mod:`~opentaskpy.transport.ssh.sftpsession`), takes the
answers in order, and waits only for the oldest one when the window is
full, so the server always has work and errors surface within ``depth``
requests.

Built on the same paramiko primitives as
:mod:`~opentaskpy.transport.ssh.sftpread`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import cast

from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpread import (
    CMD_CLOSE,
    CMD_FSTAT,
    CMD_WRITE,
    Answers,
    Primitives,
    answer,
    attributes,
    corked,
    expect_status,
)

_sftp = paramiko.sftp


def write_pipelined(
    client: paramiko.SFTPClient,
    path: str | bytes,
    blocks: Iterable[bytes],
    depth: int,
    mode: str = "wb",
) -> int:
    """Create or truncate ``path`` and write ``blocks`` to it in order.

    Args:
        client: an open SFTP session.
        path: the remote file.
        blocks: the content, one write request per item (each must fit the
            server's maximum packet size).
        depth: write requests in flight at most.
        mode: how to open ``path``: ``"wb"`` creates or truncates, ``"wxb"``
            creates exclusively (fails when the name exists).

    Returns:
        The number of bytes written, which is also the file's size on the
        server: an ``FSTAT`` follows the last write (in the same round trip
        as the ``CLOSE``) and a different size is an error.

    Raises:
        OSError: the file cannot be created, a write was refused, or the
            file's size afterwards is not the number of bytes written.
        paramiko.SSHException: the connection was lost.
    """
    wire = cast(Primitives, client)
    answers = Answers()
    outstanding: deque[int] = deque()

    def settle_oldest() -> None:
        expect_status(wire, *answer(wire, answers, outstanding.popleft()), "write")

    offset = 0
    remote = client.open(path, mode)

    def send(block: bytes) -> None:
        nonlocal offset
        if len(outstanding) >= depth:
            settle_oldest()
        outstanding.append(
            wire._async_request(answers, CMD_WRITE, handle, _sftp.int64(offset), block)
        )
        offset += len(block)

    try:
        handle = remote.handle
        last = None  # one block behind: the last one goes with FSTAT and CLOSE
        for block in blocks:
            if last is not None:
                send(last)
            last = block
        # FSTAT and CLOSE go out behind the last write, in one channel write:
        # the server answers in order, so a small file costs one round trip
        # (and one SSH packet each way) for all of them.
        with corked(wire):
            if last is not None:
                send(last)
            size_num = wire._async_request(answers, CMD_FSTAT, handle)
            # No CLOSE may follow from paramiko now (__del__ included).
            remote._closed = True  # type: ignore[attr-defined]
            close_num = wire._async_request(answers, CMD_CLOSE, handle)
    except Exception:
        if not remote._closed:  # type: ignore[attr-defined]
            remote.close()
        raise
    except BaseException:
        # A signal: closing the handle would wait behind every write in
        # flight. The caller abandons this session (FileSystem.reopen).
        remote._closed = True  # type: ignore[attr-defined]  # no CLOSE on __del__
        raise
    while outstanding:
        settle_oldest()  # answered by now: only the statuses are checked
    size = attributes(wire, *answer(wire, answers, size_num)).st_size
    expect_status(wire, *answer(wire, answers, close_num), "close")
    if size != offset:
        raise OSError(f"Size check failed: wrote {offset} bytes, the file has {size}")
    return offset
