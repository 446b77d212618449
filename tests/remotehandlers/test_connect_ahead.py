"""Destinations connect while the source is listed (``connect_ahead``).

The destination's connection is opened in the background, but nothing is
written there before the listing found files; a destination that refuses
the login fails the run with the same lines as a connection made in turn
(and is asked once, not twice); a run that finds nothing leaves no trace
at the destination and closes the connection opened for it.
"""

from __future__ import annotations

import re
import threading

import paramiko
import pytest

from opentaskpy import exceptions
from opentaskpy.remotehandlers.sftp import SFTPTransfer
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def, wait_for
from support.ssh_helpers import log_text, remote_dest, remote_source


@pytest.fixture
def opened(monkeypatch):
    """Record every SFTP connection opened: (thread name, host, connection)."""
    seen: list[tuple[str, str, object]] = []
    real_open = SFTPTransfer._open

    def recording(self, hostname, logger, retry, wrap):
        result = real_open(self, hostname, logger, retry, wrap)
        seen.append((threading.current_thread().name, hostname, result[0]))
        return result

    monkeypatch.setattr(SFTPTransfer, "_open", recording)
    return seen


def _sftp_to_sftp(ssh_env, dirs, regex=r"f\d\.txt", **dest):
    source = remote_source(ssh_env, "ssh1", dirs["src"], regex)
    source["protocol"]["name"] = "sftp"
    return transfer_def(source, remote_dest(ssh_env, "sftp", dirs["dst"], **dest))


def test_the_destination_connects_in_the_background_and_receives(ssh_env, dirs, opened):
    for n in range(3):
        ssh_env.write_file(dirs["src"] / f"f{n}.txt", f"data {n}".encode())
    definition = _sftp_to_sftp(ssh_env, dirs)
    assert Transfer(None, "ahead-ok", definition).run() is True
    for n in range(3):
        assert (dirs["dst"] / f"f{n}.txt").read_text() == f"data {n}"
    sftp_host = ssh_env.hosts["sftp"].address
    threads = [name for name, host, _ in opened if host == sftp_host]
    assert threads == ["otf-connect-ahead"]


def test_nothing_found_leaves_no_trace_and_closes_the_connection(ssh_env, dirs, opened):
    target = dirs["dst"] / "made-only-when-needed"
    definition = _sftp_to_sftp(
        ssh_env, dirs, regex=r"absent\.txt", createDirectoryIfNotExists=True
    )
    definition["destination"][0]["directory"] = str(target)
    with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
        Transfer(None, "ahead-none", definition).run()
    assert not target.exists()
    assert list(dirs["dst"].iterdir()) == []
    sftp_host = ssh_env.hosts["sftp"].address
    # The connection opened ahead is closed, at once or once it is open.
    assert wait_for(lambda: any(h == sftp_host for _, h, _ in opened), 10)
    conns = [conn for _, host, conn in opened if host == sftp_host]
    assert wait_for(lambda: not any(c.is_active() for c in conns), 10)


def _failed_run(definition: dict, task_id: str) -> tuple[str, list[str]]:
    with pytest.raises(exceptions.OTFError) as failure:
        Transfer(None, task_id, definition).run()
    lines = [
        # Without the time stamp and the thread's name.
        re.sub(r"\[[^]]*\] — ", "", line.split(" - ", 1)[-1])
        for line in log_text(task_id).splitlines()
        if ("ERROR" in line or "WARNING" in line) and "first use" not in line
    ]
    return str(failure.value), lines


@pytest.mark.parametrize("retry", [True, False])
def test_a_refused_login_fails_as_before_and_is_tried_once(
    ssh_env, dirs, tmp_path, monkeypatch, retry
):
    ssh_env.write_file(dirs["src"] / "f1.txt", b"kept")
    wrong = tmp_path / "wrong_key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(wrong))
    definition = _sftp_to_sftp(ssh_env, dirs)
    protocol = definition["destination"][0]["protocol"]
    protocol["credentials"]["keyFile"] = str(wrong)
    protocol["retry"] = retry
    # Connected in turn (no connection ahead), as before:
    with monkeypatch.context() as turn:
        turn.setattr(SFTPTransfer, "connect_ahead", lambda self: None)
        before_message, before_lines = _failed_run(definition, f"ahead-off-{retry}")
    log = ssh_env.hosts["sftp"].log
    offset = log.stat().st_size
    message, lines = _failed_run(definition, f"ahead-on-{retry}")
    refused = log.read_bytes()[offset:].decode(errors="replace")
    assert message == before_message
    assert [line.replace("ahead-on", "ahead-off") for line in lines] == before_lines
    assert any("Connection attempt failed" in line for line in lines)
    assert refused.count("Failed publickey") == 1, refused[-2000:]
    assert list(dirs["dst"].iterdir()) == []
    assert (dirs["src"] / "f1.txt").read_bytes() == b"kept"
