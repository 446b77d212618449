"""What an SFTP server supports: announced extensions and request sizes.

The extensions are those of the server's version packet; the request sizes
say how much data one read or write may carry.

paramiko pays for every request and every answer in Python, so larger
requests cost less CPU per byte. The SFTP drafts only promise 32 KiB of
data per request; larger sizes are used only when the server says it takes
them: OpenSSH's ``limits@openssh.com`` extension (OpenSSH 8.6 and later)
reports the largest read and write. A 1 GiB upload to OpenSSH in 255 KiB
writes instead of 32 KiB ones took 1.56 instead of 2.31 CPU seconds here,
and the server's process less too.

The extension is only asked for when the server listed it in its version
packet (:class:`SFTPSession` keeps that list; paramiko drops it): a server
that mishandled an unknown extended request would otherwise stall every
transfer.

Reads stay at 64 KiB from OpenSSH (every version serves that much): larger
answers measured no faster, and a 64 KiB answer arrives in one SSH packet
(see ``sshconn.SFTP_MAX_PACKET``).
"""

from __future__ import annotations

import struct
import weakref
from typing import Any, cast

from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpread import Primitives
from opentaskpy.transport.ssh.sftpwire import WireClient

#: Data per request every SFTP server supports.
BASIC_READ = 32768
#: Read size for OpenSSH's sftp-server.
OPENSSH_READ = 65536
#: Largest write we send, whatever the server allows.
MAX_WRITE = 255 * 1024
#: Room for the SFTP and SSH channel headers around a basic write's data.
WRITE_HEADROOM = 128

_CMD_EXTENDED = paramiko.sftp.CMD_EXTENDED
_CMD_EXTENDED_REPLY = paramiko.sftp.CMD_EXTENDED_REPLY
_sizes: weakref.WeakKeyDictionary[paramiko.SFTPClient, tuple[int, int]] = (
    weakref.WeakKeyDictionary()
)


class SFTPSession(WireClient):
    """An ``SFTPClient`` that remembers the extensions the server announced.

    Its request and response primitives are the cheaper ones of
    :class:`~opentaskpy.transport.ssh.sftpwire.WireClient`.

    Attributes:
        server_extensions: extension name → data, from the server's
            ``SSH_FXP_VERSION`` packet (empty when it announced none).
    """

    server_extensions: dict[str, bytes]

    def _send_version(self) -> int:
        # paramiko reads the server's version packet here and keeps only the
        # number: read it through a wrapper that records the extensions.
        self.server_extensions = {}
        session: Any = self
        read = session._read_packet

        def read_version() -> tuple[int, bytes]:
            t, data = read()
            self.server_extensions = _extensions(bytes(data))
            return t, data

        session._read_packet = read_version
        try:
            return int(cast(Any, paramiko.SFTPClient)._send_version(self))
        finally:
            del session._read_packet


def _extensions(version_data: bytes) -> dict[str, bytes]:
    """Parse ``uint32 version`` then ``(string name, string data)`` pairs.

    A pair cut short ends the list (paramiko's ``Message`` would pad it with
    zero bytes instead of failing).
    """
    found: dict[str, bytes] = {}
    pos = 4
    while pos + 4 <= len(version_data):
        (length,) = struct.unpack_from(">I", version_data, pos)
        name_end = pos + 4 + length
        if name_end + 4 > len(version_data):
            break
        (data_length,) = struct.unpack_from(">I", version_data, name_end)
        data_end = name_end + 4 + data_length
        if data_end > len(version_data):
            break
        name = version_data[pos + 4 : name_end].decode("utf-8", "replace")
        found[name] = version_data[name_end + 4 : data_end]
        pos = data_end
    return found


def announces(sftp: paramiko.SFTPClient, extension: str) -> bool:
    """Whether the server announced ``extension`` (``True`` when unknown).

    Only an :class:`SFTPSession` knows; for any other client the extension
    is assumed, as before sessions kept the list.
    """
    known = getattr(sftp, "server_extensions", None)
    return known is None or extension in known


def request_sizes(sftp: paramiko.SFTPClient) -> tuple[int, int]:
    """Return ``(read_size, write_size)`` for requests on ``sftp`` (asked once)."""
    sizes = _sizes.get(sftp)
    if sizes is None:
        sizes = _sizes[sftp] = _ask(sftp)
    return sizes


def share_request_sizes(known: paramiko.SFTPClient, other: paramiko.SFTPClient) -> None:
    """Let ``other`` (a session to the same server) use ``known``'s sizes."""
    sizes = _sizes.get(known)
    if sizes is not None:
        _sizes[other] = sizes


def _ask(sftp: paramiko.SFTPClient) -> tuple[int, int]:
    channel = sftp.get_channel()
    if channel is None:
        return BASIC_READ, BASIC_READ
    transport = channel.get_transport()
    version = getattr(transport, "remote_version", "") or ""
    read_size = OPENSSH_READ if "OpenSSH" in version else BASIC_READ
    # A basic write fills one SSH packet exactly instead of spilling a few
    # bytes into a second one.
    write_size = max(
        4096, min(BASIC_READ, channel.out_max_packet_size) - WRITE_HEADROOM
    )
    max_write = server_max_write(sftp)
    if max_write is not None and max_write > write_size:
        write_size = min(max_write, MAX_WRITE)
    return read_size, write_size


def server_max_write(sftp: paramiko.SFTPClient) -> int | None:
    """Return the server's largest write (``limits@openssh.com``), or ``None``.

    ``None`` also when the server did not announce the extension (or the
    session is not an :class:`SFTPSession`, which would know).
    """
    if "limits@openssh.com" not in getattr(sftp, "server_extensions", {}):
        return None
    reply = extended_request(sftp, "limits@openssh.com")
    if reply is None:
        return None
    reply.get_int64()  # max packet length
    reply.get_int64()  # max read length
    return reply.get_int64() or None


def extended_request(sftp: paramiko.SFTPClient, name: str) -> paramiko.Message | None:
    """Send the extended request ``name``; return the reply, or ``None``.

    A server without the extension answers with an error status, which is
    not an error here.
    """
    wire = cast(Primitives, sftp)
    try:
        t, msg = wire._request(_CMD_EXTENDED, name)
    except (OSError, EOFError):
        return None
    return msg if t == _CMD_EXTENDED_REPLY else None


def name_max(sftp: paramiko.SFTPClient, path: str) -> int | None:
    """Return the longest file name in ``path`` (``statvfs@openssh.com``).

    ``None`` when the server did not announce the extension or refused it.
    """
    if "statvfs@openssh.com" not in getattr(sftp, "server_extensions", {}):
        return None
    wire = cast(Primitives, sftp)
    try:
        t, reply = wire._request(_CMD_EXTENDED, "statvfs@openssh.com", path)
    except (OSError, EOFError):
        return None
    if t != _CMD_EXTENDED_REPLY:
        return None
    # bsize, frsize, blocks, bfree, bavail, files, ffree, fsid, flag, namemax
    for _ in range(9):
        reply.get_int64()
    return reply.get_int64() or None
