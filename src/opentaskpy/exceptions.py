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

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any, NoReturn


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
        position: where inside ``config_file``, in words (``line 4``,
            ``line 4 column 5``, ``variable 'NEST'``).
        plugin: the lookup plugin that raised it.
        summary: the one line without its location, when it differs from
            the message (which stays what ``str()`` returns); the CLI shows
            ``<config_file>: <position or json_path>: <summary or message>``.
    """

    error_class: ErrorClass = ErrorClass.ERROR
    # Class-level defaults: also set for subclasses whose other base's
    # __init__ runs instead of ours (``class X(KeyError, OTFError)``).
    config_file: str | None = None
    json_path: str | None = None
    protocol: str | None = None
    host: str | None = None
    cause: str | None = None
    position: str | None = None
    plugin: str | None = None
    summary: str | None = None

    def __init__(
        self,
        message: str = "",
        *args: Any,
        config_file: str | None = None,
        json_path: str | None = None,
        protocol: str | None = None,
        host: str | None = None,
        cause: str | None = None,
        position: str | None = None,
        plugin: str | None = None,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, *args)
        self.add_context(
            config_file=config_file,
            json_path=json_path,
            protocol=protocol,
            host=host,
            cause=cause,
            position=position,
            plugin=plugin,
            summary=summary,
        )

    def add_context(self, **fields: str | None) -> OTFError:
        """Fill the fields given that are still unset; return ``self``.

        The innermost raiser knows most, so what it set is never replaced.
        """
        for name, value in fields.items():
            if name not in _FIELDS:
                raise TypeError(f"unknown error field {name!r}")
            if value is not None and getattr(self, name, None) is None:
                setattr(self, name, value)
        return self

    # Names under which callers read these fields before they existed.
    @property
    def otf_config_file(self) -> str | None:
        """The config file at fault (older name of :attr:`config_file`)."""
        return self.config_file

    @otf_config_file.setter
    def otf_config_file(self, value: str | None) -> None:
        self.config_file = value

    @property
    def otf_lookup_plugin(self) -> str | None:
        """The lookup plugin that raised (older name of :attr:`plugin`)."""
        return self.plugin

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self.args[0]) if self.args else ""


_FIELDS = (
    "config_file",
    "json_path",
    "protocol",
    "host",
    "cause",
    "position",
    "plugin",
    "summary",
)


class FileTooNewError(OTFError):
    """Kept for compatibility; the core never raises it."""


class LogWatchTimeoutError(OTFError):
    """A log watch found no matching line before its timeout.

    Classed with the file watch that found no file: what the task waited for
    did not arrive (a scheduler reruns later), not a step that ran too long.
    """

    error_class = ErrorClass.NO_FILES


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


class ProtocolImportError(UnknownProtocolError):
    """A protocol's module (or schema package) exists but fails to import.

    Reported as ``protocol '<name>'`` rather than ``unknown protocol``.
    """


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
    if isinstance(exc, OTFError) and exc.error_class is not ErrorClass.ERROR:
        return exc.error_class
    # A wrapped foreign error (see wrap()) is classified by its own class.
    for klass in type(exc).__mro__:
        found = _FOREIGN_CLASSES.get(klass.__name__)
        if found is not None:
            return found
    if isinstance(exc, OTFError) and exc.config_file:
        return ErrorClass.CONFIGURATION  # raised while reading the config
    return ErrorClass.ERROR


_wrappers: dict[tuple[type, type], type] = {}


def _wrapper_class(foreign: type[BaseException], base: type[OTFError]) -> type | None:
    """Return a class that is both ``foreign`` and ``base`` (created once per pair)."""
    key = (foreign, base)
    found = _wrappers.get(key)
    if found is None:
        try:
            # The foreign class comes first: its str(), attributes and name
            # stay what callers and messages know.
            found = type(
                foreign.__name__,
                (foreign, base),
                {
                    "__module__": foreign.__module__,
                    "__qualname__": foreign.__qualname__,
                },
            )
        except TypeError:  # a foreign class that cannot be combined
            return None
        _wrappers[key] = found
    return found


def wrap(
    exc: BaseException, base: type[OTFError] = OTFError, **fields: str | None
) -> OTFError:
    """Return ``exc`` as an :class:`OTFError` carrying ``fields``.

    Our own exceptions get the missing fields filled in place. A foreign one
    (jinja2, json, a plugin's ``ValueError``) is copied into a class that is
    both its own class and ``base``, so code catching ``jinja2.UndefinedError``
    or ``KeyError`` still catches it and ``str()`` is unchanged. Raise the
    result ``from exc``.

    Args:
        exc: the exception to carry.
        base: the :class:`OTFError` class the result must also be.
        **fields: the :class:`OTFError` keyword fields to fill.
    """
    if isinstance(exc, base):
        return exc.add_context(**fields)
    if isinstance(exc, OTFError):
        base = type(exc) if issubclass(type(exc), base) else base
    cls = _wrapper_class(type(exc), base)
    if cls is None:
        plain = base(str(exc))
        plain.cause = plain.cause or f"{type(exc).__name__}: {exc}"
        return plain.add_context(**fields)
    new = cls.__new__(cls, *exc.args)
    new.__dict__.update(exc.__dict__)
    new.args = exc.args
    if isinstance(exc, ImportError):  # set by __init__ only, not in __dict__
        new.name, new.path = exc.name, exc.path  # type: ignore[attr-defined]
    for name in _FIELDS:
        if name not in new.__dict__:
            setattr(new, name, getattr(exc, name, None))
    new.__traceback__ = exc.__traceback__
    return new.add_context(**fields)


def reraise(exc: BaseException, **fields: str | None) -> NoReturn:
    """Raise ``exc`` (being handled) carrying ``fields``; see :func:`wrap`."""
    new = wrap(exc, OTFError, **fields)
    if new is exc:
        raise exc
    raise new from exc
