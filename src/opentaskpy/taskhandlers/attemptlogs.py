"""Keeping every attempt's log files when a step is tried again.

Every attempt of a step writes the step's usual log file names, which the
next attempt would replace (or append to). When a failed attempt is tried
again, each log file it wrote is renamed with ``_attempt<N>`` before its
state suffix, so the usual names are left to the last attempt and tell the
step's outcome as they do without retries.

For a batch step the attempt's logs are its own and those of every step
below it, nested batches included. Each level that retries adds its own
number, innermost first: ``..._E_attempt2_attempt1_failed.log`` is attempt 2
of a step that has retries itself, in attempt 1 of the batch step around
it. A step inside a retried batch step that has no retries of its own gets
the batch step's number alone (``..._E_attempt1_failed.log``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from opentaskpy.logpaths import TaskFileHandler, file_lock

#: State suffixes of a task log file, the longer ones first.
LOG_STATES = ("_running.log", "_failed.log", ".log")
RUNNING = ("_running.log",)
CLOSED = ("_failed.log", ".log")


def log_state(path: str) -> str | None:
    """Return the state suffix ``path`` ends with, ``None`` if none."""
    return next((state for state in LOG_STATES if path.endswith(state)), None)


def attempt_log_name(path: str, number: int) -> str | None:
    """``path`` with ``_attempt<number>`` before its state suffix, or ``None``.

    ``logs/t/P_E_failed.log`` becomes ``logs/t/P_E_attempt1_failed.log``; a
    name without a state suffix has no attempt name.
    """
    return _tagged(path, (number,))


def _tagged(path: str, numbers: tuple[int, ...]) -> str | None:
    state = log_state(path)
    if state is None:
        return None
    tags = "".join(f"_attempt{number}" for number in numbers)
    return f"{path[: -len(state)]}{tags}{state}"


def next_attempt_handler(
    make_handler: Callable[[], Any],
    previous: Any,
    number: int,
    kept: list[str] | None = None,
) -> Any:
    """Build the next attempt's handler; keep attempt ``number``'s logs beside it.

    A closed log moves once the next handler exists: a nested batch (and
    every batch below it) reads its resume marks from the previous
    attempt's log when it is built. A log still ``_running`` (never closed)
    moves first, before the next handler could write into it; after the
    next handler exists, a ``_running`` file may be its own and stays.

    Args:
        make_handler: builds a fresh handler.
        previous: the handler of attempt ``number``, ``None`` for the first.
        number: the attempt ``previous`` ran.
        kept: if given, the new names of the files moved are added to it
            (a retried batch step around this one renames them again).
    """
    moved = []
    if previous is not None:
        moved += keep_attempt_log(previous, number, RUNNING)
    handler = make_handler()
    if previous is not None:
        moved += keep_attempt_log(previous, number, CLOSED)
    if kept is not None:
        kept.extend(moved)
    return handler


def keep_attempt_log(
    handler: Any, number: int, states: tuple[str, ...] = LOG_STATES
) -> list[str]:
    """Rename the log files attempt ``number`` wrote to their attempt names.

    Only files in one of ``states`` move; a name that is taken is never
    overwritten. For a batch, the logs of its steps (see
    :func:`unit_log_files`) move with it.

    Returns:
        The new names of the files moved.
    """
    moved = []
    for file_handler in _file_handlers(handler):
        new_path = _move(file_handler.baseFilename, (number,), states, file_handler)
        if new_path:
            moved.append(new_path)
    for path, pending in _step_log_files(handler):
        new_path = _move(path, (*pending, number), states)
        if new_path:
            moved.append(new_path)
    return moved


def unit_log_files(unit: dict, retried: bool) -> list[tuple[str, tuple[int, ...]]]:
    """Every log file a finished batch unit wrote, for a retry around its batch.

    Called before the unit drops its handler. Each file comes with the
    attempt numbers to put in its name before the retried batch step's
    own. A step with retries gets its last attempt's number too, so those
    names never meet its own attempts' names in a later attempt of the
    batch step; its earlier attempts' files are named already.

    Args:
        unit: a step (or foreach instance) of a batch, with its last handler.
        retried: whether the step has retries.
    """
    handler = unit.get("task_handler")
    own = (unit.get("attempts") or 1,) if retried else ()
    files: list[tuple[str, tuple[int, ...]]]
    files = [(path, ()) for path in unit.get("attempt_logs", ())]
    if handler is not None:
        files += [(fh.baseFilename, own) for fh in _file_handlers(handler)]
        files += [(path, (*tags, *own)) for path, tags in _step_log_files(handler)]
    return files


def _file_handlers(handler: Any) -> Iterator[TaskFileHandler]:
    for file_handler in getattr(getattr(handler, "logger", None), "handlers", []):
        if isinstance(file_handler, TaskFileHandler):
            yield file_handler


def _step_log_files(handler: Any) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Yield the log files of a batch's finished steps (nothing for a non-batch)."""
    tree = getattr(handler, "task_order_tree", None)
    if not isinstance(tree, dict):
        return
    for entry in tree.values():
        instances = entry.get("instances")
        for unit in instances if instances is not None else [entry]:
            yield from unit.get("log_files", ())


def _move(
    path: str,
    numbers: tuple[int, ...],
    states: tuple[str, ...],
    file_handler: TaskFileHandler | None = None,
) -> str | None:
    """Rename one log file to its attempt name; return the new name if moved."""
    new_path = _tagged(path, numbers)
    with file_lock:
        if new_path is None or log_state(path) not in states:
            return None
        if not os.path.exists(path) or os.path.exists(new_path):
            return None
        if file_handler is not None:
            file_handler.close()
        os.rename(path, new_path)
        if file_handler is not None:
            file_handler.baseFilename = new_path
    return new_path
