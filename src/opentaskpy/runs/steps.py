"""Run records of batch steps (each step and sub-task is a run of its own).

The batch handler calls :func:`step_started` when a step's thread starts and
:func:`step_finished` when it ends; both do nothing when this process is not
recording. A step's record id is its parent's id plus ``.<order id>``.
"""

from __future__ import annotations

import time
from typing import Any

from opentaskpy.runs import fields, settings
from opentaskpy.runs import recorder as rec
from opentaskpy.runs.schema import FAILED, KILLED, RUNNING, SUCCESS

_STATUS_OUTCOMES = {
    "COMPLETED": (SUCCESS, None),
    "FAILED": (FAILED, "error"),
    "TIMED_OUT": (FAILED, "timeout"),
    "KILLED": (KILLED, "interrupted"),
}


class Step:
    """One recorded batch step."""

    def __init__(self, row: dict[str, Any], handler: Any) -> None:
        self.row = row
        self.record_id: str = row["id"]
        self.handler = handler

    def end_fields(self, now: float, exit_code: int = 1) -> dict[str, Any]:
        """End fields for a step still open when the whole run ended."""
        outcome = KILLED if exit_code > 128 else FAILED
        return self._fields(now, outcome, "interrupted", "the batch run ended first")

    def _fields(
        self, now: float, outcome: str, error_class: str | None, reason: str | None
    ) -> dict[str, Any]:
        return {
            "ended_at": now,
            "duration": now - self.row["started_at"],
            "outcome": outcome,
            "error_class": error_class,
            "reason": reason,
            "log_file": fields.final_log_file(self.row.get("log_file")),
        }

    def finished_fields(self, status: str) -> dict[str, Any]:
        """End fields for a step that ended with batch ``status``."""
        outcome, error_class = _STATUS_OUTCOMES.get(status, (FAILED, "error"))
        reason = None
        if outcome != SUCCESS:
            reason = f"step {status.lower()}"
            raised = getattr(self.handler, "_raised_exception", None)
            if isinstance(raised, BaseException):
                from opentaskpy.exceptions import classify

                original = raised.__cause__ or raised
                if status == "FAILED":
                    error_class = str(classify(original))
                reason = fields.one_line(str(raised) or reason)
            elif status == "FAILED":
                error_class = fields.type_error_class(self.row.get("task_type"))
                reason = fields.first_error_of(self.row["task_id"]) or reason
        return self._fields(time.time(), outcome, error_class, reason)


def step_started(batch: Any, entry: dict, unit: dict | None = None) -> Step | None:
    """Record the start of a batch step (or of one foreach instance of it).

    Returns ``None`` when nothing is recorded.
    """
    recorder = rec.current()
    if recorder is None or recorder.where is None:
        return None
    row = _step_row(recorder, batch, entry, unit or entry)
    handler = (unit or entry).get("task_handler")
    if handler is not None and row["task_type"] == "batch":
        handler.run_record_id = row["id"]  # its own steps hang under this step
    elif handler is not None:
        handler.run_record = row  # a transfer's ledger rows name this step
    step = Step(row, handler)
    return step if recorder.recording_step(step) else None


def step_resumed(batch: Any, entry: dict, unit: dict | None, done_in: str) -> None:
    """Record a step (or instance) not run again: it succeeded in ``done_in``.

    The record lets a later resume of this run skip the step too.
    """
    recorder = rec.current()
    if recorder is None or recorder.where is None:
        return
    store = recorder.ready_store()
    if store is None:
        return
    row = _step_row(recorder, batch, entry, unit or entry)
    row.update(
        ended_at=row["started_at"],
        duration=0.0,
        outcome=SUCCESS,
        log_file=None,
        reason=f"succeeded in run {done_in}; not run again",
    )
    recorder._safely(store.record_complete, row)


def _step_row(recorder: Any, batch: Any, entry: dict, unit: dict) -> dict[str, Any]:
    parent_id = getattr(batch, "run_record_id", None) or recorder.record_id
    order_id = entry["batch_task_spec"]["order_id"]
    suffix = str(order_id) if unit is entry else f"{order_id}#{unit['index'] + 1}"
    definition = unit.get("task") or entry.get("task") or {}
    task_type = definition.get("type")
    now = time.time()
    row = {
        **{k: recorder.row.get(k) for k in ("run_id", "config_dir", "host", "pid")},
        **{k: recorder.row.get(k) for k in ("proc_start", "user_name")},
        "id": f"{parent_id}.{suffix}",
        "root_id": recorder.record_id,
        "parent_id": parent_id,
        "order_id": order_id,
        "task_id": entry["task_id"],
        "task_type": task_type,
        "definition_sha256": fields.definition_sha256(definition),
        "started_at": now,
        "outcome": RUNNING,
        "log_file": fields.log_file_for(
            unit.get("unit_id", entry["task_id"]), task_type
        ),
        "stall_limit": settings.stall_seconds({"timeout": entry.get("timeout")}),
        "heartbeat_at": now,
        "progress_at": now,
    }
    return row


def step_finished(step: Step | None, status: str) -> None:
    """Record the end of a batch step (``status`` as the batch logs it)."""
    recorder = rec.current()
    if step is None or recorder is None or recorder.store is None:
        return
    recorder.step_closed(step, step.finished_fields(status))


__all__ = ["Step", "step_finished", "step_resumed", "step_started"]
