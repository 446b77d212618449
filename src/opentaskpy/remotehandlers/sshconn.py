"""How we talk to a host: SSH connections shared by the SSH and SFTP handlers.

Everything about reaching a host lives here: key selection, host-key policy,
connection retries and timeouts, running a remote command with its output
streamed line by line, and opening the SFTP session. Handlers keep one
:class:`SSHConnection` per host and reuse it for the whole task.

Key selection and algorithms: :mod:`opentaskpy.remotehandlers.sshoptions`.

Host keys (``protocol.hostKeyValidation``): ``true`` rejects unknown hosts;
``false`` accepts any key (the reference behaviour); absent means trust on
first use: an unknown host's key is recorded in the known_hosts file
(``OTF_KNOWN_HOSTS_FILE``, default ``~/.ssh/known_hosts``) and a host whose
key differs from the recorded one is refused with an error naming the host
and both fingerprints.

Retries: up to 6 attempts, waiting 5, 5, 8, 16 and 32 s (exponential
``2·2^(n-1)`` clamped to 5–60 s), never for host-key problems or unknown
host names. Environment knobs (meant for tests): ``OTF_SSH_RETRY_WAIT_SCALE``
multiplies every wait (e.g. ``0`` for no waiting) and
``OTF_SSH_RETRY_ATTEMPTS`` overrides the number of attempts.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from opentaskpy.remotehandlers.paramiko_import import paramiko
from opentaskpy.remotehandlers.sftpsession import SFTPSession
from opentaskpy.remotehandlers.sshio import open_session
from opentaskpy.remotehandlers.sshoptions import connect_kwargs

DEFAULT_ATTEMPTS = 6
#: Largest SSH packet we accept on the SFTP channel: a 64 KiB read answer
#: arrives in one packet instead of two (paramiko's default is 32 KiB).
SFTP_MAX_PACKET = 2**17 + 2**10
#: Receive window of the SFTP channel (paramiko's default is 2 MiB). SFTP
#: servers only send what was asked for, so memory is bounded by the read
#: windows of :mod:`~opentaskpy.remotehandlers.sftpread`; the channel window
#: just has to be well above them, or the flow control stalls the download
#: (a 4 MiB read window in a 4 MiB channel window: 1 GiB in 5.4 s; in 32 MiB:
#: 2.9 s).
SFTP_WINDOW = 32 * 2**20
_known_hosts_lock = threading.Lock()
_NO_RETRY_TEXTS = ("not found in known_hosts", "Name or service not known")


class HostKeyChangedError(paramiko.SSHException):
    """The server's host key differs from the recorded one (never retried)."""


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_file() -> str:
    """Return the trust-on-first-use known_hosts file (``OTF_KNOWN_HOSTS_FILE``)."""
    return os.environ.get("OTF_KNOWN_HOSTS_FILE") or os.path.expanduser(
        "~/.ssh/known_hosts"
    )


class TrustOnFirstUsePolicy(paramiko.MissingHostKeyPolicy):
    """Accept an unknown host once and record its key for next time."""

    def __init__(self, path: str, logger: logging.Logger):
        """Record keys in ``path``; log through ``logger``."""
        self.path = path
        self.logger = logger

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        """Append the key to the known_hosts file and accept it."""
        line = paramiko.hostkeys.HostKeyEntry([hostname], key).to_line() or ""
        with _known_hosts_lock:
            directory = os.path.dirname(self.path)
            if directory:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as handle:
                handle.write(line if line.endswith("\n") else line + "\n")
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.logger.warning(
            f"[{hostname}] Trusting host key on first use: {key.get_name()} "
            f"{fingerprint(key)} (recorded in {self.path})"
        )


