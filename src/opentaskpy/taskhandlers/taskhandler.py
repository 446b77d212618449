"""Common base of the task handlers (transfers, executions, batches)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from opentaskpy import ending, otflogging
from opentaskpy.exceptions import ErrorClass
from opentaskpy.taskhandlers.protocols import (
    BUILTIN_PROTOCOLS,
    DefaultProtocolCharacteristics,
)
from opentaskpy.verbosity import VERBOSE1

#: Failure classes that a lower layer's note may make more precise.
_GENERIC_CLASSES = (ErrorClass.ERROR, ErrorClass.TRANSFER, ErrorClass.EXECUTION)


class TaskHandler(ABC):
    """A runnable task: builds its protocol handlers, runs, reports a result."""

    TASK_TYPE: str = ""
    # The built-in protocol table lives with the protocol registry.
    DEFAULT_PROTOCOL_MAP: dict[str, dict[str, DefaultProtocolCharacteristics]] = (
        BUILTIN_PROTOCOLS
    )

    logger: logging.Logger
    task_id: str = ""
    overall_result: bool = False
    handled_exception: bool = False
    _raised_exception: BaseException | None = None
    #: The class of failure when nothing more precise is known.
    DEFAULT_ERROR_CLASS = ErrorClass.ERROR
    #: Set when the handler fails (a subclass may set them first).
    error_class: ErrorClass | None = None
    error_line: str | None = None

    def __init__(self, global_config: dict | None):
        """Store the global variables (may be ``None``).

        Args:
            global_config: the global variables, holding ``global_protocol_vars``.
        """
        self.global_config = global_config

    @abstractmethod
    def run(self) -> bool:
        """Run the task; ``True`` on success."""

    @abstractmethod
    def _set_remote_handlers(self) -> None:
        """Build the protocol handlers from the definition."""

    def _tidy_handler(self, handler: Any) -> None:
        """Call ``handler.tidy()``; a failure is logged as a warning.

        Tidying runs while a result is being reported: its failure must
        never replace that result.
        """
        try:
            handler.tidy()
        except Exception as exc:
            self.logger.warning(f"Error closing connection for {handler}: {exc}")

    def return_result(
        self, status: int, message: str | None = None, exception: Any = None
    ) -> bool:
        """Log the outcome, close the task log and return or raise.

        Args:
            status: 0 for success, anything else for failure.
            message: logged at INFO (success) or ERROR (failure).
            exception: an exception class, raised as ``exception(message)``, or
                an instance, which is reported as a plain
                ``Exception(message)``. Raised only once per handler.

        Returns:
            ``status == 0``.

        Raises:
            Exception: when ``exception`` is given and not yet handled.
        """
        # TaskRun and Batch report a failing run() again with the exception it
        # raised; that exception came from here and its message is already in
        # the log, so the re-report is not logged a second time.
        repeat = exception is not None and exception is self._raised_exception
        if message and not repeat:
            if status == 0:
                self.logger.info(message)
            else:
                # The traceback goes to the log file; the console shows it
                # only at DEBUG.
                fresh = isinstance(exception, BaseException) and (
                    not self.handled_exception
                )
                self.logger.error(message, exc_info=exception if fresh else None)
        if status == 0:
            self.overall_result = True
        elif not repeat:
            self._record_failure(message, exception)
        otflogging.close_log_file(self.logger, self.overall_result)
        if exception is not None and not self.handled_exception:
            self.handled_exception = True
            if callable(exception):
                self._raised_exception = exception(message)
                raise self._raised_exception
            # Instances surface as a plain Exception carrying the message (as
            # the reference does); the original stays attached as the cause.
            self._raised_exception = Exception(message)
            raise self._raised_exception from exception
        return status == 0

    def _record_failure(self, message: str | None, exception: Any) -> None:
        """Classify this failure and record it for the CLI and run records.

        A note left in this thread by a lower layer (a connection that could
        not be opened) is more precise than the generic failure reported here.
        """
        noted = ending.take_note()
        if self.error_class is None:
            found = ending.class_of(exception, self.DEFAULT_ERROR_CLASS)
            if noted is not None and found in _GENERIC_CLASSES:
                found = noted[0]
                if noted[1] and self.error_line is None:
                    self.error_line = f"{message}: {noted[1]}"
            self.error_class = found
        if self.error_line is None:
            self.error_line = message or (str(exception) if exception else "failed")
        ending.record_failure(self.task_id, self.error_class, self.error_line)

    def _set_handler_vars(self, protocol_name: str, handler: Any) -> None:
        """Give a handler its ``global_protocol_vars`` entry, if it wants one.

        (upstream quirk, kept) The entry is required once the handler accepts
        protocol vars and the global config has a ``global_protocol_vars`` key:
        no entry with that name raises ``StopIteration`` and a non-list value
        raises ``TypeError``, each with a message saying what is wrong.
        """
        if not hasattr(handler, "set_handler_vars"):
            return
        if not self.global_config or "global_protocol_vars" not in self.global_config:
            return
        entries = self.global_config["global_protocol_vars"]
        if not isinstance(entries, list):
            raise TypeError(
                "global_protocol_vars must be a list of objects with a 'name', "
                f"got {type(entries).__name__}"
            )
        self.logger.log(VERBOSE1, f"Setting handler vars for {protocol_name}")
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == protocol_name:
                protocol_vars = dict(entry)
                del protocol_vars["name"]
                handler.set_handler_vars(protocol_vars)
                return
        raise StopIteration(
            f"No global_protocol_vars entry with name {protocol_name!r}"
        )
