"""Batches with SSH steps against the real test servers (same machine, loopback).

The server fixtures come from ``support.server_fixtures`` through the root
conftest; ``ssh_client_env`` is requested explicitly here (it is autouse only
under ``tests/remotehandlers``).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
from batch_helpers import log_path, make_batch

from support.flow import batch_task
from support.helpers import pid_alive, transfer_def, wait_for, write_json
from support.processes import wait_pid
from support.ssh_helpers import remote_dest, remote_source

# The remote shell records its own PID, starts a child shell that starts
# `sleep 300` (its grandchild), and records both: the kill must reach them all.
REMOTE_SLEEP_TREE = (
    "echo $$ > shell.pid; "
    "sh -c 'sleep 300 & echo $! > grandchild.pid; wait' & "
    "echo $! > child.pid; wait"
)


def ssh_exec(ssh_env, cfg: Path, task_id: str, command: str, directory: Path) -> None:
    write_json(
        cfg / "executions" / f"{task_id}.json",
        {
            "type": "execution",
            "hosts": [ssh_env.hosts["ssh1"].address],
            "directory": str(directory),
            "command": command,
            "protocol": ssh_env.protocol("ssh1"),
        },
    )


def test_batch_timeout_kills_remote_process_tree(
    ssh_env, dirs, cfg_dir, ssh_client_env
):
    ssh_exec(ssh_env, cfg_dir, "ssh-sleep", REMOTE_SLEEP_TREE, dirs["src"])
    ssh_exec(ssh_env, cfg_dir, "ssh-after", "touch after.ran", dirs["src"])
    batch_task(
        cfg_dir,
        "ssh-timeout-batch",
        [
            {"order_id": 1, "task_id": "ssh-sleep", "timeout": 2},
            {"order_id": 2, "task_id": "ssh-after", "dependencies": [1]},
        ],
    )
    batch = make_batch(cfg_dir, "ssh-timeout-batch")
    assert batch.run() is False
    pids = {
        name: wait_pid(dirs["src"] / f"{name}.pid")
        for name in ("shell", "child", "grandchild")
    }
    for pid in pids.values():
        assert wait_for(lambda pid=pid: not pid_alive(pid), timeout=10), pids
    sleeps = [
        p.pid
        for p in psutil.process_iter(["uids", "cmdline"])
        if p.info["uids"]
        and p.info["uids"].real == ssh_env.uid
        and (p.info["cmdline"] or [])[:2] == ["sleep", "300"]
    ]
    assert sleeps == []
    assert not (dirs["src"] / "after.ran").exists()
    assert batch.task_order_tree[1]["status"] == "TIMED_OUT"
    assert batch.task_order_tree[2]["status"] == "NOT_STARTED"
    step_log = log_path("ssh-sleep", "E", "_failed").read_text()
    assert "Kill event received, stopping threads" in step_log
    assert f"Killing remote process with PID {pids['shell']}" in step_log
    assert "Running kill command: kill" in step_log


def test_cli_batch_ssh_transfer_after_ssh_execution(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env
):
    ssh_exec(
        ssh_env,
        cfg_dir,
        "ssh-produce",
        "printf 'made remotely\\n' > produced.txt.tmp && mv produced.txt.tmp produced.txt",
        dirs["src"],
    )
    write_json(
        cfg_dir / "transfers" / "ssh-ship.json",
        transfer_def(
            remote_source(ssh_env, "ssh1", dirs["src"], r"produced\.txt"),
            remote_dest(ssh_env, "sftp", dirs["dst"]),
        ),
    )
    batch_task(
        cfg_dir,
        "ssh-chain",
        [
            {"order_id": 1, "task_id": "ssh-produce"},
            {"order_id": 2, "task_id": "ssh-ship", "dependencies": [1]},
        ],
    )
    env = {k: v for k, v in ssh_client_env.items() if k != "OTF_LOG_LEVEL"}
    result = task_run("-t", "ssh-chain", "-c", cfg_dir, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (dirs["dst"] / "produced.txt").read_text() == "made remotely\n"
    assert os.listdir(dirs["dst"]) == ["produced.txt"]
    batch_logs = [
        n for n in os.listdir(Path("logs") / "ssh-chain") if n.endswith("_B.log")
    ]
    assert len(batch_logs) == 1
    text = (Path("logs") / "ssh-chain" / batch_logs[0]).read_text()
    assert "ORDER_ID::1::TASK::ssh-produce::COMPLETED" in text
    assert "ORDER_ID::2::TASK::ssh-ship::COMPLETED" in text
    assert text.index("::ssh-produce::COMPLETED") < text.index("Running task ssh-ship")
    for task, kind in (("ssh-produce", "E"), ("ssh-ship", "T")):
        names = os.listdir(Path("logs") / task)
        assert len(names) == 1 and names[0].endswith(f"_{kind}.log"), names
