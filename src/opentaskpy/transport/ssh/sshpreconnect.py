"""Open an SSH execution's TCP connections while paramiko is still loading.

An OpenSSH server starts a new process for every connection (it re-executes
itself and loads its keys) before it sends its banner: 10-40 ms measured on
loopback. Importing paramiko and its crypto libraries costs the client about
as long. :func:`start` opens the TCP connections in background threads
before that import, so the server's start-up and ours overlap;
:class:`~.sshconn.SSHConnection` then runs the SSH handshake on the socket
it :func:`take` s (its first attempt only). Nothing about the SSH handshake,
host-key checks or authentication changes; a connection that could not be
opened early is simply opened again the usual way, which reports the error.

This module imports nothing heavy (no paramiko).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable

from opentaskpy.transport.ssh import sshpool

TYPE_CHECKING = False  # socket costs start-up time; every execution imports this
if TYPE_CHECKING:
    import socket

#: Seconds an early connection stays usable (servers drop silent clients).
MAX_AGE = 10.0
#: Connect timeout (the SSH execution's own).
TIMEOUT = 5.0

_lock = threading.Lock()
_pending: dict[tuple[str, int], _Connect] = {}


class _Connect(threading.Thread):
    """One background ``socket.create_connection``."""

    def __init__(self, host: str, port: int, timeout: float):
        super().__init__(name=f"preconnect-{host}", daemon=True)
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.started = time.monotonic()

    def run(self) -> None:
        import socket  # only ssh executions get here

        with contextlib.suppress(OSError):
            self.sock = socket.create_connection(self.address, self.timeout)


def for_execution(definition: dict) -> None:
    """Start the connections of an ``ssh`` execution's hosts.

    Not inside a batch: its steps share connections (:mod:`.sshpool`),
    and an early one might never be used.
    """
    protocol = definition.get("protocol") or {}
    if protocol.get("name") != "ssh" or sshpool.current() is not None:
        return
    with contextlib.suppress(TypeError, ValueError):
        start(definition.get("hosts") or [], int(protocol.get("port", 22)))


def start(hosts: Iterable[str], port: int, timeout: float = TIMEOUT) -> None:
    """Start opening a TCP connection to every host (at most one each)."""
    with _lock:
        for host in hosts:
            key = (host, port)
            if key not in _pending:
                _pending[key] = connect = _Connect(host, port, timeout)
                connect.start()


def take(host: str, port: int) -> socket.socket | None:
    """Return the connection opened early to ``host``, if there is one.

    Waits for a connect still under way (bounded by its timeout); ``None``
    when none was started or it failed.
    """
    with _lock:
        connect = _pending.pop((host, port), None)
    if connect is None:
        return None
    connect.join(connect.timeout + 1)
    if connect.sock is not None and time.monotonic() - connect.started > MAX_AGE:
        connect.sock.close()
        return None
    return connect.sock
