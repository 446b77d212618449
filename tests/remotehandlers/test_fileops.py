"""The shared file operations, exercised on the local file system."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from opentaskpy.fs import fileops
from opentaskpy.fs.localfs import LocalFileSystem

LOGGER = logging.getLogger("tests.fileops")


@pytest.fixture
def fs() -> LocalFileSystem:
    return LocalFileSystem()


def test_list_matching_keys_and_missing_directory(
    fs: LocalFileSystem, tmp_path: Path
) -> None:
    (tmp_path / "log1.txt").write_text("abc")
    (tmp_path / "xlog.txt").write_text("abc")
    files = fileops.list_matching(fs, f"{tmp_path}/", "log")
    assert list(files) == [
        f"{tmp_path}//log1.txt"
    ]  # keys as configured, like the reference
    assert files[f"{tmp_path}//log1.txt"]["size"] == 3
    assert fileops.list_matching(fs, str(tmp_path / "missing"), ".*") == {}


def test_publish_is_atomic_and_sets_mode(fs: LocalFileSystem, tmp_path: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(100_000))
    dst = tmp_path / "dst"
    dst.mkdir()
    final = fileops.publish(fs, str(src), str(dst), "final.bin", mode="0600")
    assert final == f"{dst}/final.bin"
    assert (dst / "final.bin").read_bytes() == src.read_bytes()
    assert (dst / "final.bin").stat().st_mode & 0o777 == 0o600
    assert os.listdir(dst) == ["final.bin"]


def test_publish_failure_removes_temporary_file(
    fs: LocalFileSystem, tmp_path: Path
) -> None:
    src = tmp_path / "data.txt"
    src.write_text("payload")
    dst = tmp_path / "dst"
    (dst / "taken").mkdir(parents=True)
    with pytest.raises(OSError):
        fileops.publish(fs, str(src), str(dst), "taken")
    assert os.listdir(dst) == ["taken"]
    assert os.listdir(dst / "taken") == []


def test_publish_replaces_existing_file_atomically(
    fs: LocalFileSystem, tmp_path: Path
) -> None:
    src = tmp_path / "new.txt"
    src.write_text("new")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "f.txt").write_text("old")
    fileops.publish(fs, str(src), str(tmp_path / "dst"), "f.txt")
    assert (tmp_path / "dst" / "f.txt").read_text() == "new"


def test_post_copy_action_rename_without_trailing_slash_uses_parent(
    fs: LocalFileSystem, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    archive = tmp_path / "archive"
    archive.mkdir()
    action = {
        "action": "rename",
        "destination": str(archive),
        "pattern": "a",
        "sub": "b",
    }
    assert fileops.post_copy_action(fs, {str(src / "a.txt"): {}}, action, LOGGER) == 0
    assert (
        tmp_path / "b.txt"
    ).read_text() == "a"  # (upstream quirk) lands in the parent


def test_post_copy_action_delete_missing_file_fails(
    fs: LocalFileSystem, tmp_path: Path
) -> None:
    assert (
        fileops.post_copy_action(
            fs, {str(tmp_path / "gone"): {}}, {"action": "delete"}, LOGGER
        )
        == 1
    )


def test_create_flag(fs: LocalFileSystem, tmp_path: Path) -> None:
    assert fileops.create_flag(fs, str(tmp_path / "f.flag"), LOGGER) == 0
    assert (tmp_path / "f.flag").read_text() == ""
    assert fileops.create_flag(fs, str(tmp_path / "no" / "f.flag"), LOGGER) == 1


def test_local_filesystem_makedirs_and_stat(
    fs: LocalFileSystem, tmp_path: Path
) -> None:
    fs.makedirs(str(tmp_path / "a" / "b"))
    st = fs.stat(str(tmp_path / "a" / "b"))
    assert st is not None and st.is_dir
    assert fs.stat(str(tmp_path / "nothing")) is None
    assert fs.stat(str(tmp_path / "a" / "b" / "x" / "y")) is None
