"""Resolve a protocol name to its handler class.

Built-in names (``ssh``, ``local``, ...) are shorthands for dotted class paths
(``opentaskpy.remotehandlers.ssh.SSHTransfer``); addon protocols are given as
dotted class paths directly. Both go through the same import: everything
before the last dot is the module, the last component the class.

Resolved classes are cached per task type (``"T"`` transfers, ``"E"``
executions — ``ssh`` means a different class for each). Lookups are
thread-safe: batches start many handlers at once, and a module must never be
imported by two threads concurrently.
"""

from __future__ import annotations

import importlib
import threading
from typing import NamedTuple

from opentaskpy.exceptions import ProtocolImportError, UnknownProtocolError
from opentaskpy.remotehandlers.remotehandler import (
    RemoteExecutionHandler,
    RemoteHandler,
    RemoteTransferHandler,
)


class DefaultProtocolCharacteristics(NamedTuple):
    """Where a built-in protocol's handler class lives."""

    module: str
    class_: str


def _builtin(module: str, class_: str) -> DefaultProtocolCharacteristics:
    return DefaultProtocolCharacteristics(f"opentaskpy.remotehandlers.{module}", class_)


#: The built-in protocol names per task type (``"T"`` transfers, ``"E"``
#: executions); ``TaskHandler.DEFAULT_PROTOCOL_MAP`` is the same table.
BUILTIN_PROTOCOLS: dict[str, dict[str, DefaultProtocolCharacteristics]] = {
    "T": {
        "ssh": _builtin("ssh", "SSHTransfer"),
        "sftp": _builtin("sftp", "SFTPTransfer"),
        "email": _builtin("email", "EmailTransfer"),
        "local": _builtin("local", "LocalTransfer"),
        "dummy": _builtin("dummy", "DummyTransfer"),
    },
    "E": {
        "ssh": _builtin("ssh", "SSHExecution"),
        "local": _builtin("local", "LocalExecution"),
    },
}

BASE_CLASSES: dict[str, type[RemoteHandler]] = {
    "T": RemoteTransferHandler,
    "E": RemoteExecutionHandler,
}

_cache: dict[str, dict[str, type]] = {}
_lock = threading.RLock()


class ProtocolClassNotFoundError(UnknownProtocolError, AttributeError):
    """The protocol's module imports but lacks the named class.

    Also an ``AttributeError``, which is what the reference raises here
    (upstream quirk), so callers catching either keep working.
    """


def class_path(name: str, task_type: str) -> str:
    """Return the dotted class path for a protocol name.

    Args:
        name: a built-in protocol name or a dotted class path.
        task_type: ``"T"`` or ``"E"``.
    """
    builtin = BUILTIN_PROTOCOLS.get(task_type, {}).get(name)
    if builtin is not None:
        return f"{builtin.module}.{builtin.class_}"
    return name


def resolve_protocol(name: str, task_type: str) -> type:
    """Return the handler class for ``name``, importing its module once.

    Args:
        name: ``protocol.name`` from the task definition.
        task_type: ``"T"`` (transfer) or ``"E"`` (execution).

    Returns:
        The handler class, to be instantiated by the caller.

    Raises:
        UnknownProtocolError: the name has no module part, the module cannot
            be imported, the class is missing, or it is not a handler of the
            right kind.
    """
    cached = _cache.get(task_type, {}).get(name)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(task_type, {}).get(name)
        if cached is not None:
            return cached
        handler_class = _load(name, task_type)
        _cache.setdefault(task_type, {})[name] = handler_class
        return handler_class


#: Built-in classes imported from the module that defines them rather than
#: the one the map names (the same class): ``remotehandlers.ssh`` and
#: ``remotehandlers.local`` also load the whole transfer machinery, ~10 ms of
#: an execution's start-up.
_DEFINED_IN = {
    "opentaskpy.remotehandlers.ssh.SSHExecution": (
        "opentaskpy.remotehandlers.ssh_execution.SSHExecution"
    ),
    "opentaskpy.remotehandlers.local.LocalExecution": (
        "opentaskpy.remotehandlers.local_execution.LocalExecution"
    ),
}


def _load(name: str, task_type: str) -> type:
    path = class_path(name, task_type)
    module_name, _, class_name = _DEFINED_IN.get(path, path).rpartition(".")
    if not module_name:
        raise UnknownProtocolError(f"Unknown protocol {name}", protocol=name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        detail = f"cannot import module {module_name} ({exc})"
        raise UnknownProtocolError(
            f"Unknown protocol {name}: {detail}", protocol=name, cause=detail
        ) from exc
    except Exception as exc:  # an addon module that fails while importing
        detail = f"importing module {module_name} failed ({type(exc).__name__}: {exc})"
        raise ProtocolImportError(
            f"Protocol {name}: {detail}", protocol=name, cause=detail
        ) from exc
    handler_class = getattr(module, class_name, None)
    if handler_class is None:
        detail = f"module {module_name} has no class {class_name}"
        raise ProtocolClassNotFoundError(
            f"Unknown protocol {name}: {detail}", protocol=name, cause=detail
        )
    base = BASE_CLASSES.get(task_type, RemoteHandler)
    if not (isinstance(handler_class, type) and issubclass(handler_class, base)):
        detail = f"{module_name}.{class_name} is not a {base.__name__} subclass"
        raise UnknownProtocolError(
            f"Unknown protocol {name}: {detail}", protocol=name, cause=detail
        )
    return handler_class
