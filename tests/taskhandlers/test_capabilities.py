"""The transfer decides by the handler classes' capabilities, not by names.

The handlers below are addon protocols (resolved by dotted name like
published addons); each declares one capability, and its twin without the
declaration shows the default.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    StagingSource,
    info_logging,
    make_files,
)

from opentaskpy import exceptions
from opentaskpy.remotehandlers.dummy import DummyTransfer
from opentaskpy.remotehandlers.local import LocalTransfer
from opentaskpy.remotehandlers.remotehandler import RemoteTransferHandler
from opentaskpy.remotehandlers.ssh import SSHTransfer
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, local_source, transfer_def

_moves: list[list[str]] = []


class MovesOnHost(LocalTransfer):
    final_move_on_host = True

    def move_files_to_final_location(self, files: dict) -> int:
        _moves.append(sorted(files))
        return 0


class FailsToMove(MovesOnHost):
    final_move_on_host = True

    def move_files_to_final_location(self, files: dict) -> int:
        return 1


class WouldMove(LocalTransfer):
    """Has the method but does not declare the capability."""

    def move_files_to_final_location(self, files: dict) -> int:
        _moves.append(sorted(files))
        return 0


class NeverHasFiles(LocalTransfer):
    files_on_worker = True
    missing_files_fail = False


class KeepsStaging(StagingSource):
    keeps_staging_dir = True


def _protocol(cls: type) -> dict:
    return {"name": f"{__name__}.{cls.__name__}"}


def _transfer(task_id: str, source: dict, dest: dict) -> Transfer:
    return Transfer(None, task_id, transfer_def(source, dest))


@pytest.fixture(autouse=True)
def _clear_moves() -> None:
    _moves.clear()


def test_final_move_only_where_declared(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"a.txt": "a"})
    dst.mkdir()
    dest = local_dest(dst, protocol=_protocol(MovesOnHost))
    assert _transfer("moves", local_source(src, "a"), dest).run() is True
    assert _moves == [[f"{src}/a.txt"]]
    _moves.clear()
    dest = local_dest(dst, protocol=_protocol(WouldMove))
    assert _transfer("no-move", local_source(src, "a"), dest).run() is True
    assert _moves == []
    assert (dst / "a.txt").read_text() == "a"


def test_a_failed_final_move_fails_the_transfer(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"a.txt": "a"})
    dst.mkdir()
    dest = local_dest(dst, protocol=_protocol(FailsToMove))
    with pytest.raises(Exception, match="Error moving file into final location"):
        _transfer("fails-move", local_source(src, "a"), dest).run()


def test_missing_files_fail_unless_the_source_never_has_any(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    quiet = local_source(src, "a", protocol=_protocol(NeverHasFiles))
    assert _transfer("quiet", quiet, local_dest(dst)).run() is True
    with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
        _transfer("loud", local_source(src, "a"), local_dest(dst)).run()


def test_files_on_worker_skip_the_staging_directory(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"a.txt": "a"})
    dst.mkdir()
    staged = _transfer(
        "staged",
        local_source(src, "a", protocol=_protocol(KeepsStaging)),
        local_dest(dst),
    )
    assert staged.run() is True
    # Staged through the worker (StagingSource copies there), and kept.
    assert (Path(staged.local_staging_dir) / "a.txt").read_text() == "a"
    (dst / "a.txt").unlink()
    plain = _transfer(
        "plain",
        local_source(src, "a", protocol=_protocol(StagingSource)),
        local_dest(dst),
    )
    assert plain.run() is True
    assert not Path(plain.local_staging_dir).exists()  # removed after the run
    (dst / "a.txt").unlink()
    direct = _transfer("direct", local_source(src, "a"), local_dest(dst))
    assert direct.run() is True
    assert not Path(direct.local_staging_dir).exists()  # never created
    assert (dst / "a.txt").read_text() == "a"


def test_capabilities_are_declared_per_class_not_inherited() -> None:
    assert LocalTransfer.files_on_worker is True
    assert SSHTransfer.final_move_on_host is True
    assert DummyTransfer.missing_files_fail is False
    assert DummyTransfer.keeps_staging_dir is True

    class MySSH(SSHTransfer):
        pass

    class MyLocal(LocalTransfer):
        pass

    defaults = RemoteTransferHandler
    assert MySSH.final_move_on_host is defaults.final_move_on_host is False
    assert MyLocal.files_on_worker is defaults.files_on_worker is False
    assert StagingSource.files_on_worker is False


def test_executions_run_per_host_only_where_declared() -> None:
    from opentaskpy.remotehandlers.local_execution import LocalExecution
    from opentaskpy.remotehandlers.remotehandler import RemoteExecutionHandler
    from opentaskpy.remotehandlers.ssh_execution import SSHExecution

    class MyLocal(LocalExecution):
        pass

    assert LocalExecution.runs_per_host is SSHExecution.runs_per_host is True
    assert MyLocal.runs_per_host is RemoteExecutionHandler.runs_per_host is False
