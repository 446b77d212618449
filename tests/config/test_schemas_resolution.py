"""Schema root, inventory, URI retrieval, non-mutation, unknown core protocols."""

from __future__ import annotations

import copy
import importlib
import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from opentaskpy.config import schema_registry, schemas
from opentaskpy.config.schemas import (
    find_violation,
    validate_execution_json,
    validate_transfer_json,
)

INVENTORY = [
    "batch/tasks.json",
    "cacheable_variables.json",
    "execution/local/local.json",
    "execution/local/protocol.json",
    "execution/ssh/ssh.json",
    "execution/ssh/protocol.json",
    "transfer/dummy_source.json",
    "transfer/dummy_source/protocol.json",
    "transfer/email_destination.json",
    "transfer/email/protocol.json",
    "transfer/email/rename.json",
    "transfer/encryption.json",
    "transfer/local_source.json",
    *[
        f"transfer/local_source/{n}.json"
        for n in ("conditionals", "fileWatch", "postCopyAction", "protocol")
    ],
    "transfer/local_destination.json",
    *[
        f"transfer/local_destination/{n}.json"
        for n in ("flags", "permissions", "protocol", "rename")
    ],
    "transfer/sftp_source.json",
    *[
        f"transfer/sftp_source/{n}.json"
        for n in ("conditionals", "fileWatch", "postCopyAction", "protocol")
    ],
    "transfer/sftp_destination.json",
    *[
        f"transfer/sftp_destination/{n}.json"
        for n in ("flags", "permissions", "protocol", "rename")
    ],
    "transfer/ssh_source.json",
    *[
        f"transfer/ssh_source/{n}.json"
        for n in ("conditionals", "fileWatch", "logWatch", "postCopyAction", "protocol")
    ],
    "transfer/ssh_destination.json",
    *[
        f"transfer/ssh_destination/{n}.json"
        for n in ("flags", "permissions", "protocol", "rename")
    ],
]

LOCAL_SRC = {"directory": "/d", "fileRegex": ".*", "protocol": {"name": "local"}}
LOCAL_DST = {"directory": "/in", "protocol": {"name": "local"}}


def test_schema_root_is_the_package_data_directory() -> None:
    expected = Path(str(importlib.resources.files("opentaskpy.config") / "schemas"))
    assert isinstance(schemas.SCHEMAS, Path)
    assert expected == schemas.SCHEMAS
    assert (schemas.SCHEMAS / "transfer" / "ssh_source.json").is_file()


@pytest.mark.parametrize("relative", INVENTORY)
def test_inventory_file_is_a_valid_2020_12_schema(relative: str) -> None:
    path = schemas.SCHEMAS / relative
    contents = json.loads(path.read_text())
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(contents)


def test_module_objects() -> None:
    assert schemas.TRANSFER_SCHEMA["required"] == ["type", "source"]
    assert schemas.EXECUTION_SCHEMA["required"] == ["type", "protocol"]
    assert schemas.BATCH_SCHEMA["required"] == ["type", "tasks"]
    assert issubclass(schemas.DefaultValidatingValidator, object)
    assert schemas.logger.name.startswith("opentaskpy.config.schemas")


def test_default_validating_validator_injects_nothing() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer", "default": 1}},
    }
    doc: dict[str, Any] = {}
    schemas.DefaultValidatingValidator(schema).validate(doc)
    assert doc == {}


@pytest.mark.parametrize(
    "doc",
    [
        {
            "type": "transfer",
            "source": {**LOCAL_SRC, "fileWatch": {}, "conditionals": {}},
            "destination": [
                {**LOCAL_DST, "encryption": {"encrypt": False}},
                {
                    "recipients": ["a@example.com"],
                    "subject": "s",
                    "protocol": {
                        "name": "email",
                        "smtp_server": "m",
                        "sender": "a@example.com",
                    },
                },
            ],
        },
        {
            "type": "transfer",
            "source": {
                "hostname": "h",
                "directory": "/",
                "fileRegex": "x",
                "protocol": {"name": "sftp", "credentials": {"username": "u"}},
            },
        },
        # Invalid documents must not be touched either.
        {"type": "transfer", "source": {**LOCAL_SRC, "bogus": 1}},
    ],
)
def test_validation_does_not_mutate_documents(doc: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    validate_transfer_json(doc)
    assert doc == before


def test_localhost_uris_map_to_the_core_root() -> None:
    resource = schema_registry.retrieve("http://localhost/transfer/encryption.json")
    on_disk = json.loads((schemas.SCHEMAS / "transfer/encryption.json").read_text())
    on_disk.pop("$id", None)
    assert resource.contents == on_disk
    cacheable = schema_registry.retrieve("http://localhost/cacheable_variables.json")
    assert cacheable.contents["required"] == [
        "variableName",
        "cachingPlugin",
        "cacheArgs",
    ]


def test_file_uri_with_special_characters(tmp_path: Path) -> None:
    path = tmp_path / "dir with space%" / "s.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"$id": "http://wrong/x.json", "type": "string"}))
    resource = schema_registry.retrieve(path.as_uri())
    assert resource.contents == {"type": "string"}


def test_changed_file_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"type": "string"}))
    assert schema_registry.retrieve(path.as_uri()).contents == {"type": "string"}
    path.write_text(json.dumps({"type": "integer", "minimum": 2}))
    assert schema_registry.retrieve(path.as_uri()).contents["type"] == "integer"


@pytest.mark.parametrize(
    ("kind", "doc", "missing"),
    [
        ("execution", {"type": "execution", "protocol": {"name": "bogus"}}, "bogus"),
        (
            "transfer",
            {"type": "transfer", "source": {"protocol": {"name": "ftp"}}},
            "ftp",
        ),
        (
            "transfer",
            {
                "type": "transfer",
                "source": LOCAL_SRC,
                "destination": [{"protocol": {"name": "dummy"}}],
            },
            "dummy",
        ),
        (
            "transfer",
            {"type": "transfer", "source": {"protocol": {"name": "email"}}},
            "email",
        ),
    ],
)
def test_unknown_core_protocol_raises_unresolvable(
    kind: str, doc: dict[str, Any], missing: str
) -> None:
    with pytest.raises(Unresolvable) as info:
        find_violation(kind, doc)
    text = str(info.value)
    assert text.startswith("Unresolvable: file://")
    assert f"protocol '{missing}'" in text
    assert "does not exist" in text
    validate = (
        validate_execution_json if kind == "execution" else validate_transfer_json
    )
    with pytest.raises(Unresolvable):
        validate(doc)


@pytest.mark.parametrize(
    ("name"),
    ["plain", "dir with space", "percent%25literal", "caf\u00e9", "hash#q?x", "a%2Fb"],
)
def test_file_uri_to_path_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / name / "s.json"
    assert schema_registry._uri_to_path(path.as_uri()) == path


def test_file_uri_percent_escapes_are_decoded() -> None:
    uri = "file:///tmp/a%20b/caf%C3%A9/100%25.json"
    assert schema_registry._uri_to_path(uri) == Path("/tmp/a b/caf\u00e9/100%.json")
    assert schema_registry._uri_to_path("file://localhost/tmp/x.json") == Path(
        "/tmp/x.json"
    )


def test_non_file_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported URI scheme"):
        schema_registry._uri_to_path("https://example.invalid/x.json")
