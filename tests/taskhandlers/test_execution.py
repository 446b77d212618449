"""Execution task handler with real local commands and a small addon."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import pytest

from opentaskpy import exceptions, otflogging
from opentaskpy.remotehandlers.local import LocalExecution
from opentaskpy.taskhandlers import execution
from opentaskpy.taskhandlers.execution import Execution
from support.helpers import pid_alive, wait_for

pytestmark = pytest.mark.usefixtures("debug_logging")


def local_definition(directory: Path, command: str) -> dict:
    return {
        "type": "execution",
        "directory": str(directory),
        "command": command,
        "protocol": {"name": "local"},
    }


def log_path(task_id: str, state: str = "") -> Path:
    running = otflogging._define_log_file_name(task_id, "E")
    return Path(running.replace("_running", state))


def test_module_constants():
    assert execution.TASK_TYPE == "E"
    assert Execution.TASK_TYPE == "E"


def test_local_success_logs_and_renames(tmp_path: Path):
    task = Execution(None, "exec-echo", local_definition(tmp_path, "echo hi there"))
    assert task.remote_handlers is None
    assert task.run() is True
    assert isinstance(task.remote_handlers[0], LocalExecution)
    assert task.execution_definition["task_id"] == "exec-echo"
    text = log_path("exec-echo").read_text()
    assert "Running execution" in text
    assert "[LOCALHOST] REMOTE OUTPUT: hi there" in text
    assert "[LOCAL] Execution returned True" in text
    assert "All executions completed successfully" in text
    assert not log_path("exec-echo", "_running").exists()


def test_local_failure_returns_false_and_fails_log(tmp_path: Path):
    task = Execution(None, "exec-fail", local_definition(tmp_path, "exit 1"))
    assert task.run() is False
    text = log_path("exec-fail", "_failed").read_text()
    assert "[LOCALHOST] Got return code 1 from command" in text
    assert "[LOCAL] Execution returned False" in text
    assert "Execution(s) failed" in text


def test_no_remote_handlers_fails_without_exception():
    # An empty host list gives no handlers.
    definition = {
        "type": "execution",
        "hosts": [],
        "directory": "/tmp",
        "command": "true",
        "protocol": {"name": "ssh", "credentials": {"username": "nobody"}},
    }
    task = Execution(None, "exec-nohosts", definition)
    assert task.run() is False
    assert task.remote_handlers == []
    assert "No remote handlers set" in log_path("exec-nohosts", "_failed").read_text()


def test_run_twice_on_same_object(tmp_path: Path):
    task = Execution(None, "exec-twice", local_definition(tmp_path, "echo x >> out"))
    assert task.run() is True
    assert task.run() is True
    assert (tmp_path / "out").read_text() == "x\nx\n"


def test_unknown_protocol_raises():
    definition = {"type": "execution", "protocol": {"name": "nosuchprotocol"}}
    task = Execution(None, "exec-unknown", definition)
    with pytest.raises(exceptions.UnknownProtocolError):
        task._set_remote_handlers()


def test_get_remote_host_name():
    task = Execution(None, "exec-host", {"protocol": {"name": "local"}})

    class NoHost:
        pass

    class WithHost:
        remote_host = 1234

    assert task._get_remote_host_name(NoHost()) == "REMOTE"
    assert task._get_remote_host_name(WithHost()) == "1234"


def test_kill_event_stops_process_tree(tmp_path: Path):
    command = "{ sleep 300 & echo $! > sleep.pid; echo started; wait; }"
    task = Execution(None, "exec-kill", local_definition(tmp_path, command))
    event = threading.Event()
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(task.run(event)))
    thread.start()
    try:
        assert wait_for(
            lambda: (
                (tmp_path / "sleep.pid").exists()
                and (tmp_path / "sleep.pid").read_text().strip() != ""
            )
        )
    finally:
        event.set()
        thread.join(60)
    assert not thread.is_alive()
    assert results == [False]
    sleep_pid = int((tmp_path / "sleep.pid").read_text())
    assert wait_for(lambda: not pid_alive(sleep_pid))
    text = log_path("exec-kill", "_failed").read_text()
    assert "Kill event received, stopping threads" in text
    assert "Killing remote processes on LOCAL" in text
    assert "Execution(s) failed - Kill signal received" in text


ADDON = """
from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers.remotehandler import RemoteExecutionHandler


class Recorder(RemoteExecutionHandler):
    TASK_TYPE = "E"

    def __init__(self, spec):
        self.logger = init_logging(__name__, spec["task_id"], self.TASK_TYPE)
        self.protocol_vars = None
        self.tidied = False
        super().__init__(spec)

    def set_handler_vars(self, protocol_vars):
        self.protocol_vars = protocol_vars

    def execute(self):
        if self.spec.get("explode"):
            raise RuntimeError("addon blew up")
        with open(self.spec["marker"], "w") as out:
            out.write(str(self.protocol_vars["colour"]))
        return True

    def tidy(self):
        self.tidied = True
"""


@pytest.fixture
def addon_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = tmp_path / "addons" / "exec_addon_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "recorder.py").write_text(textwrap.dedent(ADDON))
    monkeypatch.syspath_prepend(str(tmp_path / "addons"))
    yield "exec_addon_pkg.recorder.Recorder"
    for name in [m for m in sys.modules if m.startswith("exec_addon_pkg")]:
        del sys.modules[name]


def test_addon_handler_gets_protocol_vars(tmp_path: Path, addon_module: str):
    marker = tmp_path / "marker.txt"
    global_config = {
        "global_protocol_vars": [
            {"name": "other", "colour": "red"},
            {"name": addon_module, "colour": "blue"},
        ]
    }
    definition = {
        "type": "execution",
        "protocol": {"name": addon_module},
        "marker": str(marker),
    }
    task = Execution(global_config, "exec-addon", definition)
    assert task.run() is True
    assert marker.read_text() == "blue"
    handler = task.remote_handlers[0]
    assert handler.protocol_vars == {"colour": "blue"}
    assert handler.tidied is True
    assert "[REMOTE] Execution returned True" in log_path("exec-addon").read_text()


def test_addon_exception_raises_plain_exception(tmp_path: Path, addon_module: str):
    definition = {
        "type": "execution",
        "protocol": {"name": addon_module},
        "explode": True,
    }
    task = Execution(None, "exec-boom", definition)
    with pytest.raises(Exception, match="^Execution\\(s\\) failed$") as info:
        task.run()
    assert type(info.value) is Exception
    text = log_path("exec-boom", "_failed").read_text()
    assert "Thread returned exception" in text
    assert "addon blew up" in text
