"""Post-copy actions on local sources and how their failures surface."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    info_logging,
    make_files,
    only_log,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, local_source, transfer_def


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    src, dst, archive = tmp_path / "src", tmp_path / "dst", tmp_path / "archive"
    make_files(src, {"pca_1.txt": "one", "pca_2.txt": "two"})
    dst.mkdir()
    archive.mkdir()
    return src, dst, archive


def _transfer(src: Path, dst: Path, action: dict, task_id: str) -> Transfer:
    return Transfer(
        None,
        task_id,
        transfer_def(local_source(src, "pca_", postCopyAction=action), local_dest(dst)),
    )


def test_move(dirs: tuple[Path, Path, Path]) -> None:
    src, dst, archive = dirs
    assert _transfer(
        src, dst, {"action": "move", "destination": str(archive)}, "pca-move"
    ).run()
    assert sorted(os.listdir(dst)) == ["pca_1.txt", "pca_2.txt"]
    assert sorted(os.listdir(archive)) == ["pca_1.txt", "pca_2.txt"]
    assert os.listdir(src) == []
    assert "Performing post copy action" in only_log("pca-move").read_text()


def test_rename(dirs: tuple[Path, Path, Path]) -> None:
    src, dst, archive = dirs
    action = {
        "action": "rename",
        "destination": f"{archive}/",
        "pattern": "pca",
        "sub": "done",
    }
    assert _transfer(src, dst, action, "pca-rename").run()
    assert sorted(os.listdir(archive)) == ["done_1.txt", "done_2.txt"]
    assert os.listdir(src) == []


def test_delete(dirs: tuple[Path, Path, Path]) -> None:
    src, dst, _ = dirs
    assert _transfer(src, dst, {"action": "delete"}, "pca-delete").run()
    assert os.listdir(src) == []
    assert (dst / "pca_1.txt").read_text() == "one"


@pytest.mark.parametrize("target", ["archive/pca_move_bad.txt", "/etc/passwd"])
def test_move_into_a_non_directory_fails_and_keeps_everything(
    dirs: tuple[Path, Path, Path], target: str
) -> None:
    src, dst, archive = dirs
    (archive / "pca_move_bad.txt").write_text("i am a file")
    destination = str(archive.parent / target) if not target.startswith("/") else target
    obj = _transfer(src, dst, {"action": "move", "destination": destination}, "pca-bad")
    with pytest.raises(
        exceptions.RemoteTransferError, match="Error performing post copy action"
    ):
        obj.run()
    assert (dst / "pca_1.txt").read_text() == "one"  # destination copy exists
    assert sorted(os.listdir(src)) == ["pca_1.txt", "pca_2.txt"]  # source still there
    assert (archive / "pca_move_bad.txt").read_text() == "i am a file"
    assert only_log("pca-bad").name.endswith("_failed.log")


def test_post_copy_action_not_run_when_a_destination_fails(
    dirs: tuple[Path, Path, Path],
) -> None:
    src, dst, _ = dirs
    definition = transfer_def(
        local_source(src, "pca_", postCopyAction={"action": "delete"}),
        local_dest(dst),
        local_dest(dst.parent / "missing"),
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "pca-partial", definition).run()
    assert sorted(os.listdir(src)) == ["pca_1.txt", "pca_2.txt"]
    assert "Performing post copy action" not in only_log("pca-partial").read_text()


def test_exception_in_post_copy_action_becomes_plain_exception(
    dirs: tuple[Path, Path, Path],
) -> None:
    src, dst, _ = dirs
    source = local_source(src, "pca_", postCopyAction={"action": "delete"})
    source["protocol"] = {"name": "transfer_helpers.ExplodingPostCopySource"}
    with pytest.raises(Exception, match="^Error performing post copy action$") as info:
        Transfer(None, "pca-boom", transfer_def(source)).run()
    assert type(info.value) is Exception
    assert "disk on fire" in only_log("pca-boom").read_text()
    assert sorted(os.listdir(src)) == ["pca_1.txt", "pca_2.txt"]
