"""Every paramiko internal opentaskpy relies on, and a check that they exist.

The SFTP pipelines (``sftpread``, ``sftpwrite``, ``sftpsession``) and the
receive paths (``sshio``) use private methods and undocumented attributes of
paramiko: its public API has no way to keep many requests in flight, to see
the server's SFTP extensions or to swap a channel's receive buffer. paramiko
may change any of them in a release without notice; ``pyproject.toml`` bounds
paramiko below its next major version, and ``check()`` (run by
``tests/remotehandlers/test_paramiko_internals.py``) names each internal a
newer release no longer has, so a bump of that bound fails with a clear list
instead of a broken transfer.

When code starts using another paramiko internal, add it to
:data:`INTERNALS` (the test scans those modules for private names that are
not listed here).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, NamedTuple

#: What kind of check an entry is.
#: ``attribute``: ``owner`` has ``name`` (a class or module attribute);
#: ``instance``: ``owner``'s ``__init__`` sets ``self.<name>``;
#: ``mentions``: the source of the function ``owner`` contains ``name``
#: (how paramiko calls back into our code).
KINDS = ("attribute", "instance", "mentions")


class Internal(NamedTuple):
    """One paramiko internal we use."""

    owner: str
    """Dotted path of the paramiko module, class or function."""
    name: str
    """The attribute (or, for ``mentions``, the source text)."""
    why: str
    """Which of our modules needs it, and for what."""
    kind: str = "attribute"
    """One of :data:`KINDS`."""
    params: tuple[str, ...] | None = None
    """Expected parameter names of a method (``None``: not checked)."""


_CLIENT = "paramiko.sftp_client.SFTPClient"
_PIPE = "paramiko.buffered_pipe.BufferedPipe"

INTERNALS: tuple[Internal, ...] = (
    Internal(
        _CLIENT,
        "_async_request",
        "sftpread/sftpwrite: send a request without waiting for its answer "
        "(keeps a window of reads or writes in flight)",
        params=("self", "fileobj", "t", "args"),
    ),
    Internal(
        _CLIENT,
        "_read_response",
        "sftpread: wait for the next answer and hand it to its requester",
        params=("self", "waitfor"),
    ),
    Internal(
        _CLIENT,
        "_request",
        "sftpread/sftpsession: one synchronous request (short reads, "
        "extended requests)",
        params=("self", "t", "args"),
    ),
    Internal(
        _CLIENT,
        "_convert_status",
        "sftpread/sftpwrite: turn a status answer into paramiko's exception",
        params=("self", "msg"),
    ),
    Internal(
        f"{_CLIENT}._read_response",
        "_async_response",
        "sftpread.Answers: paramiko delivers each answer by calling "
        "fileobj._async_response(t, msg, num)",
        kind="mentions",
    ),
    Internal(
        f"{_CLIENT}._read_response",
        "type(None)",
        "sftpread: a request made with fileobj=type(None) has its answer "
        "dropped (close without waiting)",
        kind="mentions",
    ),
    Internal(
        "paramiko.sftp.BaseSFTP",
        "_write_all",
        "sftpread.corked: requests that go out together are collected and "
        "written to the channel at once",
        params=("self", "out"),
    ),
    Internal(
        "paramiko.sftp.BaseSFTP._send_packet",
        "self._write_all(",
        "sftpread.corked: every request is written through _write_all",
        kind="mentions",
    ),
    Internal(
        _CLIENT,
        "_send_version",
        "sftpsession.SFTPSession overrides it to keep the server's extensions",
        params=("self",),
    ),
    Internal(
        f"{_CLIENT}._send_version",
        "_read_packet",
        "sftpsession.SFTPSession reads the version packet through a wrapper "
        "of _read_packet",
        kind="mentions",
    ),
    Internal(
        _CLIENT,
        "_read_packet",
        "sftpsession.SFTPSession wraps it while the version packet is read; "
        "sftpwire.WireClient replaces it (paramiko's listdir_iter calls it)",
        params=("self",),
    ),
    Internal(
        _CLIENT,
        "_expecting",
        "sftpwire.WireClient: request number -> who gets the answer (weak "
        "values), filled by _async_request and emptied by _read_response",
        kind="instance",
    ),
    Internal(
        _CLIENT,
        "_lock",
        "sftpwire.WireClient: guards request_number and _expecting (paramiko's "
        "prefetch thread sends requests too)",
        kind="instance",
    ),
    Internal(
        _CLIENT,
        "request_number",
        "sftpwire.WireClient: the number of the next request",
        kind="instance",
    ),
    Internal(
        "paramiko.sftp.BaseSFTP",
        "ultra_debug",
        "sftpwire.WireClient: packets are hex-dumped to the log when set",
        kind="instance",
    ),
    Internal(
        "paramiko.sftp.BaseSFTP",
        "_log",
        "sftpwire.WireClient: logs an answer nobody waits for, as paramiko does",
        params=("self", "level", "msg", "args"),
    ),
    Internal(
        "paramiko.sftp.BaseSFTP",
        "_read_all",
        "sftpwire.WireClient: reads a session over a plain socket (not a channel)",
        params=("self", "n"),
    ),
    Internal(
        "paramiko.sftp_file.SFTPFile",
        "_async_response",
        "sftpwire.WireClient._read_response hands answers to paramiko's file "
        "objects (prefetch, pipelined writes) through it",
        params=("self", "t", "msg", "num"),
    ),
    Internal(
        "paramiko.sftp_attr.SFTPAttributes",
        "_pack",
        "sftpwire.WireClient: encodes attributes in a request",
        params=("self", "msg"),
    ),
    Internal(
        "paramiko.sftp_attr.SFTPAttributes",
        "_from_msg",
        "sftpread.attributes: parse a (f)stat answer read by the pipelines",
        params=("msg", "filename", "longname"),
    ),
    Internal(
        "paramiko.sftp",
        "int64",
        "sftpread/sftpwrite: encode a file offset in a request",
    ),
    Internal(
        _CLIENT,
        "sock",
        "sshconn: whether a cached SFTP session's channel is closed",
        kind="instance",
    ),
    Internal(
        "paramiko.sftp_file.SFTPFile",
        "handle",
        "sftpwrite: the open file's handle, for pipelined writes and FSTAT",
        kind="instance",
    ),
    Internal(
        "paramiko.file.BufferedFile",
        "_closed",
        "sftpwrite: an upload interrupted by a signal marks its file closed, "
        "so no CLOSE request waits behind the writes in flight",
        kind="instance",
    ),
    Internal(
        "paramiko.sftp_file.SFTPFile._close",
        "self._closed",
        "sftpwrite: SFTPFile sends no CLOSE (also not from __del__) once "
        "_closed is set",
        kind="mentions",
    ),
    Internal(
        _PIPE,
        "_buffer",
        "sshio.ByteBufferPipe: replaces the storage of a channel's buffer",
        kind="instance",
    ),
    Internal(
        _PIPE,
        "_buffer_frombytes",
        "sshio.ByteBufferPipe overrides the storage hook that appends data",
        params=("self", "data"),
    ),
    Internal(
        _PIPE,
        "_buffer_tobytes",
        "sshio.ByteBufferPipe overrides the storage hook that copies data out",
        params=("self", "limit"),
    ),
    Internal(
        "paramiko.channel.Channel",
        "in_buffer",
        "sshio.open_session: swaps the channel's stdout buffer",
        kind="instance",
    ),
    Internal(
        "paramiko.channel.Channel",
        "in_stderr_buffer",
        "sshio.open_session: swaps the channel's stderr buffer",
        kind="instance",
    ),
    Internal(
        "paramiko.channel.Channel",
        "out_max_packet_size",
        "sftpsession: size writes to fill whole SSH packets",
        kind="instance",
    ),
    Internal(
        "paramiko.transport.Transport",
        "remote_version",
        "sftpsession: OpenSSH servers get larger reads",
        kind="instance",
    ),
)


def _resolve(path: str) -> Any:
    """Import the module part of ``path`` and walk the remaining attributes."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(path)


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _sets_on_self(cls: type, name: str) -> bool:
    """Whether ``cls`` or a base's ``__init__`` assigns ``self.<name>``."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and f"self.{name} =" in _source(init):
            return True
    return False


def _problem(entry: Internal) -> str | None:
    """Describe what is wrong with ``entry`` in this paramiko, or ``None``."""
    try:
        owner = _resolve(entry.owner)
    except (ImportError, AttributeError):
        return f"{entry.owner} is gone"
    if entry.kind == "mentions":
        return None if entry.name in _source(owner) else "no longer used there"
    if entry.kind == "instance":
        return None if _sets_on_self(owner, entry.name) else "no longer set"
    if not hasattr(owner, entry.name):
        return "missing"
    if entry.params is None:
        return None
    try:
        found = tuple(inspect.signature(getattr(owner, entry.name)).parameters)
    except (TypeError, ValueError):
        return "signature unreadable"
    if found != entry.params:
        return f"parameters are now {found}, expected {entry.params}"
    return None


def check() -> list[str]:
    """Return one line per internal the installed paramiko lacks (empty: all fine).

    Each line names the internal, what changed and what we use it for.
    """
    from opentaskpy.transport.ssh.paramiko_import import paramiko  # noqa: F401

    missing = []
    for entry in INTERNALS:
        problem = _problem(entry)
        if problem:
            missing.append(f"{entry.owner}.{entry.name}: {problem} ({entry.why})")
    return missing


def installed_version() -> str:
    """Return the installed paramiko's version string."""
    from opentaskpy.transport.ssh.paramiko_import import paramiko

    return str(paramiko.__version__)
