"""Step-level flow control of a batch: foreach instances, conditions, skips.

Functions here work on a :class:`~opentaskpy.taskhandlers.batch.Batch`
(passed in, never imported) so that ``batch.py`` keeps construction and the
scheduler keeps ordering; both call in here for what a step's fields mean.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from opentaskpy.config import expressions
from opentaskpy.exceptions import InvalidConfigError

BATCH_TASK_LOG_MARKER = "__OTF_BATCH_TASK_MARKER__"


def _label(entry: dict) -> str:
    return f"{entry['order_id']} ({entry['task_id']})"


def foreach_items(batch: Any, entry: dict) -> list[Any]:
    """Return the items of a step's ``foreach`` (a literal list or an expression).

    Raises:
        InvalidConfigError: the expression cannot be evaluated or is no list.
    """
    items = entry["foreach"]
    if isinstance(items, str):
        context = dict(batch.variables)
        items = expressions.evaluate(_label(entry), "foreach", items, context)
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise InvalidConfigError(
            f"step {_label(entry)}: foreach {entry['foreach']!r} is not a list "
            f"(got {type(items).__name__})",
            json_path="foreach",
        )
    return list(items)


def instances(batch: Any, entry: dict) -> list[dict[str, Any]]:
    """One unit per foreach item, its task rendered with ``item``."""
    units = []
    for index, item in enumerate(foreach_items(batch, entry)):
        definition = batch.config_loader.load_task_definition(
            entry["task_id"], extra_variables={"item": item, "item_index": index}
        )
        if index == 0:
            batch._report_invalid_step(entry["task_id"], definition)
        units.append(
            {
                "index": index,
                "item": item,
                "unit_id": f"{entry['task_id']}.{index + 1}",
                "task": definition,
                "task_handler": None,
                "status": "NOT_STARTED",
                "result": None,
                "start_time": None,
                "thread": None,
                "kill_event": None,
                "finished": False,
            }
        )
    return units


def resume_instances(batch: Any, order_id: int, retry_on_rerun: bool) -> None:
    """Mark the instances that completed in the previous run as done."""
    entry = batch.task_order_tree[order_id]
    previous = batch._previous_items.get(order_id, {})
    for unit in entry["instances"]:
        if previous.get(unit["index"] + 1) != "COMPLETED" or retry_on_rerun:
            continue
        batch.logger.info(
            f"Task {batch.unit_label(entry, unit)} succeeded last time, "
            "so marking it as complete"
        )
        unit["status"] = "COMPLETED"
        unit["resumed"] = True
        log_item_result(batch, "COMPLETED", order_id, unit, entry["task_id"])


def log_item_result(
    batch: Any, status: str, order_id: int, unit: dict, task_id: str
) -> None:
    """Log the resume marker for one foreach instance."""
    batch.logger.info(
        f"{BATCH_TASK_LOG_MARKER}: ORDER_ID::{order_id}::ITEM::{unit['index'] + 1}"
        f"::TASK::{task_id}::{status}"
    )


def steps_view(batch: Any) -> MappingProxyType:
    """Return a read-only snapshot of every step's state, by order id."""
    view = {}
    for order_id, entry in batch.task_order_tree.items():
        view[order_id] = MappingProxyType(
            {
                "task_id": entry["task_id"],
                "status": entry["status"],
                "outcome": entry.get("outcome")
                or ("running" if entry["status"] == "RUNNING" else "pending"),
                "result": entry["result"],
            }
        )
    return MappingProxyType(view)


def expression_context(batch: Any, unit: dict | None) -> dict[str, Any]:
    """Variables, ``steps`` and, for an instance, ``item``/``item_index``."""
    context = dict(batch.variables)
    context["steps"] = steps_view(batch)
    if unit is not None and "index" in unit:
        context["item"] = unit["item"]
        context["item_index"] = unit["index"]
    return context


def skip_reason(batch: Any, order_id: int) -> str | None:
    """Why a ready step is skipped (``skip_if`` true), or ``None``.

    Raises:
        ExpressionError: the expression cannot be evaluated.
    """
    entry = batch.task_order_tree[order_id]
    expression = entry["batch_task_spec"].get("skip_if")
    if expression is None:
        return None
    label = f"{order_id} ({entry['task_id']})"
    context = expression_context(batch, None)
    if expressions.evaluate(label, "skip_if", expression, context):
        return f"skip_if {expression!r} is true"
    return None


def finish_step(batch: Any, order_id: int, status: str, reason: str) -> None:
    """End a step without running it: ``SKIPPED`` (done) or ``FAILED``."""
    entry = batch.task_order_tree[order_id]
    label = f"{order_id} ({entry['task_id']})"
    entry["task_handler"] = None
    for unit in entry.get("instances") or []:
        unit["task_handler"] = None
    if status == "SKIPPED":
        batch.logger.info(f"Task {label} skipped: {reason}")
        entry.update(status="COMPLETED", outcome="skipped", result=None)
        batch._log_task_result("SKIPPED", order_id, entry["task_id"])
        return
    batch.logger.error(f"Task {label} not run: {reason}")
    entry.update(status="FAILED", outcome="failure", result=False)
    batch._log_task_result("FAILED", order_id, entry["task_id"])
    if entry["continue_on_fail"]:
        batch.logger.info(f"Task {label} has failed, but continuing on fail")
        entry["status"] = "COMPLETED"


def finish_foreach(batch: Any, order_id: int) -> None:
    """Set a foreach step's status from its instances and log its marker."""
    entry = batch.task_order_tree[order_id]
    units = entry["instances"]
    done = sum(1 for unit in units if unit["status"] == "COMPLETED")
    needed = entry["batch_task_spec"].get("foreach_min_success", len(units))
    killed = any(unit["status"] == "KILLED" for unit in units)
    if done >= needed and not killed:
        status = "COMPLETED"
    else:
        status = "KILLED" if killed else "FAILED"
    # Every instance succeeding and the step still failing (foreach_min_success
    # above the item count) is an error of its own: the run's error line says
    # so instead of a bare "has failed".
    all_done_yet_failed = status == "FAILED" and done == len(units)
    log = batch.logger.error if all_done_yet_failed else batch.logger.info
    log(
        f"Task {order_id} ({entry['task_id']}): {done} of {len(units)} items "
        f"succeeded ({needed} needed)"
    )
    entry["status"] = status
    batch._log_task_result(
        "COMPLETED" if status == "COMPLETED" else "FAILED", order_id, entry["task_id"]
    )
