"""SSH executions on real hosts: output, exit codes, directory, kill."""

from __future__ import annotations

import subprocess
import threading
import time

from opentaskpy.remotehandlers.ssh import SSHExecution
from opentaskpy.taskhandlers.execution import Execution
from support.ssh_helpers import log_text


def exec_def(ssh_env, command: str, directory: str, hosts=("ssh1", "ssh2")) -> dict:
    proto = ssh_env.protocol("ssh1")
    proto["credentials"] = {
        "username": ssh_env.user,
        "keyFile": str(ssh_env.client_key_ed25519),
    }
    return {
        "type": "execution",
        "hosts": [ssh_env.hosts[h].address for h in hosts],
        "directory": directory,
        "command": command,
        "protocol": proto,
    }


def test_runs_on_both_hosts_in_quoted_directory(ssh_env, dirs):
    workdir = dirs["src"] / "dir with space"
    workdir.mkdir()
    ssh_env.chown(workdir)
    definition = exec_def(
        ssh_env,
        'echo "ran on $SSH_CONNECTION" > "out_$(echo $SSH_CONNECTION | '
        "cut -d' ' -f3)\"; pwd",
        str(workdir),
    )
    assert Execution(None, "exec-two", definition).run() is True
    assert sorted(p.name for p in workdir.iterdir()) == [
        "out_127.0.0.1",
        "out_127.0.0.2",
    ]
    text = log_text("exec-two")
    assert f"REMOTE OUTPUT: {workdir}" in text
    assert "Found remote PID" in text


def test_exit_code_fails_task(ssh_env, dirs):
    definition = exec_def(ssh_env, "echo before; exit 3", str(dirs["src"]), ("ssh1",))
    assert Execution(None, "exec-fail", definition).run() is False
    text = log_text("exec-fail")
    assert "Got return code 3 from SSH command" in text
    assert "REMOTE OUTPUT: before" in text


def test_unreachable_host_fails_but_valid_host_runs(ssh_env, dirs):
    definition = exec_def(ssh_env, "touch ran.txt", str(dirs["src"]))
    definition["hosts"] = [ssh_env.hosts["ssh1"].address, "127.0.0.9"]
    assert Execution(None, "exec-mixed", definition).run() is False
    assert (dirs["src"] / "ran.txt").exists()
    assert "[127.0.0.9] Exception caught" in log_text("exec-mixed")


def test_output_streams_while_running(ssh_env, dirs):
    handler = SSHExecution(
        ssh_env.hosts["ssh1"].address,
        {
            **exec_def(ssh_env, "echo first; sleep 3; echo second", str(dirs["src"])),
            "task_id": "exec-stream",
        },
    )
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(handler.execute()))
    thread.start()
    deadline = time.monotonic() + 10
    seen_early = False
    while thread.is_alive() and time.monotonic() < deadline:
        text = log_text("exec-stream")
        if "REMOTE OUTPUT: first" in text:
            seen_early = "REMOTE OUTPUT: second" not in text
            break
        time.sleep(0.1)
    thread.join()
    assert seen_early
    assert result == [True]


def test_kill_stops_remote_process_tree(ssh_env, dirs):
    marker = dirs["src"] / "child_alive"
    command = f"(sleep 4; touch {marker}) & sh -c 'sleep 300' ; wait"
    handler = SSHExecution(
        ssh_env.hosts["ssh2"].address,
        {**exec_def(ssh_env, command, str(dirs["src"])), "task_id": "exec-kill"},
    )
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(handler.execute()))
    thread.start()
    deadline = time.monotonic() + 10
    while handler.remote_pid is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    handler.kill()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert result == [False]
    time.sleep(5)
    assert not marker.exists()  # the background child was killed too
    import psutil

    leftovers = [
        p
        for p in psutil.process_iter(["uids", "cmdline"])
        if p.info["uids"]
        and p.info["uids"].real == ssh_env.uid
        and "sleep" in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def test_remote_uname_logged_at_level_11_not_as_output(ssh_env, dirs, monkeypatch):
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    definition = exec_def(ssh_env, "echo only-this", str(dirs["src"]), ("ssh1",))
    assert Execution(None, "exec-uname", definition).run() is True
    text = log_text("exec-uname")
    host = ssh_env.hosts["ssh1"].address
    # Same machine: the remote uname is ours.
    expected = subprocess.run(
        ["uname", "-a"], capture_output=True, text=True, check=True
    ).stdout.strip()
    lines = [line for line in text.splitlines() if "Remote uname:" in line]
    assert len(lines) == 1, text
    assert lines[0].endswith(f"[{host}] Remote uname: {expected}")
    # Level 11 (named VERBOSE2 once the CLI registers the names).
    assert "— Level 11 - " in lines[0] or "— VERBOSE2 - " in lines[0]
    outputs = [line for line in text.splitlines() if "REMOTE OUTPUT" in line]
    assert len(outputs) == 1
    assert outputs[0].endswith(f"[{host}] REMOTE OUTPUT: only-this")
    # uname first, then the PID marker, as with a separate uname command.
    assert text.index("Remote uname:") < text.index("Found remote PID")
