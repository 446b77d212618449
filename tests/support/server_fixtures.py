"""Fixtures for the real test servers, usable from any test directory.

The root ``tests/conftest.py`` imports them, so every test in the suite can
ask for them; pytest then registers each fixture once, and the session-scoped
servers start once per session whichever directories use them.

* ``ssh_env`` (session): three real ``sshd`` servers (``ssh1``, ``ssh2``,
  SFTP-only ``sftp``) with their own user and keys, see :mod:`support.sshd`.
  A test asking for it is skipped with the reason when ``sshd`` cannot run.
  The servers and the test user are removed at the end of the session, also
  when tests fail or the run is interrupted (the fixture's ``finally`` and an
  ``atexit`` hook as a second line of defence).
* ``ssh_client_env``: a private known_hosts file and no connection-retry
  waits for one test, set in ``os.environ`` and returned for
  ``task_run(env=...)``. Not autouse here (it sets ``OTF_*`` variables);
  ``tests/remotehandlers/conftest.py`` applies it to every test there.
* ``dirs``: fresh ``src``/``dst``/``archive`` directories owned by the test
  user, per test.
* ``restartable_host``: one more ``sshd`` (127.0.0.9) that a test may
  restart, stopped after the test.
* ``needs_host_to_host``: skips unless the hosts can ``scp`` to each other.
* ``smtp_plain`` / ``smtp_tls``: a real aiosmtpd server per test, without
  and with (required) STARTTLS.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.smtp import SMTPServer, start_smtp
from support.sshd import (
    SSHHost,
    SSHTestEnv,
    SSHUnavailable,
    start_environment,
    start_extra_host,
    stop_environment,
    stop_extra_host,
)


@pytest.fixture(scope="session")
def ssh_env() -> Iterator[SSHTestEnv]:
    """The running test servers (skips the test when unavailable)."""
    try:
        env = start_environment()
    except SSHUnavailable as exc:
        pytest.skip(f"OpenSSH test servers unavailable: {exc}")
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            stop_environment(env)

    atexit.register(stop)
    try:
        yield env
    finally:
        stop()
        atexit.unregister(stop)


@pytest.fixture
def ssh_client_env(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict:
    """Private known_hosts file and fast connection retries for one test.

    Returns the variables, to pass on to ``task_run(env=...)``.
    """
    values = {
        "OTF_KNOWN_HOSTS_FILE": str(tmp_path / "known_hosts"),
        "OTF_SSH_RETRY_WAIT_SCALE": "0",
        "OTF_SSH_RETRY_ATTEMPTS": "2",
        "OTF_LOG_LEVEL": "INFO",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def needs_host_to_host(ssh_env: SSHTestEnv) -> None:
    """Skip unless the remote hosts can scp to each other."""
    if not ssh_env.can_host_to_host:
        pytest.skip("host-to-host copies need root to create a test user")


@pytest.fixture
def dirs(ssh_env: SSHTestEnv, request: pytest.FixtureRequest) -> dict[str, Path]:
    """Fresh ``src``/``dst``/``archive`` directories owned by the test user."""
    base = f"t{abs(hash(request.node.nodeid)) % 10**10}_{os.getpid()}"
    return {name: ssh_env.make_dir(base, name) for name in ("src", "dst", "archive")}


@pytest.fixture
def restartable_host(ssh_env: SSHTestEnv) -> Iterator[SSHHost]:
    """A server of its own (``restartable``, 127.0.0.9) that a test may restart.

    Restart it with ``host.kill(); host.start()`` (same port, same host key).
    """
    host = start_extra_host(ssh_env, "restartable", "127.0.0.9", "internal-sftp")
    try:
        yield host
    finally:
        stop_extra_host(ssh_env, "restartable")


@pytest.fixture
def smtp_plain() -> Iterator[SMTPServer]:
    """A plain SMTP server on 127.0.0.1."""
    server = start_smtp()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_tls(tmp_path: Path) -> Iterator[SMTPServer]:
    """An SMTP server requiring STARTTLS (self-signed cert in ``tmp_path``)."""
    tls_dir = tmp_path / "smtp-tls"
    tls_dir.mkdir()
    server = start_smtp(tls_dir)
    try:
        yield server
    finally:
        server.stop()
