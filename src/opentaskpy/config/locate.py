"""Where inside a config file a rendering error happened.

Used by the loader when an error leaves a render, so that the error it raises
carries ``line N`` (task files) or the JSON path of the value (variables
files). Nothing here raises: every lookup answers ``None`` when it cannot
tell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from opentaskpy.exceptions import OTFError

# Templates compiled from a bare string (variables, lookup arguments).
TEMPLATE_FILENAME = "<template>"


def template_line(exc: BaseException, path: str) -> int | None:
    """Line of the innermost frame of the template compiled from ``path``.

    Jinja maps the frames of compiled templates to template lines (that is
    how its own tracebacks show them), so the frame's line is the line of
    the task file.
    """
    line = None
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        tb = current.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == path:
                line = tb.tb_lineno
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    return line


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return ""


def line_in_file(
    exc: BaseException, path: str, pattern: re.Pattern[str] | None = None
) -> str | None:
    """``line N`` of ``path`` where ``exc`` happened (checked by ``pattern``).

    The template frame's line is used when it matches ``pattern`` (or there
    is none); otherwise the first line matching ``pattern``.
    """
    lines = _read(path).splitlines()
    line = template_line(exc, path)
    if (
        line
        and 0 < line <= len(lines)
        and (pattern is None or pattern.search(lines[line - 1]))
    ):
        return f"line {line}"
    if pattern is not None:
        for number, text in enumerate(lines, start=1):
            if pattern.search(text):
                return f"line {number}"
    return None


def _leaves(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def leaf_path(
    sources: Iterable[tuple[str, dict]], predicate: Callable[[str], bool]
) -> tuple[str, str] | None:
    """First ``(file, json_path)`` whose string value satisfies ``predicate``."""
    for path, data in sources:
        for found, value in _leaves(data, ""):
            if predicate(value):
                return path, found
    return None


def lookup_in_variables(
    exc: BaseException, sources: Iterable[tuple[str, dict]]
) -> tuple[str | None, str | None]:
    """``(file, json_path)`` of the variable whose lookup raised ``exc``."""
    plugin = exc.plugin if isinstance(exc, OTFError) else None
    if not plugin:
        return None, None
    call = lookup_call(plugin)
    found = leaf_path(sources, lambda value: bool(call.search(value)))
    return found if found else (None, None)


def name_in_template(name: str) -> re.Pattern[str]:
    """Regex matching ``name`` used inside a ``{{ }}`` or ``{% %}`` block."""
    return re.compile(r"\{[{%][^}]*\b" + re.escape(name) + r"\b")


def lookup_call(plugin: str) -> re.Pattern[str]:
    """Regex matching ``lookup('<plugin>'`` with either quote style."""
    return re.compile(r"lookup\(\s*\\?['\"]" + re.escape(plugin) + r"\\?['\"]")


def plain_text(exc: BaseException) -> str:
    """``exc`` in one phrase: our messages as they are, others with their type."""
    message = str(exc)
    # Our own classes (not the wrapped foreign ones, which keep the module
    # of their library) have messages that stand on their own.
    if isinstance(exc, FileNotFoundError) or (
        isinstance(exc, OTFError) and type(exc).__module__.startswith("opentaskpy.")
    ):
        return message or type(exc).__name__
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
