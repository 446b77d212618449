"""How a batch records the end of a step, and classifies a failed batch.

Functions here take the :class:`~opentaskpy.taskhandlers.batch.Batch`
(typed ``Any``: importing it would close an import circle).

A step's (or foreach instance's) thread calls :func:`finish_unit`, which sets
its final status, logs the resume marker, keeps its outcome and failure for
the summary, and wakes the scheduler. :func:`classify_failure` takes the
batch's failure class and line from its first failed step.
"""

from __future__ import annotations

import threading
from typing import Any

from opentaskpy.exceptions import ErrorClass
from opentaskpy.progress import PROGRESS
from opentaskpy.taskhandlers import batchsteps
from opentaskpy.taskhandlers.scheduler import units_of

#: How a step's failure classifies the batch's (the step's own class otherwise).
_OUTCOME_CLASSES = {"timed_out": ErrorClass.TIMEOUT, "killed": ErrorClass.INTERRUPTED}


def classify_failure(batch: Any) -> None:
    """Take the batch's failure class and line from its first failed step."""
    failed = [
        (order_id, entry, unit)
        for order_id, entry in sorted(batch.task_order_tree.items())
        for unit in units_of(entry)
        if unit.get("end_outcome") in ("failed", "timed_out", "killed")
    ]
    # A step that stopped the batch says more than one allowed to fail.
    failed.sort(key=lambda item: bool(item[1]["continue_on_fail"]))
    if not failed:
        batch.error_line = "Batch failed: not every task could run"
        return
    order_id, entry, unit = failed[0]
    outcome = unit["end_outcome"]
    batch.error_class = _OUTCOME_CLASSES.get(outcome) or (
        unit.get("error_class") or ErrorClass.ERROR
    )
    reason = unit.get("error_line")
    batch.error_line = (
        f"Batch failed: task {batch.unit_label(entry, unit)} "
        f"{outcome.replace('_', ' ')}" + (f": {reason}" if reason else "")
    )


def finish_unit(
    batch: Any, entry: dict, unit: dict, status: str, event: threading.Event
) -> None:
    """Record a unit's end (called by its thread) and wake the scheduler."""
    unit_id = unit.get("unit_id", entry["task_id"])
    with batch.condition:
        if unit["stop"].is_set() or event.is_set():
            # The scheduler already set TIMED_OUT/KILLED, or this
            # attempt timed out and no retry followed.
            batch.logger.info(f"Killing task handler for {unit_id}")
            if not unit["stop"].is_set():
                unit["status"] = "TIMED_OUT"
            _mark(batch, entry, unit, "FAILED")
        else:
            batch.logger.info(f"{unit_id} has finished running")
            unit["status"] = status
            _mark(batch, entry, unit, status)
        _record_end(unit)
        if unit is not entry:
            state = "has completed" if unit["status"] == "COMPLETED" else "has failed"
            batch.logger.info(f"Task {batch.unit_label(entry, unit)} {state}")
        # Let connections and clients be garbage-collected now.
        unit["task_handler"] = None
        unit["finished"] = True
        batch.condition.notify_all()


def _record_end(unit: dict) -> None:
    """Keep the unit's outcome and failure for the summary and the run's class."""
    handler = unit.get("task_handler")
    unit["error_class"] = getattr(handler, "error_class", None)
    unit["error_line"] = getattr(handler, "error_line", None)
    status = unit["status"]
    unit["end_outcome"] = (
        status.lower()
        if status in ("TIMED_OUT", "KILLED")
        else "completed"
        if status == "COMPLETED"
        else "failed"
    )
    step = unit.get("progress")
    if step is not None:
        step.finish(unit["end_outcome"])
    PROGRESS.step_done()


def _mark(batch: Any, entry: dict, unit: dict, status: str) -> None:
    order_id = entry["batch_task_spec"]["order_id"]
    if unit is entry:
        batch._log_task_result(status, order_id, entry["task_id"])
    else:
        batchsteps.log_item_result(batch, status, order_id, unit, entry["task_id"])
