"""Finding a task's file from its id among a config directory's files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from opentaskpy.exceptions import DuplicateConfigFileError

_VARIABLES = ("variables.json", "variables.json.j2")


def find_task_file(
    paths: Iterable[str], task_id: str, warned: set[str], logger: Any
) -> str:
    """Return the one file of ``task_id``.

    A file named exactly ``<task_id>.json`` (or ``.json.j2``) wins. Without
    one, a file whose name merely ends with it (``ep10`` finds
    ``sleep10.json``) is still accepted, as the reference does, with a
    warning naming the file chosen (once per id in ``warned``).

    Raises:
        FileNotFoundError: no file matches.
        DuplicateConfigFileError: several files match equally well; the
            note lists them.
    """
    names = (f"{task_id}.json", f"{task_id}.json.j2")
    paths = list(paths)
    exact = [p for p in paths if os.path.basename(p) in names]
    if "/" in task_id:  # sub-directories named in the id: a whole-path match
        exact = [p for p in paths if p.endswith(tuple(f"/{n}" for n in names))]
    matches = exact or [p for p in paths if p.endswith(names)]
    if not matches:
        raise FileNotFoundError(f"Couldn't find task with name: {task_id}")
    if len(matches) > 1:
        message = f"Found more than one task with name: {task_id}"
        files = ", ".join(sorted(matches))
        err = DuplicateConfigFileError(message, summary=f"{message} ({files})")
        err.add_note(f"matching files: {files}")
        raise err
    if not exact and task_id not in warned:
        warned.add(task_id)
        logger.warning(
            f"Task id {task_id!r} matches no file name exactly; using "
            f"{matches[0]} (its name only ends with the id)"
        )
    return matches[0]


def task_ids(paths: Iterable[str]) -> dict[str, str]:
    """Return every task id and its file (variables files are not tasks)."""
    found: dict[str, str] = {}
    for path in sorted(paths):
        name = os.path.basename(path)
        if name not in _VARIABLES:
            found[name.removesuffix(".j2").removesuffix(".json")] = path
    return found
