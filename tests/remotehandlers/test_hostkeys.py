"""Host-key policy: strict, auto-accept and trust on first use."""

from __future__ import annotations

import os
from pathlib import Path

import paramiko
import pytest

from opentaskpy import exceptions
from opentaskpy.remotehandlers.ssh_utils import strict_host_key_option
from opentaskpy.taskhandlers.transfer import Transfer
from opentaskpy.transport.ssh.sshconn import HostKeyChangedError
from support.helpers import transfer_def
from support.ssh_helpers import log_text, remote_dest, remote_source


def listing(ssh_env, dirs, host="ssh1", **proto):
    ssh_env.write_file(dirs["src"] / "k.txt", "k")
    source = remote_source(
        ssh_env, host, dirs["src"], r"k\.txt", protocol=ssh_env.protocol(host, **proto)
    )
    return transfer_def(source)


def test_tofu_records_key_then_refuses_changed_key(ssh_env, dirs):
    known = Path(os.environ["OTF_KNOWN_HOSTS_FILE"])
    assert not known.exists()
    server = ssh_env.hosts["ssh1"]
    definition = listing(ssh_env, dirs)
    assert Transfer(None, "tofu", definition).run() is True
    assert known.read_text().strip() == server.host_key_line
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    # second run with the recorded key works
    assert Transfer(None, "tofu", definition).run() is True
    # now the server "changes" its key: record a different key for it
    other = paramiko.Ed25519Key.from_private_key_file(
        str(ssh_env.hosts["ssh2"].host_key)
    )
    entry = paramiko.hostkeys.HostKeyEntry([f"[{server.address}]:{server.port}"], other)
    known.write_text(entry.to_line())
    with pytest.raises(HostKeyChangedError) as info:
        Transfer(None, "tofu", definition).run()
    message = str(info.value)
    assert f"[{server.address}]:{server.port}" in message
    assert "SHA256:" in message and "has changed" in message
    assert known.read_text() == entry.to_line()  # never overwritten


def test_strict_rejects_unknown_host(ssh_env, dirs):
    definition = listing(ssh_env, dirs, hostKeyValidation=True)
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        Transfer(None, "strict", definition).run()
    assert not Path(os.environ["OTF_KNOWN_HOSTS_FILE"]).exists()


def test_strict_accepts_host_in_known_hosts_file(ssh_env, dirs, tmp_path):
    extra = tmp_path / "extra_known_hosts"
    extra.write_text(ssh_env.hosts["ssh1"].host_key_line + "\n")
    definition = listing(
        ssh_env, dirs, hostKeyValidation=True, knownHostsFile=str(extra)
    )
    assert Transfer(None, "strict-ok", definition).run() is True
    assert not Path(os.environ["OTF_KNOWN_HOSTS_FILE"]).exists()


def test_false_accepts_any_key_without_recording(ssh_env, dirs):
    known = Path(os.environ["OTF_KNOWN_HOSTS_FILE"])
    other = paramiko.Ed25519Key.from_private_key_file(
        str(ssh_env.hosts["ssh2"].host_key)
    )
    server = ssh_env.hosts["ssh1"]
    bogus = paramiko.hostkeys.HostKeyEntry(
        [f"[{server.address}]:{server.port}"], other
    ).to_line()
    known.write_text(bogus)
    definition = listing(ssh_env, dirs, hostKeyValidation=False)
    assert Transfer(None, "nocheck", definition).run() is True
    assert known.read_text() == bogus


def test_scp_option_follows_policy():
    assert strict_host_key_option({}) == "-o StrictHostKeyChecking=accept-new"
    assert strict_host_key_option({"hostKeyValidation": True}).endswith("=yes")
    assert strict_host_key_option({"hostKeyValidation": False}).endswith("=no")


