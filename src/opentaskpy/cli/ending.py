"""How ``task-run`` ends: signals, closing every log, the summary, the exit code.

SIGTERM, SIGINT and SIGHUP raise :class:`~opentaskpy.ending.SignalExit` in
the main thread. The task handlers unwind on it: batches and executions stop
the commands they started (locally and on remote hosts), transfers remove
their partial and staged files. :func:`finish` then writes a line naming the
signal into every log still open and closes it as ``_failed`` (so a batch
rerun resumes from its failed step), runs the
:func:`opentaskpy.ending.on_signal` callbacks and exits 128 + the signal
number (129, 130, 143) without a traceback. Later signals are ignored while
the run winds down.

Every run, however it ends, can leave a JSON summary
(``--summary FILE`` / ``OTF_SUMMARY_FILE``, see
:mod:`opentaskpy.cli.summary`) and exits with the code
:mod:`opentaskpy.cli.exit_codes` gives its outcome.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from opentaskpy import ending, otflogging
from opentaskpy.cli import exit_codes
from opentaskpy.exceptions import ErrorClass

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class RunState:
    """What the CLI knows about the run so far (one per process)."""

    def __init__(self) -> None:
        self.task_id = ""
        self.summary_path: str | None = None
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        #: The exception that failed the run (reported by the CLI).
        self.exception: BaseException | None = None
        #: A definition fault found by TaskRun (always a configuration error).
        self.failure_reason: str | None = None
        #: The one-line error printed on stderr, if any.
        self.error_line: str | None = None
        self.task_run: Any = None
        self.detailed = False
        self.progress: Any = None
        self.stopping = False

    @property
    def definition(self) -> dict | None:
        """The rendered task definition, once it was loaded."""
        return getattr(self.task_run, "active_task_definition", None)


RUN = RunState()


def start(task_id: str, summary_path: str | None) -> None:
    """Install the signal handlers and remember the run's options.

    Raises:
        ValueError: ``OTF_EXIT_CODES`` holds an unknown mode.
    """
    RUN.task_id = task_id
    RUN.summary_path = summary_path or os.environ.get("OTF_SUMMARY_FILE") or None
    for signum in HANDLED_SIGNALS:
        signal.signal(signum, _on_signal)
    _start_relay()
    RUN.detailed = exit_codes.mode() == "detailed"


def show_progress() -> None:
    """Start the live progress line when stderr is a terminal."""
    if os.environ.get("OTF_PROGRESS", "1") == "0" or not _stderr_is_terminal():
        return
    from opentaskpy.cli.progress_line import ProgressLine

    RUN.progress = ProgressLine(RUN.task_id, sys.stderr)
    RUN.progress.start()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


#: Seconds the main thread has to act on a signal before it is sent again.
RELAY_GRACE = 0.2


def _start_relay() -> None:
    """Make sure the main thread acts on a signal even inside a blocking call.

    Python runs signal handlers in the main thread only, between bytecodes.
    A signal that the kernel delivered to another thread, or that arrived
    just before the main thread entered a blocking read (a C loop such as a
    buffered read goes straight into the next system call), would wait until
    that call returns: possibly for ever. The interpreter writes every
    signal to the wakeup fd at once; this thread reads it and, while the
    handler has not run, sends the signal again to the main thread itself,
    which interrupts its system call.
    """
    try:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (OSError, ValueError):  # no pipe to be had: the plain handlers stay
        return
    main_id = threading.main_thread().ident
    relay = threading.Thread(
        target=_relay, args=(read_fd, main_id), name="otf-signal-relay", daemon=True
    )
    relay.start()


def _relay(read_fd: int, main_id: int | None) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data or main_id is None:
            return
        signum = data[-1]
        if signum not in HANDLED_SIGNALS:
            continue
        for _ in range(50):
            time.sleep(RELAY_GRACE)
            if RUN.stopping or ending.ENDED_BY_SIGNAL is not None:
                break
            signal.pthread_kill(main_id, signum)


def _on_signal(signum: int, _frame: object) -> None:
    """Stop the run: unwind the main thread with SignalExit (once)."""
    if RUN.stopping or ending.ENDED_BY_SIGNAL is not None:
        return  # already ending; let the cleanup finish
    ending.ENDED_BY_SIGNAL = signum
    raise ending.SignalExit(signum)


def failed(
    exception: BaseException | None = None,
    line: str | None = None,
    failure_reason: str | None = None,
) -> None:
    """Note how the run failed, as the CLI reports it.

    The progress line goes first, so the error line stands on its own.
    """
    if RUN.progress is not None:
        RUN.progress.stop()
    if exception is not None:
        RUN.exception = exception
    if line is not None:
        RUN.error_line = line
    if failure_reason is not None:
        RUN.failure_reason = failure_reason


def finish(exit_status: object) -> int:
    """End the run: close logs on a signal, write the summary, pick the exit code.

    Args:
        exit_status: the ``SystemExit`` code the run ended with (``None`` or 0
            for success).

    Returns:
        The exit code to leave with.
    """
    RUN.stopping = True
    if RUN.progress is not None:
        RUN.progress.stop()
    signum = ending.ENDED_BY_SIGNAL
    error_class: ErrorClass | None = None
    if signum is not None:
        error_class = ErrorClass.INTERRUPTED
        line = f"ended by {ending.signal_name(signum)}"
        RUN.error_line = line
        close_open_logs(signum)
    elif exit_status not in (None, 0):
        error_class = _failure_class()
    code = exit_codes.exit_code(error_class, signum, RUN.detailed)
    if RUN.summary_path:
        from opentaskpy.cli import summary

        outcome = summary.Outcome(
            RUN.task_id,
            (RUN.definition or {}).get("type"),
            RUN.started,
            time.monotonic() - RUN.started_monotonic,
            error_class,
            failure_line() if code else None,
            code,
            signum,
        )
        summary.write(RUN.summary_path, outcome)
    if signum is not None:
        _emit(f"{RUN.task_id}: {RUN.error_line}")
        for callback in ending.signal_callbacks():
            try:
                callback(signum)
            except Exception as exc:  # noqa: BLE001 - the others still run
                _emit(f"{RUN.task_id}: on_signal callback failed: {exc}")
    return code


def _failure_class() -> ErrorClass:
    """Return the class of a failed run, from what the handlers recorded."""
    if RUN.failure_reason:
        return ErrorClass.CONFIGURATION
    recorded = ending.failure_of(RUN.task_id)
    if RUN.exception is None:
        return recorded.error_class if recorded else ErrorClass.ERROR
    if recorded is not None:
        return recorded.error_class
    # No handler recorded it: the task never started running (loading,
    # rendering or checking its definition failed).
    return ending.class_of(RUN.exception, ErrorClass.CONFIGURATION)


def failure_line() -> str | None:
    """Return the failure's one line: the CLI's error line, else the handler's."""
    if RUN.error_line:
        return RUN.error_line
    recorded = ending.failure_of(RUN.task_id)
    return recorded.line if recorded else None


