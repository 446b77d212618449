"""Turning jsonschema errors into one clear, secret-free line.

Helpers for :mod:`opentaskpy.config.schemas`: pick the most relevant error of
a failed validation and describe it as ``<json path>: <jsonschema message>
(value: <offending value>)`` without leaking credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jsonschema.exceptions import ValidationError, best_match, relevance

from opentaskpy.otflogging import REDACT_STRING, SENSITIVE_KEY_REGEXES, redact

_SENSITIVE_KEY = re.compile("|".join(SENSITIVE_KEY_REGEXES), re.IGNORECASE)
# Same rule as otflogging.register_secrets_from: identity fields inside a
# credentials block are not secrets.
_NOT_SECRET_KEYS = {"username", "transferusername", "user", "name"}
_MIN_SECRET_LENGTH = 4
_MAX_VALUE_LENGTH = 300


@dataclass(frozen=True)
class SchemaViolation:
    """The most relevant schema violation of a task definition.

    Attributes:
        path: JSON path of the offending value, e.g. ``$.source.protocol``.
        message: the jsonschema message, unchanged apart from masked secrets.
        value: the offending value (secrets masked).
    """

    path: str
    message: str
    value: object

    def describe(self) -> str:
        """Return the one-line description ``<path>: <message> (value: ...)``."""
        try:
            text = json.dumps(self.value, sort_keys=False, default=repr)
        except (TypeError, ValueError):
            text = repr(self.value)
        if len(text) > _MAX_VALUE_LENGTH:
            text = text[: _MAX_VALUE_LENGTH - 3] + "..."
        return redact(f"{self.path}: {self.message} (value: {text})")

    def __str__(self) -> str:
        return self.describe()


def select_error(
    errors: Iterable[ValidationError],
    branch_for: Mapping[str, int] | None = None,
) -> ValidationError | None:
    """Pick the error to report, or ``None`` if there is none.

    Like ``jsonschema.exceptions.best_match``, except that a transfer
    destination's ``oneOf`` failure (at ``$.destination[n]``) on an object
    whose ``protocol.name`` is in ``branch_for`` (the index of the ``oneOf``
    branch holding that protocol's schema) descends
    into that branch only: for a destination ``{"protocol": {"name": "ssh"},
    ...}`` the interesting error is what is wrong with it as an SSH
    destination, not that its name is not ``"local"``.
    """
    errors = list(errors)
    if not errors:
        return None
    top = max(errors, key=relevance)
    path = list(top.absolute_path)
    if (
        branch_for
        and top.validator == "oneOf"
        and len(path) == 2
        and path[0] == "destination"
    ):
        branch = _protocol_branch(top, branch_for)
        if branch is not None:
            sub = [
                e for e in top.context if list(e.relative_schema_path)[:1] == [branch]
            ]
            if sub:
                return select_error(sub, branch_for)
            # Valid under its own schema: the error is about ambiguity.
            return top
    return best_match(errors)


def _protocol_branch(
    error: ValidationError, branch_for: Mapping[str, int]
) -> int | None:
    instance = error.instance
    if not isinstance(instance, dict):
        return None
    protocol = instance.get("protocol")
    if not isinstance(protocol, dict):
        return None
    name = protocol.get("name")
    if not isinstance(name, str):
        return None
    return branch_for.get(name)


def _is_sensitive(key: object, inherited: bool) -> bool:
    return inherited or bool(_SENSITIVE_KEY.search(str(key)))


def _collect_secrets(obj: object, sensitive: bool, found: set[str]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if str(key).lower() in _NOT_SECRET_KEYS:
                continue
            _collect_secrets(value, _is_sensitive(key, sensitive), found)
    elif isinstance(obj, list):
        for item in obj:
            _collect_secrets(item, sensitive, found)
    elif sensitive and isinstance(obj, str) and len(obj) >= _MIN_SECRET_LENGTH:
        found.add(obj)


def _mask(obj: object, sensitive: bool) -> object:
    if isinstance(obj, dict):
        return {
            k: v
            if str(k).lower() in _NOT_SECRET_KEYS
            else _mask(v, _is_sensitive(k, sensitive))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_mask(item, sensitive) for item in obj]
    if sensitive and isinstance(obj, str | int | float) and not isinstance(obj, bool):
        return REDACT_STRING
    return obj


def to_violation(error: ValidationError, document: object) -> SchemaViolation:
    """Describe ``error`` (raised while validating ``document``).

    String values found under sensitive keys (``password``, ``key``,
    ``credentials``, ...) anywhere in ``document`` are masked in both the
    value and the message (where jsonschema quotes them with ``repr``).
    """
    parts = [p for p in error.absolute_path if isinstance(p, str)]
    under_sensitive = any(_SENSITIVE_KEY.search(p) for p in parts) and not (
        parts and parts[-1].lower() in _NOT_SECRET_KEYS
    )
    secrets: set[str] = set()
    _collect_secrets(document, False, secrets)
    message = error.message
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(repr(secret), repr(REDACT_STRING))
    return SchemaViolation(
        path=error.json_path,
        message=message,
        value=_mask(error.instance, under_sensitive),
    )
