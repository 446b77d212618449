"""The task types (transfer, execution, batch) and what each one decides.

One table says, for every ``type`` a task definition may have, the label
logged when it starts, the handler class that runs it (imported only when a
task of that type runs: a noop or a failed validation never pays for the
protocol libraries) and the protocol table its protocols come from; the
schema is chosen by the same name. :func:`explain` is the one place that
turns a definition into its schema violations, for task-run, batches and the
batch validator alike.
"""

from __future__ import annotations

import collections
import importlib

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from opentaskpy.config.schema_errors import SchemaViolation

    class _TaskTypeFields(NamedTuple):
        name: str
        label: str
        handler: str
        protocol_kind: str | None

else:  # the same named tuple, built without typing
    _TaskTypeFields = collections.namedtuple(
        "TaskType", "name label handler protocol_kind"
    )


class TaskType(_TaskTypeFields):
    """One task type (a named tuple: ``dataclasses`` costs start-up time).

    Attributes:
        name: the ``type`` value of the definition (also the schema's kind).
        label: the name logged when a task of the type starts.
        handler: dotted path of the task handler class.
        protocol_kind: ``"T"`` or ``"E"`` (the protocol table used), or
            ``None`` for batches, which have no protocol.
    """

    __slots__ = ()

    def handler_class(self) -> type:
        """Import and return the task handler class."""
        module, _, name = self.handler.rpartition(".")
        found: type = getattr(importlib.import_module(module), name)
        return found

    def create(
        self, global_config: dict | None, task_id: str, definition: dict, loader: Any
    ) -> Any:
        """Build the handler; a batch also gets the loader for its steps."""
        handler_class: Any = self.handler_class()
        if self.protocol_kind is None:
            return handler_class(global_config, task_id, definition, loader)
        return handler_class(global_config, task_id, definition)


TASK_TYPES: dict[str, TaskType] = {
    entry.name: entry
    for entry in (
        TaskType(
            "transfer", "Transfer", "opentaskpy.taskhandlers.transfer.Transfer", "T"
        ),
        TaskType(
            "execution", "Execution", "opentaskpy.taskhandlers.execution.Execution", "E"
        ),
        TaskType("batch", "Batch", "opentaskpy.taskhandlers.batch.Batch", None),
    )
}
EXPECTED = "expected transfer, execution or batch"


def unknown_type_message(file: str, task_type: Any) -> str:
    """Return the line naming a definition whose ``type`` is missing or unknown."""
    if not task_type:
        return f"{file}: type: missing required field 'type' ({EXPECTED})"
    import json

    return f"{file}: type: unknown task type {json.dumps(task_type)} ({EXPECTED})"


def explain(kind: str, definition: dict[str, Any]) -> list[SchemaViolation]:
    """Validate once and return every violation, sorted by path.

    Known successes are answered from the validation cache. The first item
    is the most relevant violation; the others follow in path order.

    Raises:
        The exceptions of :func:`opentaskpy.config.schemas.find_violation`
        (a protocol without a schema or handler package).
    """
    from opentaskpy.config import validation_cache

    best = validation_cache.find_violation(kind, definition)
    if best is None:
        return []
    return [best] + [v for v in best.every if v != best]