def close_open_logs(signum: int) -> list[str]:
    """Write the signal line into every open ``_running`` log; close it failed.

    Task, batch, wrapper and sub-task logs alike: every logger's task file
    that exists and is still ``_running``.

    Returns:
        The paths as they were before being renamed.
    """
    text = (
        f"Run ended by {ending.signal_name(signum)} (signal {signum}): "
        "stopped, log closed as failed"
    )
    found: dict[str, tuple[logging.Logger, logging.Handler]] = {}
    for candidate in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(candidate, logging.Logger):
            continue
        for handler in list(candidate.handlers):
            path = getattr(handler, "baseFilename", "")
            if (
                isinstance(handler, otflogging.TaskFileHandler)
                and path.endswith("_running.log")
                and os.path.exists(path)
            ):
                found.setdefault(path, (candidate, handler))
    for path, (owner, handler) in found.items():
        record = owner.makeRecord(
            owner.name, logging.ERROR, __file__, 0, text, (), None
        )
        try:
            handler.handle(record)
            # A logger holding just this file: close_log_file renames the file
            # and re-points every logger that shares it.
            holder = logging.Logger(f"opentaskpy.ending.{id(handler)}")
            holder.addHandler(handler)
            otflogging.close_log_file(holder, False)
        except OSError as exc:
            _emit(f"{path}: could not close the log: {exc.strerror or exc}")
    return list(found)


def _emit(message: str) -> None:
    from opentaskpy.cli.error_report import emit_error_line

    emit_error_line("task-run", message, RUN.task_id)
