"""How a connection is opened: key selection, key loading and algorithms.

Key selection (first match wins): ``OTF_SSH_KEY`` naming an existing file
when the credentials have no ``keyFile``; credentials ``keyFile`` (any key
type paramiko supports, plus PKCS#8 RSA); inline ``key`` text; ``password``
(SFTP only); otherwise paramiko's default key discovery (``~/.ssh/id_*``).
The SSH agent is never used. A key file is refused, as OpenSSH refuses it,
when it belongs to the running user and group or others may access it; a
missing or unreadable key file is reported with its path (a path is not a
secret, only key contents are).

No-progress timeout (``OTF_SSH_NO_PROGRESS_TIMEOUT``, seconds, default 60):
how long a host may stay silent before we give up on it. It bounds our own
sessions (keepalive probes, SFTP channel timeouts) and every OpenSSH client
we start on a host (``ServerAliveInterval``/``ServerAliveCountMax`` and
``ConnectTimeout`` of a host-to-host ``scp``).

Algorithms: paramiko's defaults, except that AEAD ciphers (AES-GCM) and
encrypt-then-MAC MACs are preferred when the server offers them. Both are
the stronger constructions, and AES-GCM saves the separate HMAC pass over
every packet (about a third more throughput measured on loopback).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import socket
import stat
import threading

from opentaskpy.exceptions import SSHClientError
from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sshio import ReadAheadSocket

_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.RSAKey,
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
)


def load_key_text(text: str) -> paramiko.PKey:
    """Parse private-key text (RSA, or any other type paramiko reads)."""
    text = text.replace("\\n", "\n")
    last: Exception | None = None
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text))
        except paramiko.SSHException as exc:
            last = exc
    raise paramiko.SSHException(f"Unable to parse the inline private key: {last}")


DEFAULT_NO_PROGRESS_TIMEOUT = 60.0


def no_progress_timeout() -> float:
    """Seconds a host may stay silent (``OTF_SSH_NO_PROGRESS_TIMEOUT``, default 60)."""
    try:
        value = float(os.environ.get("OTF_SSH_NO_PROGRESS_TIMEOUT") or 0)
    except ValueError:
        value = 0
    return value if value > 0 else DEFAULT_NO_PROGRESS_TIMEOUT


def openssh_liveness_options(timeout: float | None = None) -> str:
    """``-o`` options bounding an OpenSSH client we start on a host.

    The client gives up once the server has not answered ``ServerAlive``
    probes for about ``timeout`` seconds (three probes), or when it cannot
    connect within 5 s (the reference's ``ConnectTimeout``), or within
    ``timeout`` when that is shorter.
    """
    timeout = timeout or no_progress_timeout()
    interval = max(1, round(timeout / 3))
    options = {
        "ServerAliveInterval": interval,
        "ServerAliveCountMax": 3,
        "ConnectTimeout": max(1, round(min(timeout, 5))),
    }
    return " ".join(
        f"-o {shlex.quote(f'{name}={value}')}" for name, value in options.items()
    )


class KeyFileError(SSHClientError):
    """A private key file is missing, unreadable or readable by others."""


def check_key_file(path: str, host: str | None = None) -> os.stat_result:
    """Refuse a key file as OpenSSH does; return its ``stat``.

    OpenSSH ignores a key file owned by the running user that group or
    others may read or write ("UNPROTECTED PRIVATE KEY FILE"). Paths appear
    in the messages: a path is not a secret.

    Raises:
        KeyFileError: the file is missing, unreadable or too open.
    """
    try:
        st = os.stat(path)
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise KeyFileError(
            f"Private key file {path} cannot be used: {exc.strerror or exc}",
            host=host,
            protocol="ssh",
            cause=exc.strerror or str(exc),
        ) from None
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        mode = f"{stat.S_IMODE(st.st_mode):04o}"
        raise KeyFileError(
            f"UNPROTECTED PRIVATE KEY FILE: permissions {mode} for {path} are "
            "too open (group or others can access it); refusing to use it "
            "(chmod 600 the file)",
            host=host,
            protocol="ssh",
            cause="private key file readable by others",
        )
    return st


_KEY_CACHE: dict[tuple[str, int, int], paramiko.PKey] = {}
_KEY_LOCK = threading.Lock()


def load_key_file(path: str, host: str | None = None) -> paramiko.PKey:
    """Load a private key file once per process (keyed by path, mtime, size).

    ``PKey.from_path`` costs ~85 ms for an RSA key (OpenSSL validates the
    key's primes on every load); executions on many hosts and transfers
    with several connections load the same file again and again.

    Raises:
        KeyFileError: see :func:`check_key_file`.
    """
    st = check_key_file(path, host)
    cache_key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
    with _KEY_LOCK:
        key = _KEY_CACHE.get(cache_key)
        if key is None:
            key = _fast_rsa(path) or _load_with_paramiko(path, host)
            _KEY_CACHE[cache_key] = key
    return key


def _load_with_paramiko(path: str, host: str | None = None) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except TypeError as exc:  # cryptography: "Password was not given ..."
        raise paramiko.PasswordRequiredException(
            f"Private key file {path} is encrypted; only keys without a"
            " passphrase are supported"
        ) from exc
    except paramiko.PasswordRequiredException:
        raise
    except (ValueError, paramiko.SSHException) as exc:
        # cryptography's own text names no file and points to its FAQ; the
        # same file fails the same way on every attempt, so it is not retried.
        hint = " (this is a public key)" if path.endswith(".pub") else ""
        raise KeyFileError(
            f"Private key file {path} cannot be used: it is not a private key "
            f"in a format we can read (OpenSSH, PEM or PKCS#8){hint}",
            host=host,
            protocol="ssh",
            cause="not a private key",
        ) from exc


def _fast_rsa(path: str) -> paramiko.PKey | None:
    """Load an unencrypted PEM RSA key without OpenSSL's prime checks.

    The checks (~40 ms per load, twice in ``PKey.from_path``) guard against
    maliciously crafted keys; this is the operator's own key file.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    with open(path, "rb") as fh:
        data = fh.read()
    if (
        b"-----BEGIN RSA PRIVATE KEY-----" not in data
        and b"-----BEGIN PRIVATE KEY-----" not in data
    ):
        return None
    try:
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        return None
    return paramiko.RSAKey(key=key) if isinstance(key, rsa.RSAPrivateKey) else None


def connect_kwargs(
    hostname: str, protocol: dict, timeout: float, allow_password: bool = False
) -> dict:
    """Build ``SSHClient.connect`` keyword arguments (key selection, timeouts)."""
    credentials = protocol.get("credentials") or {}
    kwargs: dict = {
        "hostname": hostname,
        "port": int(protocol.get("port", 22)),
        "username": credentials.get("username"),
        "timeout": timeout,
        "allow_agent": False,
        "transport_factory": new_transport,
    }
    env_key = os.environ.get("OTF_SSH_KEY")
    if env_key and os.path.isfile(env_key) and not credentials.get("keyFile"):
        kwargs["pkey"] = load_key_file(env_key, hostname)
    elif credentials.get("keyFile"):
        # Loaded here (any type paramiko reads) so a refused key reports
        # "Authentication failed" rather than a misleading key-parsing error.
        kwargs["pkey"] = load_key_file(credentials["keyFile"], hostname)
    elif credentials.get("key"):
        kwargs["pkey"] = load_key_text(credentials["key"])
    elif allow_password and credentials.get("password"):
        kwargs["password"] = credentials["password"]
    if "pkey" in kwargs or "password" in kwargs:
        kwargs["look_for_keys"] = False
    return kwargs


def _preferred_first(names: tuple[str, ...], marker: str) -> tuple[str, ...]:
    """Reorder ``names`` so those containing ``marker`` come first (stable)."""
    return tuple(n for n in names if marker in n) + tuple(
        n for n in names if marker not in n
    )


def new_transport(
    sock: socket.socket | paramiko.Channel,
    disabled_algorithms: dict[str, list[str]] | None = None,
    **kwargs: object,
) -> paramiko.Transport:
    """Create a client transport that prefers AES-GCM and ETM MACs.

    Used as ``SSHClient.connect(transport_factory=...)``. A server that
    offers neither still negotiates paramiko's usual CTR + HMAC. A plain
    socket is read through :class:`~opentaskpy.transport.ssh.sshio.ReadAheadSocket`
    and sends without Nagle's delay (``TCP_NODELAY``): SSH sends whole
    packets, and a small one (a channel open after a channel close, or
    after the answer to the server's ``hostkeys`` request) would otherwise
    wait for the server's delayed ACK, 40 ms on Linux, before every command.
    """
    if isinstance(sock, socket.socket):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # Requests are written whole (see sftpread.corked): Nagle's
            # algorithm would only hold a small one back until the previous
            # one is acknowledged, a delayed acknowledgement away.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = ReadAheadSocket(sock)  # type: ignore[assignment]
    transport = paramiko.Transport(
        sock,
        disabled_algorithms=disabled_algorithms,
        **kwargs,  # type: ignore[arg-type]
    )
    options = transport.get_security_options()
    options.ciphers = _preferred_first(tuple(options.ciphers), "-gcm@")
    options.digests = _preferred_first(tuple(options.digests), "-etm@")
    return transport