def setup_host_keys(
    client: paramiko.SSHClient, protocol: dict, logger: logging.Logger
) -> None:
    """Apply the host-key policy of ``protocol`` to ``client``."""
    logger.info("Loading system host keys")
    client.load_system_host_keys()
    validation = protocol.get("hostKeyValidation")
    tofu_file = known_hosts_file()
    # Loading into the HostKeys object (not client.load_host_keys) so paramiko
    # never rewrites the file itself.
    if os.path.exists(tofu_file) and validation is not False:
        client.get_host_keys().load(tofu_file)
    if validation:
        extra = protocol.get("knownHostsFile")
        if extra:
            logger.info(f"Loading host keys from {extra}")
            client.get_host_keys().load(extra)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    elif validation is False:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    else:
        client.set_missing_host_key_policy(TrustOnFirstUsePolicy(tofu_file, logger))


def _should_retry(exc: BaseException) -> bool:
    if isinstance(exc, HostKeyChangedError | paramiko.BadHostKeyException):
        return False
    return not any(text in str(exc) for text in _NO_RETRY_TEXTS)


def retry_waits(attempts: int | None = None) -> list[float]:
    """Seconds to wait before each retry under the module's policy.

    ``attempts`` (default ``OTF_SSH_RETRY_ATTEMPTS`` or 6) counts the first
    try, so there is one wait fewer; every wait is scaled by
    ``OTF_SSH_RETRY_WAIT_SCALE``. (A plain loop rather than tenacity, whose
    import would cost every SSH task ~6 ms of start-up for a fixed schedule.)
    """
    scale = float(os.environ.get("OTF_SSH_RETRY_WAIT_SCALE", "1"))
    attempts = attempts or int(
        os.environ.get("OTF_SSH_RETRY_ATTEMPTS", str(DEFAULT_ATTEMPTS))
    )
    return [min(max(2 * 2 ** (n - 1), 5), 60) * scale for n in range(1, attempts)]


def describe_bad_host_key(
    exc: paramiko.BadHostKeyException, port: int = 22
) -> HostKeyChangedError:
    """Turn paramiko's error into one naming the host and both fingerprints."""
    host = exc.hostname if port == 22 else f"[{exc.hostname}]:{port}"
    return HostKeyChangedError(
        f"Host key for {host} has changed: the server offered "
        f"{exc.key.get_name()} {fingerprint(exc.key)} but "
        f"{fingerprint(exc.expected_key)} is recorded (known_hosts: "
        f"{known_hosts_file()}). Refusing to connect; remove the old entry if "
        "the change is expected."
    )


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
                self.client.connect(**kwargs)
            except paramiko.BadHostKeyException as exc:
                raise describe_bad_host_key(exc, kwargs["port"]) from None
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
                    raise
                time.sleep(waits.pop(0))
        self._sftp = None
        return self

    def sftp(self) -> paramiko.SFTPClient:
        """Return the connection's SFTP session, opened on first use."""
        if self._sftp is None or self._sftp.sock.closed:
            self.connect()
            transport = self.client.get_transport()
            assert transport is not None
            channel = open_session(transport, SFTP_WINDOW, SFTP_MAX_PACKET)
            channel.invoke_subsystem("sftp")
            self._sftp = SFTPSession(channel)
        return self._sftp

    def run(
        self,
        command: str,
        on_stdout: Callable[[str], None] | None = None,
        on_channel: Callable[[paramiko.Channel], None] | None = None,
    ) -> CommandResult:
        """Run ``command`` (already shell-quoted) and wait for it to finish.

        Stdout lines are passed to ``on_stdout`` as they arrive; stderr is
        collected concurrently so a chatty command never blocks.
        """
        self.connect()
        transport = self.client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        if on_channel:
            on_channel(channel)
        channel.exec_command(command)
        out, err = bytearray(), bytearray()
        pending = b""
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
        if on_stdout and pending:
            on_stdout(pending.decode(errors="replace"))
        code = channel.recv_exit_status()
        channel.close()
        return CommandResult(
            code, out.decode(errors="replace"), err.decode(errors="replace")
        )

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
