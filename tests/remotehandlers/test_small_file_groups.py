"""Small streamed files go through each step in groups, with every guarantee.

An SFTP source streaming small files to an SFTP destination sends the
requests of a whole group at once (``OTF_SFTP_GROUP_FILES``, default 32).
Each file must still be published on its own terms: complete under its
final name or not at all, its mode set, no temporary file left, one
"Copied" line, the post-copy action only after every file. A file that meets
a problem in its group goes again on its own and fails (or succeeds) exactly
as it would have alone.
"""

from __future__ import annotations

import os
import stat

import pytest

from opentaskpy import exceptions
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.taskhandlers.transfer import Transfer
from opentaskpy.transport.ssh import sftpbulk
from support.groups import before_group_reads
from support.helpers import local_source, transfer_def
from support.ssh_helpers import log_text, remote_dest, remote_source

COUNT = 70  # three groups of up to 32


def _definition(ssh_env, dirs, **dest_extra) -> dict:
    source = remote_source(
        ssh_env, "ssh1", dirs["src"], r"g\d+\.dat", postCopyAction={"action": "delete"}
    )
    source["protocol"]["name"] = "sftp"
    return transfer_def(source, remote_dest(ssh_env, "sftp", dirs["dst"], **dest_extra))


def _write_sources(ssh_env, dirs, count: int = COUNT) -> dict[str, bytes]:
    files = {f"g{i:03}.dat": os.urandom(1 + i * 97) for i in range(count)}
    for name, data in files.items():
        ssh_env.write_file(dirs["src"] / name, data)
    return files


@pytest.fixture
def groups_sent(monkeypatch) -> list[int]:
    """Sizes of the groups whose creates were sent (the real method runs)."""
    sizes: list[int] = []
    real = SFTPFileSystem.start_small_creates

    def recording(fs, paths):
        sizes.append(len(paths))
        return real(fs, paths)

    monkeypatch.setattr(SFTPFileSystem, "start_small_creates", recording)
    return sizes


@pytest.fixture
def sent_alone(monkeypatch) -> list[str]:
    """Names written one file at a time (the real method runs)."""
    names: list[str] = []
    real = SFTPFileSystem.write_chunks

    def recording(fs, chunks, path):
        names.append(os.path.basename(path))
        return real(fs, chunks, path)

    monkeypatch.setattr(SFTPFileSystem, "write_chunks", recording)
    return names


def _no_partials(directory) -> None:
    assert not [p.name for p in directory.iterdir() if ".otf-partial" in p.name]


@pytest.mark.parametrize("in_flight", ["1", "4"])
def test_every_file_is_published_once_in_groups(
    ssh_env, dirs, monkeypatch, groups_sent, sent_alone, in_flight
):
    monkeypatch.setenv("OTF_SFTP_FILES_IN_FLIGHT", in_flight)
    files = _write_sources(ssh_env, dirs)
    task_id = f"groups-{in_flight}"
    assert Transfer(None, task_id, _definition(ssh_env, dirs, mode="640")).run()
    assert sorted(groups_sent) == [6, 32, 32]
    assert sent_alone == []
    for name, data in files.items():
        published = dirs["dst"] / name
        assert published.read_bytes() == data
        assert stat.S_IMODE(published.stat().st_mode) == 0o640
        assert not (dirs["src"] / name).exists()  # post-copy delete ran
    assert sorted(p.name for p in dirs["dst"].iterdir()) == sorted(files)
    text = log_text(task_id)
    for name in files:
        assert text.count(f"/{name} to {dirs['dst']}/{name}") == 2, name


def test_one_at_a_time_when_asked(ssh_env, dirs, monkeypatch, groups_sent):
    monkeypatch.setenv("OTF_SFTP_GROUP_FILES", "1")
    files = _write_sources(ssh_env, dirs, 5)
    assert Transfer(None, "groups-off", _definition(ssh_env, dirs)).run()
    assert groups_sent == []
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files


def test_an_invalid_group_size_is_named_and_ignored(
    ssh_env, dirs, monkeypatch, groups_sent
):
    monkeypatch.setenv("OTF_SFTP_GROUP_FILES", "lots")
    files = _write_sources(ssh_env, dirs, 5)
    assert Transfer(None, "groups-invalid", _definition(ssh_env, dirs)).run()
    assert groups_sent == [5]
    assert "OTF_SFTP_GROUP_FILES='lots' is not a whole number" in log_text(
        "groups-invalid"
    )
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files


def test_a_file_that_grew_past_one_request_goes_on_its_own(
    ssh_env, dirs, monkeypatch, groups_sent, sent_alone
):
    files = _write_sources(ssh_env, dirs, 5)
    grown = os.urandom(300_000)  # listed small, read large
    before_group_reads(
        monkeypatch, lambda: ssh_env.write_file(dirs["src"] / "g002.dat", grown)
    )
    assert Transfer(None, "groups-grew", _definition(ssh_env, dirs)).run()
    files["g002.dat"] = grown
    assert len(sent_alone) == 1 and sent_alone[0].startswith(".g002.dat.")
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files
    assert log_text("groups-grew").count("Copied ") == len(files)


def test_a_vanished_file_fails_alone_and_stops_the_post_copy_action(
    ssh_env, dirs, monkeypatch, groups_sent
):
    files = _write_sources(ssh_env, dirs, 6)
    before_group_reads(monkeypatch, (dirs["src"] / "g003.dat").unlink)
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "groups-vanished", _definition(ssh_env, dirs)).run()
    del files["g003.dat"]
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files
    for name in files:  # no post-copy delete after a failure
        assert (dirs["src"] / name).exists()
    errors = [
        line for line in log_text("groups-vanished").splitlines() if "ERROR" in line
    ]
    assert any("g003.dat" in line for line in errors), errors


