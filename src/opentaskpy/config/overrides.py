"""Runtime overrides of variables and task attributes by environment variable.

Global/task variables are overridden by an
environment variable of the same name (or a dotted path into a nested
object); task attributes by ``OTF_OVERRIDE_<TYPE>_<ATTR>_...`` variables.
"""

from __future__ import annotations

import logging
import os

from opentaskpy import otflogging

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

OVERRIDE_PREFIX = "OTF_OVERRIDE_"


def _typed(old: Any, value: str, name: str) -> Any:
    # bool is an int too: int("true") raises ValueError (reference behaviour).
    if not isinstance(old, int):
        return value
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r}: the variable {name} is an "
            "integer, so its override must be a whole number"
        ) from None


def apply_variable_overrides(
    variables: dict, kind: str, logger: logging.Logger
) -> None:
    """Override ``variables`` in place from ``os.environ`` (same name or dotted path).

    Args:
        variables: the variables dict to update.
        kind: ``global`` or ``task`` (used in the log lines).
        logger: where the INFO lines go.

    Raises:
        ValueError: the existing value is an int and the new one is not.
    """
    for name, value in list(os.environ.items()):
        if "." in name:
            parts = name.split(".")
            target: Any = variables
            for part in parts[:-1]:
                if not isinstance(target, dict) or part not in target:
                    break
                target = target[part]
            else:
                if isinstance(target, dict) and parts[-1] in target:
                    target[parts[-1]] = _typed(target[parts[-1]], value, name)
                    otflogging.register_secrets_from({parts[-1]: value})
                    logger.info(
                        f"Overriding nested {kind} variable '{name}' with "
                        "environment variable."
                    )
        elif name in variables:
            old = variables[name]
            variables[name] = _typed(old, value, name)
            # Mask before logging when the name says it is a secret.
            otflogging.register_secrets_from({name: [old, value]})
            logger.info(
                f"Overriding {kind} variable ({name}: {old}) with environment "
                f"variable ({value})"
            )


def override_tokens(name: str) -> list[str]:
    """Split an ``OTF_OVERRIDE_...`` name into path tokens (``!!`` keeps an underscore).

    ``OTF_OVERRIDE_EXECUTION_PROTOCOL!!SOME_ATTRIBUTE`` →
    ``["PROTOCOL", "SOME_ATTRIBUTE"]``.
    """
    tokens: list[str] = []
    while "!!" in name:
        name, last = name.rsplit("!!", 1)
        tokens.insert(0, last)
    # The task-type word (3rd piece) is not checked against the task's type
    # (upstream quirk).
    return name.split("_")[3:] + tokens


def _find_key(data: dict, token: str) -> Any:
    wanted = token.lower()
    for key in data:
        if str(key).lower() == wanted:
            return key
    return None


def _apply(data: Any, tokens: list[str], value: str, logger: logging.Logger) -> None:
    if not isinstance(data, dict) or not tokens:
        return
    key = _find_key(data, tokens[0])
    if key is None:
        return
    rest = tokens[1:]
    if not rest:
        old = data[key]
        data[key] = value
        otflogging.register_secrets_from({str(key): [old, value]})
        logger.info(f"Overriding {key}: {old} with {value}")
        return
    current = data[key]
    if isinstance(current, list):
        try:
            element = current[int(rest[0])]
        except (ValueError, IndexError):
            return
        _apply(element, rest[1:], value, logger)
    else:
        _apply(current, rest, value, logger)


def apply_attribute_overrides(definition: dict, logger: logging.Logger) -> None:
    """Apply every ``OTF_OVERRIDE_*`` variable to ``definition`` in place."""
    for name, value in list(os.environ.items()):
        if name.startswith(OVERRIDE_PREFIX):
            _apply(definition, override_tokens(name), value, logger)
