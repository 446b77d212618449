"""TaskHandler.return_result and _set_handler_vars."""

from __future__ import annotations

from pathlib import Path

import pytest
from transfer_helpers import info_logging, only_log  # noqa: F401 - fixtures

from opentaskpy import exceptions, otflogging
from opentaskpy.taskhandlers.taskhandler import (
    DefaultProtocolCharacteristics,
    TaskHandler,
)


class Handler(TaskHandler):
    TASK_TYPE = "T"

    def __init__(self, global_config: dict | None, task_id: str = "th"):
        self.logger = otflogging.init_logging("tests.handler", task_id, "T")
        super().__init__(global_config)

    def run(self) -> bool:
        return True

    def _set_remote_handlers(self) -> None:
        pass


class WantsVars:
    def __init__(self) -> None:
        self.received: dict | None = None

    def set_handler_vars(self, protocol_vars: dict) -> None:
        self.received = protocol_vars


def test_default_protocol_map() -> None:
    transfer_map = TaskHandler.DEFAULT_PROTOCOL_MAP["T"]
    assert transfer_map["ssh"] == DefaultProtocolCharacteristics(
        "opentaskpy.remotehandlers.ssh", "SSHTransfer"
    )
    assert transfer_map["local"].class_ == "LocalTransfer"
    assert set(transfer_map) == {"ssh", "sftp", "email", "local", "dummy"}
    assert TaskHandler.DEFAULT_PROTOCOL_MAP["E"]["local"] == (
        "opentaskpy.remotehandlers.local",
        "LocalExecution",
    )


def test_success_returns_true_and_closes_log() -> None:
    handler = Handler(None, "th-ok")
    handler.logger.info("hello")
    assert handler.return_result(0, "all good") is True
    assert handler.overall_result is True
    log = only_log("th-ok")
    assert log.name.endswith("_T.log")
    assert "all good" in log.read_text()


def test_soft_failure_returns_false() -> None:
    handler = Handler(None, "th-soft")
    assert handler.return_result(1, "not good") is False
    log = only_log("th-soft")
    assert log.name.endswith("_T_failed.log")
    assert "ERROR" in log.read_text() and "not good" in log.read_text()


def test_exception_class_is_raised_with_message_once() -> None:
    handler = Handler(None, "th-class")
    with pytest.raises(exceptions.RemoteTransferError, match="^boom$"):
        handler.return_result(1, "boom", exceptions.RemoteTransferError)
    assert handler.handled_exception is True
    # second report of the same failure (as TaskRun does) just returns
    assert handler.return_result(1, "boom", exceptions.RemoteTransferError) is False


def test_exception_instance_becomes_plain_exception() -> None:
    handler = Handler(None, "th-inst")
    with pytest.raises(Exception, match="^wrapped$") as info:
        handler.return_result(1, "wrapped", ValueError("inner"))
    assert type(info.value) is Exception
    assert isinstance(info.value.__cause__, ValueError)


def test_set_handler_vars_picks_first_matching_entry() -> None:
    config = {
        "global_protocol_vars": [
            {"name": "email", "smtp_server": "first", "smtp_port": 25},
            {"name": "email", "smtp_server": "second"},
        ]
    }
    handler = Handler(config)
    target = WantsVars()
    handler._set_handler_vars("email", target)
    assert target.received == {"smtp_server": "first", "smtp_port": 25}
    assert config["global_protocol_vars"][0]["name"] == "email"  # copy, not mutated


def test_set_handler_vars_skipped_without_config_or_method() -> None:
    target = WantsVars()
    Handler(None)._set_handler_vars("email", target)
    Handler({"other": 1})._set_handler_vars("email", target)
    assert target.received is None
    Handler({"global_protocol_vars": [{"name": "x"}]})._set_handler_vars("x", object())


def test_set_handler_vars_quirks() -> None:
    target = WantsVars()
    with pytest.raises(StopIteration, match="email"):
        Handler({"global_protocol_vars": [{"name": "ssh"}]})._set_handler_vars(
            "email", target
        )
    with pytest.raises(TypeError, match="global_protocol_vars"):
        Handler({"global_protocol_vars": {"name": "email"}})._set_handler_vars(
            "email", target
        )


def test_global_protocol_vars_reach_transfer_handlers(tmp_path: Path) -> None:
    from opentaskpy.taskhandlers.transfer import Transfer

    config = {
        "global_protocol_vars": [
            {"name": "transfer_helpers.VarsSource", "region": "eu"}
        ]
    }
    source = {
        "directory": str(tmp_path),
        "fileRegex": "x",
        "protocol": {"name": "transfer_helpers.VarsSource"},
    }
    obj = Transfer(config, "th-vars", {"type": "transfer", "source": source})
    obj._set_remote_handlers()
    assert obj.source_remote_handler.protocol_vars == {"region": "eu"}
