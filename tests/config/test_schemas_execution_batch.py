"""Execution and batch definitions against the core schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opentaskpy.config.schemas import (
    find_violation,
    validate_batch_json,
    validate_execution_json,
)

SSH_EXEC: dict[str, Any] = {
    "type": "execution",
    "hosts": ["app1", "app2"],
    "directory": "/opt/app/bin",
    "command": "./rotate_logs.sh --days 7",
    "protocol": {"name": "ssh", "credentials": {"username": "ops"}},
}
LOCAL_EXEC: dict[str, Any] = {
    "type": "execution",
    "directory": "/tmp",
    "command": "echo hello",
    "protocol": {"name": "local"},
}


def with_changes(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


SSH_PROTO = SSH_EXEC["protocol"]


@pytest.mark.parametrize(
    "doc",
    [
        SSH_EXEC,
        with_changes(SSH_EXEC, hosts=[]),
        with_changes(
            SSH_EXEC,
            protocol={
                "name": "ssh",
                "credentials": {"username": "ops", "keyFile": "/k/id_rsa"},
                "port": 2222,
                "hostKeyValidation": True,
                "knownHostsFile": "/k/known_hosts",
            },
        ),
        LOCAL_EXEC,
    ],
)
def test_valid_executions(doc: dict[str, Any]) -> None:
    assert find_violation("execution", doc) is None
    assert validate_execution_json(doc) is True


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        # Upstream quirk: per-task variables make core executions invalid.
        (with_changes(SSH_EXEC, variables={"A": "1"}), "('variables' was unexpected)"),
        (with_changes(LOCAL_EXEC, variables={}), "('variables' was unexpected)"),
        (with_changes(LOCAL_EXEC, hosts=["h"]), "('hosts' was unexpected)"),
        (with_changes(LOCAL_EXEC, description="x"), "('description' was unexpected)"),
        (with_changes(SSH_EXEC, hosts=None), "'hosts' is a required property"),
        (with_changes(SSH_EXEC, hosts="app1"), "'app1' is not of type 'array'"),
        (with_changes(SSH_EXEC, hosts=[1]), "1 is not of type 'string'"),
        (with_changes(SSH_EXEC, directory=None), "'directory' is a required property"),
        (with_changes(SSH_EXEC, command=None), "'command' is a required property"),
        (with_changes(LOCAL_EXEC, command=None), "'command' is a required property"),
        (
            with_changes(LOCAL_EXEC, directory=None),
            "'directory' is a required property",
        ),
        (with_changes(SSH_EXEC, type=None), "'type' is a required property"),
        (with_changes(SSH_EXEC, protocol=None), "'protocol' is a required property"),
        (with_changes(SSH_EXEC, protocol={}), "'name' is a required property"),
        (
            with_changes(SSH_EXEC, protocol={**SSH_PROTO, "timeout": 3}),
            "('timeout' was unexpected)",
        ),
        (
            with_changes(
                SSH_EXEC,
                protocol={"name": "ssh", "credentials": {"username": "u", "key": "k"}},
            ),
            "('key' was unexpected)",
        ),
        (
            with_changes(
                SSH_EXEC,
                protocol={
                    "name": "ssh",
                    "credentials": {"username": "u", "transferUsername": "t"},
                },
            ),
            "('transferUsername' was unexpected)",
        ),
        (
            with_changes(
                SSH_EXEC,
                protocol={
                    "name": "ssh",
                    "credentials": {"username": "u", "password": "p"},
                },
            ),
            "('password' was unexpected)",
        ),
        (
            with_changes(SSH_EXEC, protocol={"name": "ssh", "credentials": {}}),
            "'username' is a required property",
        ),
        (
            with_changes(SSH_EXEC, protocol={"name": "ssh"}),
            "'credentials' is a required property",
        ),
        (
            with_changes(LOCAL_EXEC, protocol={"name": "local", "shell": "bash"}),
            "('shell' was unexpected)",
        ),
        (
            with_changes(SSH_EXEC, protocol={**SSH_PROTO, "port": "22"}),
            "'22' is not of type 'integer'",
        ),
    ],
)
def test_invalid_executions(
    doc: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    violation = find_violation("execution", doc)
    assert violation is not None
    assert message in violation.message
    assert validate_execution_json(doc) is False
    assert message in capsys.readouterr().out


SPEC_BATCH: dict[str, Any] = {
    "type": "batch",
    "tasks": [
        {"order_id": 1, "task_id": "extract-orders", "timeout": 600},
        {"order_id": 2, "task_id": "ship-orders", "dependencies": [1]},
        {
            "order_id": 3,
            "task_id": "notify-ops",
            "dependencies": [1],
            "continue_on_fail": True,
        },
        {
            "order_id": 4,
            "task_id": "cleanup",
            "dependencies": [2, 3],
            "retry_on_rerun": True,
        },
    ],
}


def task_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"order_id": 1, "task_id": "t"}
    entry.update(changes)
    return {"type": "batch", "tasks": [entry]}


@pytest.mark.parametrize(
    "doc",
    [
        SPEC_BATCH,
        {"type": "batch", "tasks": []},
        {**SPEC_BATCH, "variables": {"X": 1}, "description": "d"},
        task_entry(timeout=1),
        task_entry(dependencies=[]),
        task_entry(continue_on_fail=False, retry_on_rerun=False),
        # order_id ordering is the validator CLI's business, not the schema's.
        task_entry(order_id=7, dependencies=[7]),
    ],
)
def test_valid_batches(doc: dict[str, Any]) -> None:
    assert find_violation("batch", doc) is None
    assert validate_batch_json(doc) is True


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        ({"type": "batch"}, "$", "'tasks' is a required property"),
        ({"tasks": []}, "$", "'type' is a required property"),
        ({"type": "batch", "tasks": {}}, "$.tasks", "{} is not of type 'array'"),
        (
            task_entry(timeout=0),
            "$.tasks[0].timeout",
            "0 is less than the minimum of 1",
        ),
        (task_entry(timeout="5"), "$.tasks[0].timeout", "'5' is not of type 'integer'"),
        (
            task_entry(dependencies=[0]),
            "$.tasks[0].dependencies[0]",
            "0 is less than the minimum of 1",
        ),
        (
            task_entry(dependencies=["1"]),
            "$.tasks[0].dependencies[0]",
            "'1' is not of type 'integer'",
        ),
        (
            task_entry(dependencies=1),
            "$.tasks[0].dependencies",
            "is not of type 'array'",
        ),
        (task_entry(order_id="1"), "$.tasks[0].order_id", "is not of type 'integer'"),
        (task_entry(task_id=3), "$.tasks[0].task_id", "3 is not of type 'string'"),
        (task_entry(extra=True), "$.tasks[0]", "('extra' was unexpected)"),
        (
            task_entry(continue_on_fail="yes"),
            "$.tasks[0].continue_on_fail",
            "'yes' is not of type 'boolean'",
        ),
        (
            task_entry(retry_on_rerun=1),
            "$.tasks[0].retry_on_rerun",
            "1 is not of type 'boolean'",
        ),
        (
            {"type": "batch", "tasks": [{"order_id": 1}]},
            "$.tasks[0]",
            "'task_id' is a required property",
        ),
        (
            {"type": "batch", "tasks": [{"task_id": "x"}]},
            "$.tasks[0]",
            "'order_id' is a required property",
        ),
    ],
)
def test_invalid_batches(
    doc: dict[str, Any], path: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    violation = find_violation("batch", doc)
    assert violation is not None
    assert violation.path == path
    assert message in violation.message
    assert validate_batch_json(doc) is False
    out = capsys.readouterr().out
    assert message in out
    assert out.startswith(path + ": ")