def test_a_refused_rename_fails_that_file_only(ssh_env, dirs, groups_sent):
    files = _write_sources(ssh_env, dirs, 6)
    blocker = dirs["dst"] / "g004.dat"
    blocker.mkdir()
    (blocker / "inside").write_text("keep")
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "groups-blocked", _definition(ssh_env, dirs)).run()
    assert (blocker / "inside").read_text() == "keep"
    for name, data in files.items():
        if name != "g004.dat":
            assert (dirs["dst"] / name).read_bytes() == data
    _no_partials(dirs["dst"])
    errors = [
        line for line in log_text("groups-blocked").splitlines() if "ERROR" in line
    ]
    assert any(f"{dirs['dst']}/g004.dat" in line for line in errors), errors


def test_a_link_at_a_final_name_is_replaced_not_followed(
    ssh_env, dirs, tmp_path, groups_sent
):
    files = _write_sources(ssh_env, dirs, 4)
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    os.symlink(outside, dirs["dst"] / "g001.dat")
    assert Transfer(None, "groups-link", _definition(ssh_env, dirs)).run()
    assert outside.read_text() == "untouched"
    assert not (dirs["dst"] / "g001.dat").is_symlink()
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files


def test_a_connection_lost_after_the_renames_counts_what_was_published(
    ssh_env, dirs, monkeypatch, groups_sent, sent_alone
):
    """The renames went out and then the answers were lost: the directory
    says which files are published, and none is sent twice."""
    files = _write_sources(ssh_env, dirs, 8)
    real = sftpbulk.Writes.rename

    def lost_answers(writes, pairs):
        real(writes, pairs)
        raise EOFError("connection lost")

    monkeypatch.setattr(sftpbulk.Writes, "rename", lost_answers)
    assert Transfer(None, "groups-lost", _definition(ssh_env, dirs)).run()
    assert sent_alone == []  # nothing sent twice
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files
    assert log_text("groups-lost").count("Copied ") == len(files)


def test_a_copy_failing_verification_in_its_group_is_sent_again_alone(
    ssh_env, dirs, monkeypatch, groups_sent, sent_alone
):
    """With ``verify`` each copy is checked before its rename, in a group too:
    a temporary file changed after its write is refused, never published,
    and that file is sent again on its own."""
    files = _write_sources(ssh_env, dirs, 6)
    real_write = sftpbulk.Writes.write

    def corrupting(writes, contents, mode):
        outcomes = real_write(writes, contents, mode)
        for path in dirs["dst"].iterdir():
            if path.name.startswith(".g002.dat."):
                with open(path, "r+b") as handle:
                    handle.write(b"!")
        return outcomes

    monkeypatch.setattr(sftpbulk.Writes, "write", corrupting)
    assert Transfer(
        None, "groups-verify", _definition(ssh_env, dirs, verify=True)
    ).run()
    assert groups_sent == [6]
    assert len(sent_alone) == 1, sent_alone
    assert sent_alone[0].startswith(".g002.dat.")
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files


def test_a_signal_mid_group_leaves_nothing_behind(
    ssh_env, dirs, monkeypatch, groups_sent
):
    """Interrupted after the writes, before the renames: no temporary file
    stays and nothing is published; the signal reaches the caller."""
    _write_sources(ssh_env, dirs, 5)
    real_write = sftpbulk.Writes.write

    def interrupted(writes, contents, mode):
        real_write(writes, contents, mode)
        assert any(".otf-partial" in p.name for p in dirs["dst"].iterdir())
        raise KeyboardInterrupt

    monkeypatch.setattr(sftpbulk.Writes, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Transfer(None, "groups-signal", _definition(ssh_env, dirs)).run()
    assert list(dirs["dst"].iterdir()) == []
    assert len(list(dirs["src"].iterdir())) == 5


def test_a_mode_that_is_not_octal_fails_each_file_as_before(ssh_env, dirs, groups_sent):
    _write_sources(ssh_env, dirs, 3)
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "groups-bad-mode", _definition(ssh_env, dirs, mode="rw")).run()
    assert groups_sent == []
    assert list(dirs["dst"].iterdir()) == []
    errors = [
        line for line in log_text("groups-bad-mode").splitlines() if "ERROR" in line
    ]
    for name in ("g000.dat", "g001.dat", "g002.dat"):  # one line per file
        assert any(f"{dirs['dst']}/{name} on" in line for line in errors), name


def test_staged_files_from_the_worker_go_in_groups(
    ssh_env, dirs, tmp_path, groups_sent, sent_alone
):
    """A local source reaches an SFTP destination through the worker's
    staging directory; its small files are published in groups too, and a
    large one on its own."""
    source = tmp_path / "out"
    source.mkdir()
    files = {f"l{i:02}.dat": os.urandom(100 + i) for i in range(40)}
    files["big.dat"] = os.urandom(200_000)
    for name, data in files.items():
        (source / name).write_bytes(data)
    definition = transfer_def(
        local_source(source, r".*\.dat"), remote_dest(ssh_env, "sftp", dirs["dst"])
    )
    assert Transfer(None, "groups-staged", definition).run()
    assert sorted(groups_sent) == [8, 32]
    assert len(sent_alone) == 1 and sent_alone[0].startswith(".big.dat.")
    assert {p.name: p.read_bytes() for p in dirs["dst"].iterdir()} == files
