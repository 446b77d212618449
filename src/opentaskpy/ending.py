"""How this process's run ended: the signal that stopped it, the failures seen.

The CLI installs handlers for SIGTERM, SIGINT and SIGHUP that raise
:class:`SignalExit` in the main thread; the handlers of the task unwind
(stopping commands, removing temporary files) and the CLI closes every open
log as failed (:mod:`opentaskpy.cli.ending`).

Hooks for other parts of the run (for example a run record):

* :data:`ENDED_BY_SIGNAL` is the signal number once a signal ended the run;
* :func:`on_signal` registers a callback called once with that number after
  the run has stopped and its logs are closed, just before the process exits.

Task handlers often report a failure by returning ``False``. So that the CLI
still knows what kind of failure ended the run, every handler records its
failure with :func:`record_failure` (class and one line), and the layers
below that swallow an exception (a connection that could not be opened) leave
a :func:`note` in the current thread that the handler picks up.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from opentaskpy.exceptions import ErrorClass, OTFError, classify

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import NamedTuple

    class _FailureFields(NamedTuple):
        task_id: str
        error_class: ErrorClass
        line: str

else:  # the same named tuple, built without typing
    _FailureFields = collections.namedtuple("Failure", "task_id error_class line")

#: The signal number that ended the run, ``None`` while it was not ended by one.
ENDED_BY_SIGNAL: int | None = None

_signal_callbacks: list[Callable[[int], None]] = []
_failures: dict[str, Failure] = {}
_notes = threading.local()

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 15: "SIGTERM"}


class SignalExit(SystemExit):
    """Raised in the main thread by a terminating signal; exit code 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


class Failure(_FailureFields):
    """A handler's failure: its task id, class and one-line reason."""

    __slots__ = ()


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15 and so on (``signal <n>`` for others)."""
    return SIGNAL_NAMES.get(signum, f"signal {signum}")


def signal_suffix() -> str:
    """`` (run ended by SIGTERM)`` once a signal ended the run, else empty."""
    if ENDED_BY_SIGNAL is None:
        return ""
    return f" (run ended by {signal_name(ENDED_BY_SIGNAL)})"


def on_signal(callback: Callable[[int], None]) -> None:
    """Call ``callback(signum)`` when a signal has ended the run (see module doc)."""
    _signal_callbacks.append(callback)


def signal_callbacks() -> list[Callable[[int], None]]:
    """Return the registered :func:`on_signal` callbacks, in order."""
    return list(_signal_callbacks)


def record_failure(task_id: str, error_class: ErrorClass, line: str) -> None:
    """Remember how task ``task_id`` failed (the latest report wins)."""
    _failures[task_id] = Failure(task_id, error_class, line)


def failure_of(task_id: str) -> Failure | None:
    """Return the failure recorded for ``task_id``, if any."""
    return _failures.get(task_id)


def note(error_class: ErrorClass, line: str = "") -> None:
    """Leave a note in this thread that an operation failed with ``error_class``.

    For layers that log an error and return a status code: the task handler
    running in the same thread uses the note to classify its failure.
    """
    _notes.value = (error_class, line)


def take_note() -> tuple[ErrorClass, str] | None:
    """Return and clear this thread's note."""
    value = getattr(_notes, "value", None)
    _notes.value = None
    return value


def class_of(exception: object, default: ErrorClass = ErrorClass.ERROR) -> ErrorClass:
    """Classify an exception instance or class, following ``__cause__``.

    Handlers re-raise failures as a plain ``Exception`` whose cause is the
    original, so the cause decides when the outer exception says nothing.
    """
    if isinstance(exception, type):
        if issubclass(exception, OTFError):
            return exception.error_class
        return default
    seen = 0
    current = exception if isinstance(exception, BaseException) else None
    while current is not None and seen < 10:
        found = classify(current)
        if found is not ErrorClass.ERROR:
            return found
        current = current.__cause__ or current.__context__
        seen += 1
    return default
