"""LocalTransfer on real directories."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from opentaskpy.remotehandlers.local import LocalTransfer, log_stdout


def handler(tmp_path: Path, **spec: object) -> LocalTransfer:
    return LocalTransfer({"task_id": "lt", "protocol": {"name": "local"}, **spec})


def test_defaults_and_capabilities(tmp_path: Path) -> None:
    spec = {"task_id": "lt", "directory": str(tmp_path), "protocol": {"name": "local"}}
    h = LocalTransfer(spec)
    assert h.spec is spec and spec["createDirectoryIfNotExists"] is False
    assert h.supports_direct_transfer() is False
    assert h.pull_files_to_worker({"x": {}}, "/nowhere") == 0
    for call in (
        lambda: h.transfer_files({}, {}),
        lambda: h.pull_files({}),
        lambda: h.move_files_to_final_location({}),
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_list_files_metadata_and_regex(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("12345")
    (tmp_path / "a.dir").mkdir()
    (tmp_path / "b.txt").write_text("x")
    os.utime(tmp_path / "a.txt", (1000, 2000))
    os.symlink(tmp_path / "a.txt", tmp_path / "a.link")
    os.symlink(tmp_path / "missing", tmp_path / "a.dangling")
    h = handler(tmp_path, directory=str(tmp_path), fileRegex="a")
    files = h.list_files()
    assert sorted(files) == [
        f"{tmp_path}/a.dir",
        f"{tmp_path}/a.link",
        f"{tmp_path}/a.txt",
    ]
    assert files[f"{tmp_path}/a.txt"] == {"size": 5, "modified_time": 2000.0}
    assert files[f"{tmp_path}/a.link"]["size"] == 5  # links are followed
    assert list(h.list_files(directory=str(tmp_path), file_pattern=r"b\.")) == [
        f"{tmp_path}/b.txt"
    ]
    assert h.list_files(directory=str(tmp_path / "nope")) == {}


def test_push_with_file_list_and_from_staging_glob(tmp_path: Path) -> None:
    staging, dst = tmp_path / "staging", tmp_path / "dst"
    staging.mkdir()
    dst.mkdir()
    (staging / "one.txt").write_text("1")
    (staging / "two.txt").write_text("2")
    h = handler(
        tmp_path,
        directory=str(dst),
        mode="0640",
        rename={"pattern": "txt$", "sub": "dat"},
    )
    assert (
        h.push_files_from_worker(str(staging), file_list={str(staging / "one.txt"): {}})
        == 0
    )
    assert os.listdir(dst) == ["one.dat"]
    assert stat.S_IMODE((dst / "one.dat").stat().st_mode) == 0o640
    assert h.push_files_from_worker(str(staging)) == 0
    assert sorted(os.listdir(dst)) == ["one.dat", "two.dat"]


def test_push_failure_leaves_no_partial_or_temporary_file(tmp_path: Path) -> None:
    staging, dst = tmp_path / "staging", tmp_path / "dst"
    staging.mkdir()
    (staging / "clash.txt").write_text("data")
    (dst / "clash.txt").mkdir(parents=True)  # final name taken by a directory
    (staging / "ok.txt").write_text("ok")
    h = handler(tmp_path, directory=str(dst))
    assert h.push_files_from_worker(str(staging)) == 1
    assert sorted(os.listdir(dst)) == [
        "clash.txt",
        "ok.txt",
    ]  # other files still delivered
    assert (dst / "clash.txt").is_dir() and os.listdir(dst / "clash.txt") == []


def test_push_creates_directory_only_when_asked(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "f").write_text("f")
    assert (
        handler(tmp_path, directory=str(tmp_path / "a" / "b")).push_files_from_worker(
            str(staging)
        )
        == 1
    )
    assert not (tmp_path / "a").exists()
    h = handler(
        tmp_path, directory=str(tmp_path / "a" / "b"), createDirectoryIfNotExists=True
    )
    assert h.push_files_from_worker(str(staging)) == 0
    assert (tmp_path / "a" / "b" / "f").read_text() == "f"


def test_post_copy_actions_and_flags(tmp_path: Path) -> None:
    src, archive = tmp_path / "src", tmp_path / "archive"
    src.mkdir()
    archive.mkdir()
    for name in ("p1", "p2", "p3"):
        (src / name).write_text(name)
    h = handler(
        tmp_path, postCopyAction={"action": "move", "destination": str(archive)}
    )
    assert h.handle_post_copy_action({str(src / "p1"): {}}) == 0
    h.spec["postCopyAction"] = {
        "action": "rename",
        "destination": f"{archive}/",
        "pattern": "p",
        "sub": "r",
    }
    assert h.handle_post_copy_action({str(src / "p2"): {}}) == 0
    h.spec["postCopyAction"] = {"action": "delete"}
    assert h.handle_post_copy_action({str(src / "p3"): {}}) == 0
    assert sorted(os.listdir(archive)) == ["p1", "r2"] and os.listdir(src) == []
    h.spec["postCopyAction"] = {
        "action": "move",
        "destination": str(tmp_path / "missing" / "x"),
    }
    (src / "p4").write_text("p4")
    assert h.handle_post_copy_action({str(src / "p4"): {}}) == 1
    assert (src / "p4").exists()
    h.spec["flags"] = {"fullPath": str(tmp_path / "flag.fin")}
    (tmp_path / "flag.fin").write_text("old content")
    assert h.create_flag_files() == 0
    assert (tmp_path / "flag.fin").read_text() == ""
    h.spec["flags"] = {"fullPath": str(tmp_path / "nodir" / "flag.fin")}
    assert h.create_flag_files() == 1


def test_log_stdout(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.log_stdout")
    with caplog.at_level(logging.INFO, logger="tests.log_stdout"):
        log_stdout("line one\nline two\n", "LOCALHOST", logger)
    assert [r.getMessage() for r in caplog.records] == [
        "[LOCALHOST] REMOTE OUTPUT: line one",
        "[LOCALHOST] REMOTE OUTPUT: line two",
    ]
