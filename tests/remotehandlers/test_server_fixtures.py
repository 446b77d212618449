"""The session servers clean up after themselves, even when tests fail.

A throw-away pytest session (in a subprocess) uses ``ssh_env`` from
:mod:`support.server_fixtures`, records what it started, and then fails or
is interrupted. Afterwards no server process, test user or base directory
may remain.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent

CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS_DIR)!r})
from support.server_fixtures import ssh_env  # noqa: F401
"""

TEST_FILE = """
import json, os

def test_uses_servers(ssh_env):
    record = {{
        "base": str(ssh_env.base),
        "user": ssh_env.user,
        "created_user": ssh_env.created_user,
        "pids": [h.process.pid for h in ssh_env.hosts.values()],
    }}
    with open(os.environ["RECORD"], "w") as handle:
        json.dump(record, handle)
    {ending}
"""


@pytest.mark.parametrize(
    "ending", ["assert False, 'deliberate failure'", "raise KeyboardInterrupt"]
)
def test_servers_removed_after_failed_session(ssh_env, tmp_path, ending):
    session = tmp_path / "session"
    session.mkdir()
    (session / "conftest.py").write_text(CONFTEST)
    (session / "test_x.py").write_text(TEST_FILE.format(ending=ending))
    record_file = tmp_path / "record.json"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(session)],
        capture_output=True,
        text=True,
        env={**os.environ, "RECORD": str(record_file)},
        cwd=session,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout
    record = json.loads(record_file.read_text())
    assert len(record["pids"]) == 3
    for pid in record["pids"]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert not Path(record["base"]).exists()
    if record["created_user"]:
        with pytest.raises(KeyError):
            pwd.getpwnam(record["user"])
    # the servers of this (outer) session are untouched
    assert all(h.process and h.process.poll() is None for h in ssh_env.hosts.values())
