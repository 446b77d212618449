"""Turn an exception from loading or running a task into one clear line.

The CLI entry points print that line (``task-run: error: <line>``) instead of
a traceback for user mistakes: it names the file and, where there is one,
the field or line, e.g. ``/cfg/x.json: line 3 column 5: Expecting ','
delimiter``. The exceptions carry those parts as fields
(:class:`~opentaskpy.exceptions.OTFError`); this module only formats them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from opentaskpy import otflogging
from opentaskpy.config.locate import plain_text
from opentaskpy.exceptions import OTFError, ProtocolImportError, UnknownProtocolError


@dataclass
class ErrorContext:
    """What the CLI knows about the invocation when an error happens.

    Attributes:
        config_dir: the configuration directory in use.
        task_id: the task id given on the command line.
        task_file: the task's file, when it was found.
        definition: the rendered task definition, when it was loaded.
    """

    config_dir: str
    task_id: str | None = None
    task_file: str | None = None
    definition: dict | None = field(default=None)


def describe_error(exc: BaseException, ctx: ErrorContext) -> str:
    """Return a one-line description of ``exc`` naming the file at fault.

    Args:
        exc: the exception raised while constructing or running the task.
        ctx: what is known about the invocation.

    Returns:
        A single line without trailing newline.
    """
    try:
        text = _describe(exc, ctx)
    except Exception:  # pragma: no cover - the reporter must never fail
        text = plain_text(exc)
    return " ".join(text.split("\n"))


def _describe(exc: BaseException, ctx: ErrorContext) -> str:
    exc = _original(exc)
    if isinstance(exc, otflogging.InvalidNameError):
        return str(exc)  # names the option or variable already
    protocol = _unknown_protocol(exc, ctx)
    if protocol:
        return protocol
    if isinstance(exc, FileNotFoundError) and not os.path.isdir(ctx.config_dir):
        return f"{ctx.config_dir}: config directory does not exist ({exc})"
    where = ctx.task_file or ctx.config_dir
    if not isinstance(exc, OTFError):
        return _prefixed(where, plain_text(exc))
    place = exc.config_file or where
    inside = exc.position or exc.json_path
    if inside:
        place = f"{place}: {inside}"
    return _prefixed(place, exc.summary or plain_text(exc))


def _prefixed(where: str, text: str) -> str:
    """``where: text`` unless the text already names that place."""
    return text if where in text else f"{where}: {text}"


def _original(exc: BaseException) -> BaseException:
    """Skip the bare ``Exception(str(exc))`` wrappers of ``return_result``."""
    while type(exc) is Exception and (exc.__cause__ or exc.__context__):
        inner = exc.__cause__ or exc.__context__
        assert inner is not None
        exc = inner
    return exc


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` followed by its causes/contexts, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _unknown_protocol(exc: BaseException, ctx: ErrorContext) -> str | None:
    """Describe an unresolvable protocol (schema, addon import or handler)."""
    fields = _protocol_fields(ctx.definition)
    not_found = _loaded_type("opentaskpy.config.schema_registry", "SchemaNotFoundError")
    unresolvable = _loaded_type("referencing.exceptions", "Unresolvable")
    for item in _chain(exc):
        if isinstance(item, UnknownProtocolError):
            name = item.protocol
            detail = item.cause or "no handler class can be imported"
            imports = isinstance(item, ProtocolImportError)
            label = "protocol" if imports else "unknown protocol"
            break
        if not_found is not None and isinstance(item, not_found):
            name = item.protocol  # type: ignore[attr-defined]
            detail = f"no schema file {item.path}"  # type: ignore[attr-defined]
            label = "unknown protocol"
            break
        if unresolvable is not None and isinstance(item, unresolvable):
            # The protocol's own schema exists; something it refers to
            # does not.
            ref = str(item.ref)  # type: ignore[attr-defined]
            name = _protocol_for_schema(ref, fields)
            detail = f"its schema refers to a missing file: {ref}"
            label = "protocol"
            break
    else:
        return None
    if name is None:
        from opentaskpy.taskhandlers.protocols import BUILTIN_PROTOCOLS

        core = {n for table in BUILTIN_PROTOCOLS.values() for n in table}
        name = next((n for _, n in fields if n not in core), "?")
    where = ctx.task_file or ctx.config_dir
    field_path = next((p for p, n in fields if n == name), None)
    at = f" at {field_path}" if field_path else ""
    return f"{where}: {label} '{name}'{at} ({detail})"


def _loaded_type(module: str, name: str) -> type[BaseException] | None:
    """``module.name`` if the module is loaded, else ``None``.

    Looked up in ``sys.modules`` rather than imported: no exception can be an
    instance of it unless the module was imported, and importing
    ``referencing`` (with ``attrs``) on every start-up would cost more than
    the rest of the CLI.
    """
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


def _protocol_for_schema(ref: str, fields: list[tuple[str, str]]) -> str | None:
    """Return the definition's protocol whose schema file is ``ref``."""
    for _, name in fields:
        short = name.split(".")[-2] if "." in name else name
        if re.search(rf"/{re.escape(short)}(_source|_destination)?\.json$", ref) or (
            f"/{short}/{short}.json" in ref
        ):
            return name
    return None


def _protocol_fields(definition: dict | None) -> list[tuple[str, str]]:
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


def emit_error_line(prog: str, text: str, task_id: str | None = None) -> None:
    """Print ``<prog>: error: <text>`` on stderr as one line.

    With ``OTF_LOG_JSON=1`` the line is a JSON object like every other stderr
    line, so JSON consumers keep working.

    Args:
        prog: the command name, e.g. ``task-run``.
        text: the description (one line).
        task_id: the task id, for the JSON form.
    """
    line = otflogging.escape_controls(otflogging.redact(f"{prog}: error: {text}"))
    if os.environ.get("OTF_LOG_JSON") == "1":
        line = _json_line(line, task_id)
    print(line, file=sys.stderr, flush=True)


def _json_line(message: str, task_id: str | None) -> str:
    record = logging.LogRecord(
        name="opentaskpy.cli",
        level=logging.ERROR,
        pathname=__file__,
        lineno=0,
        msg=message,
        args=None,
        exc_info=None,
        func="main",
    )
    formatter: Any = otflogging.JSONFormatter(task_id)
    return str(formatter.format(record))
