"""A batch's steps on one host share one SSH connection (one handshake).

Handshakes are counted in the real sshd's log ("Accepted publickey"), never
from timings.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from batch_helpers import make_batch

from opentaskpy.transport.ssh import sshpool
from opentaskpy.transport.ssh.sshconn import SSHConnection
from support.flow import batch_task, exec_task
from support.helpers import transfer_def, wait_for, write_json
from support.logcapture import Collect
from support.ssh_faults import silent_server
from support.ssh_helpers import log_text, remote_source
from support.sshd import SSHTestEnv


def _ssh_exec(
    env: SSHTestEnv, cfg: Path, task_id: str, host: str, command: str, directory=None
) -> None:
    write_json(
        cfg / "executions" / f"{task_id}.json",
        {
            "type": "execution",
            "hosts": [env.hosts[host].address],
            "directory": str(directory or env.home),
            "command": command,
            "protocol": env.protocol(host),
        },
    )


def _sftp_download(env: SSHTestEnv, cfg: Path, task_id: str, host: str, src, dst):
    source = remote_source(env, host, src, r"^f\.txt$")
    source["protocol"]["name"] = "sftp"
    write_json(
        cfg / "transfers" / f"{task_id}.json",
        transfer_def(source, {"directory": str(dst), "protocol": {"name": "local"}}),
    )


def _chain(cfg: Path, batch_id: str, steps: list[str]) -> None:
    tasks = [
        {"order_id": n, "task_id": step, **({"dependencies": [n - 1]} if n > 1 else {})}
        for n, step in enumerate(steps, start=1)
    ]
    batch_task(cfg, batch_id, tasks)


def test_steps_on_one_host_make_one_handshake(
    ssh_env, dirs, cfg_dir, tmp_path, ssh_client_env
):
    ssh_env.write_file(dirs["src"] / "f.txt", "payload\n")
    work = dirs["src"]
    for n in range(1, 4):
        _ssh_exec(ssh_env, cfg_dir, f"exec{n}", "ssh1", f"touch {work}/ran{n}")
    _sftp_download(ssh_env, cfg_dir, "fetch", "ssh1", dirs["src"], tmp_path)
    _chain(cfg_dir, "one-host", ["exec1", "exec2", "fetch", "exec3"])
    host = ssh_env.hosts["ssh1"]
    offset = host.log_offset()
    assert make_batch(cfg_dir, "one-host").run() is True
    assert all((work / f"ran{n}").exists() for n in range(1, 4))
    assert (tmp_path / "f.txt").read_text() == "payload\n"
    assert host.logins_since(offset) == 1
    assert sshpool.current() is None  # closed with the batch


def test_sharing_can_be_turned_off(ssh_env, dirs, cfg_dir, ssh_client_env, monkeypatch):
    monkeypatch.setenv("OTF_SSH_SHARE_CONNECTIONS", "0")
    for n in (1, 2):
        _ssh_exec(ssh_env, cfg_dir, f"exec{n}", "ssh1", f"touch {dirs['src']}/r{n}")
    _chain(cfg_dir, "unshared", ["exec1", "exec2"])
    host = ssh_env.hosts["ssh1"]
    offset = host.log_offset()
    assert make_batch(cfg_dir, "unshared").run() is True
    assert host.logins_since(offset) == 2


def test_shared_connection_survives_a_restarted_sshd(
    ssh_env, restartable_host, dirs, cfg_dir, tmp_path, ssh_client_env
):
    restartable = restartable_host
    work = dirs["src"]
    ssh_env.write_file(work / "f.txt", "after restart\n")
    ready, go = tmp_path / "ready", tmp_path / "go"
    _ssh_exec(ssh_env, cfg_dir, "before", "restartable", f"touch {work}/before")
    # A local step holds the batch between the two SSH steps while the
    # test restarts the host's sshd (which kills its session processes).
    exec_task(
        cfg_dir,
        "pause",
        f"touch {ready}; n=0; while [ ! -e {go} ] && [ $n -lt 600 ]; "
        f"do sleep 0.05; n=$((n+1)); done; [ -e {go} ]",
        tmp_path,
    )
    _ssh_exec(ssh_env, cfg_dir, "after", "restartable", f"touch {work}/after")
    _sftp_download(ssh_env, cfg_dir, "fetch", "restartable", work, tmp_path / "dl")
    (tmp_path / "dl").mkdir()
    _chain(cfg_dir, "restart", ["before", "pause", "after", "fetch"])
    offset = restartable.log_offset()
    batch = make_batch(cfg_dir, "restart")
    outcome: list[bool] = []
    runner = threading.Thread(target=lambda: outcome.append(batch.run()))
    runner.start()
    try:
        assert wait_for(ready.exists, timeout=60)
        assert restartable.logins_since(offset) == 1
        restartable.kill()
        restartable.start()
    finally:
        go.touch()
        runner.join(timeout=120)
    assert outcome == [True]
    assert (work / "before").exists() and (work / "after").exists()
    assert (tmp_path / "dl" / "f.txt").read_text() == "after restart\n"
    # One handshake before the restart, one after it (shared by two steps).
    assert restartable.logins_since(offset) == 2


def test_concurrent_steps_on_one_host_share_it(ssh_env, dirs, cfg_dir, ssh_client_env):
    work = dirs["src"]
    count = 4
    # Each step waits until every step has started: the batch only
    # completes if all four run at the same time on the shared connection.
    for n in range(count):
        _ssh_exec(
            ssh_env,
            cfg_dir,
            f"c{n}",
            "ssh1",
            f"touch started{n}; i=0; "
            f"while [ $(ls | grep -c '^started') -lt {count} ] && [ $i -lt 600 ]; "
            f"do sleep 0.05; i=$((i+1)); done; "
            f"[ $(ls | grep -c '^started') -ge {count} ] && touch done{n}",
            directory=work,
        )
    batch_task(
        cfg_dir,
        "fan",
        [{"order_id": n + 1, "task_id": f"c{n}"} for n in range(count)],
    )
    host = ssh_env.hosts["ssh1"]
    offset = host.log_offset()
    assert make_batch(cfg_dir, "fan").run() is True
    assert sorted(p.name for p in work.glob("done*")) == [
        f"done{n}" for n in range(count)
    ]
    # Four executions (two channels each) fit on one connection.
    assert host.logins_since(offset) == 1


def test_threads_share_one_transport_safely(ssh_env, ssh_client_env):
    host = ssh_env.hosts["ssh1"]
    offset = host.log_offset()
    outputs: dict[int, str] = {}
    errors: list[BaseException] = []
    together = threading.Barrier(8)

    def work(n: int) -> None:
        conn = SSHConnection(
            host.address, ssh_env.protocol("ssh1"), _logger(), shared=True
        )
        try:
            conn.connect()
            together.wait(timeout=60)  # every thread holds its lease now
            for _ in range(5):
                outputs[n] = conn.run(f"echo {n}").stdout.strip()
                conn.sftp().stat(".")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    with sshpool.batch_pool() as pool:
        assert pool is not None
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert pool.handshakes == 2  # 8 leases of 2 channels, 8 per connection
    assert errors == []
    assert outputs == {n: str(n) for n in range(8)}
    assert host.logins_since(offset) == 2


def test_outside_a_batch_a_connection_is_its_own(ssh_env, ssh_client_env):
    host = ssh_env.hosts["ssh1"]
    offset = host.log_offset()
    for _ in range(2):
        conn = SSHConnection(
            host.address, ssh_env.protocol("ssh1"), _logger(), shared=True
        )
        try:
            assert conn.run("true").exit_code == 0
        finally:
            conn.close()
        assert not conn.is_active()
    assert host.logins_since(offset) == 2


def _logger() -> logging.Logger:
    return logging.getLogger("test.sshpool")


def test_steps_waiting_for_a_failed_handshake_fail_with_it(ssh_env, ssh_client_env):
    # A server that accepts and never answers: each attempt waits for the
    # handshake timeout; OTF_SSH_RETRY_ATTEMPTS=2 (ssh_client_env).
    with silent_server() as (port, accepted):
        protocol = {**ssh_env.protocol("ssh1"), "port": port}
        ready = threading.Barrier(3)
        failures: list[BaseException] = []

        def step() -> None:
            conn = SSHConnection("127.0.0.1", protocol, _logger(), 1, shared=True)
            ready.wait(timeout=30)
            try:
                conn.connect()
            except Exception as exc:  # noqa: BLE001 - collected for the asserts
                failures.append(exc)
            finally:
                conn.close()

        with sshpool.batch_pool():
            threads = [threading.Thread(target=step) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        # Three steps, one failed handshake with its two attempts (each
        # step trying on its own would have made six).
        assert len(failures) == 3
        assert len({str(exc) for exc in failures}) == 1
        assert len(accepted) == 2


def _paramiko_lines(text: str, task_id: str) -> list[str]:
    channel = f"opentaskpy.remotehandlers.ssh.{task_id}.paramiko.transport"
    return [line for line in text.splitlines() if f" - {channel} - " in line]


@pytest.mark.parametrize("share", ["1", "0"])
def test_paramiko_lines_are_in_the_step_logs(
    share, ssh_env, dirs, cfg_dir, ssh_client_env, monkeypatch
):
    monkeypatch.setenv("OTF_SSH_SHARE_CONNECTIONS", share)
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    for n in (1, 2):
        _ssh_exec(ssh_env, cfg_dir, f"step{n}", "ssh1", f"touch {dirs['src']}/s{n}")
    _chain(cfg_dir, "steps", ["step1", "step2"])
    # Whatever reaches paramiko's own loggers would be in no task's log.
    bare = Collect()
    paramiko_logger = logging.getLogger("paramiko")
    saved_level = paramiko_logger.level
    paramiko_logger.setLevel(logging.DEBUG)
    paramiko_logger.addHandler(bare)
    try:
        assert make_batch(cfg_dir, "steps").run() is True
    finally:
        paramiko_logger.removeHandler(bare)
        paramiko_logger.setLevel(saved_level)
    assert [(r.name, r.getMessage()) for r in bare.records] == []

    first, second = log_text("step1"), log_text("step2")
    authenticated = "Authentication (publickey) successful!"
    # The handshake is the first step's; with sharing the second makes none.
    assert any(authenticated in line for line in _paramiko_lines(first, "step1"))
    second_lines = _paramiko_lines(second, "step2")
    assert any("channel" in line for line in second_lines), second
    assert any(authenticated in line for line in second_lines) == (share == "0")
    # Steps one after the other: neither log holds the other's lines.
    assert "step2.paramiko" not in first and "step1.paramiko" not in second