def test_host_to_host_strict_uses_yes_and_fails_for_unknown_dest(
    ssh_env, dirs, needs_host_to_host
):
    """The source host's user has no key for ssh2 recorded: strict → scp refuses."""
    user_known = ssh_env.home / ".ssh" / "known_hosts"
    if user_known.exists():
        user_known.unlink()
    ssh_env.write_file(dirs["src"] / "s.txt", "s")
    extra = Path(os.environ["OTF_KNOWN_HOSTS_FILE"]).parent / "extra"
    extra.write_text(
        ssh_env.hosts["ssh1"].host_key_line
        + "\n"
        + ssh_env.hosts["ssh2"].host_key_line
        + "\n"
    )
    source = remote_source(
        ssh_env,
        "ssh1",
        dirs["src"],
        r"s\.txt",
        protocol=ssh_env.protocol(
            "ssh1", hostKeyValidation=True, knownHostsFile=str(extra)
        ),
    )
    dest = remote_dest(
        ssh_env,
        "ssh2",
        dirs["dst"],
        protocol=ssh_env.protocol(
            "ssh2", hostKeyValidation=True, knownHostsFile=str(extra)
        ),
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "h2h-strict", transfer_def(source, dest)).run()
    assert not (dirs["dst"] / "s.txt").exists()
    text = log_text("h2h-strict")
    assert "StrictHostKeyChecking=yes" in text
    assert "Host key verification failed" in text
    assert not user_known.exists() or "127.0.0.2" not in user_known.read_text()


def test_same_transfer_run_twice_under_each_policy(ssh_env, dirs):
    """``Transfer.run()`` twice on one object: the policy holds on the rerun."""
    known = Path(os.environ["OTF_KNOWN_HOSTS_FILE"])
    server = ssh_env.hosts["ssh1"]

    tofu = Transfer(None, "twice-tofu", listing(ssh_env, dirs))
    assert tofu.run() is True
    assert tofu.run() is True
    assert known.read_text().splitlines() == [server.host_key_line]  # once

    strict = Transfer(
        None, "twice-strict", listing(ssh_env, dirs, hostKeyValidation=True)
    )
    known.unlink()
    for _ in range(2):
        with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
            strict.run()
    assert not known.exists()

    other = paramiko.Ed25519Key.from_private_key_file(
        str(ssh_env.hosts["ssh2"].host_key)
    )
    wrong = paramiko.hostkeys.HostKeyEntry(
        [f"[{server.address}]:{server.port}"], other
    ).to_line()
    known.write_text(wrong)
    changed = Transfer(None, "twice-changed", listing(ssh_env, dirs))
    for _ in range(2):
        with pytest.raises(HostKeyChangedError, match="has changed"):
            changed.run()
    assert known.read_text() == wrong

    accept_any = Transfer(
        None, "twice-false", listing(ssh_env, dirs, hostKeyValidation=False)
    )
    assert accept_any.run() is True
    assert accept_any.run() is True
    assert known.read_text() == wrong


def test_tofu_in_default_file_read_once_still_refuses_changed_key(
    ssh_env, dirs, tmp_path, monkeypatch
):
    # Without OTF_KNOWN_HOSTS_FILE the TOFU file is ~/.ssh/known_hosts, the
    # file paramiko's system host keys already come from: it is read once,
    # and a changed key is still refused (from the system keys).
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("OTF_KNOWN_HOSTS_FILE")
    known = tmp_path / ".ssh" / "known_hosts"
    server = ssh_env.hosts["ssh1"]
    definition = listing(ssh_env, dirs)
    assert Transfer(None, "tofu", definition).run() is True
    assert known.read_text().strip() == server.host_key_line
    assert Transfer(None, "tofu", definition).run() is True
    assert known.read_text().strip() == server.host_key_line  # not recorded twice
    other = paramiko.Ed25519Key.from_private_key_file(
        str(ssh_env.hosts["ssh2"].host_key)
    )
    entry = paramiko.hostkeys.HostKeyEntry([f"[{server.address}]:{server.port}"], other)
    known.write_text(entry.to_line())
    with pytest.raises(HostKeyChangedError):
        Transfer(None, "tofu", definition).run()
    assert known.read_text() == entry.to_line()
