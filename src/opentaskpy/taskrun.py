"""Load, validate and run one task.

:class:`TaskRun` is what ``task-run`` drives: it renders the task definition
through a :class:`~opentaskpy.config.loader.ConfigLoader`, checks its type and
schema, then hands it to the matching task handler.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from opentaskpy import otflogging
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.task_types import TASK_TYPES, explain, unknown_type_message
from opentaskpy.exceptions import OTFError
from opentaskpy.verbosity import VERBOSE1

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

GLOBAL_VERBOSITY = 1  # kept for compatibility; nothing reads it


class TaskRun:
    """Run a single task by id from a configuration directory.

    Attributes:
        task_id: the task id (file name without ``.json``/``.json.j2``).
        config_dir: the configuration directory.
        noop: validate only, do not run the handler.
        active_task_definition: the rendered definition once loaded.
        config_loader: the loader shared with batch sub-tasks.
        task_file: path of the task file once found (``None`` before).
        failure_reason: one-line reason naming the file and field when the
            definition itself is at fault (no type, unknown type, schema
            violation); ``None`` otherwise.
    """

    def __init__(
        self,
        task_id: str,
        config_dir: str,
        noop: bool = False,
        check_steps: bool = False,
    ):
        """Create the logger and the config loader (which resolves variables).

        Args:
            task_id: the task id to run.
            config_dir: the configuration directory.
            noop: if true, stop after validation.
            check_steps: with ``noop``, check a batch as a whole (every step,
                dependencies, conditions) as ``task-run --noop`` does;
                without it only the batch document is validated.
        """
        self.logger = otflogging.init_logging(__name__, task_id)
        self.task_id = task_id
        self.config_dir = config_dir
        self.active_task_definition: dict | None = None
        self.noop = noop
        self.check_steps = check_steps
        self.task_file: str | None = None
        self.failure_reason: str | None = None
        #: The exception that failed the handler, if one did.
        self.error: BaseException | None = None
        #: Called as ``on_start(task_type, definition)`` once the definition is
        #: valid, before the handler is built (run records and the lock).
        self.on_start: Callable[[str, dict], None] | None = None
        self.config_loader = ConfigLoader(config_dir)

    def run(self) -> bool:
        """Load, validate and run the task.

        Returns:
            The task result; ``False`` also for definitions without a usable
            type or failing schema validation.
        """
        global_variables = self.config_loader.get_global_variables()
        otflogging.register_secrets_from(global_variables)
        self.task_file = self._find_task_file()
        definition = self.config_loader.load_task_definition(self.task_id)
        otflogging.register_secrets_from(definition)
        self.active_task_definition = definition
        # Top-level sensitive keys are masked by redact(); the
        # secrets registered above are masked at any depth by the log filter.
        self.logger.log(
            VERBOSE1,
            f"Evaluated task definition: {otflogging.redact(json.dumps(definition))}",
        )

        task_type = definition.get("type")
        if not task_type:
            self.logger.error("Invalid task configuration. Cannot continue")
            self.failure_reason = unknown_type_message(self._file(), task_type)
            return False

        if task_type not in TASK_TYPES:
            self.logger.error("Unknown task type!")
            self.failure_reason = unknown_type_message(self._file(), task_type)
            result = False
        else:
            self.logger.info(f"Starting task of type {TASK_TYPES[task_type].label}")
            if not self._validate(task_type, definition):
                return False
            if self.noop and self.check_steps and task_type == "batch":
                return self._check_batch()
            if self.noop:
                # The WRAPPER log stays _running: nothing closes it in noop
                # mode (upstream quirk, kept for log-layout compatibility).
                self.logger.info("Noop set, exiting")
                return True
            if self.on_start is not None:
                self.on_start(task_type, definition)
            retrying = self._retrying(task_type, global_variables, definition)
            if retrying is not None:
                result = retrying
            else:
                handler = self._make_handler(task_type, global_variables, definition)
                try:
                    result = bool(handler.run())
                except Exception as exc:
                    self.error = exc
                    # For failures reported through return_result the handler
                    # has already marked the exception handled and this just
                    # returns; anything else is re-raised as a plain Exception.
                    handler.return_result(1, str(exc), exc)
                    result = False

        self.logger.info(f"Task completed with result: {result}")
        otflogging.close_log_file(self.logger, result)
        return result

    def _retrying(
        self, task_type: str, global_variables: dict, definition: dict
    ) -> bool | None:
        """Run with ``OTF_RETRIES`` retries; ``None`` when none are asked for."""
        if task_type == "batch" or not os.environ.get("OTF_RETRIES"):
            return None
        import copy

        from opentaskpy.taskhandlers import retry

        policy = retry.RetryPolicy.from_env()
        if policy.retries == 0:
            return None
        return retry.run_task_retrying(
            lambda: self._make_handler(
                task_type, global_variables, copy.deepcopy(definition)
            ),
            TASK_TYPES[task_type].protocol_kind or "E",
            policy,
            self.logger,
            f"Task {self.task_id}",
        )

    def _check_batch(self) -> bool:
        """Noop on a batch: check every step and the whole graph, report all."""
        from opentaskpy.config.batch_checks import check_batch

        problems = check_batch(self.config_loader, self.task_id)
        for problem in problems:
            self.logger.error(problem.located)
        if len(problems) == 1:
            self.failure_reason = problems[0].located
        elif problems:
            self.failure_reason = (
                f"{self._file()}: {len(problems)} problems found (listed above)"
            )
        if problems:
            return False
        self.logger.info("Noop set, exiting")
        return True

    def _find_task_file(self) -> str | None:
        """Path of the task file, or ``None`` if it is missing or ambiguous.

        ``load_task_definition`` raises the proper error for those cases.
        """
        try:
            return self.config_loader.find_task_file(self.task_id)
        except (FileNotFoundError, OTFError):
            return None

    def _file(self) -> str:
        return self.task_file or f"{self.config_dir} (task {self.task_id})"

    def _validate(self, task_type: str, definition: dict) -> bool:
        """Validate once; log every violation once and keep the main one.

        Each violation is printed on stdout as ``validate_<type>_json`` does
        and logged with the file; ``failure_reason`` is the most relevant.
        """
        violations = explain(task_type, definition)
        if not violations:
            return True
        self.logger.error("JSON format does not match schema")
        for violation in violations:
            print(violation.describe())
        more = len(violations) - 1
        self.failure_reason = f"{self._file()}: {violations[0].describe()}"
        if more:
            self.failure_reason += f" (and {more} more, listed below)"
        self.logger.error(self.failure_reason)
        for violation in violations[1:]:
            self.logger.error(f"{self._file()}: {violation.describe()}")
        return False

    def _make_handler(
        self, task_type: str, global_variables: dict, definition: dict
    ) -> Any:
        # Imported here so that a noop run or a validation failure never pays
        # for (or depends on) the protocol libraries the handlers pull in.
        return TASK_TYPES[task_type].create(
            global_variables, self.task_id, definition, self.config_loader
        )
