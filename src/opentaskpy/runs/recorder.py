"""Record one ``task-run`` process: its run, its batch steps, its heartbeat.

``task-run`` wraps a run in :func:`recording`. Nothing touches the store
until the task definition is loaded and validated
(:meth:`Recorder.started`, called by :class:`~opentaskpy.taskrun.TaskRun`):
then the overlap lock is taken and the start is written in one transaction.
A heartbeat thread (never the byte-moving code) writes progress every few
seconds and honours kill requests; the end is written in one transaction.
A store that cannot be used never stops a plain run: it warns once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import TracebackType

from opentaskpy.runs import RunsError, settings
from opentaskpy.runs.fields import (
    definition_sha256,
    final_log_file,
    log_file_for,
    new_id,
    one_line,
    progress_json,
    type_error_class,
    warn,
)
from opentaskpy.runs.schema import FAILED, KILLED, RUNNING, SUCCESS

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

_SIGNAL_EXITS = {128 + s: s for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

_current: Recorder | None = None


def current() -> Recorder | None:
    """Return the recorder of this process's top-level run, if one is recording."""
    return _current


def note_failure(line: str, exc: BaseException | None = None) -> None:
    """Remember the one-line error (and its exception) for the run record."""
    if _current is not None:
        _current.error_line = line
        _current.error = exc or _current.error


