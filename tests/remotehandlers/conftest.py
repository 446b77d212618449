"""Real OpenSSH and SMTP servers for the remote-handler tests.

``ssh_env`` (session scope) starts three ``sshd`` servers (``ssh1``,
``ssh2``, SFTP-only ``sftp``) with their own user and keys, see
:mod:`support.sshd`; tests needing it are skipped with the reason when
``sshd`` cannot run here. Every test gets its own known_hosts file
(``OTF_KNOWN_HOSTS_FILE``) and no connection-retry waits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.sshd import SSHTestEnv, SSHUnavailable, start_environment, stop_environment


@pytest.fixture(scope="session")
def ssh_env() -> Iterator[SSHTestEnv]:
    """The running test servers (skips the test when unavailable)."""
    try:
        env = start_environment()
    except SSHUnavailable as exc:
        pytest.skip(f"OpenSSH test servers unavailable: {exc}")
    try:
        yield env
    finally:
        stop_environment(env)


@pytest.fixture(autouse=True)
def ssh_client_env(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict:
    """Private known_hosts file and fast connection retries for each test.

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
