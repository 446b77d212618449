"""Exception classes raised by opentaskpy and by its addons.

Every class derives directly from :class:`Exception` and takes a single
``message`` argument, so ``str(exc)`` is always the message.
"""


class FileTooNewError(Exception):
    """Kept for compatibility; the core never raises it."""


class LogWatchTimeoutError(Exception):
    """A log watch found no matching line before its timeout."""


class LogWatchInitError(Exception):
    """A log watch could not be initialised (log file missing or unreadable)."""


class RemoteTransferError(Exception):
    """Moving files to, from or between hosts failed."""


class RemoteFileNotFoundError(Exception):
    """A file watch timed out without finding a qualifying file."""


class FilesDoNotMeetConditionsError(Exception):
    """No source file is left after listing and conditionals."""


class DuplicateConfigFileError(Exception):
    """More than one task file matches a task id."""


class InvalidConfigError(Exception):
    """A task definition is not usable (also raised by addons)."""


class UnknownProtocolError(Exception):
    """A protocol name cannot be resolved to a handler class."""


class LookupPluginError(Exception):
    """A lookup plugin was called with missing or invalid arguments."""


class CachingPluginError(Exception):
    """A caching plugin was called with missing or invalid arguments."""


class VariableResolutionTooDeepError(Exception):
    """Template resolution did not converge within the depth limit."""


class SSHClientError(Exception):
    """An SSH handler was used without a usable client or connection."""


class DecryptionNotSupportedError(Exception):
    """Decryption was requested but the files never pass through the worker."""


class EncryptionNotSupportedError(Exception):
    """Encryption was requested but the files never pass through the worker."""


class EncryptionError(Exception):
    """PGP key import or encryption failed."""


class DecryptionError(Exception):
    """PGP decryption failed."""
