"""SFTP transfers against the SFTP-only sshd (``ForceCommand internal-sftp``)."""

from __future__ import annotations

import os
import stat

import pytest

from opentaskpy import exceptions
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def
from support.ssh_helpers import log_text, remote_dest, remote_source


def local_src(path, regex):
    return {"directory": str(path), "fileRegex": regex, "protocol": {"name": "local"}}


def test_push_creates_nested_dirs_mode_rename_flag(ssh_env, dirs, tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "data.txt").write_text("sftp data")
    target = dirs["dst"] / "nested" / "level1" / "level2"
    flag = dirs["dst"] / "sftp.flg"
    definition = transfer_def(
        local_src(src, r"data\.txt"),
        remote_dest(
            ssh_env,
            "sftp",
            target,
            createDirectoryIfNotExists=True,
            mode="0600",
            rename={"pattern": "data", "sub": "renamed"},
            flags={"fullPath": str(flag)},
        ),
    )
    assert Transfer(None, "sftp-push", definition).run() is True
    out = target / "renamed.txt"
    assert out.read_text() == "sftp data"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert os.listdir(target) == ["renamed.txt"]
    assert flag.exists()


def test_push_without_posix_rename_or_stat(ssh_env, dirs, tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "d.txt").write_text("direct")
    definition = transfer_def(
        local_src(src, r"d\.txt"),
        remote_dest(
            ssh_env,
            "sftp",
            dirs["dst"],
            protocol=ssh_env.protocol(
                "sftp", supportsPosixRename=False, supportsStatAfterUpload=False
            ),
        ),
    )
    assert Transfer(None, "sftp-noposix", definition).run() is True
    assert (dirs["dst"] / "d.txt").read_text() == "direct"


def test_missing_dir_without_create_fails(ssh_env, dirs, tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "d.txt").write_text("x")
    definition = transfer_def(
        local_src(src, r"d\.txt"), remote_dest(ssh_env, "sftp", dirs["dst"] / "nope")
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "sftp-nodir", definition).run()
    assert "Destination dir does not exist" in log_text("sftp-nodir")


def test_root_directory_not_writable(ssh_env, tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "d.txt").write_text("x")
    definition = transfer_def(
        local_src(src, r"d\.txt"), remote_dest(ssh_env, "sftp", "/")
    )
    definition["destination"][0]["directory"] = "/"
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "sftp-root", definition).run()
    assert not os.path.exists("/d.txt")
    assert "Unable to transfer file via SFTP" in log_text("sftp-root")


def test_source_with_password_and_post_copy_nested_move(ssh_env, dirs, tmp_path):
    if not ssh_env.password:
        pytest.skip("password authentication needs the root-created test user")
    ssh_env.write_file(dirs["src"] / "pw.txt", "by password")
    proto = {
        "name": "sftp",
        "port": ssh_env.hosts["sftp"].port,
        "credentials": {"username": ssh_env.user, "password": ssh_env.password},
    }
    source = remote_source(
        ssh_env,
        "sftp",
        dirs["src"],
        r"pw\.txt",
        protocol=proto,
        postCopyAction={"action": "move", "destination": f"{dirs['src']}/nested/"},
    )
    definition = transfer_def(
        source, {"directory": str(tmp_path), "protocol": {"name": "local"}}
    )
    assert Transfer(None, "sftp-pw", definition).run() is True
    assert (tmp_path / "pw.txt").read_text() == "by password"
    assert (dirs["src"] / "nested" / "pw.txt").exists()
    assert not (dirs["src"] / "pw.txt").exists()


def test_missing_source_directory_raises_no_files(ssh_env, dirs):
    definition = transfer_def(remote_source(ssh_env, "sftp", dirs["src"] / "x", ".*"))
    with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
        Transfer(None, "sftp-nosrc", definition).run()


def test_no_retry_fails_fast_with_wrapped_error(ssh_env, dirs):
    proto = ssh_env.protocol("sftp", retry=False, timeout=1)
    proto["port"] = 1  # nothing listens there
    definition = transfer_def(
        remote_source(ssh_env, "sftp", dirs["src"], ".*", protocol=proto)
    )
    with pytest.raises(Exception, match="Not retrying due to config"):
        Transfer(None, "sftp-noretry", definition).run()


def test_sftp_only_host_refuses_shell_but_ssh_handler_needs_one(ssh_env, dirs):
    ssh_env.write_file(dirs["src"] / "f.txt", "x")
    source = remote_source(ssh_env, "sftp", dirs["src"], r"f\.txt")
    source["protocol"]["name"] = "ssh"
    # the SFTP handler works against this host (tested above); the SSH handler
    # lists via SFTP too, so listing works even without a shell.
    definition = transfer_def(source)
    assert Transfer(None, "sftp-as-ssh", definition).run() is True


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", False), (None, False)]
)
def test_paramiko_ultra_debug_only_for_exactly_1(
    ssh_env, dirs, monkeypatch, value, expected
):
    from opentaskpy.remotehandlers.sftp import SFTPTransfer

    if value is None:
        monkeypatch.delenv("OTF_PARAMIKO_ULTRA_DEBUG", raising=False)
    else:
        monkeypatch.setenv("OTF_PARAMIKO_ULTRA_DEBUG", value)
    spec = remote_source(ssh_env, "sftp", dirs["src"], ".*")
    spec["task_id"] = "sftp-ultra"
    handler = SFTPTransfer(spec)
    try:
        handler.connect(spec["hostname"])
        assert handler.sftp_client is not None
        assert handler.sftp_client.ultra_debug is expected
        # The session works either way.
        assert handler.sftp_client.listdir(str(dirs["src"])) == []
    finally:
        handler.tidy()


def test_many_files_use_one_connection_per_host(ssh_env, dirs, monkeypatch):
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    names = [f"part_{i:02d}.dat" for i in range(25)]
    for name in names:
        ssh_env.write_file(dirs["src"] / name, name * 50)
    source = remote_source(ssh_env, "ssh1", dirs["src"], r"part_\d+\.dat")
    source["protocol"]["name"] = "sftp"
    definition = transfer_def(source, remote_dest(ssh_env, "sftp", dirs["dst"]))
    assert Transfer(None, "sftp-many-conn", definition).run() is True
    assert sorted(os.listdir(dirs["dst"])) == names
    for name in names:
        assert (dirs["dst"] / name).read_text() == name * 50
    text = log_text("sftp-many-conn")
    # paramiko logs one "Authentication ... successful" per SSH connection.
    assert text.count("Authentication (publickey) successful") == 2, text
