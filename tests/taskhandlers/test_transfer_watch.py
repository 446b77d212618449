"""File watches, log watches and kill events on local transfers."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    info_logging,
    make_files,
    only_log,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers import watch
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, local_source, transfer_def


def test_file_watch_finds_file_created_during_the_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "POLL_INTERVAL", 1)  # keep the test short
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    definition = transfer_def(
        local_source(src, r"late\.txt", fileWatch={"timeout": 15}), local_dest(dst)
    )

    def produce() -> None:  # appear complete, as a well-behaved producer does
        (src / ".tmp").write_text("late")
        os.replace(src / ".tmp", src / "late.txt")

    timer = threading.Timer(1.0, produce)
    timer.start()
    try:
        assert Transfer(None, "fw-late", definition).run() is True
    finally:
        timer.cancel()
    assert (dst / "late.txt").read_text() == "late"
    log = only_log("fw-late").read_text()
    assert f"Performing a file watch on {src}/late\\.txt" in log
    assert "No valid files found. Sleeping for" in log


def test_file_watch_timeout_raises(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    definition = transfer_def(
        local_source(tmp_path / "src", "x", fileWatch={"timeout": 1}),
        local_dest(tmp_path),
    )
    with pytest.raises(
        exceptions.RemoteFileNotFoundError, match="No valid files found after 1 seconds"
    ):
        Transfer(None, "fw-timeout", definition).run()
    assert str(only_log("fw-timeout")).endswith("_failed.log")


def test_file_watch_timeout_with_error_false_succeeds(tmp_path: Path) -> None:
    definition = transfer_def(
        local_source(tmp_path / "src", "x", fileWatch={"timeout": 1}, error=False),
        local_dest(tmp_path),
    )
    assert Transfer(None, "fw-noerr", definition).run() is True
    log = only_log("fw-noerr").read_text()
    assert "Valid files not found after timeout, but error is set to false" in log


def test_watch_only_transfers_nothing_and_skips_post_copy_action(
    tmp_path: Path,
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"a.txt": "a"})
    dst.mkdir()
    definition = transfer_def(
        local_source(
            src,
            "a",
            fileWatch={"timeout": 2, "watchOnly": True},
            postCopyAction={"action": "delete"},
        ),
        local_dest(dst),
    )
    assert Transfer(None, "fw-only", definition).run() is True
    assert os.listdir(dst) == []
    assert (src / "a.txt").exists()
    assert "Just performing filewatch" in only_log("fw-only").read_text()


def test_watch_for_a_different_file_than_transferred(tmp_path: Path) -> None:
    src, trigger, dst = tmp_path / "src", tmp_path / "trigger", tmp_path / "dst"
    make_files(src, {"fileWatch.log": "payload", "fileWatch.txt": "other"})
    make_files(trigger, {"go.flag": ""})
    dst.mkdir()
    definition = transfer_def(
        local_source(
            src,
            r"fileWatch\.log",
            fileWatch={
                "timeout": 2,
                "directory": str(trigger),
                "fileRegex": r"go\.flag",
            },
        ),
        local_dest(dst),
    )
    assert Transfer(None, "fw-other", definition).run() is True
    assert os.listdir(dst) == ["fileWatch.log"]
    assert (
        f"Performing a file watch on {trigger}/go\\.flag"
        in only_log("fw-other").read_text()
    )


def test_conditionals_apply_during_file_watch(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_files(src, {"c1.txt": "a"})
    conditionals = {
        "count": {"minCount": 2, "maxCount": 2},
        "checkDuringFilewatch": True,
    }
    definition = transfer_def(
        local_source(src, "c", fileWatch={"timeout": 1}, conditionals=conditionals),
        local_dest(tmp_path),
    )
    with pytest.raises(exceptions.RemoteFileNotFoundError):
        Transfer(None, "fw-cond", definition).run()
    # Without checkDuringFilewatch the watch succeeds and the listing fails instead.
    del conditionals["checkDuringFilewatch"]
    with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
        Transfer(None, "fw-cond2", definition).run()


def test_kill_event_ends_file_watch_without_exception(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    definition = transfer_def(
        local_source(tmp_path / "src", "x", fileWatch={"timeout": 300}),
        local_dest(tmp_path),
    )
    kill = threading.Event()
    timer = threading.Timer(0.5, kill.set)
    timer.start()
    try:
        assert Transfer(None, "fw-kill", definition).run(kill_event=kill) is False
    finally:
        timer.cancel()
    log = only_log("fw-kill")
    assert log.name.endswith("_failed.log")
    assert "KILLED DUE TO TIMEOUT FROM PARENT BATCH" in log.read_text()


def test_log_watch_through_an_addon_protocol(tmp_path: Path) -> None:
    src, logs, dst = tmp_path / "src", tmp_path / "applogs", tmp_path / "dst"
    make_files(src, {"a.txt": "a"})
    make_files(logs, {"app.log": "starting\nJOB COMPLETE rc=0\n"})
    dst.mkdir()
    source = local_source(src, "a")
    source["protocol"] = {"name": "transfer_helpers.LogWatchSource"}
    source["logWatch"] = {
        "directory": str(logs),
        "log": "app.log",
        "contentRegex": "COMPLETE",
        "timeout": 2,
    }
    assert Transfer(None, "lw-ok", transfer_def(source, local_dest(dst))).run() is True
    assert os.listdir(dst) == ["a.txt"]
    log = only_log("lw-ok").read_text()
    assert f"Performing a log watch of {logs}/app.log" in log
    assert "Found pattern in log file" in log

    source["logWatch"]["contentRegex"] = "NEVER"
    source["logWatch"]["timeout"] = 1
    with pytest.raises(
        exceptions.LogWatchTimeoutError, match="No log entry found after 1 seconds"
    ):
        Transfer(None, "lw-timeout", transfer_def(source, local_dest(dst))).run()

    source["logWatch"]["log"] = "missing.log"
    with pytest.raises(exceptions.LogWatchInitError, match="Logwatch init failed"):
        Transfer(None, "lw-init", transfer_def(source, local_dest(dst))).run()


def test_poll_interval_is_ten_seconds() -> None:
    assert watch.POLL_INTERVAL == 10
    assert watch.DEFAULT_TIMEOUT == 60
