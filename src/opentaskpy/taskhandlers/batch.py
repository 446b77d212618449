"""The batch task handler: run transfers, executions and batches as a graph.

Construction loads every step, works out which steps a previous failed run
already completed (from the ``__OTF_BATCH_TASK_MARKER__`` lines of its log)
and builds a handler for every step that still has to run. ``run()`` hands
over to :mod:`opentaskpy.taskhandlers.scheduler`, which starts each step as
soon as its dependencies have completed (see that module for the environment
variables that tune it).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from opentaskpy.config.batch_spec import dependencies_of, find_cycle
from opentaskpy.config.task_types import TASK_TYPES, explain
from opentaskpy.exceptions import InvalidConfigError
from opentaskpy.otflogging import close_log_file, init_logging
from opentaskpy.progress import PROGRESS
from opentaskpy.runs.steps import step_finished, step_started
from opentaskpy.taskhandlers import batchoutcome, batchresume, batchsteps, steprunner
from opentaskpy.taskhandlers.retry import RetryPolicy
from opentaskpy.taskhandlers.scheduler import (
    DEFAULT_BATCH_POLL_INTERVAL as DEFAULT_BATCH_POLL_INTERVAL,
)
from opentaskpy.taskhandlers.scheduler import BatchScheduler, units_of
from opentaskpy.taskhandlers.taskhandler import TaskHandler
from opentaskpy.transport.ssh import sshpool
from opentaskpy.verbosity import VERBOSE1

DEFAULT_TASK_TIMEOUT = 300
DEFAULT_TASK_CONTINUE_ON_FAIL = False
DEFAULT_TASK_RETRY_ON_RERUN = False
DEFAULT_TASK_EXIT_CODE = 0
TASK_TYPE = "B"
BATCH_TASK_LOG_MARKER = "__OTF_BATCH_TASK_MARKER__"


class Batch(TaskHandler):
    """Runs a batch definition: its steps in order/dependency, with retries."""

    TASK_TYPE = TASK_TYPE
    overall_result: bool = False

    def __init__(
        self,
        global_config: dict | None,
        task_id: str,
        batch_definition: dict,
        config_loader: Any,
        resume_from: Any = None,
    ):
        """Load every step and build handlers for the steps still to run.

        Args:
            global_config: the global variables (passed on to every step).
            task_id: the batch's task id.
            batch_definition: the loaded batch definition; its ``tasks`` list
                is sorted by ``order_id`` in place.
            config_loader: the ``ConfigLoader`` used to load the steps (and
                nested batches' steps).
            resume_from: for a nested batch, what its previous run left
                (:class:`~opentaskpy.runs.resume.PreviousRun`); ``None``: the
                batch looks for its previous run itself.

        Raises:
            FileNotFoundError: a step's task definition does not exist.
            InvalidConfigError: a step has an unknown ``type``.
        """
        self.task_id = task_id
        self.batch_definition = batch_definition
        self.config_loader = config_loader
        self.tasks: dict[int, dict] = {}
        self.task_order_tree: dict[int, dict[str, Any]] = {}
        self.logger = init_logging("opentaskpy.taskhandlers.batch", task_id, TASK_TYPE)
        super().__init__(global_config)
        # Guards every step's status; step threads notify it when they finish.
        self.condition = self._condition = threading.Condition()
        self._previous_items: dict[int, dict[int, str]] = {}
        self._resume_given = resume_from
        self.resumed_from: Any = None
        self.variables = dict(global_config or {}) | dict(
            batch_definition.get("variables") or {}
        )

        try:
            previous = self._previous_statuses()
            batch_definition["tasks"].sort(key=lambda entry: entry["order_id"])
            for entry in batch_definition["tasks"]:
                self._add_step(entry, previous.get(entry["order_id"]))
            self._warn_unknown_dependencies()
            for entry in self.task_order_tree.values():
                if entry["status"] != "NOT_STARTED":
                    continue
                for unit in units_of(entry):
                    if unit["status"] == "NOT_STARTED":
                        unit["task_handler"] = self._create_handler(
                            unit.get("unit_id", entry["task_id"]),
                            unit["task"],
                            entry["batch_task_spec"]["order_id"],
                        )
        except Exception:
            # The batch never ran: its log must not stay "_running" (it would
            # look like a live run, or a resume candidate).
            close_log_file(self.logger, False)
            raise

    # -- construction ---------------------------------------------------------

    def _previous_statuses(self) -> dict[int, str]:
        """Step statuses of the previous failed run (records, else log marks)."""
        return batchresume.previous_statuses(self, self._resume_given)

    def _add_step(self, entry: dict, previous_status: str | None) -> None:
        order_id = entry["order_id"]
        step_id = entry["task_id"]
        instances = None
        if "foreach" in entry:
            instances = batchsteps.instances(self, entry)
            definition = instances[0]["task"] if instances else {}
        else:
            definition = self.config_loader.load_task_definition(step_id)
            self._report_invalid_step(step_id, definition)
        self.tasks[order_id] = definition
        retry_on_rerun = entry.get("retry_on_rerun", DEFAULT_TASK_RETRY_ON_RERUN)
        status = "NOT_STARTED"
        resumed = False
        # (upstream quirk) these two messages name the batch, not the step.
        if previous_status == "COMPLETED" and retry_on_rerun:
            self.logger.info(
                f"Task {self.task_id} succeeded last time, but is marked to be rerun"
            )
        elif previous_status == "COMPLETED":
            self.logger.info(
                f"Task {self.task_id} succeeded last time, and is not marked to be "
                "rerun, so marking as complete"
            )
            # Re-log the mark so this run's log can itself be resumed from.
            self._log_task_result("COMPLETED", order_id, step_id)
            status = "COMPLETED"
            resumed = True
        self.task_order_tree[order_id] = {
            "task_id": step_id,
            "batch_task_spec": entry,
            "task": definition,
            "task_handler": None,
            "timeout": entry.get("timeout", DEFAULT_TASK_TIMEOUT),
            "continue_on_fail": entry.get(
                "continue_on_fail", DEFAULT_TASK_CONTINUE_ON_FAIL
            ),
            "retry_on_rerun": retry_on_rerun,
            "status": status,
            "result": None,
            "start_time": None,
            "thread": None,
            "kill_event": None,
            "finished": False,
            "outcome": "success" if status == "COMPLETED" else None,
            "dependencies": dependencies_of(entry),
            "policy": RetryPolicy.from_step(entry),
            "overall_timeout": entry.get("overall_timeout"),
            "foreach_concurrency": entry.get("foreach_concurrency"),
            "instances": instances,
            "resumed": resumed,
        }
        if instances is not None and status != "COMPLETED":
            batchsteps.resume_instances(self, order_id, retry_on_rerun)

    def _warn_unknown_dependencies(self) -> None:
        graph = {
            order_id: [d.order_id for d in entry["dependencies"]]
            for order_id, entry in self.task_order_tree.items()
        }
        cycle = find_cycle(graph)
        if cycle:
            self.logger.error(
                "Dependency cycle, these tasks will not run: "
                + " -> ".join(str(order_id) for order_id in cycle)
            )
        for order_id, entry in self.task_order_tree.items():
            for dependency in graph[order_id]:
                if dependency not in self.task_order_tree:
                    self.logger.error(
                        f"Task {order_id} ({entry['task_id']}) depends on task "
                        f"{dependency}, which is not in the batch; it will not run"
                    )

    def _create_handler(
        self, step_id: str, definition: dict, order_id: int | None = None
    ) -> TaskHandler:
        task_type = definition.get("type")
        if task_type == "batch":
            previous = batchresume.nested_previous(self, order_id)
            return Batch(
                self.global_config, step_id, definition, self.config_loader, previous
            )
        if task_type in TASK_TYPES:
            handler: TaskHandler = TASK_TYPES[task_type].create(
                self.global_config, step_id, definition, self.config_loader
            )
            return handler
        self.logger.error(f"Task {step_id} has unknown task type {task_type!r}")
        raise InvalidConfigError(
            "Unknown task type",
            config_file=self._step_file(step_id),
            json_path="type",
            position=f"type {task_type!r}",
        )

    def _step_file(self, step_id: str) -> str:
        try:
            return self.config_loader.find_task_file(step_id)
        except Exception:  # noqa: BLE001 - only used to name the file
            return step_id

    def _report_invalid_step(self, step_id: str, definition: dict) -> None:
        """Log a step whose definition breaks its schema.

        The step still runs, as in the reference; ``otf-batch-validator``
        rejects such batches.
        """
        kind = definition.get("type")
        if kind not in TASK_TYPES:
            return  # reported by _create_handler
        for violation in explain(kind, definition):
            self.logger.error(
                f"{self._step_file(step_id)}: {violation.describe()} "
                f"(task {step_id} does not match the {kind} schema)"
            )

    def _set_remote_handlers(self) -> None:
        """Batches have no protocol handlers; steps are built in the constructor."""

    # -- dependencies -------------------------------------------------------

    def check_all_dependency_statuses(self, batch_task: dict, statuses: list) -> bool:
        """Whether every dependency of ``batch_task`` has one of ``statuses``.

        Args:
            batch_task: a ``task_order_tree`` entry or a batch ``tasks`` entry.
            statuses: the acceptable statuses.

        Returns:
            ``False`` when the entry has no ``dependencies`` key (decided
            without touching ``self``, so it can be called with ``None``).
        """
        spec = batch_task.get("batch_task_spec", batch_task)
        if "dependencies" not in spec:
            return False
        return all(
            self.task_order_tree.get(dependency.order_id, {}).get("status") in statuses
            for dependency in dependencies_of(spec)
        )

    def check_not_dependency_statuses(
        self, order_id: int, batch_task: dict, statuses: list
    ) -> bool:
        """Whether ``batch_task`` may start: no dependency outside ``statuses``.

        Args:
            order_id: the step's order id (for the log lines).
            batch_task: a ``task_order_tree`` entry or a batch ``tasks`` entry.
            statuses: the statuses that count as done.

        Returns:
            ``True`` when there are no dependencies or all have ``statuses``.
        """
        spec = batch_task.get("batch_task_spec", batch_task)
        if not spec.get("dependencies"):
            return True
        task_id = batch_task.get("task_id")
        for dependency in [d.order_id for d in dependencies_of(spec)]:
            status = self.task_order_tree.get(dependency, {}).get("status")
            if status not in statuses:
                self.logger.log(
                    VERBOSE1,
                    f"Skipping task {order_id} ({task_id}) as dependency "
                    f"{dependency} has not completed",
                )
                return False
        self.logger.info(
            f"All dependencies for task {order_id} ({task_id}) have completed"
        )
        return True

    # -- running --------------------------------------------------------------

    def run(self, kill_event: threading.Event | None = None) -> bool:
        """Run the steps until all finished or one failed past its retries.

        Args:
            kill_event: set by a parent batch to stop this (nested) batch.

        Returns:
            ``True`` when every step completed successfully.
        """
        PROGRESS.add_steps_total(len(self.task_order_tree))
        for order_id, entry in self.task_order_tree.items():
            if entry["status"] == "COMPLETED":
                PROGRESS.step_skipped(self.task_id, order_id, entry["task_id"])
        batchresume.record_resumed(self)
        # Steps on one host share one SSH connection for the whole batch.
        with sshpool.batch_pool(self.logger):
            completed = BatchScheduler(self).run(kill_event)
        if completed:
            return self.return_result(0, "All batch tasks completed successfully")
        batchoutcome.classify_failure(self)
        return self.return_result(1, "Batch failed")

    def task_runner(
        self, batch_task: dict, event: threading.Event, unit: dict | None = None
    ) -> None:
        """Thread body for one step (or foreach instance): attempts, then outcome.

        Args:
            batch_task: the step's ``task_order_tree`` entry.
            event: the first attempt's kill event (set on timeout or batch kill).
            unit: the foreach instance to run (``None``: the step itself).
        """
        target = unit or batch_task
        target["progress"] = PROGRESS.step_started(
            self.task_id,
            batch_task["batch_task_spec"]["order_id"],
            target.get("unit_id", batch_task["task_id"]),
        )
        record = step_started(self, batch_task, target)
        try:
            steprunner.run_unit(self, batch_task, target, event)
        finally:
            step_finished(record, target["status"])

    def finish_unit(
        self, entry: dict, unit: dict, status: str, event: threading.Event
    ) -> None:
        """Record a unit's end (called by its thread) and wake the scheduler."""
        batchoutcome.finish_unit(self, entry, unit, status, event)

    def unit_label(self, entry: dict, unit: dict) -> str:
        """``order_id (task_id)``, plus ``item N`` for a foreach instance."""
        label = f"{entry['batch_task_spec']['order_id']} ({entry['task_id']})"
        return label if unit is entry else f"{label} item {unit['index'] + 1}"

    def new_handler(self, entry: dict, unit: dict) -> TaskHandler:
        """Build a fresh handler for another attempt of a unit."""
        return self._create_handler(
            unit.get("unit_id", entry["task_id"]),
            copy.deepcopy(unit["task"]),
            entry["batch_task_spec"]["order_id"],
        )

    def expression_context(self, unit: dict | None = None) -> dict[str, Any]:
        """Names for conditions: variables, a read-only step view, the item."""
        return batchsteps.expression_context(self, unit)

    def skip_reason(self, order_id: int) -> str | None:
        """Evaluate a step's ``skip_if`` (called with the condition held)."""
        return batchsteps.skip_reason(self, order_id)

    def finish_step(self, order_id: int, status: str, reason: str) -> None:
        """Record a step that ends without running (skipped or refused)."""
        batchsteps.finish_step(self, order_id, status, reason)

    def finish_foreach(self, order_id: int) -> None:
        """Set a foreach step's status from its instances."""
        batchsteps.finish_foreach(self, order_id)

    def _log_task_result(self, status: str, order_id: int, task_id: str) -> None:
        """Log the resume marker for a step."""
        self.logger.info(
            f"{BATCH_TASK_LOG_MARKER}: ORDER_ID::{order_id}::TASK::{task_id}::{status}"
        )

    def _execute(self, task_handler: Any, event: threading.Event | None = None) -> bool:
        """Run a step's handler; exceptions become a failed result.

        Args:
            task_handler: the step's ``Transfer``/``Execution``/``Batch``.
            event: passed to ``run`` as ``kill_event``.

        Returns:
            The handler's result, ``False`` if it raised.
        """
        return steprunner.attempt(self, task_handler, event or threading.Event())[0]