class Recorder:
    """The run record of this process's top-level task."""

    def __init__(
        self,
        task_id: str,
        config_dir: str,
        noop: bool = False,
        run_id: str | None = None,
    ) -> None:
        self.record_id = new_id()
        self.task_id = task_id
        self.noop = noop
        try:
            self.where = settings.target()
        except RunsError:  # reported by started(), before the task starts
            self.where = None
        self.store: Any = None
        self.task_run: Any = None
        self.error: BaseException | None = None
        self.error_line: str | None = None
        self.killed_by: str | None = None
        self.first_step_class: str | None = None
        self._lock: Any = None
        self._warned = False
        self._begun = False
        self._tried_open = False
        self._ready = threading.Event()  # the start is written (or failed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._open_steps: dict[str, Any] = {}
        self._steps_mutex = threading.Lock()
        self.row: dict[str, Any] = {
            "id": self.record_id,
            "run_id": run_id or os.environ.get("OTF_RUN_ID") or self.record_id,
            "root_id": self.record_id,
            "task_id": task_id,
            "config_dir": os.path.abspath(config_dir),
            "host": settings.host(),
            "pid": os.getpid(),
            "started_at": time.time(),
            "outcome": RUNNING,
        }

    # -- start ------------------------------------------------------------

    def started(self, task_type: str, definition: dict) -> None:
        """Lock, record the start and beat: the definition is loaded and valid.

        Raises:
            RunLockedError: another run of the same definition is running.
            RunsError: the lock needs a store that cannot be reached.
        """
        from opentaskpy.runs import procinfo

        try:
            settings.check()
        except RunsError:
            self.where = None  # nothing to record a run with bad settings in
            raise
        now = time.time()
        sha = definition_sha256(definition)
        self.row.update(
            task_type=task_type,
            definition_sha256=sha,
            proc_start=procinfo.start_ticks(os.getpid()),
            user_name=procinfo.user_name(),
            log_file=log_file_for(self.task_id, task_type),
            stall_limit=settings.stall_seconds(definition),
            heartbeat_at=now,
            progress_at=now,
        )
        if self.where is not None and settings.is_postgres(self.where):
            self._open()  # the lock lives in the database: open it first
        if settings.lock_enabled():
            self._take_lock(sha)
        # SQLite is opened and the start written off the main thread, which
        # goes on loading the task's handler meanwhile.
        self._thread = threading.Thread(
            target=self._background, name="otf-runs-heartbeat", daemon=True
        )
        self._thread.start()

    def _open(self) -> None:
        if self.where is None:
            return
        self._tried_open = True
        from opentaskpy.runs.engines import open_store

        try:
            self.store = open_store(self.where)
        except RunsError as exc:
            if settings.is_postgres(self.where) and settings.lock_enabled():
                raise RunsError(
                    f"{exc}; the overlap lock across hosts needs the run store, "
                    "so the task was not started (OTF_LOCK=0 runs it without)"
                ) from None
            self._warn(str(exc))

    def _take_lock(self, sha: str) -> None:
        from opentaskpy.runs.lock import lock_key

        key = lock_key(self.task_id, sha)
        holder = {
            k: self.row[k] for k in ("task_id", "run_id", "host", "pid", "started_at")
        }
        holder["record_id"] = self.record_id
        wait = settings.lock_wait_seconds()
        try:
            if self.store is not None:
                self._lock = self.store.lock(key, holder, wait)
            else:
                from opentaskpy.runs.sqlite import file_lock_only

                self._lock = file_lock_only(key, holder, wait)
        except OSError as exc:  # the lock directory is not writable
            warn(f"overlap lock not taken: {one_line(str(exc))}")

    # -- heartbeat --------------------------------------------------------

    def _background(self) -> None:
        """Write the start, then beat until the run ends."""
        try:
            if self.store is None:
                self._open()
            if self.store is not None and self._safely(self.store.begin, [self.row]):
                self._begun = True
        except Exception as exc:  # noqa: BLE001 - recording never breaks a run
            self._warn(one_line(f"{type(exc).__name__}: {exc}"))
        finally:
            self._ready.set()
        if self._begun:
            self._heartbeat()

    def _heartbeat(self) -> None:
        from opentaskpy.progress import PROGRESS

        interval = settings.heartbeat_seconds()
        next_beat = time.monotonic() + interval
        poll = settings.KILL_POLL_SECONDS
        while not self._stop.wait(min(poll, max(0.0, next_beat - time.monotonic()))):
            try:
                by = self.store.kill_request(self.record_id)
                if by:
                    self.killed_by = by
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                if time.monotonic() >= next_beat:
                    now = time.time()
                    # The start of the run counts as progress.
                    progress_at = max(
                        self.row["progress_at"],
                        now - (time.monotonic() - PROGRESS.changed),
                    )
                    snapshot = progress_json()
                    self.store.beat(self.record_id, now, progress_at, snapshot)
                    next_beat = time.monotonic() + interval
            except RunsError as exc:
                if not self._stop.is_set():
                    self._warn(str(exc))
                return

    # -- end --------------------------------------------------------------

    def finish(self, exit_code: int) -> None:
        """Record the end (one transaction), release the lock, close the store."""
        self._stop.set()
        if self._thread is not None:
            self._ready.wait(timeout=settings.busy_seconds() + 10)
        try:
            if self.store is None and not self.noop and not self._begun:
                self._open_quietly()
            if self.store is not None and not self.noop:
                self._write_end(exit_code)
        finally:
            if self._lock is not None:
                self._lock.release()
            if self.store is not None:
                self.store.close()
                self.store = None

    def _open_quietly(self) -> None:
        """Open the store to record a run that failed before it started."""
        if self.where is None or self._tried_open:
            return
        self._tried_open = True
        from opentaskpy.runs.engines import open_store

        try:
            self.store = open_store(self.where)
        except RunsError as exc:
            self._warn(str(exc))

    def _write_end(self, exit_code: int) -> None:
        now = time.time()
        outcome, error_class, reason = self._outcome(exit_code)
        end = {
            "ended_at": now,
            "duration": now - self.row["started_at"],
            "outcome": outcome,
            "error_class": error_class,
            "reason": reason,
            "log_file": final_log_file(self.row.get("log_file")),
            "progress": progress_json(),
        }
        with self._steps_mutex:
            open_steps = list(self._open_steps.values())
            self._open_steps.clear()
        ends = [(s.record_id, s.end_fields(now, exit_code)) for s in open_steps]
        if not self._begun:  # failed (or was locked out) before it started
            self._safely(self.store.record_complete, {**self.row, **end})
        else:
            self._safely(self.store.finish_many, [*ends, (self.record_id, end)])

    def _outcome(self, exit_code: int) -> tuple[str, str | None, str | None]:
        if exit_code == 0:
            return SUCCESS, None, None
        signum = _SIGNAL_EXITS.get(exit_code)
        if signum is not None:
            reason = f"ended by {signal.Signals(signum).name}"
            if self.killed_by:
                reason += f" (kill requested by {self.killed_by})"
            return KILLED, "interrupted", one_line(reason)
        from opentaskpy.exceptions import classify

        error = self.error or getattr(self.task_run, "error", None)
        while type(error) is Exception and error.__cause__ is not None:
            error = error.__cause__  # the plain wrapper of return_result
        if error is not None:
            error_class = str(classify(error))
        elif getattr(self.task_run, "failure_reason", None):
            error_class = "configuration"  # the definition itself is at fault
        else:  # a batch fails as its first failed step did
            error_class = self.first_step_class or type_error_class(
                self.row.get("task_type")
            )
        text = (
            self.error_line
            or getattr(self.task_run, "failure_reason", None)
            or (str(error) if error is not None else "")
            or f"task failed (exit status {exit_code}; see its log)"
        )
        return FAILED, error_class, one_line(text)

    # -- helpers ----------------------------------------------------------

    def _safely(self, action: Any, *args: Any) -> bool:
        """Run a store call; on failure warn once and stop recording."""
        if self.store is None:
            return False
        try:
            action(*args)
            return True
        except RunsError as exc:
            self._warn(str(exc))
            return False

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warn(f"{message}; this run is not recorded")

    def ready_store(self) -> Any:
        """Return the store once the start is written (``None``: not recording)."""
        if self._thread is not None:
            self._ready.wait(timeout=settings.busy_seconds() + 10)
        return self.store if self._begun and not self.noop else None

    def recording_step(self, step: Any) -> bool:
        """Record a batch step's start; ``False`` when nothing is recorded."""
        if self._thread is not None:
            self._ready.wait(timeout=settings.busy_seconds() + 10)
        if self.store is None or not self._begun:
            return False
        if not self._safely(self.store.begin, [step.row]):
            return False
        with self._steps_mutex:
            self._open_steps[step.record_id] = step
        return True

    def step_closed(self, step: Any, fields: dict[str, Any]) -> None:
        """Record a batch step's end."""
        with self._steps_mutex:
            if self._open_steps.pop(step.record_id, None) is None:
                return  # already ended with the whole run
            if fields["outcome"] == FAILED and self.first_step_class is None:
                self.first_step_class = fields["error_class"]
        self._safely(self.store.finish, step.record_id, fields)


class recording:  # noqa: N801 - used like a function: ``with recording(...)``
    """Context manager around one ``task-run``: records its end however it ends."""

    def __init__(
        self,
        task_id: str,
        config_dir: str,
        noop: bool = False,
        run_id: str | None = None,
    ) -> None:
        self.recorder = Recorder(task_id, config_dir, noop, run_id)

    def __enter__(self) -> Recorder:
        global _current
        _current = self.recorder
        return self.recorder

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _current
        code = 0
        if isinstance(exc, SystemExit):
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        elif isinstance(exc, KeyboardInterrupt):
            code = 128 + signal.SIGINT
        elif exc is not None:
            code = 1
            self.recorder.error = self.recorder.error or exc
        try:
            self.recorder.finish(code)
        except Exception as error:  # noqa: BLE001 - recording never breaks a run
            warn(f"run record not completed: {one_line(str(error))}")
        finally:
            _current = None
