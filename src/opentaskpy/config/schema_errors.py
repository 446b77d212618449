"""Turning jsonschema errors into one clear, secret-free line.

Helpers for :mod:`opentaskpy.config.schemas`: pick the most relevant error of
a failed validation and describe it as ``<json path>: <jsonschema message>
(value: <offending value>)`` without leaking credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from jsonschema.exceptions import ValidationError, best_match, relevance

from opentaskpy.redaction import (
    REDACT_STRING,
    is_plain_key,
    is_secret_key,
    mask_secrets,
    redact,
    secret_values,
)

_MAX_VALUE_LENGTH = 300


@dataclass(frozen=True)
class SchemaViolation:
    """The most relevant schema violation of a task definition.

    Attributes:
        path: JSON path of the offending value, e.g. ``$.source.protocol``.
        message: the jsonschema message, unchanged apart from masked secrets.
        value: the offending value (secrets masked).
        every: every violation of the same validation (this one included),
            sorted by path; empty when built by hand.
    """

    path: str
    message: str
    value: object
    every: tuple[SchemaViolation, ...] = field(default=(), compare=False, repr=False)

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


def to_violation(error: ValidationError, document: object) -> SchemaViolation:
    """Describe ``error`` (raised while validating ``document``).

    String values found under sensitive keys (``password``, ``key``,
    ``credentials``, ...) anywhere in ``document`` are masked in both the
    value and the message (where jsonschema quotes them with ``repr``).
    """
    parts = [p for p in error.absolute_path if isinstance(p, str)]
    under_sensitive = any(is_secret_key(p) for p in parts) and not (
        parts and is_plain_key(parts[-1])
    )
    # Only quoted occurrences are replaced, so short secrets are safe too.
    secrets = {s for s in secret_values(document) if s}
    message = error.message
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(repr(secret), repr(REDACT_STRING))
    return SchemaViolation(
        path=error.json_path,
        message=message,
        value=mask_secrets(error.instance, under_sensitive),
    )


def describe_all(
    errors: list[ValidationError],
    document: object,
    branch_for: Mapping[str, int] | None = None,
) -> SchemaViolation | None:
    """Return the most relevant violation, with :attr:`SchemaViolation.every` set.

    Each error jsonschema reports is described by its most specific cause
    (as :func:`select_error` picks it); duplicates are dropped and the rest
    sorted by JSON path.
    """
    best = select_error(errors, branch_for)
    if best is None:
        return None
    every: dict[str, SchemaViolation] = {}
    for error in errors:
        violation = to_violation(select_error([error], branch_for) or error, document)
        every.setdefault(violation.describe(), violation)
    ordered = tuple(sorted(every.values(), key=lambda v: v.path))
    return replace(to_violation(best, document), every=ordered)
