"""Template compilation and the iterative rendering rule of the config loader.

The loader renders a text, then re-renders the output until a pass returns
its input unchanged; after ``max_depth`` re-renders it gives up
(config-and-variables.md §5). The helpers here also turn Jinja and JSON
errors into errors that name the file (and, for variables files, the
variable) they come from.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentaskpy.exceptions import VariableResolutionTooDeepError

if TYPE_CHECKING:  # imported where first needed: plain tasks never load jinja2
    import jinja2
    import jinja2.nodes

TOO_DEEP_LOG = (
    "Reached max depth of recursive template evaluation. Please check the task "
    "as variable definitions for infinite recursion"
)
TOO_DEEP_MESSAGE = "Reached max depth of recursive template evaluation"
_DELIMITERS = ("{{", "{%", "{#")
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")

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
    # The complete filter table is callable as globals (§4); ``lookup`` is
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
) -> tuple[str, str]:
    """Re-render ``first`` until a pass returns its input (§5.1 depth rule).

    Args:
        first: the output of the initial render (``R0``).
        render: renders a text (compile + render with the right context).
        logger: where the depth-limit ERROR is logged.
        max_depth: number of re-renders after which the resolution fails.

    Returns:
        ``(final_text, previous_text)``.

    Raises:
        VariableResolutionTooDeepError: the ``max_depth``-th re-render was
            needed. Its ``otf_last_texts`` attribute holds the last two texts.
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
            err = VariableResolutionTooDeepError(TOO_DEEP_MESSAGE)
            err.otf_last_texts = (text, new)  # type: ignore[attr-defined]
            raise err
        if new == text:
            return new, text
        text = new


def named_json_error(err: json.JSONDecodeError, where: str) -> json.JSONDecodeError:
    """Return the same error with ``where`` prefixed to the message; position kept."""
    named = json.JSONDecodeError(f"{where}: {err.msg}", err.doc, err.pos)
    named.otf_config_file = where  # type: ignore[attr-defined]
    return named


def loads_named(text: str, where: str) -> Any:
    """``json.loads`` whose errors name ``where``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise named_json_error(err, where) from err


def undefined_name(err: BaseException) -> str | None:
    """Return the undefined variable / attribute named by a Jinja ``UndefinedError``."""
    match = _UNDEFINED_NAME.search(str(err))
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
) -> jinja2.TemplateSyntaxError:
    """Re-target a syntax error in the merged variables to file and variable."""
    import jinja2

    def broken(text: str) -> bool:
        try:
            env.parse(text)
        except jinja2.TemplateSyntaxError:
            return True
        return False

    found = find_variable(sources, broken)
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
    named.otf_config_file = path  # type: ignore[attr-defined]
    return named


def variables_undefined_error(
    sources: list[VariablesSource], err: jinja2.UndefinedError
) -> jinja2.UndefinedError:
    """Return the ``UndefinedError`` naming the variables file and variable."""
    import jinja2

    name = undefined_name(err)
    found = None
    if name:
        pattern = re.compile(r"\{[{%][^}]*\b" + re.escape(name) + r"\b")
        found = find_variable(sources, lambda text: bool(pattern.search(text)))
    if found:
        where = f"{found[0]}: variable '{found[1]}'"
        path = found[0]
    else:
        path = where = ", ".join(p for p, _ in sources)
    named = jinja2.UndefinedError(f"{where}: {err.message}")
    named.otf_config_file = path  # type: ignore[attr-defined]
    return named


def diverging_keys(texts: tuple[str, str]) -> list[str]:
    """Top-level keys whose values differ between two JSON object texts."""
    try:
        before, after = json.loads(texts[0]), json.loads(texts[1])
    except ValueError:
        return []
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return [key for key in after if before.get(key) != after[key]]


def annotate(exc: BaseException, path: str, detail: str | None = None) -> None:
    """Record the config file on an exception without changing type/message.

    Sets the documented attribute ``otf_config_file`` (unless a more precise
    one is already there) and adds a note for tracebacks.
    """
    if getattr(exc, "otf_config_file", None):
        return
    try:
        exc.otf_config_file = path  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - exotic exception types
        return
    exc.add_note(f"while rendering {path}" + (f" ({detail})" if detail else ""))
