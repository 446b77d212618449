"""Options shared by ``task-run`` and ``otf-batch-validator``: version, listing."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
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
    """Print every task file of a config directory: id, type, file.

    Every file is listed, also when several share an id (the same name in two
    sub-directories): those rows say so and name the ``-t`` id that finds
    each one alone, and a warning on stderr names the files of each such id.

    Returns:
        The exit status: 0, or 1 when a task file cannot be read or an id
        names several files (``-t`` with that id is an error).
    """
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
    files = loader.task_file_list()
    kinds = [_task_type(f.path) for f in files]
    width = max((len(f.task_id) for f in files), default=0)
    for found, kind in zip(files, kinds, strict=True):
        row = f"{found.task_id:<{width}}  {kind:<9}  {found.path}"
        if found.sharing > 1:
            row += f"  DUPLICATE id ({found.sharing} files): {found.selection}"
        sys.stdout.write(row + "\n")
    duplicates = _warn_duplicates(files)
    return 1 if "?" in kinds or duplicates else 0


def _warn_duplicates(files: list[Any]) -> int:
    """Name on stderr the files of each id that names several; count those ids."""
    by_id: dict[str, list[str]] = {}
    for found in files:
        by_id.setdefault(found.task_id, []).append(found.path)
    shared = {task_id: paths for task_id, paths in by_id.items() if len(paths) > 1}
    for task_id, paths in shared.items():
        sys.stderr.write(
            f"task-run: warning: task id {task_id!r} names {len(paths)} files "
            f"(-t {task_id} is an error): {', '.join(paths)}\n"
        )
    return len(shared)


def _task_type(path: str) -> str:
    """Return a task file's ``type``, ``?`` when it cannot be read."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            return str(json.loads(handle.read()).get("type", "?"))
    except (OSError, ValueError, AttributeError):
        # A templated file need not be JSON before rendering: look for
        # the type without rendering (rendering may call lookups).
        return _type_from_text(path)


def _type_from_text(path: str) -> str:
    import re

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            found = re.search(r'"type"\s*:\s*"(\w+)"', handle.read())
    except OSError:
        return "?"
    return found.group(1) if found else "?"
