"""Jinja expressions of batch conditions and foreach lists, in a sandbox.

Conditions (``skip_if``, ``check``) and ``foreach`` lists are written by
whoever edits the batch, but they are evaluated inside the scheduler: they
run in Jinja's immutable sandbox (no attribute tricks, no mutation of the
step view) with undefined names as errors, so a typo fails loudly instead of
being false.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentaskpy.exceptions import InvalidConfigError

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

#: Names the scheduler provides next to the batch variables.
RESERVED_NAMES = ("steps", "step", "item", "item_index")

_env: ImmutableSandboxedEnvironment | None = None
_env_lock = threading.Lock()
# Compiled expressions by source: a foreach step evaluates its check per item.
_compiled: dict[str, Any] = {}


class ExpressionError(InvalidConfigError):
    """A condition or foreach expression cannot be compiled or evaluated."""


def environment() -> ImmutableSandboxedEnvironment:
    """Return the shared sandboxed environment (jinja2 imported on first use)."""
    global _env
    with _env_lock:
        if _env is None:
            from jinja2 import StrictUndefined
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            _env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
        return _env


def _where(step: str, field: str, expression: str) -> str:
    return f"step {step}: {field} {expression!r}"


def evaluate(step: str, field: str, expression: str, context: dict[str, Any]) -> Any:
    """Evaluate ``expression`` with ``context``.

    Args:
        step: names the step in the error (e.g. ``3 (load-files)``).
        field: the batch field holding the expression.
        expression: the Jinja expression (no ``{{ }}``).
        context: the names visible to it.

    Raises:
        ExpressionError: it does not compile or cannot be evaluated.
    """
    try:
        compiled = _compiled.get(expression)
        if compiled is None:
            compiled = environment().compile_expression(
                expression, undefined_to_none=False
            )
            _compiled[expression] = compiled
        result = compiled(**context)
        from jinja2 import Undefined

        if isinstance(result, Undefined):
            # A bare unknown name: StrictUndefined raises as soon as it is
            # tested, which must happen here to be reported as ours.
            bool(result)
        return result
    except Exception as exc:
        raise ExpressionError(
            f"{_where(step, field, expression)} cannot be evaluated: {exc}",
            json_path=field,
            cause=str(exc),
        ) from exc


def unknown_names(expression: str, known: set[str]) -> list[str]:
    """Names an expression reads that are neither ``known`` nor reserved.

    Raises:
        ExpressionError: the expression does not compile.
    """
    from jinja2 import meta

    env = environment()
    try:
        ast = env.parse(f"{{{{ {expression} }}}}")
    except Exception as exc:
        raise ExpressionError(f"{expression!r} is not an expression: {exc}") from exc
    names = meta.find_undeclared_variables(ast)
    allowed = known | set(RESERVED_NAMES) | set(env.globals)
    return sorted(name for name in names if name not in allowed)


def check(step: str, field: str, expression: Any, known: set[str]) -> str | None:
    """Why ``expression`` cannot work, or ``None`` if it can.

    Args:
        step: names the step in the message.
        field: the batch field holding the expression.
        expression: the field's value (must be a non-empty string).
        known: the variable names the expression may use.
    """
    if not isinstance(expression, str) or not expression.strip():
        return f"{_where(step, field, str(expression))}: must be a non-empty string"
    try:
        missing = unknown_names(expression, known)
    except ExpressionError as exc:
        return f"{_where(step, field, expression)}: {exc.cause or exc}"
    if missing:
        return (
            f"{_where(step, field, expression)}: unknown name(s) {', '.join(missing)}"
        )
    return None
