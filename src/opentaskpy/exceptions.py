"""Exception classes raised by opentaskpy and by its addons.

Every class takes a single ``message`` argument, so ``str(exc)`` is always
the message (addons and ``return_result`` raise them as ``cls(message)``).
They share the base :class:`OTFError`, whose optional keyword fields say
where and why a failure happened (config file, JSON path, protocol, host,
cause) and whose :attr:`OTFError.error_class` tells schedulers and run
records what kind of failure it was. Each class is still an ``Exception``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    """What kind of failure ended a run (exit classes and run records)."""

    CONFIGURATION = "configuration"
    CONNECTION = "connection"
    NO_FILES = "no_files"
    TRANSFER = "transfer"
    EXECUTION = "execution"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    LOCKED = "locked"
    ERROR = "error"  # anything not classified more precisely


class OTFError(Exception):
    """Base of every opentaskpy exception.

    Args:
        message: the one-line message (``str(exc)``).
        config_file: the task or variables file at fault, if known.
        json_path: the field (JSON path or variable name) at fault.
        protocol: the protocol in use when it failed.
        host: the host that failed.
        cause: the underlying reason, in words.
    """

    error_class: ErrorClass = ErrorClass.ERROR

    def __init__(
        self,
        message: str = "",
        *args: Any,
        config_file: str | None = None,
        json_path: str | None = None,
        protocol: str | None = None,
        host: str | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message, *args)
        self.config_file = config_file
        self.json_path = json_path
        self.protocol = protocol
        self.host = host
        self.cause = cause

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self.args[0]) if self.args else ""


class FileTooNewError(OTFError):
    """Kept for compatibility; the core never raises it."""


class LogWatchTimeoutError(OTFError):
    """A log watch found no matching line before its timeout."""

    error_class = ErrorClass.TIMEOUT


class LogWatchInitError(OTFError):
    """A log watch could not be initialised (log file missing or unreadable)."""

    error_class = ErrorClass.EXECUTION


class RemoteTransferError(OTFError):
    """Moving files to, from or between hosts failed."""

    error_class = ErrorClass.TRANSFER


class RemoteFileNotFoundError(OTFError):
    """A file watch timed out without finding a qualifying file."""

    error_class = ErrorClass.NO_FILES


class FilesDoNotMeetConditionsError(OTFError):
    """No source file is left after listing and conditionals."""

    error_class = ErrorClass.NO_FILES


class DuplicateConfigFileError(OTFError):
    """More than one task file matches a task id."""

    error_class = ErrorClass.CONFIGURATION


class InvalidConfigError(OTFError):
    """A task definition is not usable (also raised by addons)."""

    error_class = ErrorClass.CONFIGURATION


class UnknownProtocolError(OTFError):
    """A protocol name cannot be resolved to a handler class."""

    error_class = ErrorClass.CONFIGURATION


class LookupPluginError(OTFError):
    """A lookup plugin was called with missing or invalid arguments."""

    error_class = ErrorClass.CONFIGURATION


class CachingPluginError(OTFError):
    """A caching plugin was called with missing or invalid arguments."""

    error_class = ErrorClass.CONFIGURATION


class VariableResolutionTooDeepError(OTFError):
    """Template resolution did not converge within the depth limit."""

    error_class = ErrorClass.CONFIGURATION


class SSHClientError(OTFError):
    """An SSH handler was used without a usable client or connection."""

    error_class = ErrorClass.CONNECTION


class DecryptionNotSupportedError(OTFError):
    """Decryption was requested but the files never pass through the worker."""

    error_class = ErrorClass.CONFIGURATION


class EncryptionNotSupportedError(OTFError):
    """Encryption was requested but the files never pass through the worker."""

    error_class = ErrorClass.CONFIGURATION


class EncryptionError(OTFError):
    """PGP key import or encryption failed."""

    error_class = ErrorClass.TRANSFER


class DecryptionError(OTFError):
    """PGP decryption failed."""

    error_class = ErrorClass.TRANSFER


# Exceptions of other libraries, by class name anywhere in their MRO, so
# that classifying never imports paramiko, jsonschema or jinja2.
_FOREIGN_CLASSES = {
    "AuthenticationException": ErrorClass.CONNECTION,
    "BadHostKeyException": ErrorClass.CONNECTION,
    "NoValidConnectionsError": ErrorClass.CONNECTION,
    "SSHException": ErrorClass.CONNECTION,
    "ConnectionError": ErrorClass.CONNECTION,
    "ValidationError": ErrorClass.CONFIGURATION,
    "TemplateError": ErrorClass.CONFIGURATION,
    "JSONDecodeError": ErrorClass.CONFIGURATION,
    "TimeoutError": ErrorClass.TIMEOUT,
    "KeyboardInterrupt": ErrorClass.INTERRUPTED,
}


def classify(exc: BaseException) -> ErrorClass:
    """Return the :class:`ErrorClass` of any exception (ours carry their own)."""
    if isinstance(exc, OTFError):
        return exc.error_class
    for klass in type(exc).__mro__:
        found = _FOREIGN_CLASSES.get(klass.__name__)
        if found is not None:
            return found
    return ErrorClass.ERROR
