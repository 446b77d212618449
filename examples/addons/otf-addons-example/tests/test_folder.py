"""Tests of the folder (directory-as-a-bucket) transfer protocol."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentaskpy.addons.example.remotehandlers.folder import FolderTransfer

from opentaskpy.config.schemas import validate_transfer_json
from opentaskpy.exceptions import RemoteFileNotFoundError
from opentaskpy.taskhandlers.transfer import Transfer

PROTOCOL = {"name": "opentaskpy.addons.example.remotehandlers.folder.FolderTransfer"}


def _source(bucket: Path, **extra: object) -> dict:
    return {
        "bucket": str(bucket),
        "directory": "in",
        "fileRegex": r"data\.txt",
        "protocol": dict(PROTOCOL),
        **extra,
    }


def _dest(bucket: Path, **extra: object) -> dict:
    return {
        "bucket": str(bucket),
        "directory": "out",
        "protocol": dict(PROTOCOL),
        **extra,
    }


def test_list_files_reports_size_and_mtime(tmp_path: Path) -> None:
    (tmp_path / "b" / "in").mkdir(parents=True)
    (tmp_path / "b" / "in" / "data.txt").write_text("12345")
    (tmp_path / "b" / "in" / "other.txt").write_text("x")
    handler = FolderTransfer({**_source(tmp_path / "b"), "task_id": "t"})
    files = handler.list_files()
    assert list(files) == [str(tmp_path / "b" / "in" / "data.txt")]
    assert files[str(tmp_path / "b" / "in" / "data.txt")]["size"] == 5
    assert handler.list_files(directory="missing") == {}


def test_schema_accepts_valid_and_rejects_bad(tmp_path: Path) -> None:
    good = {
        "type": "transfer",
        "source": _source(tmp_path),
        "destination": [
            _dest(
                tmp_path, encryption={"encrypt": False}, flags={"fullPath": "out/flag"}
            )
        ],
    }
    assert validate_transfer_json(good) is True
    relative_bucket = {"type": "transfer", "source": _source(Path("rel"))}
    assert validate_transfer_json(relative_bucket) is False
    bad_encryption = {
        "type": "transfer",
        "source": _source(tmp_path),
        "destination": [_dest(tmp_path, encryption={"zip": True})],
    }
    assert validate_transfer_json(bad_encryption) is False


def test_direct_transfer_with_rename_flag_and_delete(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "in").mkdir(parents=True)
    (src / "in" / "data.txt").write_text("payload")
    definition = {
        "type": "transfer",
        "source": _source(src, postCopyAction={"action": "delete"}),
        "destination": [
            _dest(
                dst,
                rename={"pattern": "txt$", "sub": "csv"},
                flags={"fullPath": "out/data.flg"},
            )
        ],
    }
    assert validate_transfer_json(definition)
    assert Transfer(None, "folder-direct", definition).run() is True
    assert (dst / "out" / "data.csv").read_text() == "payload"
    assert (dst / "out" / "data.flg").exists()
    assert not (src / "in" / "data.txt").exists()
    assert not list((dst / "out").glob(".*partial"))


def test_proxy_transfer_to_local_keeps_source_on_move(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "local-out"
    (src / "in").mkdir(parents=True)
    out.mkdir()
    (src / "in" / "data.txt").write_text("via worker")
    definition = {
        "type": "transfer",
        "source": _source(
            src, postCopyAction={"action": "move", "destination": "done"}
        ),
        "destination": [{"directory": str(out), "protocol": {"name": "local"}}],
    }
    assert Transfer(None, "folder-proxy", definition).run() is True
    assert (out / "data.txt").read_text() == "via worker"
    assert (src / "done" / "data.txt").read_text() == "via worker"


def test_file_watch_times_out(tmp_path: Path) -> None:
    definition = {
        "type": "transfer",
        "source": _source(tmp_path / "empty", fileWatch={"timeout": 1}),
        "destination": [_dest(tmp_path / "dst")],
    }
    with pytest.raises(RemoteFileNotFoundError, match="No valid files found after"):
        Transfer(None, "folder-watch", definition).run()
