"""Event-driven scheduling of a batch's steps.

A step starts as soon as all of its dependencies have completed: each step
thread notifies a shared condition when it finishes, and the scheduler wakes
up immediately (or at the nearest step timeout) — there is no polling
interval and no pause between starting steps.

Environment variables:

* ``OTF_BATCH_MAX_CONCURRENCY`` — maximum number of steps running at once in
  one batch (a positive integer; unset, empty or ``0`` means unlimited).
  Steps over the cap wait, in ``order_id`` order, for a running step to
  finish. A timed-out step counts until it has actually stopped. Each nested
  batch applies the cap to its own steps.
* ``OTF_LOG_MEMORY_USAGE`` — if set non-empty, log INFO
  ``[memory] RSS: {mb:.1f} MB`` whenever a step finishes and when the batch
  ends (via ``psutil``; ``-1.0`` when it is not installed).
* ``OTF_BATCH_POLL_INTERVAL`` and ``OTF_NO_THREAD_SLEEP`` — accepted for
  compatibility with the reference (a poll interval and a 1 s pause after
  starting each step). They no longer add any latency: nothing is polled
  except a nested batch's own kill event (every 0.5 s).
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from opentaskpy.taskhandlers.batch import Batch

#: How often a nested batch checks its parent's kill event (seconds).
KILL_EVENT_CHECK_INTERVAL = 0.5
#: Upper bound for one wait; every wake-up re-evaluates all steps.
MAX_WAIT = 60.0


def memory_usage_mb() -> float:
    """Return this process's resident set size in MB, ``-1.0`` if unknown."""
    try:
        import psutil
    except ImportError:
        return -1.0
    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


def max_concurrency(logger: logging.Logger) -> int | None:
    """Read ``OTF_BATCH_MAX_CONCURRENCY``; ``None`` means unlimited."""
    raw = os.environ.get("OTF_BATCH_MAX_CONCURRENCY", "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        logger.warning(
            f"Ignoring OTF_BATCH_MAX_CONCURRENCY={raw!r}: expected a whole number "
            "of steps (0 or unset for unlimited)"
        )
        return None
    return value or None


def poll_interval(logger: logging.Logger) -> float:
    """Read ``OTF_BATCH_POLL_INTERVAL`` (kept for compatibility, not used)."""
    from opentaskpy.taskhandlers.batch import DEFAULT_BATCH_POLL_INTERVAL

    raw = os.environ.get("OTF_BATCH_POLL_INTERVAL")
    if raw is None:
        return float(DEFAULT_BATCH_POLL_INTERVAL)
    try:
        return float(raw)
    except ValueError:
        logger.warning(f"Ignoring OTF_BATCH_POLL_INTERVAL={raw!r}: not a number")
        return float(DEFAULT_BATCH_POLL_INTERVAL)


