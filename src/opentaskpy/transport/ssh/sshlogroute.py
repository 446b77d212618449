"""Where paramiko's log lines of a connection a batch shares go.

An unshared connection logs under its task, on the channel
``<task logger>.paramiko.transport`` given to ``set_log_channel``, so its
lines propagate into the task's log file. A shared connection
(:mod:`.sshpool`) serves several steps and outlives the step that opened it,
so its transport logs on a channel of its own, :attr:`LogRoute.channel`,
which writes nowhere itself (it does not propagate): its one handler passes
each record on to the steps it concerns:

* a record logged by a thread that leased the connection and is still
  running (the step's own calls: opening its channels and its SFTP
  session) goes to that step;
* any other record (paramiko's transport thread: the handshake, channel
  opens and closes, keepalives) goes to every step using the connection at
  that moment; while it connects, that is the step that connects;
* with no step using it (idle between steps, closing at the end of the
  batch), to the batch's channel ``<batch logger>.paramiko.transport``.

Each step gets its own copy of the record, named after the step's channel
(``<task logger>.paramiko.transport``, ``....sftp`` for the SFTP session), so
the line reads as it would on an unshared connection and only the step's
logger level decides whether it is written.
"""

from __future__ import annotations

import itertools
import logging
import threading

#: Unique channel names; no dots, so the logging manager makes no
#: placeholder loggers for them.
_numbers = itertools.count(1)

#: Where a pool without a batch logger sends lines no step is concerned by.
DEFAULT_FALLBACK = "opentaskpy.transport.ssh.sshpool.paramiko.transport"


def transport_channel(logger: logging.Logger) -> str:
    """Return the paramiko log channel of a task logger (its child logger)."""
    return f"{logger.name}.paramiko.transport"


#: A user of a route: the thread that joined it and the channel it receives on.
User = tuple[threading.Thread, str]


class _Forward(logging.Handler):
    """Hands each record of a shared connection on to the steps it concerns."""

    def __init__(self, route: LogRoute):
        super().__init__()
        self.route = route

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        """Forward without taking this handler's lock (the targets lock their own)."""
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Give every target logger a copy of the record under its own name."""
        # "" for the transport itself, ".sftp" for paramiko's SFTP session.
        suffix = record.name[len(self.route.channel) :]
        for name in self.route.targets(record.thread):
            target = logging.getLogger(name + suffix)
            if target.isEnabledFor(record.levelno):
                copy = logging.makeLogRecord(record.__dict__)
                copy.name = target.name
                target.handle(copy)


class LogRoute:
    """The log channel of one shared connection and who uses it now."""

    def __init__(self, fallback: str = DEFAULT_FALLBACK):
        """Create the channel; ``fallback`` receives lines no user is concerned by."""
        self.channel = f"opentaskpy-ssh-shared-{next(_numbers)}"
        self.fallback = fallback
        self._lock = threading.Lock()
        #: (thread, channel) of each user; replaced, never changed in place,
        #: so the forwarding handler reads it without the lock.
        self._users: tuple[User, ...] = ()
        self._logger = logging.getLogger(self.channel)
        self._logger.propagate = False
        self._logger.addHandler(_Forward(self))
        self._sync_level()

    def join(self, channel: str) -> User:
        """Send the connection's lines to ``channel`` too (this thread's: only there).

        Returns:
            The token to give to :meth:`leave`.
        """
        user = (threading.current_thread(), channel)
        with self._lock:
            self._users = (*self._users, user)
            self._sync_level()
        return user

    def leave(self, user: User) -> None:
        """Stop sending lines to a user :meth:`join` added."""
        with self._lock:
            users = list(self._users)
            if user in users:
                users.remove(user)
            self._users = tuple(users)
            self._sync_level()

    def targets(self, thread: int | None) -> list[str]:
        """Return the channels a record logged by ``thread`` goes to."""
        users = self._users
        # A thread's id is reused once it ends: only a live thread is "own".
        own = [
            channel
            for user, channel in users
            if user.ident == thread and user.is_alive()
        ]
        names = own or [channel for _, channel in users] or [self.fallback]
        return list(dict.fromkeys(names))

    def _sync_level(self) -> None:
        # paramiko checks the channel's level before making a record: let
        # through what the most verbose receiver writes.
        names = [channel for _, channel in self._users] or [self.fallback]
        self._logger.setLevel(
            min(logging.getLogger(name).getEffectiveLevel() for name in names)
        )
