"""No file we create is ever written through a planted symbolic link.

A destination directory holding ``done.flag -> victim`` (or a link at any
other name we write) must end with the link replaced and the victim intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opentaskpy.fs.localfs import LocalFileSystem
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_source, transfer_def
from support.ssh_helpers import remote_dest, sftp_filesystem

pytestmark = pytest.mark.usefixtures("ssh_client_env")

VICTIM_TEXT = "precious data, not to be truncated\n"


def _local_source(tmp_path: Path, **extra: object) -> dict:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("payload")
    return local_source(src, r"f\.txt", **extra)


def _plant(link: Path, victim: Path) -> None:
    link.symlink_to(victim)
    assert victim.read_text() == VICTIM_TEXT


def _assert_replaced(link: Path, victim: Path) -> None:
    assert victim.read_text() == VICTIM_TEXT, "the victim was written through a link"
    assert not link.is_symlink(), "the link should have been replaced"


def test_local_flag_and_post_copy_target_never_follow_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    dst = tmp_path / "dst"
    dst.mkdir()
    archive = tmp_path / "archive"
    archive.mkdir()
    _plant(dst / "done.flag", victim)
    _plant(archive / "f.txt", victim)
    source = _local_source(
        tmp_path,
        postCopyAction={"action": "move", "destination": f"{archive}/"},
    )
    destination = {
        "directory": str(dst),
        "protocol": {"name": "local"},
        "flags": {"fullPath": str(dst / "done.flag")},
    }
    assert Transfer(None, "sym-local", transfer_def(source, destination)).run()
    _assert_replaced(dst / "done.flag", victim)
    assert (dst / "done.flag").read_bytes() == b""
    _assert_replaced(archive / "f.txt", victim)
    assert (archive / "f.txt").read_text() == "payload"
    assert sorted(os.listdir(dst)) == ["done.flag", "f.txt"]


@pytest.mark.parametrize("host", ["sftp", "ssh1"])
def test_remote_flag_never_follows_a_link(ssh_env, dirs, tmp_path, host):
    victim = ssh_env.write_file(dirs["archive"] / "victim.txt", VICTIM_TEXT)
    flag = dirs["dst"] / "done.flag"
    _plant(flag, victim)
    destination = remote_dest(ssh_env, host, dirs["dst"], flags={"fullPath": str(flag)})
    definition = transfer_def(_local_source(tmp_path), destination)
    assert Transfer(None, f"sym-{host}", definition).run()
    _assert_replaced(flag, victim)
    assert flag.read_bytes() == b""
    assert sorted(os.listdir(dirs["dst"])) == ["done.flag", "f.txt"]


def test_local_writes_replace_a_link_at_the_name(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    fs = LocalFileSystem()
    for name, write in (
        ("touched", lambda p: fs.touch(p)),
        ("chunks", lambda p: fs.write_chunks([b"new"], p)),
        ("put", lambda p: fs.put(str(victim.with_name("f.src")), p)),
    ):
        victim.with_name("f.src").write_text("new")
        link = tmp_path / name
        _plant(link, victim)
        write(str(link))
        _assert_replaced(link, victim)


def test_sftp_writes_replace_a_link_at_the_name(ssh_env, dirs, tmp_path):
    victim = ssh_env.write_file(dirs["archive"] / "victim.txt", VICTIM_TEXT)
    local = tmp_path / "up.bin"
    local.write_bytes(b"new content")
    with sftp_filesystem(ssh_env, "sftp") as fs:
        for name, write in (
            ("touched", lambda p: fs.touch(p)),
            ("put", lambda p: fs.put(str(local), p)),
        ):
            link = dirs["dst"] / name
            _plant(link, victim)
            write(str(link))
            _assert_replaced(link, victim)
        # An existing regular file is still overwritten in place.
        existing = ssh_env.write_file(dirs["dst"] / "existing", "old old old")
        fs.put(str(local), str(existing))
        assert existing.read_bytes() == b"new content"


def test_variable_cache_file_replaces_a_link(tmp_path):
    from opentaskpy.config.variablecaching import file as cache_file

    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    link = tmp_path / "cache.txt"
    _plant(link, victim)
    cache_file.run(file=str(link), value="cached")
    _assert_replaced(link, victim)
    assert link.read_text() == "cached"
