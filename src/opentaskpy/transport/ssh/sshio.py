"""Cheaper receive paths for paramiko, used on every connection we open.

paramiko handles packets in pure Python, and on a bulk download two of its
receive structures cost more CPU than the decryption itself (py-spy on a
1 GiB SFTP get from OpenSSH):

* the transport reads every packet with at least two ``recv`` system calls
  (first block, then the rest) and joins partial reads with ``bytes +=``;
  :class:`ReadAheadSocket` serves those reads from one large ``recv_into``
  buffer instead;
* a channel's receive buffer is an ``array.array`` from which each read
  deletes the front, moving everything still buffered (up to the whole
  channel window); :class:`ByteBufferPipe` keeps the received packets as
  they came, in a queue: nothing is moved, a read copies only what it
  returns, and no contiguous buffer of the window's size is ever grown
  (with a ``bytearray`` each growth copied the whole buffer into a new
  allocation, and an 8 MiB read window cost a 1 GiB download ~10 MB more
  peak memory).

Both keep paramiko's interfaces: the socket wrapper delegates everything but
``recv``; the pipe only replaces paramiko's two documented storage hooks.
"""

from __future__ import annotations

import socket
from collections import deque
from typing import Any

from opentaskpy.transport.ssh.paramiko_import import paramiko

BufferedPipe = paramiko.buffered_pipe.BufferedPipe

#: Bytes read from the kernel per ``recv_into`` (several SSH packets).
READ_AHEAD = 256 * 1024
#: A read below this size counts as small-packet traffic (see ReadAheadSocket).
SMALL_READ = 16 * 1024
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
_TCP = (socket.AF_INET, socket.AF_INET6)


class ReadAheadSocket:
    """A connected socket whose ``recv`` is served from a read-ahead buffer.

    paramiko's transport thread is the only reader of its socket, so the
    buffer needs no lock. Writes and every other attribute go straight to the
    wrapped socket. Data already buffered is never hidden from a reader: the
    transport only ever reads through ``recv`` and never waits in ``select`` on
    the raw descriptor.

    While the traffic is small packets (handshake, commands, SFTP requests),
    each read asks the kernel to acknowledge at once (Linux ``TCP_QUICKACK``):
    OpenSSH's server sends such packets with Nagle's algorithm on, so its
    next small packet waits for our ACK, which the kernel would otherwise
    delay by up to 40 ms. Measured: opening the first channel after
    authentication 45-50 ms → 1-7 ms. Bulk reads leave the kernel's ACK
    policy alone.
    """

    def __init__(self, sock: socket.socket, size: int = READ_AHEAD):
        """Wrap a connected ``sock``."""
        self._sock = sock
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0
        self._can_quickack = _QUICKACK is not None and sock.family in _TCP
        self._quickack = self._can_quickack

    def recv(self, n: int, flags: int = 0) -> bytes:
        """Return up to ``n`` bytes; block (with the socket's timeout) when empty."""
        if flags:
            return self._sock.recv(n, flags)
        if self._start == self._end:
            if self._quickack:
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK or 0, 1)
            got = self._sock.recv_into(self._view)
            if not got:
                return b""
            self._start, self._end = 0, got
            self._quickack = self._can_quickack and got < SMALL_READ
        take = min(n, self._end - self._start)
        out = bytes(self._view[self._start : self._start + take])
        self._start += take
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ChunkQueue:
    """A FIFO of byte strings that reads like one buffer.

    Supports exactly what :class:`ByteBufferPipe` and paramiko's
    ``BufferedPipe`` do with their buffer: ``len``, appending, copying out a
    prefix, and ``del queue[:n]`` / ``del queue[:]`` to drop one.
    """

    __slots__ = ("_chunks", "_offset", "_size")

    def __init__(self) -> None:
        """Create an empty queue."""
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of the first chunk already consumed
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        """Queue ``data`` (kept by reference, not copied)."""
        if data:
            self._chunks.append(data)
            self._size += len(data)

    def prefix(self, limit: int | None = None) -> bytes:
        """Return the first ``limit`` bytes (``None``: all), leaving them queued."""
        want = self._size if limit is None else min(limit, self._size)
        if not want:
            return b""
        first = self._chunks[0]
        if self._offset == 0 and len(first) == want:
            return first
        if self._offset + want <= len(first):
            return first[self._offset : self._offset + want]
        pieces = [memoryview(first)[self._offset :]]
        got = len(pieces[0])
        for chunk in list(self._chunks)[1:]:
            if got >= want:
                break
            piece = memoryview(chunk)[: want - got]
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)

    def __delitem__(self, key: slice) -> None:
        if not isinstance(key, slice) or key.start or key.step:
            raise TypeError("only del queue[:n] is supported")
        drop = self._size if key.stop is None else min(key.stop, self._size)
        self._size -= drop
        drop += self._offset
        while drop and drop >= len(self._chunks[0]):
            drop -= len(self._chunks.popleft())
        self._offset = drop


class ByteBufferPipe(BufferedPipe):  # type: ignore[misc]
    """paramiko's channel buffer, stored in a :class:`ChunkQueue`."""

    def __init__(self) -> None:
        """Create an empty pipe."""
        super().__init__()
        self._buffer = ChunkQueue()

    def _buffer_frombytes(self, data: bytes) -> None:
        self._buffer.append(bytes(data))

    def _buffer_tobytes(self, limit: int | None = None) -> bytes:
        return self._buffer.prefix(limit)


def open_session(
    transport: paramiko.Transport, window_size: int, max_packet_size: int
) -> paramiko.Channel:
    """Open a session channel whose receive buffers are :class:`ByteBufferPipe`.

    The buffers are swapped before any request is sent on the channel, so no
    data can have arrived in the old ones.
    """
    channel = transport.open_session(
        window_size=window_size, max_packet_size=max_packet_size
    )
    channel.in_buffer = ByteBufferPipe()
    channel.in_stderr_buffer = ByteBufferPipe()
    return channel
