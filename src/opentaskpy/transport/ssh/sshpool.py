"""Batch-wide SSH connection sharing: one handshake per host per batch.

While a batch runs (:func:`batch_pool`), the SSH and SFTP handlers of its
steps do not open their own connections: they lease one from the batch's
:class:`ConnectionPool`, keyed by everything that decides what the
connection is (host, port, user, key or password, host-key policy and
known_hosts file, the password where one may be used). Each lease opens its own
channels (command sessions, its own SFTP session) on the shared transport,
so steps running at the same time on one host share it safely: paramiko
multiplexes channels and locks its transport. Servers cap the sessions
of one connection (OpenSSH's ``MaxSessions`` is 10 by default), so each
lease reserves the channels it may open at once (an execution: its command
and a kill; a transfer: one SFTP session per file in flight, plus one), and
a transport carries leases up to :data:`CHANNELS_PER_CONNECTION` of them;
more concurrent steps on a host get another connection to it. Steps that
run one after the other always share one.

Before a connection is handed out again it must still be up (the transport
notices a closed TCP connection, e.g. a restarted ``sshd``, at once); when a
lease then fails to open a channel on it (the host went away since), the
lease moves to a new connection once, transparently: nothing ran on the
failed channel. Connections are closed when the outermost batch ends
(a terminating signal unwinds through it too). A task run outside a batch
has no pool: its handlers connect on their own, as they always did.

``OTF_SSH_SHARE_CONNECTIONS=0`` turns sharing off (one connection per step).

paramiko's log lines of a shared connection go to the log of the step (or
steps) using it at the time, else to the batch's log (:mod:`.sshlogroute`).

This module imports nothing heavy: a batch of local steps never loads paramiko.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from opentaskpy import ending
from opentaskpy.digests import sha256
from opentaskpy.exceptions import ErrorClass
from opentaskpy.transport.ssh.sshlogroute import (
    DEFAULT_FALLBACK,
    LogRoute,
    User,
    transport_channel,
)

TYPE_CHECKING = False  # typing costs start-up time; batches import this module
if TYPE_CHECKING:
    from typing import Any, Protocol

    class SSHConnection(Protocol):
        """What the pool uses of :class:`~.sshconn.SSHConnection`.

        (``sshconn`` imports this module, so this one does not import it.)
        """

        hostname: str
        protocol: dict
        logger: Any
        timeout: float
        allow_password: bool
        log_channel: str
        client: Any
        channels: int

        def is_active(self) -> bool: ...  # noqa: D102

        def connect(self, retry: bool = ..., fresh_client: bool = ...) -> Any: ...  # noqa: D102

        def close(self) -> None: ...  # noqa: D102


#: Channels the leases of one shared transport may reserve (module doc).
CHANNELS_PER_CONNECTION = 8


_lock = threading.Lock()
_active: ConnectionPool | None = None
_users = 0


class _Entry:
    """One shared connection: the connection that owns it and its leases."""

    def __init__(self, owner: SSHConnection, slot: _Slot, route: LogRoute):
        self.owner = owner
        self.slot = slot
        #: Where the connection's paramiko log lines go.
        self.route = route
        self.leases = 0
        #: Channels reserved by the current leases.
        self.reserved = 0
        #: Set when a lease could not open a channel but the transport is
        #: still up: it keeps serving its current leases, never a new one.
        self.retired = False
        #: Facts about the host learned once (``$HOME``, ``uname -a``).
        self.facts: dict[str, str] = {}

    def alive(self) -> bool:
        return self.owner.is_active()


class _Slot:
    """The connections of one pool key, and its latest failure to connect."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[_Entry] = []
        self.failure: Exception | None = None
        self.failed_at = 0.0


class Lease:
    """What a :class:`SSHConnection` holds while it uses a shared connection."""

    def __init__(
        self,
        pool: ConnectionPool,
        entry: _Entry,
        own_client: Any,
        channels: int,
        retry: bool,
        fresh_client: bool,
        log_user: User,
    ):
        self.pool = pool
        self.entry = entry
        #: The lease's place in the connection's log route.
        self.log_user = log_user
        # The connection's own (unconnected) client, restored on release.
        self.own_client = own_client
        self.channels = channels
        self.retry = retry
        self.fresh_client = fresh_client


def pool_key(conn: SSHConnection) -> tuple:
    """Return what makes two connections interchangeable (secrets as digests)."""
    protocol = conn.protocol
    credentials = protocol.get("credentials") or {}

    def digest(text: object) -> str | None:
        return str(sha256(str(text).encode()).hexdigest()) if text else None

    return (
        conn.hostname,
        int(protocol.get("port", 22)),
        credentials.get("username"),
        credentials.get("keyFile"),
        digest(credentials.get("key")),
        # A password only matters where it may be used (SFTP).
        digest(credentials.get("password")) if conn.allow_password else None,
        os.environ.get("OTF_SSH_KEY"),
        repr(protocol.get("hostKeyValidation")),
        os.environ.get("OTF_KNOWN_HOSTS_FILE"),
    )


