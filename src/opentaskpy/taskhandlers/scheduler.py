"""Event-driven scheduling of a batch's steps.

A step starts as soon as its dependencies are satisfied: each step thread
notifies a shared condition when it finishes, and the scheduler wakes up
immediately (or at the nearest step timeout) — there is no polling interval
and no pause between starting steps.

A step runs as one *unit* (a thread running its attempts), or, with
``foreach``, as one unit per item. Units count against the batch's cap and
the step's ``foreach_concurrency``. A dependency asks for its step's success
(``COMPLETED``, today's meaning), failure, or any final state; a step whose
dependency can never be satisfied either stays not started (a success that
never came: the batch fails) or is skipped (a failure that never came).

Environment variables:

* ``OTF_BATCH_MAX_CONCURRENCY`` — maximum number of units running at once in
  one batch (a positive integer; unset, empty or ``0`` means unlimited).
  Units over the cap wait, in ``order_id`` order, for a running one to
  finish. A timed-out unit counts until it has actually stopped. Each nested
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
from typing import Any, Protocol

from opentaskpy import ending
from opentaskpy.taskhandlers.batchenv import (
    DEFAULT_BATCH_POLL_INTERVAL as DEFAULT_BATCH_POLL_INTERVAL,
)
from opentaskpy.taskhandlers.batchenv import max_concurrency as max_concurrency
from opentaskpy.taskhandlers.batchenv import memory_usage_mb as memory_usage_mb
from opentaskpy.taskhandlers.batchenv import poll_interval as poll_interval
from opentaskpy.taskhandlers.readiness import Readiness

#: How often a nested batch checks its parent's kill event (seconds).
KILL_EVENT_CHECK_INTERVAL = 0.5
#: Upper bound for one wait; every wake-up re-evaluates all steps.
MAX_WAIT = 60.0


class StepHost(Protocol):
    """What the scheduler needs from the batch that owns the steps."""

    logger: Any
    condition: threading.Condition
    task_order_tree: dict[int, dict[str, Any]]

    def task_runner(
        self, batch_task: dict, event: threading.Event, unit: dict | None = None
    ) -> None:
        """Thread body: run one unit's attempts and record its status."""

    def skip_reason(self, order_id: int) -> str | None:
        """Evaluate the step's ``skip_if``; raise ``ExpressionError`` if it cannot."""

    def finish_step(self, order_id: int, status: str, reason: str) -> None:
        """Record a step that ends without running (skipped or refused)."""

    def finish_foreach(self, order_id: int) -> None:
        """Record the step status of a foreach step whose units all ended."""


