"""Local transfers through the Transfer Python API: delivery, listing, errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    info_logging,
    make_files,
    only_log,
    task_logs,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers import transfer
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, local_source, transfer_def


def test_module_constants() -> None:
    assert transfer.TASK_TYPE == "T"
    assert transfer.DEFAULT_STAGING_DIR_BASE == "/tmp"


def test_copy_to_two_destinations_with_rename_mode_and_flags(tmp_path: Path) -> None:
    src, d1, d2 = tmp_path / "src", tmp_path / "d1", tmp_path / "d2"
    make_files(src, {"report.txt": "report body\n"})
    d1.mkdir()
    definition = transfer_def(
        local_source(src, r"report\.txt"),
        local_dest(d1, mode="0644", flags={"fullPath": str(d1 / "done.flg")}),
        local_dest(
            d2,
            createDirectoryIfNotExists=True,
            rename={"pattern": r"^(.*)\.txt$", "sub": r"\1-2.txt"},
        ),
    )
    obj = Transfer(None, "copy-two", definition)
    assert obj.run() is True
    assert (d1 / "report.txt").read_text() == "report body\n"
    assert stat.S_IMODE((d1 / "report.txt").stat().st_mode) == 0o644
    assert (d1 / "done.flg").exists() and (d1 / "done.flg").stat().st_size == 0
    assert (d2 / "report-2.txt").read_text() == "report body\n"
    assert not (d2 / "report.txt").exists()
    assert (src / "report.txt").exists()  # no post-copy action
    # no temporary names left behind
    assert sorted(os.listdir(d1)) == ["done.flg", "report.txt"]
    assert sorted(os.listdir(d2)) == ["report-2.txt"]
    log = only_log("copy-two").read_text()
    assert "_running" not in str(only_log("copy-two")) and "_failed" not in str(
        only_log("copy-two")
    )
    assert "Found the following file(s) that match all requirements:" in log
    assert f" * {src}/report.txt" in log
    assert "Transferred 1 files" in log
    # definition mutated as in the reference
    assert definition["source"]["task_id"] == "copy-two"
    assert all(d["task_id"] == "copy-two" for d in definition["destination"])


def test_rename_with_backreference(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"dest_rename_7_taskhandler.txt": "x"})
    dst.mkdir()
    definition = transfer_def(
        local_source(src, "dest_rename"),
        local_dest(dst, rename={"pattern": "t(askha)ndler", "sub": r"T\1NDLER"}),
    )
    assert Transfer(None, "rename", definition).run()
    assert os.listdir(dst) == ["dest_rename_7_TaskhaNDLER.txt"]


def test_regex_is_start_anchored_without_end_anchor(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(
        src,
        {"test1.txt": "a", "test1.txt.gpg": "b", "xtest1.txt": "c", "a.txt.bak": "d"},
    )
    dst.mkdir()
    assert Transfer(
        None, "regex", transfer_def(local_source(src, "test1.txt"), local_dest(dst))
    ).run()
    assert sorted(os.listdir(dst)) == ["test1.txt", "test1.txt.gpg"]
    dst2 = tmp_path / "dst2"
    dst2.mkdir()
    assert Transfer(
        None, "regex2", transfer_def(local_source(src, r".*\.txt"), local_dest(dst2))
    ).run()
    assert sorted(os.listdir(dst2)) == [
        "a.txt.bak",
        "test1.txt",
        "test1.txt.gpg",
        "xtest1.txt",
    ]


def test_missing_destination_directory_fails_without_create(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_files(src, {"a.txt": "a"})
    obj = Transfer(
        None,
        "nodir",
        transfer_def(local_source(src, "a"), local_dest(tmp_path / "missing")),
    )
    with pytest.raises(
        exceptions.RemoteTransferError, match="Push of files to destination errored"
    ):
        obj.run()
    assert not (tmp_path / "missing").exists()
    assert str(only_log("nodir")).endswith("_T_failed.log")


def test_create_directory_if_not_exists_creates_nested_dirs(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "new" / "level1" / "level2"
    make_files(src, {"a.txt": "a"})
    definition = transfer_def(
        local_source(src, "a"), local_dest(dst, createDirectoryIfNotExists=True)
    )
    assert Transfer(None, "mkdirs", definition).run()
    assert (dst / "a.txt").read_text() == "a"


def test_no_files_raises_files_do_not_meet_conditions(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    obj = Transfer(
        None,
        "nofiles",
        transfer_def(local_source(tmp_path / "src", "nothing"), local_dest(tmp_path)),
    )
    with pytest.raises(
        exceptions.FilesDoNotMeetConditionsError,
        match="Valid remote files could not be found to transfer",
    ):
        obj.run()
    assert str(only_log("nofiles")).endswith("_failed.log")


def test_missing_source_directory_is_just_no_files(tmp_path: Path) -> None:
    obj = Transfer(
        None,
        "nosrc",
        transfer_def(local_source(tmp_path / "nope", "a"), local_dest(tmp_path)),
    )
    with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
        obj.run()


def test_error_false_turns_no_files_into_success(tmp_path: Path) -> None:
    definition = transfer_def(
        local_source(tmp_path / "nope", "a", error=False), local_dest(tmp_path)
    )
    obj = Transfer(None, "errfalse", definition)
    assert obj.run() is True
    log = only_log("errfalse").read_text()
    assert (
        "Valid remote files could not be found to transfer. But not erroring due to config"
        in log
    )


def test_no_destination_lists_only(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_files(src, {"a.txt": "a"})
    obj = Transfer(None, "listonly", transfer_def(local_source(src, "a")))
    obj._set_remote_handlers()
    assert obj.dest_remote_handlers is None
    assert obj.run() is True
    assert "Performing filewatch only" in only_log("listonly").read_text()


def test_set_remote_handlers_then_run_and_run_twice(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"a.txt": "one"})
    dst.mkdir()
    obj = Transfer(None, "twice", transfer_def(local_source(src, "a"), local_dest(dst)))
    obj._set_remote_handlers()
    first_source = obj.source_remote_handler
    assert type(first_source).__name__ == "LocalTransfer"
    assert [type(h).__name__ for h in obj.dest_remote_handlers] == ["LocalTransfer"]
    assert obj.run() is True
    assert (dst / "a.txt").read_text() == "one"
    (src / "a.txt").write_text("two")
    assert obj.run() is True
    assert (dst / "a.txt").read_text() == "two"
    # failures raise on every run, not only the first
    (src / "a.txt").unlink()
    for _ in range(2):
        with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
            obj.run()


def test_local_source_is_its_own_staging_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging_base = tmp_path / "staging"
    monkeypatch.setenv("OTF_STAGING_DIR", str(staging_base))
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"a.txt": "a"})
    dst.mkdir()
    obj = Transfer(
        None, "staging-local", transfer_def(local_source(src, "a"), local_dest(dst))
    )
    assert obj.local_staging_dir.startswith(
        f"{staging_base}/OTF_STAGING_{os.getpid()}."
    )
    assert obj.run()
    assert not staging_base.exists()  # nothing was staged: files used in place
    assert os.listdir(src) == ["a.txt"]


def test_handler_construction_error_propagates(tmp_path: Path) -> None:
    definition = transfer_def(
        {
            "directory": str(tmp_path),
            "fileRegex": "a",
            "protocol": {"name": "nosuchproto"},
        }
    )
    obj = Transfer(None, "badproto", definition)
    with pytest.raises(
        exceptions.UnknownProtocolError, match="Unknown protocol nosuchproto"
    ):
        obj.run()
    # TaskRun then reports through return_result; that must work without handlers
    with pytest.raises(Exception, match="Unknown protocol nosuchproto"):
        obj.return_result(
            1, "Unknown protocol nosuchproto", exceptions.UnknownProtocolError("x")
        )
    assert any(p.endswith("_failed.log") for p in task_logs("badproto"))


def test_kill_signalled_before_delivery_stops_between_stages(tmp_path):
    """A batch timeout that fires while a transfer is past its watches (or
    before it started) stops it before any destination and the post-copy
    action: nothing is delivered and the source is kept."""
    import threading

    src, dst1, dst2 = (tmp_path / n for n in ("src", "dst1", "dst2"))
    for directory in (src, dst1, dst2):
        directory.mkdir()
    (src / "data.txt").write_text("payload")
    definition = {
        "type": "transfer",
        "source": {
            "directory": str(src),
            "fileRegex": r"data\.txt",
            "postCopyAction": {"action": "delete"},
            "protocol": {"name": "local"},
        },
        "destination": [
            {"directory": str(dst1), "protocol": {"name": "local"}},
            {"directory": str(dst2), "protocol": {"name": "local"}},
        ],
    }
    killed = threading.Event()
    killed.set()
    assert Transfer(None, "killed-early", definition).run(killed) is False
    assert os.listdir(dst1) == [] and os.listdir(dst2) == []
    assert (src / "data.txt").read_text() == "payload"
