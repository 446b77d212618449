"""SFTP destinations send each final rename without waiting for its answer.

(Small files go in groups by default, whose renames are sent together: these
tests send every file on its own, ``OTF_SFTP_GROUP_FILES=1``.)

The answer is read while the same session's next file waits for its first
answer, or after the last file. Whichever file's rename fails, the run fails
naming it, no temporary file is left, the other files are published, and
the source's post-copy action does not run.
"""

from __future__ import annotations

import pytest

from opentaskpy import exceptions
from opentaskpy.fs import checksums, inflight, publishing, streaming
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.otflogging import init_logging
from opentaskpy.taskhandlers.transfer import Transfer
from opentaskpy.transport.ssh.sshconn import SSHConnection
from support.helpers import transfer_def
from support.ssh_helpers import log_text, remote_dest, remote_source

NAMES = ["f1.txt", "f2.txt", "f3.txt"]


@pytest.fixture(autouse=True)
def _one_file_at_a_time(monkeypatch) -> None:
    monkeypatch.setenv("OTF_SFTP_GROUP_FILES", "1")


def _definition(ssh_env, dirs) -> dict:
    source = remote_source(
        ssh_env, "ssh1", dirs["src"], r"f\d\.txt", postCopyAction={"action": "delete"}
    )
    source["protocol"]["name"] = "sftp"
    return transfer_def(source, remote_dest(ssh_env, "sftp", dirs["dst"]))


def _write_sources(ssh_env, dirs) -> None:
    for name in NAMES:
        ssh_env.write_file(dirs["src"] / name, f"content of {name}".encode())


@pytest.mark.parametrize("in_flight", ["1", "4"])
def test_every_rename_is_confirmed_before_the_post_copy_action(
    ssh_env, dirs, monkeypatch, in_flight
):
    monkeypatch.setenv("OTF_SFTP_FILES_IN_FLIGHT", in_flight)
    _write_sources(ssh_env, dirs)
    assert Transfer(None, f"renames-ok-{in_flight}", _definition(ssh_env, dirs)).run()
    for name in NAMES:
        assert (dirs["dst"] / name).read_text() == f"content of {name}"
        assert not (dirs["src"] / name).exists()
    assert sorted(p.name for p in dirs["dst"].iterdir()) == NAMES
    text = log_text(f"renames-ok-{in_flight}")
    assert text.count("Copied ") == len(NAMES)


# f1: its answer is read with the next file's; f3: after the last file.
@pytest.mark.parametrize("in_flight", ["1", "4"])
@pytest.mark.parametrize("failing", ["f1.txt", "f3.txt"])
def test_a_failed_rename_fails_the_run_naming_the_file(
    ssh_env, dirs, monkeypatch, in_flight, failing
):
    monkeypatch.setenv("OTF_SFTP_FILES_IN_FLIGHT", in_flight)
    _write_sources(ssh_env, dirs)
    # A non-empty directory at the final name: the rename onto it fails.
    blocker = dirs["dst"] / failing
    blocker.mkdir()
    (blocker / "inside").write_text("keep")
    sent_renames: list[str] = []
    real = SFTPFileSystem.start_rename

    def recording(fs, source, target):  # the real one, noting its target
        sent_renames.append(target)
        return real(fs, source, target)

    monkeypatch.setattr(SFTPFileSystem, "start_rename", recording)
    task_id = f"rename-fails-{in_flight}-{failing}"
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, task_id, _definition(ssh_env, dirs)).run()
    assert f"{dirs['dst']}/{failing}" in sent_renames  # sent without waiting
    errors = [line for line in log_text(task_id).splitlines() if "ERROR" in line]
    assert any(f"{dirs['dst']}/{failing}" in line for line in errors), errors
    assert (blocker / "inside").read_text() == "keep"
    for name in NAMES:
        assert (dirs["src"] / name).read_text() == f"content of {name}"
        if name != failing:
            assert (dirs["dst"] / name).read_text() == f"content of {name}"
    leftovers = [p.name for p in dirs["dst"].iterdir() if p.name.startswith(".")]
    assert leftovers == []


class _Seen:
    """A publish observer noting each file it is told was published."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def before_rename(self, fs, temporary, final_path, label) -> None:
        pass

    def published(self, fs, final_path, label, size) -> None:
        self.paths.append(final_path)

    def failed(self, fs, final_path, label, exc) -> None:
        pass


def test_renames_sent_before_a_signal_are_confirmed_and_counted(
    ssh_env, dirs, tmp_path
):
    """A signal stops the workers early: each still reads the answer of the
    rename it had sent, so every file that reached its final name is one the
    ledger is told about (a rerun does not send it again)."""
    server = ssh_env.hosts["sftp"]
    logger = init_logging(__name__, "deferred-signal", "T")
    connection = SSHConnection(
        server.address,
        ssh_env.protocol("sftp", hostKeyValidation=False),
        logger,
        allow_password=True,
    )
    connection.connect(retry=False)
    seen = _Seen()
    checksums.observe(seen)
    local = tmp_path / "payload"
    local.write_bytes(b"x" * 100)

    def interrupt(fs, target):
        raise KeyboardInterrupt

    contents = [
        streaming.worker_file(str(local))._replace(name=f"f{i:02}.txt")
        if i != 6
        else streaming.Content("f06.txt", "f06.txt", interrupt)
        for i in range(12)
    ]
    try:
        fs = SFTPFileSystem(connection.sftp(), "sftp", posix_rename=True)
        channels = inflight.Channels(fs, logger)
        with pytest.raises(KeyboardInterrupt):
            publishing.publish_all(
                fs,
                str(dirs["dst"]),
                contents,
                spec={},
                logger=logger,
                final_name=str,
                in_flight=2,
                session=channels.use,
            )
    finally:
        checksums.observe(None)
        connection.close()
    arrived = sorted(str(p) for p in dirs["dst"].iterdir())
    assert arrived, "some files were published before the signal"
    assert all(".otf-partial" not in p for p in arrived)
    assert sorted(seen.paths) == arrived
