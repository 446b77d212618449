"""Find where in the configuration directory an error comes from.

Helpers for :mod:`opentaskpy.cli.error_report`: they map an exception raised
while loading or running a task back to a file (and a line or a JSON path
inside it) by reading the config directory and by looking at the frames of
the exception's traceback. They never raise: every lookup returns ``None``
when it cannot tell.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

# Function names of the spec'd loader API whose frames tell us what was being
# loaded (python-api.md §9).
LOAD_TASK_FRAME = "load_task_definition"
LOOKUP_FRAME = "template_lookup"
TEMPLATE_FILENAME = "<template>"


def exception_chain(exc: BaseException) -> list[BaseException]:
    """Return ``exc`` followed by its causes/contexts, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _tracebacks(exc: BaseException) -> Iterator[TracebackType]:
    for item in exception_chain(exc):
        tb = item.__traceback__
        while tb is not None:
            yield tb
            tb = tb.tb_next


def innermost_local(exc: BaseException, function: str, name: str) -> Any:
    """Value of local ``name`` in the innermost frame running ``function``.

    Args:
        exc: the exception whose traceback (and causes) are searched.
        function: the code object name, e.g. ``load_task_definition``.
        name: the local variable to read.

    Returns:
        The value, or ``None`` when no such frame or local exists.
    """
    found = None
    for tb in _tracebacks(exc):
        frame = tb.tb_frame
        if frame.f_code.co_name == function and name in frame.f_locals:
            found = frame.f_locals[name]
    return found


def has_frame(exc: BaseException, predicate: Callable[[str, str], bool]) -> bool:
    """Whether any traceback frame satisfies ``predicate(filename, function)``."""
    return any(
        predicate(tb.tb_frame.f_code.co_filename, tb.tb_frame.f_code.co_name)
        for tb in _tracebacks(exc)
    )


def template_line(exc: BaseException, filename: str | None = None) -> int | None:
    """Line of the innermost Jinja template frame (Jinja rewrites tracebacks).

    Args:
        exc: the exception raised while rendering.
        filename: the template's file name when it was compiled with one;
            templates compiled from a bare string are ``<template>``.
    """
    names = {TEMPLATE_FILENAME, filename}
    line = None
    for tb in _tracebacks(exc):
        if tb.tb_frame.f_code.co_filename in names:
            line = tb.tb_lineno
    return line


def annotated_file(exc: BaseException) -> str | None:
    """Return the ``otf_config_file`` the config loader recorded, if any."""
    for item in exception_chain(exc):
        where = getattr(item, "otf_config_file", None)
        if isinstance(where, str) and where:
            return where
    return None


def read_text(path: str) -> str | None:
    """Return the file's text, or ``None`` if it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def config_files(config_dir: str) -> list[str]:
    """Every ``*.json``/``*.json.j2`` file under the config dir, sorted."""
    found: set[str] = set()
    for pattern in ("**/*.json", "**/*.json.j2"):
        found.update(glob.glob(f"{config_dir}/{pattern}", recursive=True))
    return sorted(found)


def task_files(config_dir: str, task_id: str) -> list[str]:
    """Files matching ``task_id`` with the loader's suffix rule (config §2.2)."""
    return [
        path
        for path in config_files(config_dir)
        if path.endswith(f"{task_id}.json") or path.endswith(f"{task_id}.json.j2")
    ]


def variables_files(config_dir: str) -> list[str]:
    """Return the variables files the loader reads, in merge order (config §3.1)."""
    override = os.environ.get("OTF_VARIABLES_FILE")
    if override:
        return [path for path in override.split(",") if path]
    files = glob.glob(f"{config_dir}/**/variables.json.j2", recursive=True)
    return files + glob.glob(f"{config_dir}/**/variables.json", recursive=True)


def file_with_text(candidates: list[str], text: str) -> str | None:
    """First candidate whose content is exactly ``text``."""
    for path in candidates:
        if read_text(path) == text:
            return path
    return None


def line_matching(path: str, pattern: re.Pattern[str]) -> int | None:
    """1-based number of the first line of ``path`` matching ``pattern``."""
    text = read_text(path)
    if text is None:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return number
    return None


def line_text(path: str, number: int) -> str:
    """Text of line ``number`` of ``path`` (empty if unavailable)."""
    lines = (read_text(path) or "").splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _leaves(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def find_leaf(
    files: list[str], predicate: Callable[[str], bool]
) -> tuple[str, str] | None:
    """First ``(file, json_path)`` whose string value satisfies ``predicate``.

    Args:
        files: JSON files to search (unparsable files are skipped).
        predicate: test applied to every string value at any depth.

    Returns:
        The file and the dotted path of the value, or ``None``.
    """
    for path in files:
        try:
            data = json.loads(read_text(path) or "")
        except ValueError:
            continue
        for leaf_path, leaf in _leaves(data, ""):
            if predicate(leaf):
                return path, leaf_path
    return None


def name_in_template(name: str) -> re.Pattern[str]:
    """Regex matching ``name`` used inside a ``{{ }}`` or ``{% %}`` block."""
    return re.compile(r"\{[{%][^}]*\b" + re.escape(name) + r"\b")


def lookup_call(plugin: str) -> re.Pattern[str]:
    """Regex matching ``lookup('<plugin>'`` with either quote style."""
    return re.compile(r"lookup\(\s*\\?['\"]" + re.escape(plugin) + r"\\?['\"]")


def protocol_fields(definition: dict | None) -> list[tuple[str, str]]:
    """``(json_path, protocol_name)`` for every protocol in a definition."""
    if not isinstance(definition, dict):
        return []
    fields: list[tuple[str, str]] = []

    def add(path: str, spec: object) -> None:
        if isinstance(spec, dict) and isinstance(spec.get("protocol"), dict):
            name = spec["protocol"].get("name")
            if isinstance(name, str):
                fields.append((f"{path}protocol.name", name))

    add("", definition)
    add("source.", definition.get("source"))
    destinations = definition.get("destination")
    if isinstance(destinations, list):
        for index, dest in enumerate(destinations):
            add(f"destination[{index}].", dest)
    return fields
