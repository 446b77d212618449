"""Hostile file names over ssh (host-to-host, push, pull), sftp and local."""

from __future__ import annotations

import os
import subprocess

import pytest

from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def
from support.ssh_helpers import remote_dest, remote_source

NAMES = [
    "with space.txt",
    "quote'single.txt",
    'quote"double.txt',
    "$(touch CANARY).txt",
    "semi;touch CANARY.txt",
    "star*.txt",
    "-leading-dash.txt",
    "n\u00e9on-\u65e5\u672c.txt",
    "`touch CANARY`.txt",
]


def canaries(ssh_env) -> str:
    return subprocess.run(
        ["find", str(ssh_env.base), "/tmp", "-maxdepth", "6", "-name", "CANARY*"],
        capture_output=True,
        text=True,
    ).stdout


def populate(ssh_env, directory) -> None:
    for index, name in enumerate(NAMES):
        ssh_env.write_file(directory / name, f"content {index}")
    # a sibling the glob in "star*.txt" would match
    ssh_env.write_file(directory / "starXX.txt.other", "must stay")


def check(directory, ssh_env, rename_to=None) -> None:
    for index, name in enumerate(NAMES):
        final = rename_to(name) if rename_to else name
        assert (directory / final).read_text() == f"content {index}", name
    assert not (directory / "starXX.txt.other").exists()
    assert sorted(os.listdir(directory)) == sorted(
        rename_to(n) if rename_to else n for n in NAMES
    )
    assert canaries(ssh_env) == ""


REGEX = r"^(?!starXX).*\.txt$"


@pytest.mark.parametrize("transfer_type", ["push", "pull", "proxy"])
def test_ssh_to_ssh(ssh_env, dirs, needs_host_to_host, transfer_type):
    populate(ssh_env, dirs["src"])
    dest = remote_dest(ssh_env, "ssh2", dirs["dst"], transferType=transfer_type)
    dest["protocol"]["credentials"]["transferUsername"] = ssh_env.user
    source = remote_source(
        ssh_env,
        "ssh1",
        dirs["src"],
        REGEX,
        postCopyAction={
            "action": "rename",
            "destination": f"{dirs['archive']}/",
            "pattern": r"\.txt$",
            "sub": ".done",
        },
    )
    assert Transfer(None, f"inj-{transfer_type}", transfer_def(source, dest)).run()
    check(dirs["dst"], ssh_env)
    assert sorted(os.listdir(dirs["archive"])) == sorted(
        n[:-4] + ".done" for n in NAMES
    )
    assert os.listdir(dirs["src"]) == ["starXX.txt.other"]


def test_local_to_sftp_with_rename_and_delete(ssh_env, dirs, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for index, name in enumerate(NAMES):
        (src / name).write_text(f"content {index}")
    definition = transfer_def(
        {
            "directory": str(src),
            "fileRegex": REGEX,
            "protocol": {"name": "local"},
            "postCopyAction": {"action": "delete"},
        },
        remote_dest(
            ssh_env,
            "sftp",
            dirs["dst"],
            rename={"pattern": r"\.txt$", "sub": " (copy).txt"},
        ),
    )
    assert Transfer(None, "inj-sftp", definition).run() is True
    check(dirs["dst"], ssh_env, rename_to=lambda n: n[:-4] + " (copy).txt")
    assert os.listdir(src) == []


def test_ssh_to_local_and_sftp_source(ssh_env, dirs, tmp_path):
    populate(ssh_env, dirs["src"])
    local = tmp_path / "local"
    local.mkdir()
    definition = transfer_def(
        remote_source(
            ssh_env,
            "sftp",
            dirs["src"],
            REGEX,
            postCopyAction={"action": "move", "destination": str(dirs["archive"])},
        ),
        {"directory": str(local), "protocol": {"name": "local"}},
        remote_dest(ssh_env, "ssh2", dirs["dst"]),
    )
    assert Transfer(None, "inj-local", definition).run() is True
    check(local, ssh_env)
    check(dirs["dst"], ssh_env)
    assert sorted(os.listdir(dirs["archive"])) == sorted(NAMES)
