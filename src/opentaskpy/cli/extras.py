"""Options shared by ``task-run`` and ``otf-batch-validator``: version, listing."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def package_version() -> str:
    """Return the installed opentaskpy version (``unknown`` when not installed)."""
    from importlib import metadata

    try:
        return metadata.version("opentaskpy")
    except metadata.PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: print ``<prog> <version>`` and exit 0.

    The version is looked up only when asked for: reading package metadata
    would cost every run start-up time.
    """

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS)
        self.help = "show the version and exit"

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """Give a parser ``--version``."""
    parser.add_argument("--version", action=_VersionAction)


def require_task_id(
    parser: argparse.ArgumentParser, args: Any, *alternatives: str
) -> None:
    """Exit with a usage error when ``-t`` is missing and no alternative was given."""
    if args.taskId or any(getattr(args, name, None) for name in alternatives):
        return
    parser.error("the following arguments are required: -t/--taskId")


def list_tasks(config_dir: str) -> int:
    """Print every task id of a config directory with its type and file.

    Returns:
        The exit status: 0, or 1 when a task file cannot be read.
    """
    import json

    from opentaskpy.config.loader import ConfigLoader

    try:
        loader = ConfigLoader(config_dir)
    except Exception as exc:  # no or broken variables file: one line, no traceback
        from opentaskpy.cli.error_report import (
            ErrorContext,
            describe_error,
            emit_error_line,
        )

        emit_error_line("task-run", describe_error(exc, ErrorContext(config_dir)))
        return 1
    status = 0
    rows = []
    for task_id, path in loader.task_files().items():
        kind = "?"
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            kind = str(json.loads(text).get("type", "?"))
        except (OSError, ValueError, AttributeError):
            # A templated file need not be JSON before rendering: look for
            # the type without rendering (rendering may call lookups).
            kind = _type_from_text(path)
            if kind == "?":
                status = 1
        rows.append((task_id, kind, path))
    width = max((len(row[0]) for row in rows), default=0)
    for task_id, kind, path in rows:
        sys.stdout.write(f"{task_id:<{width}}  {kind:<9}  {path}\n")
    return status


def _type_from_text(path: str) -> str:
    import re

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            found = re.search(r'"type"\s*:\s*"(\w+)"', handle.read())
    except OSError:
        return "?"
    return found.group(1) if found else "?"
