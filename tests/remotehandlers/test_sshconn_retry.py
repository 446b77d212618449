"""The connection retry policy: its schedule, and retries against a real
server that is down at first and comes up while we wait."""

from __future__ import annotations

import logging
import threading

import pytest

from opentaskpy.transport.ssh.sshconn import SSHConnection, retry_waits


def test_the_schedule_is_exponential_and_clamped(monkeypatch):
    monkeypatch.delenv("OTF_SSH_RETRY_WAIT_SCALE", raising=False)
    monkeypatch.delenv("OTF_SSH_RETRY_ATTEMPTS", raising=False)
    assert retry_waits() == [5, 5, 8, 16, 32]
    assert retry_waits(1) == []  # one attempt: no retry at all
    assert retry_waits(9)[-1] == 60
    monkeypatch.setenv("OTF_SSH_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("OTF_SSH_RETRY_WAIT_SCALE", "0.5")
    assert retry_waits() == [2.5, 2.5]


def _connection(ssh_env, host: str, caplog) -> SSHConnection:
    server = ssh_env.hosts[host]
    logger = logging.getLogger("test.sshconn.retry")
    caplog.set_level(logging.WARNING, logger="test.sshconn.retry")
    return SSHConnection(
        server.address,
        ssh_env.protocol(host, hostKeyValidation=False),
        logger,
        timeout=2,
    )


def test_every_attempt_is_made_then_the_last_error_is_raised(
    ssh_env, monkeypatch, caplog
):
    monkeypatch.setenv("OTF_SSH_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("OTF_SSH_RETRY_WAIT_SCALE", "0")
    conn = _connection(ssh_env, "sftp", caplog)
    conn.protocol = {**conn.protocol, "port": 1}  # nothing listens there
    with pytest.raises(Exception, match="Unable to connect|Connection refused"):
        conn.connect()
    failures = [r for r in caplog.records if "Connection attempt failed" in r.message]
    assert len(failures) == 3


def test_a_server_that_comes_up_while_waiting_is_reached(ssh_env, monkeypatch, caplog):
    """The SFTP server is down for the first attempt and restarted during
    the first wait (0.5 s here): the second attempt connects."""
    monkeypatch.setenv("OTF_SSH_RETRY_ATTEMPTS", "4")
    monkeypatch.setenv("OTF_SSH_RETRY_WAIT_SCALE", "0.1")
    server = ssh_env.hosts["sftp"]
    conn = _connection(ssh_env, "sftp", caplog)
    server.kill()
    restart = threading.Timer(0.2, server.start)
    try:
        restart.start()
        conn.connect()
        assert conn.is_active()
        assert conn.sftp().stat(str(ssh_env.home)).st_mode  # a working session
    finally:
        restart.join()
        if server.process is None:
            server.start()
        conn.close()
    failures = [r for r in caplog.records if "Connection attempt failed" in r.message]
    assert 1 <= len(failures) < 4