def units_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the units of a step: its foreach instances, or the step itself."""
    instances = entry.get("instances")
    return instances if instances is not None else [entry]


def _unit_running(unit: dict[str, Any]) -> bool:
    return unit["thread"] is not None and not unit["finished"]


class BatchScheduler:
    """Runs one batch's steps; all step state is guarded by the host's condition."""

    def __init__(self, host: StepHost):
        """Bind to a constructed batch.

        Args:
            host: the batch whose ``task_order_tree`` is to be run.
        """
        self.host = host
        self.logger = host.logger
        self.tree = host.task_order_tree
        self.condition = host.condition
        self.cap = max_concurrency(self.logger)
        self.poll_interval = poll_interval(self.logger)
        self.log_memory = bool(os.environ.get("OTF_LOG_MEMORY_USAGE"))
        self.killing = False
        self.readiness = Readiness(self.tree)

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
                started = False if self.killing else self._start_runnable()
                if not started and not self._active():
                    self.logger.info(
                        "No remaining running or runnable tasks. Breaking execution"
                    )
                    return
                if not started:
                    self.condition.wait(self._wait_time(kill_event))

    def _abort(self) -> None:
        """Stop every running unit and wait for it (lock not held on entry)."""
        with self.condition:
            self.logger.error(
                "Batch interrupted, stopping running tasks" + ending.signal_suffix()
            )
            self._kill_all()
            threads = [
                u["thread"]
                for e in self.tree.values()
                for u in units_of(e)
                if u["thread"]
            ]
        for thread in threads:
            thread.join()

    # -- helpers (called with the condition held) ------------------------------

    def _label(self, order_id: int) -> str:
        return f"{order_id} ({self.tree[order_id]['task_id']})"

    def _active(self) -> list[dict[str, Any]]:
        return [
            u
            for e in self.tree.values()
            for u in units_of(e)
            if u["thread"] is not None
        ]

    # -- starting ---------------------------------------------------------------

    def _start_runnable(self) -> bool:
        """Decide every step that can be decided; start units under the caps.

        Returns:
            ``True`` when something changed state without a thread finishing
            (a step was skipped or refused), so the caller loops again.
        """
        self.readiness.new_pass()
        changed = False
        for order_id in sorted(self.tree):
            entry = self.tree[order_id]
            if entry["status"] == "NOT_STARTED":
                state, reason = self.readiness.state(order_id)
                if state == "skip":
                    self.host.finish_step(order_id, "SKIPPED", reason)
                    return True
                if state != "ready":
                    continue
                if not self._admit(order_id):
                    return True
            if entry["status"] == "RUNNING" and not self._start_units(order_id):
                return changed
        return changed

    def _admit(self, order_id: int) -> bool:
        """Evaluate ``skip_if`` of a ready step; ``False`` when it ended there."""
        entry = self.tree[order_id]
        if self.cap is not None and len(self._active()) >= self.cap:
            return True  # stays NOT_STARTED until a unit finishes
        from opentaskpy.config.expressions import ExpressionError

        try:
            reason = self.host.skip_reason(order_id)
        except ExpressionError as exc:
            self.host.finish_step(order_id, "FAILED", f"configuration error: {exc}")
            return False
        if reason is not None:
            self.host.finish_step(order_id, "SKIPPED", reason)
            return False
        if entry["dependencies"]:
            self.logger.info(
                f"All dependencies for task {self._label(order_id)} have completed"
            )
        entry["status"] = "RUNNING"
        if entry.get("instances") is not None and self._foreach_done(entry):
            # No item left to run (an empty list, or all done last time).
            self.host.finish_foreach(order_id)
            self._report(order_id, entry)
            return False
        return True

    def _start_units(self, order_id: int) -> bool:
        """Start the step's waiting units; ``False`` when the batch cap is full."""
        entry = self.tree[order_id]
        step_cap = entry.get("foreach_concurrency")
        for unit in units_of(entry):
            if unit["status"] != "NOT_STARTED" and unit is not entry:
                continue
            if unit is entry and unit["thread"] is not None:
                continue
            if unit is entry and entry.get("start_time") is not None:
                continue
            if self.cap is not None and len(self._active()) >= self.cap:
                return False
            if step_cap is not None:
                running = sum(1 for u in units_of(entry) if u["thread"] is not None)
                if running >= step_cap:
                    return True
            self._start_unit(order_id, entry, unit)
        return True

    def _start_unit(self, order_id: int, entry: dict, unit: dict) -> None:
        event = threading.Event()
        name = unit.get("unit_id", entry["task_id"])
        thread = threading.Thread(
            target=self.host.task_runner,
            args=(entry, event) if unit is entry else (entry, event, unit),
            name=f"{name}_parent",
        )
        unit.update(
            status="RUNNING",
            start_time=time.monotonic(),
            attempt_start=time.monotonic(),
            thread=thread,
            kill_event=event,
            stop=threading.Event(),
            finished=False,
        )
        thread.start()
        if unit is entry:
            self.logger.info(f"Spawned thread for task {self._label(order_id)}")
        else:
            self.logger.info(
                f"Spawned thread for task {self._label(order_id)} "
                f"item {unit['index'] + 1} of {len(entry['instances'])}"
            )

    # -- timeouts and kills -----------------------------------------------------

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for order_id, entry in self.tree.items():
            for unit in units_of(entry):
                if not _unit_running(unit) or unit["stop"].is_set():
                    continue
                label = self._unit_label(order_id, unit)
                overall = entry.get("overall_timeout")
                if overall is not None and now - unit["start_time"] >= overall:
                    self.logger.error(f"Task {label} has exceeded its overall timeout")
                    self._stop_unit(unit, label, "TIMED_OUT")
                    continue
                started = unit.get("attempt_start")
                if started is None or unit.get("attempt_timed_out"):
                    continue
                if now - started < entry["timeout"]:
                    continue
                self.logger.error(f"Task {label} has timed out")
                unit["attempt_timed_out"] = True
                self.logger.info(f"Sending kill event to task {label}")
                unit["kill_event"].set()

    def _stop_unit(self, unit: dict, label: str, status: str) -> None:
        self.logger.info(f"Sending kill event to task {label}")
        unit["status"] = status
        unit["stop"].set()
        unit["kill_event"].set()

    def _unit_label(self, order_id: int, unit: dict) -> str:
        if "index" in unit:
            return f"{self._label(order_id)} item {unit['index'] + 1}"
        return self._label(order_id)

    def _kill_all(self) -> None:
        self.killing = True
        self.logger.info("Kill event received, stopping threads")
        for order_id, entry in self.tree.items():
            for unit in units_of(entry):
                if _unit_running(unit):
                    self._stop_unit(unit, self._unit_label(order_id, unit), "KILLED")

    # -- finishing --------------------------------------------------------------

    def _reap_finished(self) -> None:
        for order_id, entry in self.tree.items():
            reaped = False
            for unit in units_of(entry):
                if unit["thread"] is None or not unit["finished"]:
                    continue
                # The runner has released the condition and is about to return.
                unit["thread"].join()
                unit.update(thread=None, kill_event=None)
                reaped = True
            if not reaped:
                continue
            if entry.get("instances") is not None:
                if self._foreach_done(entry):
                    self.host.finish_foreach(order_id)
                    self._report(order_id, entry)
            else:
                self._report(order_id, entry)
            self._log_memory()

    def _foreach_done(self, entry: dict) -> bool:
        units = entry["instances"]
        if any(u["thread"] is not None for u in units):
            return False
        return self.killing or all(u["status"] != "NOT_STARTED" for u in units)

    def _report(self, order_id: int, entry: dict[str, Any]) -> None:
        label = self._label(order_id)
        status = entry["status"]
        if status == "COMPLETED":
            entry["result"] = True
            entry["outcome"] = "success"
            self.logger.info(f"Task {label} has completed")
            return
        entry["result"] = False
        if status in ("TIMED_OUT", "KILLED"):
            entry["outcome"] = "timeout" if status == "TIMED_OUT" else "killed"
            self.logger.info(f"Task {label} has been killed")
        else:
            entry["status"] = status = "FAILED"
            entry["outcome"] = "failure"
            self.logger.error(f"Task {label} has failed")
        if status in ("TIMED_OUT", "FAILED") and entry["continue_on_fail"]:
            self.logger.info(f"Task {label} has failed, but continuing on fail")
            entry["status"] = "COMPLETED"

    def _wait_time(self, kill_event: threading.Event | None) -> float:
        wait = MAX_WAIT
        now = time.monotonic()
        for entry in self.tree.values():
            for unit in units_of(entry):
                if not _unit_running(unit):
                    continue
                started = unit.get("attempt_start")
                if started is not None and not unit.get("attempt_timed_out"):
                    wait = min(wait, started + entry["timeout"] - now)
                if entry.get("overall_timeout") is not None:
                    wait = min(
                        wait, unit["start_time"] + entry["overall_timeout"] - now
                    )
        if kill_event is not None and not self.killing:
            wait = min(wait, KILL_EVENT_CHECK_INTERVAL)
        return max(wait, 0.0)

    def _log_memory(self) -> None:
        if self.log_memory:
            self.logger.info(f"[memory] RSS: {memory_usage_mb():.1f} MB")
