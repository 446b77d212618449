"""Built-in handlers built straight from a spec that has no ``task_id``.

Addon tests and scripts build handlers as ``Class(spec)`` without the
``task_id`` a task handler adds; that must work (logging goes to the console
only) and must not hide the errors the constructor promises.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from opentaskpy.config import schemas
from opentaskpy.remotehandlers.dummy import DummyTransfer
from opentaskpy.taskhandlers.taskhandler import TaskHandler

_SSH_PROTOCOL = {"credentials": {"username": "someone"}}

# A spec per built-in protocol, and the definition that carries it (validated
# below, so each spec is one a real config could hold).
TRANSFER_SPECS: dict[str, tuple[str, dict]] = {
    "ssh": (
        "source",
        {
            "hostname": "127.0.0.1",
            "directory": "/tmp",
            "fileRegex": "x",
            "protocol": {"name": "ssh", **_SSH_PROTOCOL},
        },
    ),
    "sftp": (
        "source",
        {
            "hostname": "127.0.0.1",
            "directory": "/tmp",
            "fileRegex": "x",
            "protocol": {"name": "sftp", **_SSH_PROTOCOL},
        },
    ),
    "email": (
        "destination",
        {
            "recipients": ["someone@127.0.0.1"],
            "subject": "hello",
            "protocol": {
                "name": "email",
                "smtp_server": "127.0.0.1",
                "sender": "otf@example.com",
            },
        },
    ),
    "local": (
        "source",
        {"directory": "/tmp", "fileRegex": "x", "protocol": {"name": "local"}},
    ),
    "dummy": ("source", {"protocol": {"name": "dummy"}}),
}

EXECUTION_SPECS: dict[str, dict] = {
    "ssh": {
        "type": "execution",
        "hosts": ["127.0.0.1"],
        "directory": "/tmp",
        "command": "true",
        "protocol": {"name": "ssh", **_SSH_PROTOCOL},
    },
    "local": {
        "type": "execution",
        "directory": "/tmp",
        "command": "true",
        "protocol": {"name": "local"},
    },
}


def _no_task_log_files() -> bool:
    # Email routes smtplib into the process's wrapper log (by contract); no
    # handler may write a task log named after a missing id.
    return not [p for p in Path("logs").rglob("*") if "None" in str(p)]


def _builtin_class(task_type: str, name: str) -> type:
    where = TaskHandler.DEFAULT_PROTOCOL_MAP[task_type][name]
    return getattr(importlib.import_module(where.module), where.class_)


def test_every_builtin_protocol_has_a_case():
    assert set(TRANSFER_SPECS) == set(TaskHandler.DEFAULT_PROTOCOL_MAP["T"])
    assert set(EXECUTION_SPECS) == set(TaskHandler.DEFAULT_PROTOCOL_MAP["E"])


@pytest.mark.parametrize("name", sorted(TRANSFER_SPECS))
def test_transfer_handler_without_task_id(name: str):
    end, spec = TRANSFER_SPECS[name]
    definition = {"type": "transfer", "source": {"protocol": {"name": "dummy"}}}
    definition[end] = [spec] if end == "destination" else spec
    assert schemas.validate_transfer_json(definition), definition
    assert "task_id" not in spec

    handler = _builtin_class("T", name)(spec)

    assert handler.spec is spec
    assert "task_id" not in spec
    # No task id: the handler's logger is the module's own (console only).
    assert handler.logger.name == type(handler).__module__
    assert _no_task_log_files()


@pytest.mark.parametrize("name", sorted(EXECUTION_SPECS))
def test_execution_handler_without_task_id(name: str):
    spec = EXECUTION_SPECS[name]
    assert schemas.validate_execution_json(spec), spec
    cls = _builtin_class("E", name)
    # Core SSH executions take the host first (one handler per host).
    handler = cls("127.0.0.1", spec) if name == "ssh" else cls(spec)
    assert handler.spec is spec
    assert "task_id" not in spec
    assert "." not in handler.logger.name.removeprefix("opentaskpy.remotehandlers.")
    assert _no_task_log_files()


def _dummy_spec(variable_name: str, cache: Path) -> dict:
    """A dummy source spec, no task_id, caching ``variable_name`` in ``cache``."""
    cacheable = {
        "variableName": variable_name,
        "cachingPlugin": "file",
        "cacheArgs": {"file": str(cache)},
    }
    return {"protocol": {"name": "dummy"}, "cacheableVariables": [cacheable]}


def test_invalid_cacheable_variable_name_raises_value_error(tmp_path: Path):
    cache = tmp_path / "token"
    with pytest.raises(ValueError, match="bad name! is not a valid variable name"):
        DummyTransfer(_dummy_spec("bad name!", cache))
    assert not cache.exists()


def test_cacheable_variable_is_written_without_task_id(tmp_path: Path):
    cache = tmp_path / "token"
    spec = _dummy_spec("accessToken", cache)
    DummyTransfer(spec)
    assert cache.read_text() == str(spec["accessToken"])
