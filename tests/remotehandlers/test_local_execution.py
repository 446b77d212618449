"""LocalExecution runs real shell commands on the worker."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import pytest

from opentaskpy import otflogging
from opentaskpy.remotehandlers.local import LocalExecution
from support.helpers import pid_alive, wait_for

pytestmark = pytest.mark.usefixtures("debug_logging")


def make(task_id: str, directory: Path, command: str) -> LocalExecution:
    return LocalExecution(
        {
            "task_id": task_id,
            "type": "execution",
            "directory": str(directory),
            "command": command,
            "protocol": {"name": "local"},
        }
    )


def log_text(task_id: str) -> str:
    path = Path(otflogging._define_log_file_name(task_id, "E"))
    return path.read_text() if path.exists() else ""


def test_attributes():
    handler = make("attrs", Path("."), "true")
    assert handler.TASK_TYPE == "E"
    assert handler.remote_host == "LOCAL"
    assert 100000 <= handler.random <= 999999
    assert handler.remote_pid is None
    assert handler.ps_regex.startswith(r"(\S+)\s+(\d+)")


def test_output_is_logged_and_runs_in_directory(tmp_path: Path):
    target = tmp_path / "dir with space"
    target.mkdir()
    handler = make("echo-task", target, "echo hello; pwd; echo oops >&2")
    assert handler.execute() is True
    text = log_text("echo-task")
    assert "[LOCALHOST] REMOTE OUTPUT: hello" in text
    assert f"[LOCALHOST] REMOTE OUTPUT: {target}" in text
    assert "[LOCALHOST] REMOTE OUTPUT: oops" in text
    assert f"[LOCALHOST] Found remote PID: {handler.remote_pid}" in text
    assert isinstance(handler.remote_pid, int) and handler.remote_pid > 1
    handler.tidy()


def test_touch_creates_file(tmp_path: Path):
    handler = make("touch-task", tmp_path, "touch created.txt")
    assert handler.execute() is True
    assert (tmp_path / "created.txt").exists()


def test_non_zero_exit_fails(tmp_path: Path):
    handler = make("fail-task", tmp_path, "exit 3")
    assert handler.execute() is False
    assert "[LOCALHOST] Got return code 3 from command" in log_text("fail-task")


def test_missing_directory_fails(tmp_path: Path):
    handler = make("nodir-task", tmp_path / "missing", "touch should-not-exist")
    assert handler.execute() is False
    assert not (tmp_path / "should-not-exist").exists()
    assert "Got return code" in log_text("nodir-task")


def test_output_is_streamed_while_running(tmp_path: Path):
    handler = make(
        "stream-task",
        tmp_path,
        "echo first; while [ ! -f go ]; do sleep 0.05; done; echo second",
    )
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(handler.execute()))
    thread.start()
    try:
        assert wait_for(lambda: "REMOTE OUTPUT: first" in log_text("stream-task"))
        assert "REMOTE OUTPUT: second" not in log_text("stream-task")
    finally:
        (tmp_path / "go").touch()
        thread.join(60)
    assert results == [True]
    assert "REMOTE OUTPUT: second" in log_text("stream-task")


def test_kill_stops_the_whole_tree(tmp_path: Path):
    # One child stays in the shell's process group, one escapes into its own
    # session (only the ps walk can find it); both hold stdout open. The
    # braces keep the background jobs after the wrapper's "cd dir &&".
    command = (
        "{ sleep 300 & echo $! > child.pid; "
        "setsid sleep 301 & echo $! > detached.pid; "
        "echo started; wait; }"
    )
    handler = make("kill-task", tmp_path, command)
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(handler.execute()))
    thread.start()
    try:
        assert wait_for(lambda: "REMOTE OUTPUT: started" in log_text("kill-task"))
    finally:
        if not (tmp_path / "detached.pid").exists():
            handler.kill()
    child = int((tmp_path / "child.pid").read_text())
    detached = int((tmp_path / "detached.pid").read_text())
    shell = handler.remote_pid
    assert shell is not None
    assert pid_alive(child) and pid_alive(detached)

    handler.kill()
    thread.join(60)
    assert not thread.is_alive()
    assert results == [False]
    assert wait_for(lambda: not pid_alive(child))
    assert wait_for(lambda: not pid_alive(detached))
    assert not pid_alive(shell)
    text = log_text("kill-task")
    assert f"Killing remote process with PID {shell}" in text
    assert "Running kill command: kill " in text


def test_kill_escalates_to_sigkill(tmp_path: Path):
    command = (
        "trap '' TERM; echo $$ > shell.pid; echo ready; while true; do sleep 0.1; done"
    )
    handler = make("stubborn-task", tmp_path, command)
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(handler.execute()))
    thread.start()
    assert wait_for(lambda: "REMOTE OUTPUT: ready" in log_text("stubborn-task"))
    shell = int((tmp_path / "shell.pid").read_text())
    handler.kill()
    thread.join(60)
    assert results == [False]
    assert not pid_alive(shell)
    assert "sending SIGKILL" in log_text("stubborn-task")


def test_kill_before_execute_prevents_start(tmp_path: Path):
    handler = make("early-kill", tmp_path, "touch ran")
    handler.kill()
    assert handler.execute() is False
    assert not (tmp_path / "ran").exists()


def test_kill_after_finish_is_harmless(tmp_path: Path):
    handler = make("late-kill", tmp_path, "echo done")
    assert handler.execute() is True
    handler.kill()
    assert "No running process to kill" in log_text("late-kill")


def test_kill_returns_even_when_a_double_forked_daemon_keeps_stdout_open(
    tmp_path: Path,
):
    # The daemon leaves the tree (double fork + new session) and inherits
    # stdout: no process walk finds it and the pipe never reaches EOF.
    command = "( setsid sleep 120 & echo $! > daemon.pid ); echo ready; sleep 300"
    handler = make("daemon-task", tmp_path, command)
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(handler.execute()))
    thread.start()
    try:
        assert wait_for(lambda: "REMOTE OUTPUT: ready" in log_text("daemon-task"))
        handler.kill()
        thread.join(30)  # the daemon lives 120 s: without the fix this hangs
        assert not thread.is_alive()
        assert results == [False]
    finally:
        daemon = tmp_path / "daemon.pid"
        if daemon.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(daemon.read_text()), signal.SIGKILL)
