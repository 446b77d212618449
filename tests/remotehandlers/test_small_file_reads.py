"""Small files from an SFTP source to a destination that publishes one by one.

A local destination cannot take a group's requests at once, but the source
can: the reads of a group go out together (``OTF_SFTP_GROUP_FILES``) and each
file is then published on its own, atomically, as before.
"""

from __future__ import annotations

import os

import pytest

from opentaskpy import exceptions
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.taskhandlers.transfer import Transfer
from opentaskpy.transport.ssh import sftpbulk
from support.groups import before_group_reads
from support.helpers import local_dest, transfer_def
from support.ssh_helpers import log_text, remote_source


@pytest.fixture
def reads_sent(monkeypatch) -> list[int]:
    """Sizes of the groups whose reads were sent (the real method runs)."""
    sizes: list[int] = []
    real = SFTPFileSystem.start_small_reads

    def recording(fs, paths, limit):
        sizes.append(len(paths))
        return real(fs, paths, limit)

    monkeypatch.setattr(SFTPFileSystem, "start_small_reads", recording)
    return sizes


def _download(ssh_env, dirs, target) -> dict:
    source = remote_source(
        ssh_env, "ssh1", dirs["src"], r"d\d+\.dat", postCopyAction={"action": "delete"}
    )
    source["protocol"]["name"] = "sftp"
    return transfer_def(source, local_dest(target, mode="600"))


def _write_sources(ssh_env, dirs, count: int) -> dict[str, bytes]:
    files = {f"d{i:02}.dat": os.urandom(10 + i * 31) for i in range(count)}
    for name, data in files.items():
        ssh_env.write_file(dirs["src"] / name, data)
    return files


def test_reads_go_in_groups_and_each_file_is_published(
    ssh_env, dirs, tmp_path, reads_sent
):
    target = tmp_path / "in"
    target.mkdir()
    files = _write_sources(ssh_env, dirs, 40)
    big = os.urandom(150_000)
    ssh_env.write_file(dirs["src"] / "d99.dat", big)
    files["d99.dat"] = big
    assert Transfer(None, "reads-grouped", _download(ssh_env, dirs, target)).run()
    assert sorted(reads_sent) == [8, 32]
    assert {p.name: p.read_bytes() for p in target.iterdir()} == files
    for path in target.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    assert not list(dirs["src"].iterdir())  # post-copy delete after all
    text = log_text("reads-grouped")
    for name in files:
        assert text.count(f"/{name} to {target}/{name}") == 2, name


def test_a_vanished_file_fails_alone(ssh_env, dirs, tmp_path, monkeypatch, reads_sent):
    target = tmp_path / "in"
    target.mkdir()
    files = _write_sources(ssh_env, dirs, 6)
    before_group_reads(monkeypatch, (dirs["src"] / "d04.dat").unlink)
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "reads-vanished", _download(ssh_env, dirs, target)).run()
    assert reads_sent == [6]
    del files["d04.dat"]
    assert {p.name: p.read_bytes() for p in target.iterdir()} == files
    errors = [
        line for line in log_text("reads-vanished").splitlines() if "ERROR" in line
    ]
    assert any("d04.dat" in line for line in errors), errors


def test_a_session_failing_mid_group_sends_each_file_alone(
    ssh_env, dirs, tmp_path, monkeypatch, reads_sent
):
    """The group's answers are lost: the session is replaced and every
    file is read again on its own; all arrive once."""
    target = tmp_path / "in"
    target.mkdir()
    files = _write_sources(ssh_env, dirs, 5)

    def lost(reads):
        raise EOFError("connection lost")

    monkeypatch.setattr(sftpbulk.Reads, "contents", lost)
    assert Transfer(None, "reads-lost", _download(ssh_env, dirs, target)).run()
    assert reads_sent == [5]
    assert {p.name: p.read_bytes() for p in target.iterdir()} == files
    assert log_text("reads-lost").count("Copied ") == len(files)
