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
  channel window); :class:`ByteBufferPipe` keeps a ``bytearray``, whose
  front deletion is O(1) in CPython.

Both keep paramiko's interfaces: the socket wrapper delegates everything but
``recv``; the pipe only replaces paramiko's two documented storage hooks.
"""

from __future__ import annotations

import socket
from typing import Any

from opentaskpy.remotehandlers.paramiko_import import paramiko

BufferedPipe = paramiko.buffered_pipe.BufferedPipe

#: Bytes read from the kernel per ``recv_into`` (several SSH packets).
READ_AHEAD = 256 * 1024


class ReadAheadSocket:
    """A connected socket whose ``recv`` is served from a read-ahead buffer.

    paramiko's transport thread is the only reader of its socket, so the
    buffer needs no lock. Writes and every other attribute go straight to the
    wrapped socket. Data already buffered is never hidden from a reader: the
    transport only ever reads through ``recv`` and never waits in ``select`` on
    the raw descriptor.
    """

    def __init__(self, sock: socket.socket, size: int = READ_AHEAD):
        """Wrap a connected ``sock``."""
        self._sock = sock
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0

    def recv(self, n: int, flags: int = 0) -> bytes:
        """Return up to ``n`` bytes; block (with the socket's timeout) when empty."""
        if flags:
            return self._sock.recv(n, flags)
        if self._start == self._end:
            got = self._sock.recv_into(self._view)
            if not got:
                return b""
            self._start, self._end = 0, got
        take = min(n, self._end - self._start)
        out = bytes(self._view[self._start : self._start + take])
        self._start += take
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ByteBufferPipe(BufferedPipe):  # type: ignore[misc]
    """paramiko's channel buffer, stored in a ``bytearray``."""

    def __init__(self) -> None:
        """Create an empty pipe."""
        super().__init__()
        self._buffer = bytearray()

    def _buffer_frombytes(self, data: bytes) -> None:
        self._buffer += data

    def _buffer_tobytes(self, limit: int | None = None) -> bytes:
        if limit is None or limit >= len(self._buffer):
            return bytes(self._buffer)
        with memoryview(self._buffer) as view:
            return bytes(view[:limit])


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
