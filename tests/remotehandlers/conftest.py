"""Remote-handler tests: every test gets a private SSH client environment.

The server fixtures (``ssh_env``, ``ssh_client_env``, ``dirs``,
``needs_host_to_host``, ``smtp_plain``, ``smtp_tls``) live in
:mod:`support.server_fixtures` and are registered once by the root
``tests/conftest.py``, so the session servers start only once per session.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_ssh_client_env(ssh_client_env: dict) -> dict:
    """Apply ``ssh_client_env`` (own known_hosts, no retry waits) to every test."""
    return ssh_client_env
