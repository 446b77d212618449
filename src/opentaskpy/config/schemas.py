"""JSON Schema validation of transfer, execution and batch definitions.

Every schema is Draft 2020-12; ``$ref`` URIs are resolved by
:mod:`opentaskpy.config.schema_registry` (``http://localhost/<rest>`` → core
schema root, ``file://`` → disk, relative refs against the retrieval URI).

Failures of the document itself return ``False`` after printing (stdout) and
logging (ERROR) one line naming the JSON path, the jsonschema message and the
offending value. Problems with the protocol itself propagate:

* addon package not importable → ``ModuleNotFoundError`` (spec type; the
  message names the protocol);
* no schema file for the protocol →
  :class:`~opentaskpy.config.schema_registry.SchemaNotFoundError`, a subclass
  of ``referencing.exceptions.Unresolvable`` (the spec's
  ``Unresolvable: <uri>``) whose text also names the protocol and the missing
  path. We check the file up front rather than letting jsonschema wrap the
  retrieval failure, because that message only contains the URI.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from opentaskpy.config.schema_errors import SchemaViolation, describe_all
from opentaskpy.config.schema_registry import (
    CORE_SCHEMA_ROOT,
    REGISTRY,
    SchemaNotFoundError,
    schema_uri,
)
from opentaskpy.otflogging import init_logging

__all__ = [
    "BATCH_SCHEMA",
    "EXECUTION_SCHEMA",
    "SCHEMAS",
    "TRANSFER_SCHEMA",
    "DefaultValidatingValidator",
    "SchemaNotFoundError",
    "SchemaViolation",
    "find_violation",
    "validate_batch_json",
    "validate_execution_json",
    "validate_json",
    "validate_transfer_json",
]

logger = init_logging(__name__)

SCHEMAS: Path = CORE_SCHEMA_ROOT

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_PROTOCOL = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}
_WITH_PROTOCOL = {
    "type": "object",
    "properties": {"protocol": _PROTOCOL},
    "required": ["protocol"],
}

TRANSFER_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "source": _WITH_PROTOCOL,
        "destination": {"type": "array", "items": _WITH_PROTOCOL},
        "variables": {"type": "object"},
    },
    "required": ["type", "source"],
}

EXECUTION_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "protocol": _PROTOCOL,
        "variables": {"type": "object"},
    },
    "required": ["type", "protocol"],
}

BATCH_SCHEMA: dict[str, Any] = {
    "$schema": _DIALECT,
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "tasks": {
            "type": "array",
            "items": {"$ref": "http://localhost/batch/tasks.json"},
        },
    },
    "required": ["type", "tasks"],
}

# The reference extends Draft 2020-12 to write ``default`` values into the
# instance, yet with its ``$ref``-only defaults nothing is ever injected.
# We keep the class name for compatibility but deliberately leave the
# ``properties`` keyword untouched: documents are never mutated.
DefaultValidatingValidator = extend(Draft202012Validator, {})

_validators: dict[tuple[str, ...], Validator] = {}
_validators_lock = threading.Lock()


def _validator(key: tuple[str, ...], schema: dict[str, Any]) -> Validator:
    """Return the cached validator for ``key``, compiling ``schema`` once."""
    with _validators_lock:
        found = _validators.get(key)
        if found is None:
            found = DefaultValidatingValidator(schema, registry=REGISTRY)
            _validators[key] = found
        return found


def _transfer_errors(
    doc: dict[str, Any],
) -> tuple[Iterator[ValidationError], dict[str, int]]:
    base = _validator(("transfer",), TRANSFER_SCHEMA)
    errors = list(base.iter_errors(doc))
    if errors:
        return iter(errors), {}

    source_uri = schema_uri(
        doc["source"]["protocol"]["name"], "transfer/{short}_source.json"
    )
    dest_uris: list[str] = []
    branch_for: dict[str, int] = {}
    for dest in doc.get("destination") or []:
        name = dest["protocol"]["name"]
        uri = schema_uri(name, "transfer/{short}_destination.json")
        if uri not in dest_uris:
            dest_uris.append(uri)
        branch_for[name] = dest_uris.index(uri)

    schema = copy.deepcopy(TRANSFER_SCHEMA)
    schema["properties"]["source"] = {"$ref": source_uri}
    if dest_uris:
        schema["properties"]["destination"] = {
            "type": "array",
            "items": {"oneOf": [{"$ref": uri} for uri in dest_uris]},
        }
    validator = _validator(("transfer", source_uri, *dest_uris), schema)
    return validator.iter_errors(doc), branch_for


def _execution_errors(doc: dict[str, Any]) -> Iterator[ValidationError]:
    base = _validator(("execution",), EXECUTION_SCHEMA)
    errors = list(base.iter_errors(doc))
    if errors:
        return iter(errors)
    uri = schema_uri(doc["protocol"]["name"], "execution/{short}/{short}.json")
    return _validator(("execution", uri), {"$ref": uri}).iter_errors(doc)


def find_violation(kind: str, json_data: dict[str, Any]) -> SchemaViolation | None:
    """Validate a task definition and return its most relevant violation.

    Args:
        kind: ``"transfer"``, ``"execution"`` or ``"batch"``.
        json_data: the task definition; it is not modified.

    Returns:
        ``None`` when valid, otherwise the violation to report.

    Raises:
        ValueError: unknown ``kind``.
        ModuleNotFoundError: an addon protocol's package cannot be imported.
        SchemaNotFoundError: no schema file exists for a protocol.
    """
    branch_for: dict[str, int] = {}
    if kind == "transfer":
        errors, branch_for = _transfer_errors(json_data)
    elif kind == "execution":
        errors = _execution_errors(json_data)
    elif kind == "batch":
        errors = _validator(("batch",), BATCH_SCHEMA).iter_errors(json_data)
    else:
        raise ValueError(f"Unknown task kind {kind!r}")
    return describe_all(list(errors), json_data, branch_for)


def validate_json(kind: str, json_data: dict[str, Any]) -> bool:
    """Validate a definition of task type ``kind`` like ``validate_<kind>_json``."""
    return _report(kind, json_data)


def _report(kind: str, json_data: dict[str, Any]) -> bool:
    violation = find_violation(kind, json_data)
    if violation is None:
        return True
    line = violation.describe()
    print(line)
    logger.error(line)
    return False


def validate_transfer_json(json_data: dict[str, Any]) -> bool:
    """Validate a transfer definition against its protocol's schemas.

    Returns:
        ``True`` when valid; otherwise prints and logs the error and returns
        ``False``.
    """
    return _report("transfer", json_data)


def validate_execution_json(json_data: dict[str, Any]) -> bool:
    """Validate an execution definition against its protocol's schemas.

    Returns:
        ``True`` when valid; otherwise prints and logs the error and returns
        ``False``.
    """
    return _report("execution", json_data)


def validate_batch_json(json_data: dict[str, Any]) -> bool:
    """Validate a batch definition and its step list.

    Returns:
        ``True`` when valid; otherwise prints and logs the error and returns
        ``False``.
    """
    return _report("batch", json_data)
