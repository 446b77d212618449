"""``otf-batch-validator``: check a batch and its steps without running them.

See cli.md §2. ``main()`` is the spec'd function (returns ``True`` for a
valid batch); ``console_main()`` backs the console script and exits 0 for a
valid batch, 1 otherwise. Also runnable as a script
(``python src/opentaskpy/cli/batch_validator.py -t X -c DIR``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable

from opentaskpy import otflogging
from opentaskpy.cli.error_report import ErrorContext, describe_error, emit_error_line
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.verbosity import CLI_HELP, VERBOSE2, cli_level

PROG = "otf-batch-validator"
CONFIG_PATH = f"{os.getcwd()}/cfg"

# The step being validated, for the error line if validation raises (e.g. an
# unknown protocol): {"file": str, "definition": dict}.
_current_step: dict = {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Validate a batch definition and all its steps."
    )
    parser.add_argument("-t", "--taskId", required=True, type=str, help="batch id")
    parser.add_argument("-v", "--verbosity", type=int, help=CLI_HELP)
    parser.add_argument(
        "-c", "--configDir", type=str, help=f"config directory (default {CONFIG_PATH})"
    )
    return parser


def _validators() -> dict[str, Callable[[dict], bool]]:
    from opentaskpy.config import schemas

    return {
        "transfer": schemas.validate_transfer_json,
        "execution": schemas.validate_execution_json,
        "batch": schemas.validate_batch_json,
    }


def main(
    taskId: str | None = None,  # noqa: N803 - spec'd keyword names
    verbosity: int | None = None,
    configDir: str | None = None,  # noqa: N803
) -> bool:
    """Validate batch ``taskId`` and every task it references.

    Args:
        taskId: the batch id; when falsy the command line is parsed instead.
        verbosity: ``1``/``2``/``3`` for VERBOSE1/VERBOSE2/DEBUG.
        configDir: the config directory; it replaces the module default for
            later calls too.

    Returns:
        ``True`` when the batch is valid.
    """
    global CONFIG_PATH
    _current_step.clear()
    task_id, config_dir = taskId, configDir
    if not task_id:
        args = _parser().parse_args()
        task_id, verbosity, config_dir = args.taskId, args.verbosity, args.configDir
    otflogging.check_task_id(task_id, "-t")  # before anything is written
    if config_dir:
        CONFIG_PATH = config_dir

    level = cli_level(verbosity)
    logging.basicConfig(
        format=otflogging.OTF_LOG_FORMAT,
        level=level,
        handlers=[logging.StreamHandler()],
    )
    logging.getLogger().setLevel(level)
    # Not restored afterwards (upstream quirk, cli.md §2.1 step 3).
    os.environ["OTF_NOOP"] = "true"
    logger = otflogging.init_logging(__name__)
    logger.log(VERBOSE2, f"Log verbosity: {verbosity}")

    loader = ConfigLoader(CONFIG_PATH)
    batch = loader.load_task_definition(task_id)
    batch_file = _task_file(loader, task_id)
    entries = batch.get("tasks")
    if not isinstance(entries, list):
        logger.error(f"{batch_file}: tasks: missing or not a list")
        return False
    for index, entry in enumerate(entries):
        missing = [
            k
            for k in ("order_id", "task_id")
            if not isinstance(entry, dict) or k not in entry
        ]
        if missing:
            logger.error(f"{batch_file}: tasks[{index}]: missing {missing[0]!r}")
            return False

    tasks: dict[object, dict] = {}
    for entry in entries:
        tasks[entry["order_id"]] = loader.load_task_definition(entry["task_id"])

    for order_id in range(1, len(tasks) + 1):
        if order_id not in tasks:
            logger.error(f"Task {order_id} is missing from the batch definition")
            return False

    validators = _validators()
    start = time.perf_counter()
    for entry in entries:
        definition = tasks[entry["order_id"]]
        validate = validators.get(str(definition.get("type")))
        if validate is not None and not _checked(validate, loader, entry, definition):
            logger.error("JSON format does not match schema")
            logger.error(_violation_line(loader, entry["task_id"], definition))
            return False
        for dependency in entry.get("dependencies") or []:
            if dependency not in tasks:
                logger.error(
                    f"Task {entry['order_id']} has a dependency on task "
                    f"{dependency} which is not defined"
                )
                return False
    elapsed_ms = (time.perf_counter() - start) * 1000
    logger.info(f"Batch definition is valid in {elapsed_ms} ms")
    logger.info("Batch definition is valid")
    return True


def _checked(
    validate: Callable[[dict], bool],
    loader: ConfigLoader,
    entry: dict,
    definition: dict,
) -> bool:
    """Run ``validate``, remembering the step so an exception can name it."""
    _current_step.update(
        file=_task_file(loader, entry["task_id"]), definition=definition
    )
    result = validate(definition)
    _current_step.clear()
    return result


def _violation_line(loader: ConfigLoader, task_id: str, definition: dict) -> str:
    """``<file>: <json path>: <message> (value: ...)`` for an invalid step."""
    from opentaskpy.config import schemas

    kind = str(definition.get("type"))
    finder = getattr(schemas, "find_violation", None)
    violation = finder(kind, definition) if finder else None
    detail = violation.describe() if violation else f"does not match the {kind} schema"
    return f"{_task_file(loader, task_id)}: {detail}"


def _task_file(loader: ConfigLoader, task_id: str) -> str:
    finder = getattr(loader, "find_task_file", None)
    try:
        return str(finder(task_id)) if finder else f"task {task_id}"
    except Exception:
        return f"task {task_id}"


def _run() -> int:
    """Run ``main()`` from the command line; return the exit status.

    A user mistake (unknown task id, bad JSON, ...) is reported as one line
    on stderr; the traceback is shown only at DEBUG level (``-v 3``).
    """
    try:
        return 0 if main() else 1
    except Exception as exc:
        ctx = ErrorContext(
            config_dir=CONFIG_PATH,
            task_id=_requested_task_id(),
            task_file=_current_step.get("file"),
            definition=_current_step.get("definition"),
        )
        emit_error_line(PROG, describe_error(exc, ctx), ctx.task_id)
        if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            raise
        return 1


def _requested_task_id() -> str | None:
    args, _ = _parser().parse_known_args()
    return str(args.taskId)


def console_main() -> None:
    """Console-script entry: exit 0 for a valid batch, 1 otherwise.

    The reference's console script exits with ``main()``'s boolean, i.e. 1 for
    valid and 0 for invalid (upstream quirk, cli.md §2.2); we fix that here.
    """
    sys.exit(_run())


if __name__ == "__main__":
    sys.exit(_run())
