"""A legal 250-byte file name can be delivered: temporary names fit NAME_MAX."""

from __future__ import annotations

import os

import pytest

from opentaskpy.fs import fileops
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def
from support.ssh_helpers import remote_dest

pytestmark = pytest.mark.usefixtures("ssh_client_env")

LONG = "n" * 243 + "-é.csv"  # 250 bytes in UTF-8


def _source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / LONG).write_text("long name payload")
    return {"directory": str(src), "fileRegex": r"n+-", "protocol": {"name": "local"}}


def test_temporary_names_fit_whatever_the_final_length():
    for final in (LONG, "x" * 255, "é" * 127, "a"):
        for limit in (255, 143):
            name = fileops.temporary_name(final, limit)
            assert len(os.fsencode(name)) <= limit
            assert name.startswith(".") and name.endswith(fileops.PARTIAL_SUFFIX)
            name.encode("utf-8")  # never a cut character (SFTP sends UTF-8)
    assert fileops.temporary_name("x" * 250 + "a") != fileops.temporary_name(
        "x" * 250 + "b"
    )


def test_long_name_reaches_a_local_destination(tmp_path):
    assert len(LONG.encode()) == 250
    dst = tmp_path / "dst"
    dst.mkdir()
    flag = dst / ("f" * 245 + ".flag")
    destination = {
        "directory": str(dst),
        "protocol": {"name": "local"},
        "flags": {"fullPath": str(flag)},
    }
    definition = transfer_def(_source(tmp_path), destination)
    assert Transfer(None, "long-local", definition).run() is True
    assert (dst / LONG).read_text() == "long name payload"
    assert sorted(os.listdir(dst)) == sorted([LONG, flag.name])


@pytest.mark.parametrize("host", ["sftp", "ssh1"])
def test_long_name_reaches_a_remote_destination(ssh_env, dirs, tmp_path, host):
    flag = dirs["dst"] / ("f" * 245 + ".flag")
    destination = remote_dest(ssh_env, host, dirs["dst"], flags={"fullPath": str(flag)})
    definition = transfer_def(_source(tmp_path), destination)
    assert Transfer(None, f"long-{host}", definition).run() is True
    assert (dirs["dst"] / LONG).read_text() == "long name payload"
    assert sorted(os.listdir(dirs["dst"])) == sorted([LONG, flag.name])
