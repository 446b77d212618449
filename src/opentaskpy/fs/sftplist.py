"""Listing an SFTP directory without losing names or aborting on links.

paramiko's ``listdir_attr`` decodes every name as strict UTF-8, so one name
that is not UTF-8 raises ``UnicodeDecodeError`` and hides the whole
directory. :func:`read_directory` reads the same ``READDIR`` answers but
keeps names as bytes and decodes them with surrogate escapes
(:func:`opentaskpy.names.from_wire`).

Servers report each entry's own attributes (``lstat``): a symlink appears
as a link, with the link's size. :func:`resolve` follows links with
``stat``, and marks those that cannot be followed (a loop, a dangling
target) instead of listing them as files.
"""

from __future__ import annotations

import contextlib
import posixpath
import stat as stat_module
from typing import Any

from opentaskpy.fs.fileops import FileStat
from opentaskpy.fs.listing import DANGLING
from opentaskpy.names import from_wire, wire
from opentaskpy.transport.ssh.paramiko_import import paramiko

_sftp = paramiko.sftp
#: Links followed before a chain counts as a loop (Linux's limit).
MAX_LINK_HOPS = 40


def attributes_from(msg: paramiko.Message) -> paramiko.SFTPAttributes:
    """Read one entry's attributes from a ``NAME`` answer."""
    parse: Any = paramiko.SFTPAttributes  # ``_from_msg`` is absent from the stubs
    attrs: paramiko.SFTPAttributes = parse._from_msg(msg)
    return attrs


def read_directory(
    client: paramiko.SFTPClient, directory: str
) -> list[tuple[str, paramiko.SFTPAttributes]]:
    """Return ``(name, attributes)`` of every entry but ``.`` and ``..``."""
    wire_client: Any = client  # paramiko's request primitives are private
    t, msg = wire_client._request(_sftp.CMD_OPENDIR, wire(directory))
    if t != _sftp.CMD_HANDLE:
        raise paramiko.SFTPError("Expected handle")
    handle = msg.get_binary()
    entries = []
    try:
        while True:
            try:
                t, msg = wire_client._request(_sftp.CMD_READDIR, handle)
            except EOFError:  # paramiko's way of reporting the end
                break
            if t != _sftp.CMD_NAME:
                raise paramiko.SFTPError("Expected name response")
            for _ in range(msg.get_int()):
                raw = msg.get_string()
                msg.get_string()  # the ``ls -l`` style long name
                attrs = attributes_from(msg)
                if raw not in (b".", b".."):
                    entries.append((from_wire(raw), attrs))
    finally:
        # A lost session must not hide the error that ended the listing.
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            wire_client._request(_sftp.CMD_CLOSE, handle)
    return entries


def resolve(
    client: paramiko.SFTPClient, path: str, attrs: paramiko.SFTPAttributes
) -> FileStat | None:
    """Return the attributes of an entry following links; ``None`` if it vanished."""
    if attrs.st_mode is None or not stat_module.S_ISLNK(attrs.st_mode):
        return FileStat.from_mode(attrs.st_size, attrs.st_mtime, attrs.st_mode)
    try:
        target = client.stat(wire(path))
    except OSError as exc:
        return _why_unresolved(client, path, exc)
    return FileStat.from_mode(target.st_size, target.st_mtime, target.st_mode)


def _why_unresolved(
    client: paramiko.SFTPClient, path: str, exc: OSError
) -> FileStat | None:
    """Tell a loop from a dangling link by following the link by hand.

    OpenSSH answers "no such file" for both (it maps ``ELOOP`` to it), so the
    chain of links is read with ``readlink`` until it ends or repeats.
    """
    seen: set[str] = set()
    current = path
    while current not in seen and len(seen) < MAX_LINK_HOPS:
        seen.add(current)
        try:
            attrs = client.lstat(wire(current))
        except FileNotFoundError:
            if current == path:
                return None  # deleted while listing
            return FileStat(0, 0.0, error=DANGLING)
        except OSError:
            break
        if attrs.st_mode is None or not stat_module.S_ISLNK(attrs.st_mode):
            break  # resolvable now, or a component we cannot read
        try:
            target = from_wire(client.readlink(wire(current)) or "")
        except OSError:
            break
        current = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
    else:
        return FileStat(0, 0.0, error="symbolic link loop")
    reason = str(exc) or type(exc).__name__
    return FileStat(0, 0.0, error=f"cannot follow symbolic link ({reason})")
