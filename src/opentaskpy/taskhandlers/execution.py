"""The execution task handler: run a command on one or more hosts.

Each protocol handler (one per host for ``ssh``/``local``, one for an addon)
runs ``execute()`` in its own worker thread. The task succeeds only if every
handler succeeds. A parent batch stops the task by setting the kill event;
every handler's ``kill()`` is then called and the task fails.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from opentaskpy import ending
from opentaskpy.exceptions import ErrorClass
from opentaskpy.otflogging import init_logging
from opentaskpy.taskhandlers.protocols import resolve_protocol
from opentaskpy.taskhandlers.taskhandler import TaskHandler
from opentaskpy.transport.ssh import sshpreconnect
from opentaskpy.verbosity import VERBOSE1

TASK_TYPE = "E"

#: How often the kill event is checked while handlers run (seconds).
KILL_CHECK_INTERVAL = 0.2
#: How often ``Waiting for threads to complete...`` is logged (seconds).
WAITING_LOG_INTERVAL = 5.0


class Execution(TaskHandler):
    """Runs an execution definition on its protocol's execution handlers."""

    TASK_TYPE = TASK_TYPE
    DEFAULT_ERROR_CLASS = ErrorClass.EXECUTION
    overall_result: bool = False

    def __init__(
        self, global_config: dict | None, task_id: str, execution_definition: dict
    ):
        """Create the handler; protocol handlers are built by ``run()``.

        Args:
            global_config: the global variables (may be ``None``).
            task_id: the task id (names the log file).
            execution_definition: the loaded execution definition.
        """
        self.task_id = task_id
        self.execution_definition = execution_definition
        self.remote_handlers: list[Any] | None = None
        # Notes (e.g. a connection failure) left by failed handlers' threads.
        self._notes: list[tuple[ErrorClass, str]] = []
        self.logger = init_logging(
            "opentaskpy.taskhandlers.execution", task_id, TASK_TYPE
        )
        super().__init__(global_config)

    def _set_remote_handlers(self) -> None:
        """Build one protocol handler per host (or one addon handler).

        Raises:
            UnknownProtocolError: the protocol cannot be resolved.
        """
        self.remote_handlers = []
        definition = self.execution_definition
        definition["task_id"] = self.task_id
        protocol_name = definition["protocol"]["name"]
        # The hosts' servers start their session processes while the
        # protocol's handler (paramiko) is imported.
        sshpreconnect.for_execution(definition)
        handler_class: Any = resolve_protocol(protocol_name, TASK_TYPE)
        if handler_class.runs_per_host and "hosts" in definition:
            for host in definition["hosts"]:
                self.remote_handlers.append(handler_class(host, definition))
        elif handler_class.runs_per_host:
            self.remote_handlers.append(handler_class(definition))
        else:
            handler = handler_class(definition)
            self.remote_handlers.append(handler)
            try:
                self._set_handler_vars(protocol_name, handler)
            except Exception:
                self._tidy_handlers()
                raise

    def run(self, kill_event: threading.Event | None = None) -> bool:
        """Run every handler in parallel and wait for them.

        Args:
            kill_event: set by a parent batch to stop the task.

        Returns:
            ``True`` when all handlers succeeded, ``False`` on failure or kill.

        Raises:
            Exception: ``Execution(s) failed`` when a handler raised.
        """
        self.logger.info("Running execution")
        self._set_remote_handlers()
        handlers = self.remote_handlers or []
        if not handlers:
            self.logger.error("No remote handlers set")
            return self.return_result(1, "No remote handlers set")

        results: dict[Future[bool], Any] = {}
        killed = False
        with ThreadPoolExecutor(
            max_workers=len(handlers), thread_name_prefix=f"{self.task_id}_exec"
        ) as pool:
            for handler in handlers:
                results[pool.submit(self._execute, handler)] = handler
            killed = self._wait(results, kill_event)
            # Leaving the pool waits for the worker threads, so a killed task
            # only returns once every execute() has returned.
        if killed:
            return self.return_result(
                1, "Execution(s) failed - Kill signal received" + ending.signal_suffix()
            )

        failed = False
        last_exception: BaseException | None = None
        for future in results:
            exception = future.exception()
            if exception is not None:
                self.logger.error("Thread returned exception", exc_info=exception)
                last_exception = exception
                failed = True
            elif not future.result():
                failed = True
        if failed:
            if self._notes and last_exception is None:
                self.error_class, noted = self._notes[0]
                self.error_line = f"Execution(s) failed: {noted}"
            return self.return_result(1, "Execution(s) failed", last_exception)
        return self.return_result(0, "All executions completed successfully")

    def _wait(
        self, results: dict[Future[bool], Any], kill_event: threading.Event | None
    ) -> bool:
        """Wait for all futures; return ``True`` if the kill event stopped them."""
        next_log = time.monotonic() + WAITING_LOG_INTERVAL
        try:
            while True:
                _, pending = wait_futures(list(results), timeout=KILL_CHECK_INTERVAL)
                if not pending:
                    return False
                if kill_event is not None and kill_event.is_set():
                    self._kill(results)
                    return True
                if time.monotonic() >= next_log:
                    self.logger.info("Waiting for threads to complete...")
                    next_log = time.monotonic() + WAITING_LOG_INTERVAL
        except BaseException:
            # e.g. Ctrl-C: local commands run in their own session and would
            # not see the terminal's signal, so stop them before leaving.
            self._kill(results)
            raise

    def _kill(self, results: dict[Future[bool], Any]) -> None:
        self.logger.info("Kill event received, stopping threads")
        for handler in results.values():
            self.logger.info(
                f"Killing remote processes on {self._get_remote_host_name(handler)}"
            )
            try:
                handler.kill()
            except Exception as exc:  # keep killing the other hosts
                self.logger.error(f"Error killing remote processes: {exc}")
        for future, handler in results.items():
            if not future.cancel() and future.running():
                self.logger.error(
                    f"[{self._get_remote_host_name(handler)}] Execution still "
                    "running after kill, waiting for it to stop"
                )

    def _execute(self, handler: Any) -> bool:
        """Run one handler and log its result (in a worker thread)."""
        ending.take_note()  # left by an earlier task in this thread
        result = handler.execute()
        noted = ending.take_note()
        if noted is not None and not result:
            self._notes.append(noted)
        self.logger.info(
            f"[{self._get_remote_host_name(handler)}] Execution returned {result}"
        )
        return bool(result)

    def _get_remote_host_name(self, handler: Any) -> str:
        """Return the handler's ``remote_host`` as text, or ``REMOTE``."""
        if hasattr(handler, "remote_host"):
            return str(handler.remote_host)
        return "REMOTE"

    def return_result(
        self, status: int, message: str | None = None, exception: Any = None
    ) -> bool:
        """Tidy every protocol handler, then report (see ``TaskHandler``)."""
        self._tidy_handlers()
        return super().return_result(status, message, exception)

    def _tidy_handlers(self) -> None:
        for handler in self.remote_handlers or []:
            self.logger.log(
                VERBOSE1,
                f"[{self._get_remote_host_name(handler)}] Closing source connection "
                f"for {handler}",
            )
            self._tidy_handler(handler)
