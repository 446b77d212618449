"""``task-run --plan``: print what a task would do, change nothing, exit 0.

Chosen for "writes nothing": no log file (``OTF_NO_LOG`` is set for the
plan), no run record, no overlap lock, no validation-cache entry, and
nothing at any source or destination (the source is listed and stat'ed,
watches are shown as conditions). The run store is only read. The one
thing a connection may still write is the user's known_hosts file, when a
host is met for the first time (trust on first use, as any run would).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime


def run_plan(args: argparse.Namespace, config_dir: str) -> int:
    """Build and print the plan of ``args.taskId``; return the exit status."""
    from opentaskpy import otflogging
    from opentaskpy.cli.error_report import emit_error_line

    task_id = args.taskId
    os.environ["OTF_NO_LOG"] = "1"
    os.environ["OTF_TASK_ID"] = task_id
    os.environ.setdefault(
        "OTF_LOG_RUN_PREFIX", datetime.now().strftime("%Y%m%d-%H%M%S.%f")[:-3]
    )
    if args.runId:
        os.environ["OTF_RUN_ID"] = args.runId
    if args.verbosity is None and "OTF_LOG_LEVEL" not in os.environ:
        os.environ["OTF_LOG_LEVEL"] = "WARNING"  # stdout is the plan
    try:
        otflogging.check_task_id(task_id, "-t")
        plan, notes = _build(task_id, config_dir)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        from opentaskpy.cli.error_report import ErrorContext, describe_error

        line = describe_error(exc, ErrorContext(config_dir, task_id))
        emit_error_line("task-run", line, task_id)
        return 1
    if isinstance(plan, str):  # the definition is invalid
        emit_error_line("task-run", plan, task_id)
        return 1
    if args.json:
        text = json.dumps(plan | {"notes": notes}, indent=2, default=str) + "\n"
    else:
        from opentaskpy.taskhandlers.planview import render

        text = render(plan, notes)
    sys.stdout.write(otflogging.mask_values(text))
    return 0


def _build(task_id: str, config_dir: str) -> tuple[dict | str, list[str]]:
    from opentaskpy import otflogging
    from opentaskpy.config import schemas
    from opentaskpy.config.loader import ConfigLoader
    from opentaskpy.taskhandlers.plan import Planner

    loader = ConfigLoader(config_dir)
    global_variables = loader.get_global_variables()
    otflogging.register_secrets_from(global_variables)
    definition = loader.load_task_definition(task_id)
    otflogging.register_secrets_from(definition)
    kind = definition.get("type")
    if kind not in ("transfer", "execution", "batch"):
        where = _file(loader, task_id)
        return f"{where}: type: unknown or missing task type {kind!r}", []
    violation = schemas.find_violation(kind, definition)
    if violation is not None:
        return f"{_file(loader, task_id)}: {violation.describe()}", []
    planner = Planner(loader, global_variables, config_dir)
    try:
        return planner.plan(task_id, definition), planner.records.notes
    finally:
        planner.records.close()


def _file(loader: object, task_id: str) -> str:
    try:
        return str(loader.find_task_file(task_id))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - only names the file
        return f"task {task_id}"
