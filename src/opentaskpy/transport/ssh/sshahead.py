"""A connection opened in the background while the task does something else.

A transfer lists its source before it knows whether anything goes to the
destination, and connecting to a host costs several round trips (key
exchange, authentication, the SFTP session). :class:`Ahead` opens the
destination's connection in a thread of its own meanwhile, once, without
retrying. The handler then either *adopts* it when it first needs the host,
or *abandons* it (nothing to send, the task failed): an abandoned connection
is closed as soon as it exists, without waiting for it.

Nothing the attempt did is seen unless it is adopted: its log lines are held
back and written to the task's log only then. A failure the handler's own
connect would have ended with as well (a refused login: never tried twice,
so an account is not locked by a second try) is adopted too: its lines, its
note (:mod:`opentaskpy.ending`) and its exception come out as the
handler's own would have. Any other failure is forgotten, and the handler
connects (with its retries and error lines) as it would have without it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from opentaskpy import ending
from opentaskpy.exceptions import ErrorClass

T = TypeVar("T")


class _Held(logging.Handler):
    """Keeps the records of the attempt until it is adopted or forgotten."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Ahead(Generic[T]):
    """``open_(logger)`` run in a background thread; see the module docstring."""

    def __init__(
        self,
        open_: Callable[[logging.Logger], T],
        close: Callable[[T], None],
        name: str = "otf-connect-ahead",
    ):
        """Start ``open_`` now; ``close`` ends a result nobody will adopt."""
        self._open = open_
        self._close = close
        self._lock = threading.Lock()
        self._result: T | None = None
        self._error: Exception | None = None
        self._note: tuple[ErrorClass, str] | None = None
        self._abandoned = False
        self._held = _Held()
        # Not registered with logging: the records stay here until adopted.
        self._logger = logging.Logger(name, logging.DEBUG)
        self._logger.addHandler(self._held)
        self._logger.propagate = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result = self._open(self._logger)
        except Exception as exc:  # noqa: BLE001 - kept for adopt to judge
            self._error = exc
            self._note = ending.take_note()
            return
        with self._lock:
            if not self._abandoned:
                self._result = result
                return
        self._close(result)

    def adopt(
        self, logger: logging.Logger, keep: Callable[[Exception], bool]
    ) -> T | None:
        """Wait for the attempt and return its connection (``None``: connect anew).

        Its held lines go to ``logger`` when it is adopted: a connection, or a
        failure for which ``keep(exc)`` is true, which is then raised here.
        """
        self._thread.join()
        with self._lock:
            result, self._result = self._result, None
            self._abandoned = True
        error = self._error
        if result is None and (error is None or not keep(error)):
            return None
        for record in self._held.records:
            if logger.isEnabledFor(record.levelno):
                record.name = logger.name  # where and when it was said stay
                logger.handle(record)
        if error is not None:
            if self._note is not None:
                ending.note(*self._note)
            raise error
        return result

    def abandon(self) -> None:
        """Close the connection now or, if still being opened, once it is open."""
        with self._lock:
            result, self._result = self._result, None
            self._abandoned = True
        if result is not None:
            self._close(result)
