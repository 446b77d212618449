"""Connection set-up paths of SSH executions: early TCP connects, socket options.

Behaviour only (which connection is used, which options are set), never timings.
"""

from __future__ import annotations

import logging
import socket
import sys

from opentaskpy.transport.ssh import sshpool, sshpreconnect
from opentaskpy.transport.ssh.sshconn import SSHConnection
from support.helpers import python_stdout

_LOG = logging.getLogger("test.ssh_latency")


def _connections_since(host, offset: int) -> int:
    """TCP connections the server logged (LogLevel VERBOSE) after ``offset``."""
    return (
        host.log.read_bytes()[offset:]
        .decode(errors="replace")
        .count("Connection from ")
    )


def test_an_early_connection_is_the_one_used(ssh_env, ssh_client_env):
    host = ssh_env.hosts["ssh1"]
    offset = host.log_offset()
    sshpreconnect.start([host.address], host.port)
    conn = SSHConnection(host.address, ssh_env.protocol("ssh1"), _LOG)
    try:
        conn.connect(retry=False)
        assert conn.run("true").exit_code == 0
    finally:
        conn.close()
    assert _connections_since(host, offset) == 1
    assert host.logins_since(offset) == 1
    assert sshpreconnect.take(host.address, host.port) is None  # used up


def test_an_early_connection_the_server_dropped_is_replaced(
    ssh_env, restartable_host, ssh_client_env
):
    host = restartable_host
    sshpreconnect.start([host.address], host.port)
    early = sshpreconnect._pending[(host.address, host.port)]
    early.join(10)
    assert early.sock is not None
    # The restart kills the server process that accepted the early socket.
    host.kill()
    host.start()
    offset = host.log_offset()
    conn = SSHConnection(host.address, ssh_env.protocol("restartable"), _LOG)
    try:
        conn.connect(retry=False)  # one attempt: the fallback is not a retry
        assert conn.run("echo ok").stdout == "ok\n"
    finally:
        conn.close()
    assert host.logins_since(offset) == 1


def test_no_early_connection_inside_a_batch(ssh_env):
    host = ssh_env.hosts["ssh1"]
    definition = {
        "hosts": [host.address],
        "protocol": {"name": "ssh", "port": host.port},
    }
    with sshpool.batch_pool():
        sshpreconnect.for_execution(definition)
        assert sshpreconnect.take(host.address, host.port) is None
    sshpreconnect.for_execution(definition)
    early = sshpreconnect.take(host.address, host.port)
    assert early is not None
    early.close()


def test_sockets_send_without_delay(ssh_env, ssh_client_env):
    host = ssh_env.hosts["ssh1"]
    conn = SSHConnection(host.address, ssh_env.protocol("ssh1"), _LOG)
    try:
        conn.connect(retry=False)
        transport = conn.client.get_transport()
        assert transport is not None
        sock = transport.sock
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert nodelay != 0
    finally:
        conn.close()


def test_an_ssh_execution_does_not_load_the_transfer_machinery():
    code = (
        "import sys\n"
        "from opentaskpy.taskhandlers.protocols import resolve_protocol\n"
        "from opentaskpy.remotehandlers.ssh_execution import SSHExecution\n"
        "assert resolve_protocol('ssh', 'E') is SSHExecution\n"
        "print(sorted(m for m in sys.modules if m in (\n"
        "    'opentaskpy.remotehandlers.ssh', 'opentaskpy.fs.sftpfs',\n"
        "    'opentaskpy.fs.streaming')))\n"
    )
    assert python_stdout(code).strip() == "[]"
    assert sys.modules  # the check above ran in a fresh interpreter
