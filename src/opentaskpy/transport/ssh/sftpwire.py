"""paramiko's SFTP request and response primitives, with less Python per packet.

Copying many small files costs a few requests and answers per file, and
paramiko spends most of its CPU time for them in its SFTP client layer: every
answer is read with two ``Channel.recv`` calls (the length, then the body),
each a wake-up through the channel's locked buffer, and every request is
built argument by argument in a ``Message`` (a ``BytesIO`` write and an
``isinstance`` chain each) and then copied again to add the length.

:class:`WireClient` keeps paramiko's semantics (request numbering under
``_lock``, the ``_expecting`` map, answers handed to ``_async_response``,
``Message`` objects returned, status conversion, the errors raised) and
changes only how bytes move:

* answers are read from the channel in large chunks into a buffer and cut
  out of it, so one wake-up serves every answer that has arrived;
* a request is packed with ``struct`` into one ``bytes`` object and written
  through ``_write_all`` (which ``sftpread.corked`` replaces to join
  requests into one channel write).
"""

from __future__ import annotations

import socket
import struct
from typing import Any, cast

from opentaskpy.transport.ssh.paramiko_import import paramiko

#: Bytes asked of the channel per read: every answer already received (a
#: window of 64 KiB data answers included) comes in one call.
CHUNK = 262144

_sftp = paramiko.sftp
_Message = paramiko.Message
_SFTPAttributes = paramiko.SFTPAttributes
_int64 = _sftp.int64
_CMD_STATUS = _sftp.CMD_STATUS
_DEBUG = paramiko.common.DEBUG
_pack_u32 = struct.Struct(">I").pack
_pack_u64 = struct.Struct(">Q").pack
_pack_head = struct.Struct(">IBI").pack  # length, type, request number
_unpack_u32 = struct.Struct(">I").unpack_from


def _pack_other(item: Any) -> bytes:
    """Encode an argument that is not exactly bytes, str, int or int64.

    The same rules as paramiko's ``_async_request``: ``int64`` as 8 bytes,
    other ints (bool, IntEnum) as 4, attributes by their own ``_pack``,
    anything else as a string of ``paramiko.util.asbytes(item)``.
    """
    if isinstance(item, _int64):
        return _pack_u64(item)
    if isinstance(item, int):
        return _pack_u32(item)
    if isinstance(item, _SFTPAttributes):
        msg = _Message()
        cast(Any, item)._pack(msg)
        return bytes(msg.asbytes())
    data = bytes(cast(Any, paramiko.util.asbytes(item)))
    return _pack_u32(len(data)) + data


class WireClient(paramiko.SFTPClient):
    """An ``SFTPClient`` whose request and response primitives cost less."""

    # Received bytes not yet handed out: _wire_buffer[_wire_pos:]. Class
    # defaults, so the version packet (read in paramiko's __init__) finds them.
    _wire_buffer: bytes = b""
    _wire_pos: int = 0
    # paramiko's own, set or defined by SFTPClient (absent from the stubs).
    _lock: Any
    _expecting: Any
    _log: Any
    _write_all: Any
    _read_all: Any
    _convert_status: Any

    def _async_request(self, fileobj: Any, t: int, *args: Any) -> int:
        # parts[0] is replaced by the header once the request number is known.
        parts: list[bytes] = [b""]
        add = parts.append
        for item in args:
            kind = type(item)
            if kind is bytes:
                add(_pack_u32(len(item)))
                add(item)
            elif kind is str:
                data = item.encode("utf-8")
                add(_pack_u32(len(data)))
                add(data)
            elif kind is int:
                add(_pack_u32(item))
            elif kind is _int64:
                add(_pack_u64(item))
            else:
                add(_pack_other(item))
        # paramiko's prefetch thread may send requests too: number under the lock.
        with self._lock:
            num: int = self.request_number
            self._expecting[num] = fileobj
            self.request_number = num + 1
        parts[0] = _pack_head(sum(map(len, parts)) + 5, t, num)
        out = b"".join(parts)
        if self.ultra_debug:
            self._log(_DEBUG, paramiko.util.format_binary(out, "OUT: "))
        self._write_all(out)
        return num

    def _read_response(self, waitfor: int | None = None) -> Any:
        expecting = self._expecting
        while True:
            try:
                t, data = self._read_packet()
            except EOFError as e:
                raise paramiko.SSHException(f"Server connection dropped: {e}") from e
            msg = _Message(data)
            if len(data) >= 4:  # the number, read as Message.get_int would
                num = _unpack_u32(data, 0)[0]
                msg.packet.seek(4)
            else:
                num = msg.get_int()
            with self._lock:
                # None: never asked, or its file object is gone (weak values).
                fileobj = expecting.pop(num, None)
            if fileobj is None:
                # An answer for a file closed before it came.
                self._log(_DEBUG, f"Unexpected response #{num}")
                if waitfor is None:
                    break
                continue
            if num == waitfor:
                if t == _CMD_STATUS:
                    self._convert_status(msg)
                return t, msg
            if fileobj is not type(None):
                fileobj._async_response(t, msg, num)
            if waitfor is None:
                break
        return None, None

    def _read_packet(self) -> tuple[int, bytes]:
        buf = self._wire_buffer
        pos = self._wire_pos
        if len(buf) - pos < 4:
            buf, pos = self._wire_fill()
        elif buf[pos]:
            # Servers take packets of about 32 KiB: a length of 16 MiB or
            # more (high byte set) is garbage, as paramiko decides.
            raise _sftp.SFTPError("Garbage packet received")
        end = pos + 4 + _unpack_u32(buf, pos)[0]
        if end > len(buf):
            buf, pos = self._wire_fill()
            end = pos + 4 + _unpack_u32(buf, pos)[0]
        self._wire_pos = end
        if self.ultra_debug:
            self._log(_DEBUG, paramiko.util.format_binary(buf[pos + 4 : end], "IN: "))
        if end == pos + 4:
            return 0, b""
        return buf[pos + 4], buf[pos + 5 : end]

    def _wire_fill(self) -> tuple[bytes, int]:
        """Receive until the buffer holds a whole packet; return it, at 0."""
        have = self._wire_buffer[self._wire_pos :]
        need = 4
        while True:
            if len(have) < need:
                have = self._wire_receive(have, need)
            if have[0]:
                self._wire_buffer, self._wire_pos = have, 0
                raise _sftp.SFTPError("Garbage packet received")
            total = 4 + _unpack_u32(have, 0)[0]
            if len(have) >= total:
                self._wire_buffer, self._wire_pos = have, 0
                return have, 0
            need = total

    def _wire_receive(self, have: bytes, need: int) -> bytes:
        """Return ``have`` followed by received bytes, at least ``need`` in all.

        What was received is kept in the buffer when the channel fails or
        times out, so a later read starts where this one stopped. End of
        file raises ``EOFError``, as paramiko's ``_read_all`` does.
        """
        chunks = [have]
        size = len(have)
        sock = self.sock
        try:
            while size < need:
                if isinstance(sock, socket.socket):
                    # A plain socket: paramiko's loop, which notices a close.
                    chunk = bytes(self._read_all(need - size))
                else:
                    chunk = sock.recv(max(need - size, CHUNK))
                if not chunk:
                    raise EOFError()
                chunks.append(chunk)
                size += len(chunk)
        except BaseException:
            self._wire_buffer, self._wire_pos = b"".join(chunks), 0
            raise
        return b"".join(chunks)
