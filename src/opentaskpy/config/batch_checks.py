"""Whole-batch checks: every problem of a batch and its steps, in one run.

Used by ``otf-batch-validator`` and ``task-run --noop`` on a batch. Nothing
is run: each step's definition is loaded and checked against its schema
(nested batches too), the dependency graph is checked for unknown steps and
cycles, and every condition and foreach expression is compiled and its names
checked against the batch's variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentaskpy.config import expressions
from opentaskpy.config.batch_spec import dependencies_of, expressions_of, find_cycle
from opentaskpy.config.task_types import TASK_TYPES, explain


@dataclass
class Problem:
    """One problem found; ``error`` is set when loading or checking raised."""

    message: str
    file: str | None = None
    error: Exception | None = None
    definition: dict | None = None
    schema: bool = False

    @property
    def located(self) -> str:
        """The message, preceded by its file when it does not name it already."""
        if self.file and not self.message.startswith(self.file):
            return f"{self.file}: {self.message}"
        return self.message


class _Checker:
    def __init__(self, loader: Any):
        self.loader = loader
        self.problems: list[Problem] = []
        self.known = set(loader.global_variables)

    def file_of(self, task_id: str) -> str:
        try:
            return str(self.loader.find_task_file(task_id))
        except Exception:  # noqa: BLE001 - only names the file
            return f"task {task_id}"

    def add(self, message: str, **fields: Any) -> None:
        self.problems.append(Problem(message, **fields))

    def load(
        self,
        task_id: str,
        extra: dict | None = None,
        referrer: str | None = None,
        path: str | None = None,
    ) -> dict | None:
        try:
            if path is not None:
                return self.loader.load_task_file(path, extra_variables=extra)
            return self.loader.load_task_definition(task_id, extra_variables=extra)
        except Exception as exc:
            file = path or self.file_of(task_id)
            if isinstance(exc, FileNotFoundError) and referrer:
                file = referrer  # no file of its own: name the batch using it
            self.add(f"{file}: {exc}", file=file, error=exc)
            return None

    def batch(
        self,
        task_id: str,
        definition: dict,
        stack: tuple[str, ...],
        file: str | None = None,
    ) -> None:
        file = file or self.file_of(task_id)
        entries = definition.get("tasks")
        if not isinstance(entries, list):
            kind = definition.get("type")
            what = f" (its type is {kind}, not batch)" if kind != "batch" else ""
            self.add(f"{file}: tasks: missing or not a list{what}", file=file)
            return
        self.step_definition(task_id, definition, file)
        good = [e for e in entries if isinstance(e, dict)]
        for index, entry in enumerate(entries):
            missing = [
                k
                for k in ("order_id", "task_id")
                if not isinstance(entry, dict) or k not in entry
            ]
            if missing:
                self.add(f"{file}: tasks[{index}]: missing {missing[0]!r}", file=file)
        good = [e for e in good if "order_id" in e and "task_id" in e]
        known_vars = self.known | set(definition.get("variables") or {})
        order_ids = [e["order_id"] for e in good]
        for order_id in sorted(
            {o for o in order_ids if order_ids.count(o) > 1}, key=str
        ):
            self.add(
                f"{file}: order_id {order_id} is used by more than one step", file=file
            )
        for order_id in range(1, len(good) + 1):
            if order_id not in order_ids:
                self.add(
                    f"Task {order_id} is missing from the batch definition", file=file
                )
        graph: dict[int, list[int]] = {}
        for entry in good:
            deps = [d.order_id for d in dependencies_of(entry)]
            graph[entry["order_id"]] = deps
            for dependency in deps:
                if dependency not in order_ids:
                    self.add(
                        f"Task {entry['order_id']} has a dependency on task "
                        f"{dependency} which is not defined",
                        file=file,
                    )
            self.entry(entry, file, known_vars, stack)
        cycle = find_cycle(graph)
        if cycle:
            names = {e["order_id"]: e["task_id"] for e in good}
            path = " -> ".join(f"{o} ({names[o]})" for o in cycle)
            self.add(f"{file}: dependency cycle: {path}", file=file)

    def entry(self, entry: dict, file: str, known: set[str], stack: tuple) -> None:
        label = f"{entry['order_id']} ({entry['task_id']})"
        for field, expression in expressions_of(entry):
            names = known | ({"item", "item_index"} if field != "foreach" else set())
            reason = expressions.check(label, field, expression, names)
            if reason:
                self.add(f"{file}: {reason}", file=file)
        extra = None
        if "foreach" in entry:
            extra = {"item": self.first_item(entry, label, file), "item_index": 0}
            self.foreach_items(entry, label, file)
        step_id = entry["task_id"]
        definition = self.load(step_id, extra, referrer=f"{file}: step {label}")
        if definition is None:
            return
        step_file = self.file_of(step_id)
        if definition.get("type") == "batch":
            if step_id in stack:
                chain = " -> ".join((*stack, step_id))
                self.add(f"{step_file}: batch includes itself: {chain}", file=step_file)
                return
            self.batch(step_id, definition, (*stack, step_id))
        else:
            self.step_definition(step_id, definition, step_file)

    def items(self, entry: dict, label: str) -> Any:
        """Return the foreach value as far as the global variables tell (else None)."""
        items = entry["foreach"]
        if isinstance(items, str):
            try:
                return expressions.evaluate(
                    label, "foreach", items, dict(self.loader.global_variables)
                )
            except expressions.ExpressionError:
                return None  # already reported by the name check, or at run time
        return items

    def first_item(self, entry: dict, label: str, file: str) -> Any:
        items = self.items(entry, label)
        if isinstance(items, (list, tuple)) and items:
            return items[0]
        return ""

    def foreach_items(self, entry: dict, label: str, file: str) -> None:
        """Report a foreach that is no list, or has fewer items than needed."""
        items = self.items(entry, label)
        if items is None:
            return
        if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
            self.add(
                f"{file}: step {label}: foreach {entry['foreach']!r} is not a "
                f"list (got {type(items).__name__})",
                file=file,
            )
            return
        needed = entry.get("foreach_min_success")
        count = len(list(items))
        if isinstance(needed, int) and needed > count:
            self.add(
                f"{file}: step {label}: foreach_min_success is {needed} but "
                f"foreach gives {count} item(s)",
                file=file,
            )

    def step_definition(self, task_id: str, definition: dict, file: str) -> None:
        kind = definition.get("type")
        if kind not in TASK_TYPES:
            self.add(
                f"{file}: type: unknown task type {kind!r} "
                "(expected transfer, execution or batch)",
                file=file,
            )
            return
        try:
            violations = explain(str(kind), definition)
        except Exception as exc:
            self.add(f"{file}: {exc}", file=file, error=exc, definition=definition)
            return
        for violation in violations:
            self.add(f"{file}: {violation.describe()}", file=file, schema=True)


def check_batch(loader: Any, task_id: str) -> list[Problem]:
    """Every problem of batch ``task_id`` and of the steps it runs.

    Args:
        loader: the ``ConfigLoader`` of the config directory.
        task_id: the batch's task id.
    """
    checker = _Checker(loader)
    definition = checker.load(task_id)
    if definition is not None:
        checker.batch(task_id, definition, (task_id,))
    return checker.problems


def check_task(loader: Any, task_id: str, path: str | None = None) -> list[Problem]:
    """Every problem of any task (a batch is checked as a whole).

    Args:
        loader: the ``ConfigLoader`` of the config directory.
        task_id: the task's id.
        path: the task's file, when given: it is checked even if other
            files have the same id (the steps of a batch are still found
            by their ids).
    """
    checker = _Checker(loader)
    definition = checker.load(task_id, path=path)
    if definition is None:
        return checker.problems
    file = path or checker.file_of(task_id)
    if definition.get("type") == "batch":
        checker.batch(task_id, definition, (task_id,), file)
    else:
        checker.step_definition(task_id, definition, file)
    return checker.problems
