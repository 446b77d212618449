"""How a failing SSH session is described: one cause in words, naming the host.

paramiko's own wording ("No existing session", an empty ``EOFError``, a
traceback logged by the transport thread) says little about what happened;
the handlers report failures through :func:`describe_error` and the errors
here instead.
"""

from __future__ import annotations

import logging
import threading

from opentaskpy.exceptions import ErrorClass, SSHClientError
from opentaskpy.transport.ssh.sshoptions import KeyFileError, no_progress_timeout

__all__ = [
    "HostNotAnsweringError",
    "describe_error",
    "not_answering",
    "quiet_transport_errors",
]


class HostNotAnsweringError(SSHClientError):
    """A host stopped answering for longer than the no-progress timeout."""

    error_class = ErrorClass.TIMEOUT


def not_answering(host: str, operation: str, seconds: float) -> HostNotAnsweringError:
    """Build the error for ``host`` silent for ``seconds`` during ``operation``."""
    cause = f"no answer for {seconds:g} s (OTF_SSH_NO_PROGRESS_TIMEOUT)"
    return HostNotAnsweringError(
        f"Host {host} stopped answering during {operation}: {cause}",
        host=host,
        protocol="ssh",
        cause=cause,
    )


class _TransportErrorsToDebug(logging.Filter):
    """Log paramiko's own error reports (one line per traceback line) at DEBUG.

    The transport thread reports e.g. a missing banner with its traceback;
    the same failure reaches us as an exception and is reported once, in
    words, by the handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_quieted: set[str] = set()
_quiet_lock = threading.Lock()


def silent_server(exc: Exception, host: str, port: int, timeout: float) -> Exception:
    """Name a server that took the connection but never answered SSH.

    paramiko reports it as "No existing session" (its handshake timed out
    before authentication could start) or a banner error; other errors are
    returned unchanged.
    """
    text = str(exc)
    if text != "No existing session" and "protocol banner" not in text:
        return exc
    cause = f"no SSH handshake answer within {timeout:g} s"
    return HostNotAnsweringError(
        f"Host {host} (port {port}) accepted the connection but "
        f"did not answer the SSH handshake: {cause}",
        host=host,
        protocol="ssh",
        cause=cause,
    )


def quiet_transport_errors(name: str | None) -> None:
    """Install :class:`_TransportErrorsToDebug` on a paramiko log channel.

    Args:
        name: the channel given to ``set_log_channel`` (``None``: paramiko's
            default ``paramiko.transport``).
    """
    name = name or "paramiko.transport"
    with _quiet_lock:
        if name not in _quieted:
            _quieted.add(name)
            logging.getLogger(name).addFilter(_TransportErrorsToDebug())


def describe_error(exc: BaseException) -> str:
    """One cause in words for an exception from a session (never blank)."""
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, HostNotAnsweringError | KeyFileError):
        return text
    if isinstance(exc, TimeoutError) or name == "timeout":
        return f"no answer within {no_progress_timeout():g} s ({text or name})"
    if isinstance(exc, EOFError) or any(
        marker in text
        for marker in ("Server connection dropped", "Socket is closed", "EOF")
    ):
        return f"connection lost ({text or name})"
    if text == "No existing session":
        return "the SSH session ended before authentication (no answer from the server)"
    return text or name
