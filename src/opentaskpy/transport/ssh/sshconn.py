"""How we talk to a host: SSH connections shared by the SSH and SFTP handlers.

Everything about reaching a host lives here: key selection, host-key policy,
connection retries and timeouts, running a remote command with its output
streamed line by line, and opening the SFTP session. Handlers keep one
:class:`SSHConnection` per host and reuse it for the whole task.

Key selection and algorithms: :mod:`opentaskpy.transport.ssh.sshoptions`.

Host keys (``protocol.hostKeyValidation``): ``true`` rejects unknown hosts;
``false`` accepts any key (the reference behaviour); absent means trust on
first use: an unknown host's key is recorded in the known_hosts file
(``OTF_KNOWN_HOSTS_FILE``, default ``~/.ssh/known_hosts``) and a host whose
key differs from the recorded one is refused with an error naming the host
and both fingerprints.

Retries: :mod:`.sshretry` (up to 6 attempts, never for host-key problems
or a refused authentication).

Inside a batch, connections made with ``shared=True`` lease the batch's
connection to the host (:mod:`.sshpool`): one handshake per host per batch.

A host that stops answering: once a session has been silent for a third of
the no-progress timeout (``OTF_SSH_NO_PROGRESS_TIMEOUT``, see
:mod:`.sshoptions`), a keepalive probe (a channel open, which the server must
answer) is sent; no answer within the rest of the timeout raises
:class:`HostNotAnsweringError` naming the host. SFTP channels time out
after the same limit.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable

from opentaskpy import ending
from opentaskpy.exceptions import ErrorClass
from opentaskpy.names import wire
from opentaskpy.transport.ssh import sshpool, sshpreconnect
from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpsession import SFTPSession
from opentaskpy.transport.ssh.sshcommand import CommandResult, collect
from opentaskpy.transport.ssh.ssherrors import (
    HostNotAnsweringError,
    not_answering,
    quiet_transport_errors,
    silent_server,
)
from opentaskpy.transport.ssh.sshhostkeys import (
    HostKeyChangedError,
    TrustOnFirstUsePolicy,
    describe_bad_host_key,
    fingerprint,
    known_hosts_file,
    setup_host_keys,
)
from opentaskpy.transport.ssh.sshio import open_session
from opentaskpy.transport.ssh.sshoptions import (
    connect_kwargs,
    no_progress_timeout,
)
from opentaskpy.transport.ssh.sshretry import retry_waits, should_retry

# Host-key names live in .sshhostkeys; importing them from here still works.
__all__ = [
    "CommandResult",
    "HostKeyChangedError",
    "SSHConnection",
    "TrustOnFirstUsePolicy",
    "describe_bad_host_key",
    "fingerprint",
    "known_hosts_file",
    "retry_waits",
    "setup_host_keys",
]

#: Largest SSH packet we accept on the SFTP channel: a 64 KiB read answer
#: arrives in one packet instead of two (paramiko's default is 32 KiB).
SFTP_MAX_PACKET = 2**17 + 2**10
#: Receive window of the SFTP channel (paramiko's default is 2 MiB). SFTP
#: servers only send what was asked for, so memory is bounded by the read
#: windows of :mod:`~opentaskpy.transport.ssh.sftpread`; the channel window
#: just has to be well above them, or the flow control stalls the download
#: (a 4 MiB read window in a 4 MiB channel window: 1 GiB in 5.4 s; in 32 MiB:
#: 2.9 s).
SFTP_WINDOW = 32 * 2**20


class SSHConnection:
    """One SSH client to one host, connected lazily and reused."""

    def __init__(
        self,
        hostname: str,
        protocol: dict,
        logger: logging.Logger,
        timeout: float = 3,
        allow_password: bool = False,
        log_channel: str | None = None,
        client: paramiko.SSHClient | None = None,
        shared: bool = False,
    ):
        """Prepare (but do not open) a connection.

        Args:
            hostname: the host to reach.
            protocol: the task's protocol object (port, credentials, host keys).
            logger: the task logger.
            timeout: TCP/banner/auth timeout in seconds.
            allow_password: accept ``credentials.password`` (SFTP only).
            log_channel: paramiko log channel name (default: the
                logger's child ``paramiko.transport``, into the task's log).
            client: an existing (unconnected) client to use.
            shared: inside a batch, lease the batch's connection to the
                host instead of opening one (:mod:`.sshpool`).
        """
        self.hostname = hostname
        self.protocol = protocol
        self.logger = logger
        self.timeout = timeout
        self.allow_password = allow_password
        self.log_channel = log_channel or f"{logger.name}.paramiko.transport"
        self.client = client or self._new_client()
        self._sftp: paramiko.SFTPClient | None = None
        self._home: str | None = None
        self.shared = shared
        #: Channels this connection may have open at once (see :mod:`.sshpool`).
        self.channels = 2
        self._lease: sshpool.Lease | None = None

    def _new_client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.set_log_channel(self.log_channel)
        quiet_transport_errors(self.log_channel)
        setup_host_keys(client, self.protocol, self.logger)
        return client

    def is_active(self) -> bool:
        """Whether the transport is up."""
        transport = self.client.get_transport()
        return bool(transport and transport.is_active())

    def connect(self, retry: bool = True, fresh_client: bool = False) -> SSHConnection:
        """Connect unless already connected; retry per the module policy.

        Raises:
            HostKeyChangedError: the host key differs from the recorded one.
            Exception: the last connection error, unchanged.
        """
        if self.is_active():
            return self
        if self._lease is not None:
            self._end_lease()  # its connection died: lease a live one
        pool = sshpool.current() if self.shared else None
        if pool is not None:
            self._lease = pool.acquire(self, retry, fresh_client)
            self.client = self._lease.entry.owner.client
            self._sftp = None
            return self
        kwargs = connect_kwargs(
            self.hostname, self.protocol, self.timeout, self.allow_password
        )
        kwargs.update(
            banner_timeout=self.timeout,
            auth_timeout=self.timeout,
            channel_timeout=self.timeout,
        )

        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            # A failed connect can leave the client unusable; retries start
            # from a new one (the first attempt uses the client we have).
            if fresh_client and attempts:
                self.client.close()
                self.client = self._new_client()
            attempts += 1
            # A connection opened early (:mod:`.sshpreconnect`), first try only.
            early = sshpreconnect.take(self.hostname, kwargs["port"])
            try:
                try:
                    self._connect_client(kwargs, early)
                except paramiko.BadHostKeyException as exc:
                    raise describe_bad_host_key(exc, kwargs["port"]) from None
                except paramiko.SSHException as exc:
                    raise silent_server(
                        exc, self.hostname, kwargs["port"], self.timeout
                    ) from exc
            except Exception as exc:
                self.logger.warning(
                    f"[{self.hostname}] Connection attempt failed: {exc}"
                )
                raise

        waits = retry_waits(1 if not retry else None)
        while True:
            try:
                attempt()
                break
            except Exception as exc:
                if not waits or not should_retry(exc):
                    # Callers often log this and return a status: the note
                    # tells the task it was a connection failure.
                    ending.note(ErrorClass.CONNECTION, f"[{self.hostname}] {exc}")
                    raise
                time.sleep(waits.pop(0))
        transport = self.client.get_transport()
        if transport is not None:
            # Keeps NAT and firewall state alive on quiet sessions; whether
            # the host still answers is checked by :meth:`check_alive`.
            transport.set_keepalive(max(1, int(no_progress_timeout() / 3)))
        self._sftp = None
        return self

    def _connect_client(self, kwargs: dict, early: socket.socket | None) -> None:
        """``client.connect``, first on an early socket if there is one.

        An early socket the server dropped (or any failure before the SSH
        handshake got going) is replaced at once by a new connection.
        """
        if early is not None:
            try:
                self.client.connect(**kwargs, sock=early)
                return
            except (OSError, EOFError, paramiko.SSHException) as exc:
                if isinstance(exc, paramiko.SSHException) and (
                    type(exc) is not paramiko.SSHException
                ):
                    raise  # authentication, host key: not the socket's fault
                self.client.close()
                self.client = self._new_client()
        self.client.connect(**kwargs)

    def _end_lease(self, retire: bool = False) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            self.client = lease.own_client
            lease.pool.release(lease, retire)

    def _open_channel(
        self, opener: Callable[[paramiko.Transport], paramiko.Channel]
    ) -> paramiko.Channel:
        """Open a channel; a shared connection that died moves to a new one.

        Nothing has run on a channel that could not be opened, so opening
        it again on a new connection is safe.
        """
        self.connect()
        try:
            return opener(self._transport())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            lease = self._lease
            if lease is None:
                raise
            self.logger.info(
                f"[{self.hostname}] Shared connection unusable ({exc or type(exc)})"
                ", opening a new one"
            )
            self._end_lease(retire=True)
            self.connect(lease.retry, lease.fresh_client)
            return opener(self._transport())

    def _transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        if transport is None:
            raise paramiko.SSHException("SSH session not active")
        return transport

    def check_alive(self, operation: str, timeout: float | None = None) -> None:
        """Raise :class:`HostNotAnsweringError` unless the host answers in time.

        The probe is a channel open, which the server must confirm or
        refuse (paramiko's own keepalive asks for no answer).
        """
        timeout = timeout or no_progress_timeout()
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise not_answering(self.hostname, operation, timeout)
        try:
            probe = transport.open_session(timeout=timeout)
        except paramiko.ChannelException:
            return  # refused: the host answered
        except Exception:  # noqa: BLE001 - timed out or the transport died
            raise not_answering(self.hostname, operation, timeout) from None
        probe.close()

    def sftp(self) -> paramiko.SFTPClient:
        """Return the connection's SFTP session, opened on first use."""
        if self._sftp is None or self._sftp.sock.closed:
            channel = self._open_channel(
                lambda transport: open_session(transport, SFTP_WINDOW, SFTP_MAX_PACKET)
            )
            channel.invoke_subsystem("sftp")
            # A silent host fails SFTP operations instead of blocking them.
            channel.settimeout(no_progress_timeout())
            self._sftp = SFTPSession(channel)
        return self._sftp

    def run(
        self,
        command: str,
        on_stdout: Callable[[str], None] | None = None,
        on_channel: Callable[[paramiko.Channel], None] | None = None,
        operation: str | None = None,
    ) -> CommandResult:
        """Run ``command`` (already shell-quoted) and wait for it to finish.

        Stdout lines are passed to ``on_stdout`` as they arrive; stderr is
        collected concurrently so a chatty command never blocks. A command
        may run silently for any time, but the host must keep answering
        keepalive probes (:meth:`check_alive`).

        Raises:
            HostNotAnsweringError: the host stopped answering; the channel
                is closed (``operation`` names what was running).
        """
        limit = no_progress_timeout()
        channel = self._open_channel(lambda t: t.open_session(timeout=limit))
        if on_channel:
            on_channel(channel)
        # Quoted file names may hold bytes that are not UTF-8 (surrogate escapes).
        channel.exec_command(wire(command))  # type: ignore[arg-type]
        return collect(
            channel,
            on_stdout,
            limit / 3,
            lambda: self._probe_or_give_up(channel, operation or command, limit),
        )

    def _probe_or_give_up(
        self, channel: paramiko.Channel, operation: str, limit: float
    ) -> None:
        try:
            self.check_alive(operation, limit * 2 / 3)
        except HostNotAnsweringError:
            channel.close()
            self._end_lease(retire=True)  # later steps get a new connection
            raise not_answering(self.hostname, operation, limit) from None

    def uname(self) -> str:
        """Return ``uname -a`` of the host, learning ``$HOME`` in the same trip.

        Asked once per shared connection.
        """
        self.connect()
        facts = self._lease.entry.facts if self._lease else {}
        if "uname" not in facts:
            lines = self.run('echo "$HOME"; uname -a').stdout.splitlines()
            if lines and lines[0].startswith("/"):
                facts["home"] = lines[0]
            facts["uname"] = " ".join(lines[1:]).strip()
        self._home = facts.get("home", self._home)
        return facts["uname"]

    def home(self) -> str:
        """Return the login user's ``$HOME`` on the host (asked once)."""
        if self._home is None:
            self._home = self.run("echo $HOME").stdout.strip()
        return self._home

    def close(self) -> None:
        """Close the SFTP session and the client (or end the lease)."""
        if self._sftp is not None:
            with contextlib.suppress(Exception):  # best effort on shutdown
                self._sftp.close()
            self._sftp = None
        self._end_lease()
        self.client.close()
