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

Retries: up to 6 attempts, waiting 5, 5, 8, 16 and 32 s (exponential
``2·2^(n-1)`` clamped to 5–60 s), never for host-key problems, unknown
host names, unusable key files or a refused authentication (retrying a
refused key or password only counts towards locking the account).
Environment knobs (meant for tests): ``OTF_SSH_RETRY_WAIT_SCALE``
multiplies every wait (e.g. ``0`` for no waiting) and
``OTF_SSH_RETRY_ATTEMPTS`` overrides the number of attempts.

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
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass

from opentaskpy import ending
from opentaskpy.exceptions import ErrorClass
from opentaskpy.names import wire
from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpsession import SFTPSession
from opentaskpy.transport.ssh.ssherrors import (
    HostNotAnsweringError,
    not_answering,
    quiet_transport_errors,
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
    KeyFileError,
    connect_kwargs,
    no_progress_timeout,
)

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

DEFAULT_ATTEMPTS = 6
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
_NO_RETRY_TEXTS = ("not found in known_hosts", "Name or service not known")


def _should_retry(exc: BaseException) -> bool:
    if isinstance(
        exc,
        HostKeyChangedError
        | paramiko.BadHostKeyException
        | paramiko.AuthenticationException
        | KeyFileError,
    ):
        return False
    return not any(text in str(exc) for text in _NO_RETRY_TEXTS)


def retry_waits(attempts: int | None = None) -> list[float]:
    """Seconds to wait before each retry under the module's policy.

    ``attempts`` (default ``OTF_SSH_RETRY_ATTEMPTS`` or 6) counts the first
    try, so there is one wait fewer; every wait is scaled by
    ``OTF_SSH_RETRY_WAIT_SCALE``. (A plain loop rather than tenacity, whose
    import would cost every SSH task ~6 ms of start-up for a fixed schedule.)
    """
    scale = _env_number("OTF_SSH_RETRY_WAIT_SCALE", 1, float)
    attempts = attempts or int(_env_number("OTF_SSH_RETRY_ATTEMPTS", DEFAULT_ATTEMPTS))
    return [min(max(2 * 2 ** (n - 1), 5), 60) * scale for n in range(1, attempts)]


def _env_number(name: str, default: float, kind: type = int) -> float:
    """Read a number variable; a wrong one is an error naming it."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(
            f"environment variable {name}={text!r}: expected a number >= 0"
        )
    return value


@dataclass
class CommandResult:
    """Exit status and captured output of a remote command."""

    exit_code: int
    stdout: str
    stderr: str


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
    ):
        """Prepare (but do not open) a connection.

        Args:
            hostname: the host to reach.
            protocol: the task's protocol object (port, credentials, host keys).
            logger: the task logger.
            timeout: TCP/banner/auth timeout in seconds.
            allow_password: accept ``credentials.password`` (SFTP only).
            log_channel: paramiko log channel name.
            client: an existing (unconnected) client to use.
        """
        self.hostname = hostname
        self.protocol = protocol
        self.logger = logger
        self.timeout = timeout
        self.allow_password = allow_password
        self.log_channel = log_channel
        self.client = client or self._new_client()
        self._sftp: paramiko.SFTPClient | None = None
        self._home: str | None = None

    def _new_client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        if self.log_channel:
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
            try:
                try:
                    self.client.connect(**kwargs)
                except paramiko.BadHostKeyException as exc:
                    raise describe_bad_host_key(exc, kwargs["port"]) from None
                except paramiko.SSHException as exc:
                    raise self._silent_server(exc, kwargs["port"]) from exc
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
                if not waits or not _should_retry(exc):
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

    def _silent_server(self, exc: Exception, port: int) -> Exception:
        """Name a server that took the connection but never answered SSH.

        paramiko reports it as "No existing session" (its handshake timed
        out before authentication could start) or a banner error.
        """
        text = str(exc)
        if text != "No existing session" and "protocol banner" not in text:
            return exc
        cause = f"no SSH handshake answer within {self.timeout:g} s"
        return HostNotAnsweringError(
            f"Host {self.hostname} (port {port}) accepted the connection but "
            f"did not answer the SSH handshake: {cause}",
            host=self.hostname,
            protocol="ssh",
            cause=cause,
        )

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
            self.connect()
            transport = self.client.get_transport()
            assert transport is not None
            channel = open_session(transport, SFTP_WINDOW, SFTP_MAX_PACKET)
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
        self.connect()
        transport = self.client.get_transport()
        assert transport is not None
        limit = no_progress_timeout()
        channel = transport.open_session(timeout=limit)
        if on_channel:
            on_channel(channel)
        # Quoted file names may hold bytes that are not UTF-8 (surrogate escapes).
        channel.exec_command(wire(command))  # type: ignore[arg-type]
        out, err = bytearray(), bytearray()
        pending = b""
        quiet_since = time.monotonic()
        while True:
            select.select([channel], [], [], 0.5)
            got = False
            while channel.recv_ready():
                data = channel.recv(65536)
                got = got or bool(data)
                out += data
                if on_stdout:
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        on_stdout(line.decode(errors="replace"))
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
                got = True
            if (
                channel.exit_status_ready()
                and not got
                and not channel.recv_ready()
                and not channel.recv_stderr_ready()
            ):
                break
            if channel.closed and not got:
                break
            if got:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= limit / 3:
                self._probe_or_give_up(channel, operation or command, limit)
                quiet_since = time.monotonic()
        if on_stdout and pending:
            on_stdout(pending.decode(errors="replace"))
        code = channel.recv_exit_status()
        channel.close()
        return CommandResult(
            code, out.decode(errors="replace"), err.decode(errors="replace")
        )

    def _probe_or_give_up(
        self, channel: paramiko.Channel, operation: str, limit: float
    ) -> None:
        try:
            self.check_alive(operation, limit * 2 / 3)
        except HostNotAnsweringError:
            channel.close()
            raise not_answering(self.hostname, operation, limit) from None

    def uname(self) -> str:
        """Return ``uname -a`` of the host, learning ``$HOME`` in the same trip."""
        lines = self.run('echo "$HOME"; uname -a').stdout.splitlines()
        if lines and lines[0].startswith("/"):
            self._home = lines[0]
        return " ".join(lines[1:]).strip()

    def home(self) -> str:
        """Return the login user's ``$HOME`` on the host (asked once)."""
        if self._home is None:
            self._home = self.run("echo $HOME").stdout.strip()
        return self._home

    def close(self) -> None:
        """Close the SFTP session and the client."""
        if self._sftp is not None:
            with contextlib.suppress(Exception):  # best effort on shutdown
                self._sftp.close()
            self._sftp = None
        self.client.close()
