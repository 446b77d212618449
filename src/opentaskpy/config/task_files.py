"""Finding a task's file from its id among a config directory's files."""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Iterable

from opentaskpy.exceptions import DuplicateConfigFileError

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class _TaskFileFields(NamedTuple):
        task_id: str
        path: str
        sharing: int
        select: str | None

else:  # the same named tuple, built without typing
    _TaskFileFields = collections.namedtuple("TaskFile", "task_id path sharing select")

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


class TaskFile(_TaskFileFields):
    """One task file of a config directory, as ``task-run --list`` shows it.

    Attributes:
        task_id: the id its file name gives.
        path: the file.
        sharing: how many files that id names (1: ``-t task_id`` finds this
            one).
        select: an id that finds this file alone, ``None`` if none does.
    """

    __slots__ = ()

    @property
    def selection(self) -> str:
        """How ``-t`` runs this file: ``use -t <id>`` or that no id can."""
        return f"use -t {self.select}" if self.select else "no -t finds it alone"


def task_file_list(paths: Iterable[str], config_dir: str) -> list[TaskFile]:
    """Every task file (variables files are not tasks), duplicates included.

    An id that names several files (the same name in two sub-directories,
    or ``x.json`` next to ``x.json.j2``) is an error for ``-t``; for each
    of those files the shortest id with sub-directories that finds it alone
    is given, if there is one.
    """
    paths = sorted(p for p in paths if os.path.basename(p) not in _VARIABLES)
    ids = {
        p: os.path.basename(p).removesuffix(".j2").removesuffix(".json") for p in paths
    }
    counts: dict[str, int] = {}
    for task_id in ids.values():
        counts[task_id] = counts.get(task_id, 0) + 1
    rows = []
    for path, task_id in ids.items():
        select: str | None = task_id
        if counts[task_id] > 1:
            select = _selecting_id(paths, path, config_dir)
        rows.append(TaskFile(task_id, path, counts[task_id], select))
    return rows


def _selecting_id(paths: list[str], path: str, config_dir: str) -> str | None:
    """Return the shortest ``dir/name`` id that finds ``path`` alone, if any."""
    relative = (
        os.path.relpath(path, config_dir).removesuffix(".j2").removesuffix(".json")
    )
    parts = relative.split(os.sep)
    quiet = logging.getLogger(__name__)
    for start in range(len(parts) - 2, -1, -1):
        candidate = "/".join(parts[start:])
        try:
            # ``path`` ends with ``/<candidate>.json``: an exact match, no warning.
            found = find_task_file(paths, candidate, {candidate}, quiet)
        except (FileNotFoundError, DuplicateConfigFileError):
            continue
        if found == path:
            return candidate
    return None
