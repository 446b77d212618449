"""Template compilation and the iterative rendering rule of the config loader.

The loader renders a text, then re-renders the output until a pass returns
its input unchanged; after ``max_depth`` re-renders it gives up
. The helpers here also turn Jinja and JSON errors into
:class:`~opentaskpy.exceptions.OTFError` instances (still of their jinja2 or
json class) that carry the file and, for variables files, the variable.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable

from opentaskpy.exceptions import OTFError, VariableResolutionTooDeepError, wrap

TYPE_CHECKING = False  # importing typing costs start-up time

if TYPE_CHECKING:  # imported where first needed: plain tasks never load jinja2
    from typing import Any

    import jinja2
    import jinja2.nodes

TOO_DEEP_LOG = (
    "Reached max depth of recursive template evaluation. Please check the task "
    "as variable definitions for infinite recursion"
)
TOO_DEEP_MESSAGE = "Reached max depth of recursive template evaluation"
_DELIMITERS = ("{{", "{%", "{#")
# Patterns used through re's cache: compiled on first use only.
_UNDEFINED_NAME = r"'([^']+)' is undefined|has no attribute '([^']+)'"
# ``{{ NAME }}`` with plain ASCII whitespace: the only template form that
# render_plain substitutes itself.
_PLAIN_NAME = r"\{\{[ \t\n]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n]*\}\}"
# Names Jinja does not look up in the context: constants, keywords and the
# names its compiler defines itself (``self``, and ``loop``/``caller``/... in
# blocks): rendering them is left to Jinja.
_NOT_PLAIN = frozenset(
    {
        *("true", "false", "none", "True", "False", "None"),
        *("and", "or", "not", "in", "is", "if", "else", "elif", "for"),
        *("recursive", "self", "loop", "caller", "varargs", "kwargs", "super"),
    }
)
# Values whose Jinja output is ``str(value)``, exactly as substituted here.
_PLAIN_TYPES = (str, int, float, bool)

# Variables file: (path, parsed top-level object).
VariablesSource = tuple[str, dict]


def json_needs_render(text: str) -> bool:
    """Whether rendering ``text`` could change the JSON document it holds.

    Like :func:`needs_render`, except that line endings and a trailing
    newline are JSON whitespace (a raw carriage return cannot occur in a JSON
    string), so only template delimiters count.
    """
    return "{" in text and any(d in text for d in _DELIMITERS)


def needs_render(text: str) -> bool:
    """Whether rendering ``text`` could return something other than ``text``.

    Without delimiters Jinja only normalises line endings and drops one
    trailing newline, so a text without those renders to itself and the
    (costly) compile can be skipped.
    """
    if "\r" in text or text.endswith("\n"):
        return True
    return "{" in text and any(d in text for d in _DELIMITERS)


def render_plain(text: str, context: Any) -> str | None:
    """Render ``text`` without Jinja when it only substitutes defined names.

    Jinja renders ``{{ NAME }}`` (no filter, no expression) as
    ``str(context[NAME])`` for a defined name, keeps other text as is and
    drops one trailing newline. For a text made only of such references to
    names of ``context`` holding strings, numbers or booleans, this returns
    the same output without importing jinja2 (~30 ms of start-up). Any other
    text (other delimiters, an undefined name, a carriage return, a value of
    another type) returns ``None``: Jinja renders it, with its errors.
    """
    if "\r" in text:
        return None
    if text.endswith("\n"):
        text = text[:-1]
    parts: list[str] = []
    pos = 0
    for found in re.finditer(_PLAIN_NAME, text):
        literal = text[pos : found.start()]
        # A "{" just before "{{" would make Jinja's tag start one earlier.
        if literal.endswith("{") or _has_delimiter(literal):
            return None
        name = found.group(1)
        if name in _NOT_PLAIN or name not in context:
            return None
        value = context[name]
        if type(value) not in _PLAIN_TYPES:
            return None
        parts.append(literal)
        parts.append(str(value))
        pos = found.end()
    tail = text[pos:]
    if _has_delimiter(tail):
        return None
    parts.append(tail)
    return "".join(parts)


def _has_delimiter(text: str) -> bool:
    return "{" in text and any(d in text for d in _DELIMITERS)


def compile_template(
    env: jinja2.Environment,
    source: str | jinja2.nodes.Template,
    path: str | None = None,
) -> jinja2.Template:
    """Compile ``source`` with the file ``path`` recorded as name and filename.

    Syntax errors then carry ``filename``/``name`` and the line, and runtime
    tracebacks point at the file.
    """
    code = env.compile(source, name=path, filename=path)
    # Every filter is also callable as a global function; ``lookup`` is
    # kept even if a custom filter had that name.
    template_globals: dict[str, Any] = dict(env.filters)
    if "lookup" in env.globals:
        template_globals["lookup"] = env.globals["lookup"]
    return env.template_class.from_code(env, code, env.make_globals(template_globals))


def render_until_stable(
    first: str,
    render: Callable[[str], str],
    logger: logging.Logger,
    max_depth: int,
    divergence: Callable[[str, str], str | None] | None = None,
) -> tuple[str, str]:
    """Re-render ``first`` until a pass returns its input.

    Args:
        first: the output of the initial render (``R0``).
        render: renders a text (compile + render with the right context).
        logger: where the depth-limit ERROR is logged.
        max_depth: number of re-renders after which the resolution fails.
        divergence: given the last two texts, says what keeps changing (the
            error's summary); ``None`` when it cannot tell.

    Returns:
        ``(final_text, previous_text)``.

    Raises:
        VariableResolutionTooDeepError: the ``max_depth``-th re-render was
            needed.
    """
    text = first
    depth = 0
    while True:
        new = render(text) if needs_render(text) else text
        depth += 1
        if depth >= max_depth:
            # Reference behaviour: the last re-render is performed (lookups
            # in it run once more) before failing, whatever its outcome.
            logger.error(TOO_DEEP_LOG)
            detail = divergence(text, new) if divergence else None
            err = VariableResolutionTooDeepError(TOO_DEEP_MESSAGE)
            if detail:
                err.summary = f"{TOO_DEEP_MESSAGE} ({detail})"
                err.add_note(f"({detail})")
            raise err
        if new == text:
            return new, text
        text = new


def named_json_error(err: json.JSONDecodeError, path: str, stage: str = "") -> OTFError:
    """Return the same error naming ``path`` (and ``stage``, e.g. after rendering).

    ``str()`` is ``<path><stage>: <message>: line L column C (char N)``; the
    CLI shows ``<path>: line L column C: <message><stage>``.
    """
    named = json.JSONDecodeError(f"{path}{stage}: {err.msg}", err.doc, err.pos)
    return wrap(
        named,
        config_file=path,
        position=f"line {err.lineno} column {err.colno}",
        summary=f"{err.msg}{stage}",
    )


def loads_named(text: str, path: str, stage: str = "") -> Any:
    """``json.loads`` whose errors name ``path`` (see :func:`named_json_error`)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise named_json_error(err, path, stage) from err


def undefined_name(err: BaseException) -> str | None:
    """Return the undefined variable / attribute named by a Jinja ``UndefinedError``."""
    match = re.search(_UNDEFINED_NAME, str(err))
    if not match:
        return None
    return match.group(1) or match.group(2)


def line_of_key(path: str, key: str) -> int:
    """1-based line of ``"key":`` in the file (1 if not found)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return 1
    found = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def find_variable(
    sources: Iterable[VariablesSource], predicate: Callable[[str], bool]
) -> tuple[str, str] | None:
    """First ``(file, key)`` whose serialised value satisfies ``predicate``."""
    for path, data in sources:
        for key, value in data.items():
            if predicate(json.dumps(value)):
                return path, str(key)
    return None


def variables_syntax_error(
    env: jinja2.Environment,
    sources: list[VariablesSource],
    err: jinja2.TemplateSyntaxError,
) -> OTFError:
    """Re-target a syntax error in the merged variables to file and variable."""
    import jinja2

    def broken(text: str) -> bool:
        try:
            env.parse(text)
        except jinja2.TemplateSyntaxError:
            return True
        return False

    found = find_variable(sources, broken)
    key = None
    if found is None:
        path = ", ".join(p for p, _ in sources)
        named = jinja2.TemplateSyntaxError(err.message or "", 1, path, path)
    else:
        path, key = found
        named = jinja2.TemplateSyntaxError(
            f"{err.message} (in variable '{key}')",
            line_of_key(path, key),
            path,
            path,
        )
    return syntax_error(named, path, key)


def syntax_error(
    err: jinja2.TemplateSyntaxError, path: str, key: str | None = None
) -> OTFError:
    """Return a template syntax error in ``path`` (at variable ``key``) for the CLI."""
    return wrap(
        err,
        config_file=path,
        json_path=key,
        position=f"line {err.lineno}",
        summary=f"template syntax error: {err.message}",
    )


def variables_undefined_error(
    sources: list[VariablesSource], err: jinja2.UndefinedError
) -> OTFError:
    """Return the ``UndefinedError`` naming the variables file and variable."""
    import jinja2

    name = undefined_name(err)
    found = None
    if name:
        pattern = re.compile(r"\{[{%][^}]*\b" + re.escape(name) + r"\b")
        found = find_variable(sources, lambda text: bool(pattern.search(text)))
    key = path = None
    if found:
        path, key = found
        where = f"{path}: variable '{key}'"
    else:
        path = where = ", ".join(p for p, _ in sources)
    named = jinja2.UndefinedError(f"{where}: {err.message}")
    return wrap(
        named,
        config_file=path,
        json_path=key,
        position=f"variable '{key}'" if key else None,
        summary=err.message,
    )


def diverging_keys(before_text: str, after_text: str) -> str | None:
    """``variables not converging: A, B`` for two JSON object texts, or ``None``."""
    try:
        before, after = json.loads(before_text), json.loads(after_text)
    except ValueError:
        return None
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    keys = [key for key in after if before.get(key) != after[key]]
    return f"variables not converging: {', '.join(keys)}" if keys else None
