"""``otf-batch-validator``: check a batch and its steps without running them.

``main()`` is the documented function (returns ``True`` for a
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

from opentaskpy import otflogging
from opentaskpy.cli.error_report import ErrorContext, describe_error, emit_error_line
from opentaskpy.cli.extras import add_version_option, require_task_id
from opentaskpy.config import batch_checks
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.task_files import TaskFile
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
    parser.add_argument("-t", "--taskId", type=str, help="batch id")
    parser.add_argument("-v", "--verbosity", type=int, help=CLI_HELP)
    parser.add_argument(
        "-c", "--configDir", type=str, help=f"config directory (default {CONFIG_PATH})"
    )
    parser.add_argument(
        "--all", action="store_true", help="check every task of the config directory"
    )
    parser.add_argument(
        "--graph",
        choices=("mermaid", "dot", "svg"),
        help="print a picture of the batch (svg needs Graphviz's dot)",
    )
    parser.add_argument(
        "-r", "--runId", type=str, help="with --graph: colour steps by their outcome"
    )
    add_version_option(parser)
    return parser


def main(
    taskId: str | None = None,  # noqa: N803 - spec'd keyword names
    verbosity: int | None = None,
    configDir: str | None = None,  # noqa: N803
) -> bool:
    """Validate batch ``taskId`` and every task it references.

    Every problem is logged before returning; when a step could not be
    loaded or checked at all, its exception is raised after the others were
    logged (the command line reports it as its one error line).

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
    args = None
    if not task_id:
        parser = _parser()
        args = parser.parse_args()
        require_task_id(parser, args, "all")
        task_id, verbosity, config_dir = args.taskId, args.verbosity, args.configDir
    if task_id:  # --all names no task
        otflogging.check_task_id(task_id, "-t")  # before anything is written
    if config_dir:
        CONFIG_PATH = config_dir
    logger = _setup_logging(verbosity)
    loader = ConfigLoader(CONFIG_PATH)
    if args is not None and args.all:
        return _check_all(loader, logger)
    batch = loader.load_task_definition(task_id)
    start = time.perf_counter()
    problems = batch_checks.check_batch(loader, task_id)
    if not _report(problems, logger):
        return False
    if args is not None and args.graph:
        _print_graph(loader, batch, task_id, args.graph, args.runId)
    elapsed_ms = (time.perf_counter() - start) * 1000
    logger.info(f"Batch definition is valid in {elapsed_ms} ms")
    logger.info("Batch definition is valid")
    return True


def _setup_logging(verbosity: int | None) -> logging.Logger:
    level = cli_level(verbosity)
    logging.basicConfig(
        format=otflogging.OTF_LOG_FORMAT,
        level=level,
        handlers=[logging.StreamHandler()],
    )
    logging.getLogger().setLevel(level)
    # Not restored afterwards: the reference leaves it set, callers may rely on it.
    os.environ["OTF_NOOP"] = "true"
    logger = otflogging.init_logging(__name__)
    logger.log(VERBOSE2, f"Log verbosity: {verbosity}")
    return logger


def _report(problems: list[batch_checks.Problem], logger: logging.Logger) -> bool:
    """Log every problem; raise the first one that is an exception.

    The raised one is not logged here: the command line prints it as its
    last line, and once is enough.
    """
    raised = next((p for p in problems if p.error is not None), None)
    for problem in problems:
        if problem.schema:
            logger.error("JSON format does not match schema")
        if problem is not raised:
            logger.error(problem.message)
    if len(problems) > 1:
        logger.error(f"{len(problems)} problems found")
    if raised is not None and raised.error is not None:
        _current_step.update(
            file=raised.file, definition=raised.definition, line=raised.located
        )
        raise raised.error
    return not problems


def _check_all(loader: ConfigLoader, logger: logging.Logger) -> bool:
    """Check every task file of the config directory; log every problem.

    A task id that several files share is a problem of each of them (``-t``
    with it is an error), and each of those files is still checked on its
    own, so its other problems show now rather than once the id is fixed.
    """
    files = loader.task_file_list()
    by_id: dict[str, list[str]] = {}
    for found in files:
        by_id.setdefault(found.task_id, []).append(found.path)
    failed = 0
    for found in files:
        problems = []
        if found.sharing > 1:
            problems.append(_shared_id(found, by_id[found.task_id]))
        checked = batch_checks.check_task(loader, found.task_id, found.path)
        problems += [problem.located for problem in checked]
        for problem in problems:
            logger.error(problem)
        failed += bool(problems)
    shared = sum(1 for paths in by_id.values() if len(paths) > 1)
    note = f", {shared} task id(s) used by more than one file" if shared else ""
    logger.info(f"{len(files)} tasks checked, {failed} with problems{note}")
    return failed == 0


def _shared_id(found: TaskFile, paths: list[str]) -> str:
    """Return the line naming a file whose task id other files have too."""
    others = ", ".join(path for path in paths if path != found.path)
    return (
        f"{found.path}: task id {found.task_id!r} is shared by {found.sharing} "
        f"files (also {others}): -t {found.task_id} is an error; {found.selection}"
    )


def _print_graph(
    loader: ConfigLoader, batch: dict, task_id: str, kind: str, run_id: str | None
) -> None:
    from opentaskpy.cli import graph

    outcomes = graph.run_outcomes(run_id, task_id) if run_id else None
    nodes = graph.describe_steps(loader, batch)
    if kind == "mermaid":
        text = graph.mermaid(nodes, outcomes)
    else:
        text = graph.dot(nodes, task_id, outcomes)
        if kind == "svg":
            text = graph.svg(text)
    sys.stdout.write(text)


def _run() -> int:
    """Run ``main()`` from the command line; return the exit status.

    A user mistake (unknown task id, bad JSON, ...) is reported as one line
    on stderr; the traceback is shown only at DEBUG level (``-v 3``).
    """
    try:
        return 0 if main() else 1
    except Exception as exc:
        from opentaskpy.cli.graph import GraphError

        if isinstance(exc, GraphError):
            emit_error_line(PROG, str(exc), _requested_task_id())
            return 1
        ctx = ErrorContext(
            config_dir=CONFIG_PATH,
            task_id=_requested_task_id(),
            task_file=_current_step.get("file"),
            definition=_current_step.get("definition"),
        )
        text = describe_error(exc, ctx)
        if isinstance(exc, FileNotFoundError) and _current_step.get("line"):
            # A step's task file is missing: the batch file and step say where.
            text = _current_step["line"]
        emit_error_line(PROG, text, ctx.task_id)
        if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            raise
        return 1


def _requested_task_id() -> str | None:
    args, _ = _parser().parse_known_args()
    return str(args.taskId) if args.taskId else None


def console_main() -> None:
    """Console-script entry: exit 0 for a valid batch, 1 otherwise.

    The reference's console script exits with ``main()``'s boolean, i.e. 1 for
    valid and 0 for invalid (upstream quirk); we fix that here.
    """
    sys.exit(_run())


if __name__ == "__main__":
    sys.exit(_run())
