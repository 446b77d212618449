"""Turn an exception from loading or running a task into one clear line.

The CLI entry points print that line (``task-run: error: <line>``) instead of
a traceback for user mistakes: it names the file and, where there is one,
the field or line, e.g. ``/cfg/x.json: line 3 column 5: Expecting ','
delimiter``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from opentaskpy import exceptions as otf_exceptions
from opentaskpy import otflogging
from opentaskpy.cli import error_locate as loc

if TYPE_CHECKING:
    import jinja2

CORE_PROTOCOLS = {"ssh", "sftp", "local", "email", "dummy"}
_VARIABLES_MISSING = "Couldn't find any variables"
_VARIABLES_FILE = "Couldn't find variables file"


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
        text = _plain(exc)
    return " ".join(text.split("\n"))


def _describe(exc: BaseException, ctx: ErrorContext) -> str:
    exc = _original(exc)
    if isinstance(exc, otflogging.InvalidNameError):
        return str(exc)  # names the option or variable already
    protocol = _unknown_protocol(exc, ctx)
    if protocol:
        return protocol
    chain = loc.exception_chain(exc)
    decode = next((e for e in chain if isinstance(e, json.JSONDecodeError)), None)
    if decode is not None:
        return _json_error(decode, ctx)
    syntax_type = _jinja2_type("TemplateSyntaxError") or ()
    syntax = next((e for e in chain if isinstance(e, syntax_type)), None)
    if syntax is not None:
        return _syntax_error(cast("jinja2.TemplateSyntaxError", syntax), ctx)
    plugin = getattr(exc, "otf_lookup_plugin", None) or loc.innermost_local(
        exc, loc.LOOKUP_FRAME, "plugin"
    )
    if isinstance(plugin, str):
        return _lookup_error(exc, plugin, ctx)
    if isinstance(exc, _jinja2_type("UndefinedError") or ()):
        return _undefined_error(exc, ctx)
    message = str(exc)
    if isinstance(exc, FileNotFoundError) and not os.path.isdir(ctx.config_dir):
        return f"{ctx.config_dir}: config directory does not exist ({message})"
    if isinstance(exc, FileNotFoundError) and message.startswith(_VARIABLES_MISSING):
        return message
    if isinstance(exc, FileNotFoundError) and message.startswith(_VARIABLES_FILE):
        return f"{message} (set by OTF_VARIABLES_FILE)"
    if isinstance(exc, otf_exceptions.VariableResolutionTooDeepError):
        where = loc.annotated_file(exc) or _variables_label(ctx)
        details = [
            m.group(1)
            for note in getattr(exc, "__notes__", [])
            if (m := re.search(r"\((variables not converging: .*)\)$", note))
        ]
        return f"{where}: {message}" + "".join(f" ({d})" for d in details)
    if isinstance(exc, otf_exceptions.DuplicateConfigFileError):
        task_id = _loading_task_id(exc, ctx)
        matches = loc.task_files(ctx.config_dir, task_id) if task_id else []
        suffix = f" ({', '.join(matches)})" if matches else ""
        return f"{_where_loaded(exc, ctx)}: {message}{suffix}"
    return _prefixed(loc.annotated_file(exc) or _where_loaded(exc, ctx), _plain(exc))


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


def _plain(exc: BaseException) -> str:
    message = str(exc)
    name = type(exc).__name__
    if (
        isinstance(exc, FileNotFoundError)
        or type(exc).__module__ == otf_exceptions.__name__
        or name == "PluginNotFoundError"
    ):
        return message or name
    return f"{name}: {message}" if message else name


def _variables_label(ctx: ErrorContext) -> str:
    return ", ".join(loc.variables_files(ctx.config_dir)) or ctx.config_dir


def _loading_task_id(exc: BaseException, ctx: ErrorContext) -> str | None:
    task_id = loc.innermost_local(exc, loc.LOAD_TASK_FRAME, "task_id")
    return task_id if isinstance(task_id, str) else None


def _file_for_task(task_id: str | None, ctx: ErrorContext) -> str | None:
    if task_id is None:
        return None
    if task_id == ctx.task_id and ctx.task_file:
        return ctx.task_file
    matches = loc.task_files(ctx.config_dir, task_id)
    return matches[0] if len(matches) == 1 else None


def _where_loaded(exc: BaseException, ctx: ErrorContext) -> str:
    """Return the file being loaded when ``exc`` happened (or a fallback)."""
    task_id = _loading_task_id(exc, ctx)
    if task_id is not None and task_id != ctx.task_id:
        # A batch loading one of its steps: name the batch file, the message
        # names the step.
        return ctx.task_file or _file_for_task(ctx.task_id, ctx) or ctx.config_dir
    return ctx.task_file or _file_for_task(task_id, ctx) or ctx.config_dir


def _candidates(exc: BaseException, ctx: ErrorContext) -> list[str]:
    """Files the error may come from, most likely first."""
    first = [f for f in (_file_for_task(_loading_task_id(exc, ctx), ctx),) if f]
    rest = loc.variables_files(ctx.config_dir) + loc.config_files(ctx.config_dir)
    ordered: list[str] = []
    for path in first + rest:
        if path not in ordered:
            ordered.append(path)
    return ordered


def _json_error(err: json.JSONDecodeError, ctx: ErrorContext) -> str:
    # The loader re-raises with the file prepended to ``msg`` and records it
    # as ``otf_config_file``; the original error is the cause.
    inner = err.__cause__ if isinstance(err.__cause__, json.JSONDecodeError) else err
    position = f"line {err.lineno} column {err.colno}: {inner.msg}"
    where = getattr(err, "otf_config_file", None)
    if isinstance(where, str) and where:
        return f"{where}: {position}"
    path = loc.file_with_text(_candidates(err, ctx), err.doc)
    if path:
        return f"{path}: {position}"
    # Valid before rendering, invalid after: the templates produced bad JSON.
    where = _file_for_task(_loading_task_id(err, ctx), ctx) or _where_loaded(err, ctx)
    return f"{where} (after rendering templates): {position}"


def _syntax_error(err: jinja2.TemplateSyntaxError, ctx: ErrorContext) -> str:
    message = f"template syntax error: {err.message}"
    if err.filename and os.path.isfile(err.filename):
        return f"{err.filename}: line {err.lineno}: {message}"
    source = getattr(err, "source", None)
    if isinstance(source, str):
        path = loc.file_with_text(_candidates(err, ctx), source)
        if path:
            return f"{path}: line {err.lineno}: {message}"
    # The variables are rendered as one serialised document: find the value
    # that does not compile on its own.
    import jinja2  # already loaded: the error came from it

    env = jinja2.Environment()

    def broken(value: str) -> bool:
        try:
            env.parse(json.dumps(value))
        except jinja2.TemplateSyntaxError:
            return True
        return False

    found = loc.find_leaf(loc.variables_files(ctx.config_dir), broken)
    if found:
        return f"{found[0]}: {found[1]}: {message}"
    return _prefixed(err.filename or _where_loaded(err, ctx), message)


def _undefined_error(err: BaseException, ctx: ErrorContext) -> str:
    message = str(err)
    where = loc.annotated_file(err)
    if where and message.startswith(f"{where}: "):
        # Already named by the loader; add the line for task files.
        rest = message[len(where) + 2 :]
        line = loc.template_line(err, where) if os.path.isfile(where) else None
        if line and not rest.startswith("variable '"):
            return f"{where}: line {line}: {rest}"
        return message
    match = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", message)
    name = (match.group(1) or match.group(2)) if match else None
    pattern = loc.name_in_template(name) if name else None
    return f"{_template_location(err, ctx, pattern)}: {message}"


def _lookup_error(err: BaseException, plugin: str, ctx: ErrorContext) -> str:
    inner = _plain(err)
    if type(err) is KeyError:
        inner = f"plugin not found ({inner})"
    where = _template_location(err, ctx, loc.lookup_call(plugin))
    if f"lookup plugin '{plugin}'" in inner:
        return f"{where}: {inner}"
    return f"{where}: lookup plugin '{plugin}' failed: {inner}"


def _template_location(
    err: BaseException, ctx: ErrorContext, pattern: re.Pattern[str] | None
) -> str:
    """``file: line N`` (task files) or ``file: json.path`` (variables)."""
    variables = loc.variables_files(ctx.config_dir)
    annotated = loc.annotated_file(err)
    if annotated is None:
        task_file = _file_for_task(_loading_task_id(err, ctx), ctx)
    elif annotated not in variables and os.path.isfile(annotated):
        task_file = annotated
    else:
        task_file = None
    if task_file:
        line = loc.template_line(err, task_file)
        if line and (pattern is None or pattern.search(loc.line_text(task_file, line))):
            return f"{task_file}: line {line}"
        if pattern is not None:
            line = loc.line_matching(task_file, pattern)
            if line:
                return f"{task_file}: line {line}"
    if pattern is not None:
        regex = pattern
        found = loc.find_leaf(variables, lambda v: bool(regex.search(v)))
        if found:
            return f"{found[0]}: {found[1]}"
    return task_file or annotated or _variables_label(ctx)


def _unknown_protocol(exc: BaseException, ctx: ErrorContext) -> str | None:
    """Describe an unresolvable protocol (schema, addon import or handler)."""
    fields = loc.protocol_fields(ctx.definition)
    unresolvable = _unresolvable_type()
    name: str | None = None
    detail = ""
    label = "unknown protocol"
    for item in loc.exception_chain(exc):
        if isinstance(item, otf_exceptions.UnknownProtocolError):
            name, detail = _named_protocol(str(item))
            detail = detail or "no handler class can be imported"
            if str(item).startswith("Protocol "):
                label = "protocol"
            break
        if unresolvable is not None and isinstance(item, unresolvable):
            name = getattr(item, "protocol", None)
            missing = getattr(item, "path", None)
            ref = str(getattr(item, "ref", "") or item)
            if missing:
                detail = f"no schema file {missing}"
            else:
                # The protocol's own schema exists; something it refers to
                # does not.
                label = "protocol"
                detail = f"its schema refers to a missing file: {ref}"
            name = name or _protocol_for_schema(ref, fields)
            break
        if isinstance(item, ModuleNotFoundError) and _in_validation(item):
            name, detail = _named_protocol(str(item))
            detail = detail or f"cannot import {item.name}"
            if str(item).startswith("Protocol "):
                label = "protocol"
            name = name or next(
                (n for _, n in fields if item.name and n.startswith(f"{item.name}.")),
                None,
            )
            break
    else:
        return None
    if name is None:
        name = next((n for _, n in fields if n not in CORE_PROTOCOLS), "?")
    where = ctx.task_file or _where_loaded(exc, ctx)
    field_path = next((p for p, n in fields if n == name), None)
    at = f" at {field_path}" if field_path else ""
    return f"{where}: {label} '{name}'{at} ({detail})"


def _jinja2_type(name: str) -> type[BaseException] | None:
    """``jinja2.<name>`` if jinja2 is loaded (see :func:`_unresolvable_type`).

    Tasks without templates never import jinja2.
    """
    found = getattr(sys.modules.get("jinja2"), name, None)
    return found if isinstance(found, type) else None


def _unresolvable_type() -> type[BaseException] | None:
    """``referencing.exceptions.Unresolvable`` if ``referencing`` is loaded.

    Looked up in ``sys.modules`` rather than imported: no exception can be an
    instance of it unless the module was imported, and importing it (with
    ``attrs``) on every start-up would cost more than the rest of the CLI.
    """
    module = sys.modules.get("referencing.exceptions")
    found = getattr(module, "Unresolvable", None)
    return found if isinstance(found, type) else None


def _named_protocol(message: str) -> tuple[str | None, str]:
    """Protocol name and reason from ``Unknown protocol 'x': reason`` texts."""
    found = re.search(
        r"(?:Unknown protocol|^Protocol) '?([^'\s]+?)'?(?::\s*(.*))?$", message
    )
    if not found:
        return None, ""
    return found.group(1), found.group(2) or ""


def _in_validation(exc: BaseException) -> bool:
    return loc.has_frame(
        exc, lambda _file, func: func.startswith("validate_") and func.endswith("_json")
    )


def _protocol_for_schema(ref: str, fields: list[tuple[str, str]]) -> str | None:
    for _, name in fields:
        short = name.split(".")[-2] if "." in name else name
        if re.search(rf"/{re.escape(short)}(_source|_destination)?\.json$", ref) or (
            f"/{short}/{short}.json" in ref
        ):
            return name
    return None


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