class ConnectionPool:
    """The shared connections of one batch run (thread-safe)."""

    def __init__(self, log_channel: str = DEFAULT_FALLBACK) -> None:
        """Start empty; connections are opened by the first lease of a host.

        Args:
            log_channel: receives paramiko's lines of a connection no step
                is using (the batch's ``<logger>.paramiko.transport``).
        """
        self.log_channel = log_channel
        self._lock = threading.Lock()
        self._slots: dict[tuple, _Slot] = {}
        self._closed = False
        #: Connections opened (SSH handshakes made) so far.
        self.handshakes = 0

    def acquire(self, conn: SSHConnection, retry: bool, fresh_client: bool) -> Lease:
        """Lease a live connection for ``conn``'s host, connecting if needed.

        Concurrent steps on one host wait for the one handshake; when it
        fails, those that waited for it fail with the same error at once
        (each trying again on its own would only repeat the attempts and
        their waits one after the other).

        Raises:
            Exception: connecting failed (as ``SSHConnection.connect``).
        """
        asked = time.monotonic()
        with self._lock:
            slot = self._slots.setdefault(pool_key(conn), _Slot())
        with slot.lock:
            entry = self._reusable(slot, conn)
            if entry is None:
                if slot.failure is not None and slot.failed_at >= asked:
                    ending.note(
                        ErrorClass.CONNECTION, f"[{conn.hostname}] {slot.failure}"
                    )
                    raise slot.failure
                entry = self._connect(slot, conn, retry, fresh_client)
            return self._lease(entry, conn, retry, fresh_client)

    @staticmethod
    def _reusable(slot: _Slot, conn: SSHConnection) -> _Entry | None:
        """Return a live connection with room for ``conn``'s channels."""
        for entry in list(slot.entries):
            if not entry.alive():
                slot.entries.remove(entry)
                if not entry.leases:
                    entry.owner.close()
            elif not entry.retired and (
                not entry.leases
                or entry.reserved + conn.channels <= CHANNELS_PER_CONNECTION
            ):
                return entry
        return None

    def _connect(
        self, slot: _Slot, conn: SSHConnection, retry: bool, fresh_client: bool
    ) -> _Entry:
        # The connection outlives the step (and the step's log) that opens
        # it: it logs on a channel of its own, routed to its current users.
        route = LogRoute(self.log_channel)
        connecting = route.join(conn.log_channel)
        new: Any = type(conn)  # an SSHConnection, unshared
        owner: SSHConnection = new(
            conn.hostname,
            conn.protocol,
            conn.logger,
            conn.timeout,
            conn.allow_password,
            log_channel=route.channel,
        )
        try:
            owner.connect(retry=retry, fresh_client=fresh_client)
        except Exception as exc:
            owner.close()
            slot.failure, slot.failed_at = exc, time.monotonic()
            raise
        finally:
            route.leave(connecting)  # the lease joins it again
        slot.failure = None
        with self._lock:
            self.handshakes += 1
            if self._closed:  # the batch ended while we connected
                owner.close()
                raise ConnectionAbortedError("the batch has ended")
        entry = _Entry(owner, slot, route)
        slot.entries.append(entry)
        return entry

    def _lease(
        self, entry: _Entry, conn: SSHConnection, retry: bool, fresh_client: bool
    ) -> Lease:
        entry.leases += 1
        entry.reserved += conn.channels
        user = entry.route.join(conn.log_channel)
        return Lease(self, entry, conn.client, conn.channels, retry, fresh_client, user)

    def release(self, lease: Lease, retire: bool = False) -> None:
        """End a lease; ``retire`` stops the connection taking new leases."""
        entry = lease.entry
        entry.route.leave(lease.log_user)
        with entry.slot.lock:
            entry.leases -= 1
            entry.reserved -= lease.channels
            entry.retired = entry.retired or retire
            drop = not entry.alive() or (entry.retired and not entry.leases)
            if drop and entry in entry.slot.entries:
                entry.slot.entries.remove(entry)
            last = drop and not entry.leases
        if last:
            entry.owner.close()

    def close(self) -> None:
        """Close every connection; later leases connect on their own."""
        with self._lock:
            self._closed = True
            slots, self._slots = list(self._slots.values()), {}
        for slot in slots:
            with slot.lock:
                for entry in slot.entries:
                    entry.owner.close()
                slot.entries.clear()


def sharing_enabled() -> bool:
    """Whether batches share connections (``OTF_SSH_SHARE_CONNECTIONS``, default on)."""
    return os.environ.get("OTF_SSH_SHARE_CONNECTIONS", "1").strip() != "0"


def current() -> ConnectionPool | None:
    """Return the running batch's pool (``None`` outside a batch)."""
    return _active


@contextlib.contextmanager
def batch_pool(
    logger: logging.Logger | None = None,
) -> Iterator[ConnectionPool | None]:
    """Share connections for the duration of a batch (nested batches join it).

    The pool is closed when the last batch using it leaves, also when a
    signal unwinds the run.

    Args:
        logger: the batch's logger: paramiko's lines of a connection no step
            is using go to its ``paramiko.transport`` child (the outermost
            batch's, for nested batches).
    """
    global _active, _users
    if not sharing_enabled():
        yield None
        return
    with _lock:
        if _active is None:
            _active = ConnectionPool(
                transport_channel(logger) if logger else DEFAULT_FALLBACK
            )
        _users += 1
        pool = _active
    try:
        yield pool
    finally:
        with _lock:
            _users -= 1
            last = _users == 0
            if last:
                _active = None
        if last:
            pool.close()
