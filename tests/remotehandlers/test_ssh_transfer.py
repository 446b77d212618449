"""SSH transfers through ``Transfer.run()`` against real sshd servers."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from opentaskpy import exceptions
from opentaskpy.remotehandlers.ssh import SSHTransfer
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, transfer_def
from support.ssh_helpers import log_text, remote_dest, remote_source


def no_partials(directory: Path) -> bool:
    return not [n for n in os.listdir(directory) if n.endswith(".otf-partial")]


def test_minimal_spec_constructs_without_connecting() -> None:
    handler = SSHTransfer(
        {"task_id": "1234", "x": {"y": "value"}, "protocol": {"name": "ssh"}}
    )
    assert handler.sftp_connection is None
    assert handler.spec["createDirectoryIfNotExists"] is False
    assert handler.supports_direct_transfer() is True
    assert handler.obtain_variable_from_spec("x.y", handler.spec) == "value"


def test_host_to_host_push_with_rename_mode_and_flag(
    ssh_env, dirs, needs_host_to_host
) -> None:
    ssh_env.write_file(dirs["src"] / "report.txt", "hello\n")
    ssh_env.write_file(dirs["src"] / "other.csv", "x")
    flag = dirs["dst"] / "done.flg"
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"report\.txt"),
        remote_dest(
            ssh_env,
            "ssh2",
            dirs["dst"],
            mode="0640",
            rename={"pattern": r"^(.*)\.txt$", "sub": r"\1-2.txt"},
            flags={"fullPath": str(flag)},
        ),
    )
    assert Transfer(None, "h2h-push", definition).run() is True
    out = dirs["dst"] / "report-2.txt"
    assert out.read_text() == "hello\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert flag.exists() and flag.stat().st_size == 0
    assert sorted(os.listdir(dirs["dst"])) == ["done.flg", "report-2.txt"]
    assert (dirs["src"] / "report.txt").exists()
    # Received inside the destination directory: nothing under $HOME/otf.
    assert not (ssh_env.home / "otf" / "h2h-push").exists()
    text = log_text("h2h-push")
    assert "StrictHostKeyChecking=accept-new" in text
    assert f"-P {ssh_env.hosts['ssh2'].port}" in text


def test_pull_transfer_type(ssh_env, dirs, needs_host_to_host) -> None:
    ssh_env.write_file(dirs["src"] / "pull.txt", "pulled")
    dest = remote_dest(ssh_env, "ssh2", dirs["dst"], transferType="pull")
    dest["protocol"]["credentials"]["transferUsername"] = ssh_env.user
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"pull\.txt"), dest
    )
    assert Transfer(None, "pull-t", definition).run() is True
    assert (dirs["dst"] / "pull.txt").read_text() == "pulled"


def test_proxy_transfer_removes_worker_staging(ssh_env, dirs) -> None:
    ssh_env.write_file(dirs["src"] / "p.txt", "proxied")
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"p\.txt"),
        remote_dest(ssh_env, "ssh2", dirs["dst"], transferType="proxy"),
    )
    task = Transfer(None, "proxy-t", definition)
    staging = task.local_staging_dir
    assert task.run() is True
    assert (dirs["dst"] / "p.txt").read_text() == "proxied"
    assert not os.path.exists(staging)


def test_ssh_source_to_local_with_post_copy_move(ssh_env, dirs, tmp_path) -> None:
    ssh_env.write_file(dirs["src"] / "a.txt", "A")
    ssh_env.write_file(dirs["src"] / "b.txt", "BB")
    local = tmp_path / "local"
    local.mkdir()
    definition = transfer_def(
        remote_source(
            ssh_env,
            "ssh1",
            dirs["src"],
            r".*\.txt",
            postCopyAction={"action": "move", "destination": str(dirs["archive"])},
        ),
        local_dest(local),
    )
    assert Transfer(None, "src-local", definition).run() is True
    assert (local / "a.txt").read_text() == "A"
    assert (local / "b.txt").read_text() == "BB"
    assert sorted(os.listdir(dirs["archive"])) == ["a.txt", "b.txt"]
    assert os.listdir(dirs["src"]) == []


def test_post_copy_rename_and_delete(ssh_env, dirs, tmp_path) -> None:
    ssh_env.write_file(dirs["src"] / "r.txt", "R")
    definition = transfer_def(
        remote_source(
            ssh_env,
            "ssh1",
            dirs["src"],
            r"r\.txt",
            postCopyAction={
                "action": "rename",
                "destination": f"{dirs['archive']}/",
                "pattern": r"\.txt$",
                "sub": ".done",
            },
        ),
        local_dest(tmp_path),
    )
    assert Transfer(None, "pca-rename", definition).run() is True
    assert (dirs["archive"] / "r.done").read_text() == "R"
    ssh_env.write_file(dirs["src"] / "d.txt", "D")
    definition = transfer_def(
        remote_source(
            ssh_env, "ssh1", dirs["src"], r"d\.txt", postCopyAction={"action": "delete"}
        ),
        local_dest(tmp_path),
    )
    assert Transfer(None, "pca-delete", definition).run() is True
    assert not (dirs["src"] / "d.txt").exists()
    assert (tmp_path / "d.txt").read_text() == "D"


def test_post_copy_move_to_bad_target_fails_and_keeps_source(
    ssh_env, dirs, tmp_path
) -> None:
    ssh_env.write_file(dirs["src"] / "keep.txt", "K")
    definition = transfer_def(
        remote_source(
            ssh_env,
            "ssh1",
            dirs["src"],
            r"keep\.txt",
            postCopyAction={"action": "move", "destination": "/etc/passwd"},
        ),
        local_dest(tmp_path),
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "pca-bad", definition).run()
    assert (dirs["src"] / "keep.txt").exists()
    assert (tmp_path / "keep.txt").read_text() == "K"


def test_local_to_ssh_creates_directory_and_sets_group(ssh_env, dirs, tmp_path) -> None:
    src = tmp_path / "s"
    src.mkdir()
    (src / "in.dat").write_bytes(b"\x00\x01data")
    target = dirs["dst"] / "new" / "deeper"
    group = Path("/etc/group").read_text()
    definition = transfer_def(
        {"directory": str(src), "fileRegex": r"in\.dat", "protocol": {"name": "local"}},
        remote_dest(
            ssh_env,
            "ssh2",
            target,
            createDirectoryIfNotExists=True,
            mode="0644",
            permissions={"group": ssh_env.user},
        ),
    )
    assert Transfer(None, "local-ssh", definition).run() is True
    out = target / "in.dat"
    assert out.read_bytes() == b"\x00\x01data"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert out.stat().st_gid == ssh_env.gid
    assert ssh_env.user in group
    assert no_partials(target)


def test_missing_destination_directory_fails(ssh_env, dirs, tmp_path) -> None:
    src = tmp_path / "s"
    src.mkdir()
    (src / "x.txt").write_text("x")
    definition = transfer_def(
        {"directory": str(src), "fileRegex": r"x\.txt", "protocol": {"name": "local"}},
        remote_dest(ssh_env, "ssh2", dirs["dst"] / "missing"),
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "dest-missing", definition).run()
    assert "Destination directory" in log_text("dest-missing")
    assert not (dirs["dst"] / "missing").exists()


def test_rename_into_etc_passwd_fails(ssh_env, dirs, tmp_path) -> None:
    src = tmp_path / "s"
    src.mkdir()
    (src / "pw.txt").write_text("not a passwd file")
    before = Path("/etc/passwd").read_text()
    definition = transfer_def(
        {"directory": str(src), "fileRegex": r"pw\.txt", "protocol": {"name": "local"}},
        remote_dest(
            ssh_env,
            "ssh2",
            Path("/etc"),
            rename={"pattern": r"pw\.txt", "sub": "passwd"},
        ),
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "etc-passwd", definition).run()
    assert Path("/etc/passwd").read_text() == before
    assert not [n for n in os.listdir("/etc") if n.endswith(".otf-partial")]


def test_missing_source_directory_with_error_false_succeeds(ssh_env, dirs) -> None:
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"] / "nope", r".*", error=False),
    )
    assert Transfer(None, "src-missing", definition).run() is True
    assert "does not exist" in log_text("src-missing")


def test_file_watch_then_transfer(ssh_env, dirs, tmp_path) -> None:
    ssh_env.write_file(dirs["src"] / "fileWatch.txt", "")
    ssh_env.write_file(dirs["src"] / "fileWatch.log", "payload")
    definition = transfer_def(
        remote_source(
            ssh_env,
            "ssh1",
            dirs["src"],
            r"fileWatch\.log",
            fileWatch={"timeout": 2, "fileRegex": r"fileWatch\.txt"},
        ),
        local_dest(tmp_path),
    )
    assert Transfer(None, "fw", definition).run() is True
    assert (tmp_path / "fileWatch.log").read_text() == "payload"


def test_file_watch_times_out(ssh_env, dirs) -> None:
    definition = transfer_def(
        remote_source(
            ssh_env, "ssh1", dirs["src"], r"never\.txt", fileWatch={"timeout": 1}
        ),
    )
    with pytest.raises(exceptions.RemoteFileNotFoundError):
        Transfer(None, "fw-timeout", definition).run()


def _log_watch_source(
    ssh_env, dirs, log: str, regex: str, timeout: int, error: bool = True, **watch
) -> dict:
    """An ssh1 source matching no file that watches ``log`` for ``regex``."""
    watch = {"log": log, "directory": str(dirs["src"]), "contentRegex": regex, **watch}
    extra = {} if error else {"error": False}
    return remote_source(
        ssh_env,
        "ssh1",
        dirs["src"],
        r"nothing",
        logWatch={**watch, "timeout": timeout},
        **extra,
    )


def test_log_watch_finds_line(ssh_env, dirs) -> None:
    ssh_env.write_file(dirs["src"] / "app.log", "start\nJob FINISHED ok\n")
    source = _log_watch_source(ssh_env, dirs, "app.log", "FINISHED", 2, error=False)
    assert Transfer(None, "lw", transfer_def(source)).run() is True
    assert "Found pattern in log file" in log_text("lw")


def test_log_watch_missing_log_fails(ssh_env, dirs) -> None:
    source = _log_watch_source(ssh_env, dirs, "absent.log", "x", 1)
    with pytest.raises(exceptions.LogWatchInitError):
        Transfer(None, "lw-missing", transfer_def(source)).run()


def test_log_watch_tail_ignores_existing_lines_and_sees_new_ones(ssh_env, dirs) -> None:
    log = ssh_env.write_file(dirs["src"] / "tail.log", "someText\n")
    spec = _log_watch_source(
        ssh_env, dirs, "tail.log", "someText", 1, error=False, tail=True
    )
    with pytest.raises(exceptions.LogWatchTimeoutError):
        Transfer(None, "lw-tail", transfer_def(spec)).run()
    handler = SSHTransfer({**spec, "task_id": "lw-tail2"})
    assert handler.init_logwatch() == 0
    assert handler.do_logwatch() == 1
    with log.open("a") as fh:
        fh.write("someText again\n")
    time.sleep(0.01)
    assert handler.do_logwatch() == 0
    handler.tidy()


def test_connect_logs_remote_uname_and_learns_home_in_one_command(
    ssh_env, dirs, monkeypatch
):
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    spec = remote_source(ssh_env, "ssh1", dirs["src"], ".*")
    spec["task_id"] = "ssh-uname"
    handler = SSHTransfer(spec)
    try:
        handler.connect(spec["hostname"])
        conn = handler.connection()
        # $HOME came with the uname command: asking for it runs nothing more.
        commands: list[str] = []
        original = conn.run

        def recording_run(command: str, **kwargs: object):
            commands.append(command)
            return original(command, **kwargs)

        monkeypatch.setattr(conn, "run", recording_run)
        assert conn.home() == str(ssh_env.home)
        assert commands == []
    finally:
        handler.tidy()
    expected = subprocess.run(
        ["uname", "-a"], capture_output=True, text=True, check=True
    ).stdout.strip()
    host = ssh_env.hosts["ssh1"].address
    assert f"[{host}] Remote uname: {expected}" in log_text("ssh-uname")
