"""Where a batch resumes: from its run records, else from its log marks.

The run records answer first (see :mod:`opentaskpy.runs.resume` for what
*the previous run* is): they survive a crash, a ``kill -9`` and midnight.
When nothing is recorded (the store is off or unreachable, or the previous
runs were made by an older release) the ``__OTF_BATCH_TASK_MARKER__`` lines
of the newest failed log of today (``OTF_BATCH_RESUME_LOG_DATE``) decide,
as before. Either way the resumed steps' marks are logged again, so this
run's log can itself be resumed from.
"""

from __future__ import annotations

import re
from typing import Any

from opentaskpy.otflogging import get_latest_log_file, resume_log_settings
from opentaskpy.runs import recorder as rec
from opentaskpy.runs.resume import PreviousRun, previous_steps, steps_of
from opentaskpy.runs.steps import step_resumed

BATCH_TASK_LOG_MARKER = "__OTF_BATCH_TASK_MARKER__"
_MARK = re.compile(r"ORDER_ID::(\d+)::TASK::(.*)::([A-Z_]+)\s*$")
# A foreach instance's mark; the step's own mark above never matches it.
_ITEM_MARK = re.compile(r"ORDER_ID::(\d+)::ITEM::(\d+)::TASK::(.*)::([A-Z_]+)\s*$")


def find_previous(batch: Any, given: PreviousRun | None) -> PreviousRun | None:
    """Return the recorded previous run of ``batch`` (``given``: nested)."""
    if given is not None:
        return given
    recorder = rec.current()
    if recorder is None or recorder.task_id != batch.task_id:
        return None  # a nested batch of a run resumed from logs, or no records
    if recorder.row.get("task_type") != "batch":
        return None
    return previous_steps(recorder.ready_store(), recorder.row)


def previous_statuses(batch: Any, given: PreviousRun | None) -> dict[int, str]:
    """Return ``order_id -> status`` of the previous run; fill the item marks."""
    found = find_previous(batch, given)
    batch.resumed_from = found
    # Bad settings of the log-based resume are reported even when the
    # records answer: they would bite the day the store is off.
    resume_log_settings()
    if found is None:
        return statuses_from_log(batch)
    if not found.resumable:
        batch.logger.info(
            f"Previous run {found.record_id} succeeded: starting from scratch"
        )
        return {}
    batch.logger.info(
        f"Resuming from the run record of {found.record_id} ({found.outcome}): "
        f"steps done: {', '.join(map(str, sorted(found.done))) or 'none'}"
    )
    for order_id, items in found.items_done.items():
        batch._previous_items[order_id] = dict.fromkeys(items, "COMPLETED")
    _log_marks_found(batch, found)
    return dict.fromkeys(found.done, "COMPLETED")


def _log_marks_found(batch: Any, found: PreviousRun) -> None:
    """Log what was found as the log-based resume words it (people grep it)."""
    names = {e["order_id"]: e["task_id"] for e in batch.batch_definition["tasks"]}
    for order_id in sorted(found.done):
        mark = f"ORDER_ID::{order_id}::TASK::{names.get(order_id)}::COMPLETED"
        batch.logger.info(f"Found log mark: {mark}")
    for order_id, items in sorted(found.items_done.items()):
        for number in sorted(items):
            mark = (
                f"ORDER_ID::{order_id}::ITEM::{number}::TASK::"
                f"{names.get(order_id)}::COMPLETED"
            )
            batch.logger.info(f"Found log mark: {mark}")


def nested_previous(batch: Any, order_id: int | None) -> PreviousRun | None:
    """Return what a nested batch step resumes from (this batch used records)."""
    found: PreviousRun | None = getattr(batch, "resumed_from", None)
    if found is None or order_id is None:
        return None
    step_id = found.step_ids.get(order_id)
    if not found.resumable:
        return PreviousRun(f"{found.record_id}.{order_id}", found.outcome)
    if step_id is None:  # the nested batch never started last time
        return PreviousRun(f"{found.record_id}.{order_id}", "not started")
    recorder = rec.current()
    store = recorder.ready_store() if recorder is not None else None
    if store is None:
        return None
    return steps_of(store, step_id, found.outcome)


def record_resumed(batch: Any) -> None:
    """Record the steps not run again as done (the next resume reads them)."""
    found: PreviousRun | None = getattr(batch, "resumed_from", None)
    if found is None or not found.resumable:
        return
    for entry in batch.task_order_tree.values():
        if entry.get("resumed"):
            step_resumed(batch, entry, None, found.record_id)
        for unit in entry.get("instances") or []:
            if unit.get("resumed"):
                step_resumed(batch, entry, unit, found.record_id)


def statuses_from_log(batch: Any) -> dict[int, str]:
    """Read the step statuses marked in the log of the previous failed run."""
    path = get_latest_log_file(batch.task_id, "B")
    if not path:
        batch.logger.info("No previous log file found")
        return {}
    batch.logger.info(f"Found previous log file: {path}")
    batch.logger.info("Parsing previous log file for log marks")
    previous, items = marks_from_log(path, batch.logger)
    for order_id, marks in items.items():
        batch._previous_items.setdefault(order_id, {}).update(marks)
    return previous


def marks_from_log(
    path: str, logger: Any = None
) -> tuple[dict[int, str], dict[int, dict[int, str]]]:
    """Return the step marks and the foreach instance marks of a batch log."""
    previous: dict[int, str] = {}
    items: dict[int, dict[int, str]] = {}
    with open(path, encoding="utf-8", errors="replace") as log_file:
        for line in log_file:
            if BATCH_TASK_LOG_MARKER not in line:
                continue
            mark = line.split(f"{BATCH_TASK_LOG_MARKER}: ", 1)[-1].strip()
            item = _ITEM_MARK.search(mark)
            match = None if item else _MARK.search(mark)
            if (item or match) and logger is not None:
                logger.info(f"Found log mark: {mark}")
            if item:
                items.setdefault(int(item.group(1)), {})[int(item.group(2))] = (
                    item.group(4)
                )
            elif match:
                previous[int(match.group(1))] = match.group(3)
    return previous, items
