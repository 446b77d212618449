"""When and how long :class:`~.sshconn.SSHConnection` retries a connection.

Up to 6 attempts, waiting 5, 5, 8, 16 and 32 s (exponential ``2·2^(n-1)``
clamped to 5–60 s), never for host-key problems, unknown host names,
unusable key files or a refused authentication. ``OTF_SSH_RETRY_WAIT_SCALE``
multiplies every wait and ``OTF_SSH_RETRY_ATTEMPTS`` overrides the number of
attempts (both meant for tests).
"""

from __future__ import annotations

import os

from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sshhostkeys import HostKeyChangedError
from opentaskpy.transport.ssh.sshoptions import KeyFileError

DEFAULT_ATTEMPTS = 6
_NO_RETRY_TEXTS = ("not found in known_hosts", "Name or service not known")


def should_retry(exc: BaseException) -> bool:
    """Whether another attempt could succeed after ``exc``.

    Retrying a refused key or password only counts towards locking the account.
    """
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
