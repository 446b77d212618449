"""Host-key policy of our SSH clients (described in :mod:`.sshconn`).

``hostKeyValidation: true`` rejects unknown hosts, ``false`` accepts any
key, and an absent field means trust on first use: the key is recorded in
``OTF_KNOWN_HOSTS_FILE`` (default ``~/.ssh/known_hosts``) and a changed key
is refused naming the host and both fingerprints.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading

from opentaskpy.transport.ssh.paramiko_import import paramiko

_known_hosts_lock = threading.Lock()


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


def _is_system_known_hosts(path: str) -> bool:
    """Whether ``path`` is the file ``load_system_host_keys`` already read.

    paramiko checks the system keys before the client's own, so reading the
    same file into both only doubles the cost: parsing is quadratic in the
    number of entries (each new line is looked up among those before it).
    """
    system = os.path.expanduser("~/.ssh/known_hosts")
    try:
        return os.path.samefile(path, system)
    except OSError:
        return False


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
    if (
        os.path.exists(tofu_file)
        and validation is not False
        and not _is_system_known_hosts(tofu_file)
    ):
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
