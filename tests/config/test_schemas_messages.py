"""What a schema violation looks like: printed line, log record, masking."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from opentaskpy.config.schemas import (
    SchemaViolation,
    find_violation,
    validate_execution_json,
    validate_transfer_json,
)


def ssh_source(**protocol: Any) -> dict[str, Any]:
    return {
        "type": "transfer",
        "source": {
            "hostname": "h",
            "directory": "/d",
            "fileRegex": ".*",
            "protocol": {"name": "ssh", **protocol},
        },
    }


def test_printed_and_logged_line_names_path_message_and_value(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    doc = ssh_source(credentials={"keyFile": "/k/id", "key": "key-contents"})
    with caplog.at_level(logging.ERROR):
        assert validate_transfer_json(doc) is False
    out = capsys.readouterr().out
    # The key's contents are masked; keyFile holds a path, which is not.
    expected = (
        "$.source.protocol.credentials: 'username' is a required property "
        '(value: {"keyFile": "/k/id", "key": "********"})'
    )
    assert out == expected + "\n"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [expected]
    assert errors[0].name.startswith("opentaskpy.config.schemas")


def test_additional_property_message_keeps_jsonschema_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = ssh_source(credentials={"username": "app"})
    doc["source"]["bogus"] = [1, 2]
    assert validate_transfer_json(doc) is False
    out = capsys.readouterr().out.strip()
    assert out.startswith("$.source: ")
    assert "Additional properties are not allowed ('bogus' was unexpected)" in out
    assert '"bogus": [1, 2]' in out
    assert '"username": "app"' in out  # user names stay readable


def test_find_violation_fields() -> None:
    doc = {"type": "batch", "tasks": [{"order_id": 1, "task_id": "a", "timeout": 0}]}
    violation = find_violation("batch", doc)
    assert violation == SchemaViolation(
        path="$.tasks[0].timeout",
        message="0 is less than the minimum of 1",
        value=0,
    )
    assert violation.describe() == (
        "$.tasks[0].timeout: 0 is less than the minimum of 1 (value: 0)"
    )
    assert str(violation) == violation.describe()


def test_find_violation_none_when_valid_and_nothing_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = ssh_source(credentials={"username": "app"})
    assert find_violation("transfer", doc) is None
    assert validate_transfer_json(doc) is True
    assert capsys.readouterr().out == ""


def test_find_violation_unknown_kind() -> None:
    with pytest.raises(ValueError, match="Unknown task kind 'job'"):
        find_violation("job", {"type": "job"})


def test_top_level_violation_path_is_root(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_execution_json({"type": "execution"}) is False
    out = capsys.readouterr().out
    assert out.startswith("$: 'protocol' is a required property (value: ")
    assert '{"type": "execution"}' in out


def test_secrets_are_masked_in_message_and_value(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hunter2-Sup3rSecret"
    doc = {
        "type": "transfer",
        "source": {
            "hostname": "h",
            "directory": "/d",
            "fileRegex": ".*",
            "protocol": {
                "name": "sftp",
                "credentials": {"username": "acme", "password": secret, "pin": 1},
            },
        },
    }
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert violation.path == "$.source.protocol.credentials"
    assert "('pin' was unexpected)" in violation.message
    with caplog.at_level(logging.ERROR):
        assert validate_transfer_json(doc) is False
    out = capsys.readouterr().out
    assert secret not in out
    assert secret not in caplog.text
    assert '"password": "********"' in out
    assert '"username": "acme"' in out


def test_secret_inside_jsonschema_message_is_masked() -> None:
    token = "tok-ABCDEFGH-123"
    doc = {
        "type": "transfer",
        "source": {"protocol": {"name": "dummy"}, "accessToken": token, "x": 1},
    }
    # doc: the value shown is the whole source (token inside);
    # doc2: jsonschema's own message quotes the token.
    doc2 = {
        "type": "transfer",
        "source": {"protocol": {"name": "dummy"}, "accessToken": [token]},
    }
    for document in (doc, doc2):
        violation = find_violation("transfer", document)
        assert violation is not None
        assert token not in violation.describe()
    violation = find_violation("transfer", doc2)
    assert violation is not None
    assert "is not of type 'string'" in violation.message
    assert violation.path == "$.source.accessToken"


def test_long_values_are_truncated() -> None:
    doc = ssh_source(credentials={"username": "app"})
    doc["source"]["bogus"] = "x" * 5000
    violation = find_violation("transfer", doc)
    assert violation is not None
    line = violation.describe()
    assert "('bogus' was unexpected)" in line
    value_part = line.split("(value: ", 1)[1]
    assert len(value_part) < 400
    assert value_part.endswith("...)")


def test_violation_value_is_json_of_the_offending_instance() -> None:
    doc = {
        "type": "transfer",
        "source": {"directory": "/d", "fileRegex": ".*", "protocol": {"name": "local"}},
        "destination": [
            {"directory": "/x", "protocol": {"name": "local"}, "permissions": {"o": 1}}
        ],
    }
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert violation.path == "$.destination[0].permissions"
    assert violation.value == {"o": 1}
    line = violation.describe()
    assert json.loads(line.split("(value: ", 1)[1][:-1]) == {"o": 1}