class BatchScheduler:
    """Runs one batch's steps; all step state is guarded by the batch's condition."""

    def __init__(self, batch: Batch):
        """Bind to a constructed batch.

        Args:
            batch: the batch whose ``task_order_tree`` is to be run.
        """
        self.batch = batch
        self.logger = batch.logger
        self.tree = batch.task_order_tree
        self.condition: threading.Condition = batch._condition
        self.cap = max_concurrency(self.logger)
        self.poll_interval = poll_interval(self.logger)
        self.log_memory = bool(os.environ.get("OTF_LOG_MEMORY_USAGE"))
        self.killing = False
        self._reported_missing: set[int] = set()

    def run(self, kill_event: threading.Event | None = None) -> bool:
        """Run until no step is running or runnable.

        Args:
            kill_event: this batch's own kill event (nested batches).

        Returns:
            ``True`` when every step completed and none failed.
        """
        self.logger.info("Running batch")
        try:
            self._loop(kill_event)
        except BaseException:
            # e.g. Ctrl-C: steps run in their own sessions, so stop them here.
            self._abort()
            raise
        result = all(
            entry["status"] == "COMPLETED" and entry["result"] is not False
            for entry in self.tree.values()
        )
        self._log_memory()
        self.logger.info(f"Batch completed with result {result}")
        return result

    def _loop(self, kill_event: threading.Event | None) -> None:
        with self.condition:
            while True:
                if kill_event is not None and kill_event.is_set() and not self.killing:
                    self._kill_all()
                self._reap_finished()
                self._check_timeouts()
                if not self.killing:
                    self._start_runnable()
                if not self._active() and not self._runnable():
                    self.logger.info(
                        "No remaining running or runnable tasks. Breaking execution"
                    )
                    return
                self.condition.wait(self._wait_time(kill_event))

    def _abort(self) -> None:
        """Stop every running step and wait for it (lock not held on entry)."""
        with self.condition:
            self.logger.error("Batch interrupted, stopping running tasks")
            self._kill_all()
            threads = [e["thread"] for e in self.tree.values() if e["thread"]]
        for thread in threads:
            thread.join()

    # -- helpers (called with the condition held) ------------------------------

    def _label(self, order_id: int) -> str:
        return f"{order_id} ({self.tree[order_id]['task_id']})"

    def _active(self) -> list[int]:
        return [oid for oid, entry in self.tree.items() if entry["thread"] is not None]

    def _dependencies_met(self, order_id: int) -> bool:
        for dependency in (
            self.tree[order_id]["batch_task_spec"].get("dependencies") or []
        ):
            if self.tree.get(dependency, {}).get("status") != "COMPLETED":
                return False
        return True

    def _runnable(self) -> list[int]:
        if self.killing:
            return []
        return [
            oid
            for oid in sorted(self.tree)
            if self.tree[oid]["status"] == "NOT_STARTED" and self._dependencies_met(oid)
        ]

    def _start_runnable(self) -> None:
        for order_id in self._runnable():
            if self.cap is not None and len(self._active()) >= self.cap:
                return
            entry = self.tree[order_id]
            self.batch.check_not_dependency_statuses(order_id, entry, ["COMPLETED"])
            event = threading.Event()
            thread = threading.Thread(
                target=self.batch.task_runner,
                args=(entry, event),
                name=f"{entry['task_id']}_parent",
            )
            entry.update(
                status="RUNNING",
                start_time=time.monotonic(),
                thread=thread,
                kill_event=event,
                finished=False,
            )
            thread.start()
            self.logger.info(f"Spawned thread for task {self._label(order_id)}")

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for order_id, entry in self.tree.items():
            if entry["status"] != "RUNNING" or entry["finished"]:
                continue
            if now - entry["start_time"] < entry["timeout"]:
                continue
            label = self._label(order_id)
            self.logger.error(f"Task {label} has timed out")
            entry["status"] = "TIMED_OUT"
            self.logger.info(f"Sending kill event to task {label}")
            entry["kill_event"].set()

    def _kill_all(self) -> None:
        self.killing = True
        self.logger.info("Kill event received, stopping threads")
        for order_id, entry in self.tree.items():
            if entry["status"] == "RUNNING" and not entry["finished"]:
                self.logger.info(f"Sending kill event to task {self._label(order_id)}")
                entry["status"] = "KILLED"
                entry["kill_event"].set()

    def _reap_finished(self) -> None:
        for order_id, entry in self.tree.items():
            if entry["thread"] is None or not entry["finished"]:
                continue
            # The runner has released the condition and is about to return.
            entry["thread"].join()
            entry.update(thread=None, kill_event=None)
            self._report(order_id, entry)
            self._log_memory()

    def _report(self, order_id: int, entry: dict[str, Any]) -> None:
        label = self._label(order_id)
        status = entry["status"]
        if status == "COMPLETED":
            entry["result"] = True
            self.logger.info(f"Task {label} has completed")
            return
        entry["result"] = False
        if status in ("TIMED_OUT", "KILLED"):
            self.logger.info(f"Task {label} has been killed")
        else:
            entry["status"] = status = "FAILED"
            self.logger.error(f"Task {label} has failed")
        if status in ("TIMED_OUT", "FAILED") and entry["continue_on_fail"]:
            self.logger.info(f"Task {label} has failed, but continuing on fail")
            entry["status"] = "COMPLETED"

    def _wait_time(self, kill_event: threading.Event | None) -> float:
        wait = MAX_WAIT
        now = time.monotonic()
        for entry in self.tree.values():
            if entry["status"] == "RUNNING" and not entry["finished"]:
                wait = min(wait, entry["start_time"] + entry["timeout"] - now)
        if kill_event is not None and not self.killing:
            wait = min(wait, KILL_EVENT_CHECK_INTERVAL)
        return max(wait, 0.0)

    def _log_memory(self) -> None:
        if self.log_memory:
            self.logger.info(f"[memory] RSS: {memory_usage_mb():.1f} MB")
