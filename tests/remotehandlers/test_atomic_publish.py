"""A watcher of the destination never sees a partial file at the final name,
and the worker staging directory is private while it exists."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import transfer_def
from support.ssh_helpers import remote_dest, remote_source

SIZE = 48 * 1024 * 1024


class Watcher(threading.Thread):
    """Polls a directory, recording every (name, size) it sees."""

    def __init__(self, directory: Path):
        super().__init__(daemon=True)
        self.directory = directory
        self.seen: list[tuple[str, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.scan()
            time.sleep(0.002)

    def scan(self) -> None:
        # Entries can be renamed away between listing and stat.
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.directory):
                with contextlib.suppress(FileNotFoundError):
                    self.seen.append((entry.name, entry.stat().st_size))


def _big_file(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "big.bin"
    with path.open("wb") as handle:
        for _ in range(SIZE // (1024 * 1024)):
            handle.write(os.urandom(1024 * 1024))
    return path


@pytest.mark.parametrize("protocol", ["sftp", "ssh", "local"])
def test_watcher_never_sees_a_partial_file_at_the_final_name(
    ssh_env, dirs, tmp_path, protocol
):
    src = _big_file(tmp_path / "src")
    if protocol == "local":
        destination: dict = {
            "directory": str(dirs["dst"]),
            "protocol": {"name": "local"},
        }
    else:
        host = "sftp" if protocol == "sftp" else "ssh2"
        destination = remote_dest(ssh_env, host, dirs["dst"], mode="0640")
    definition = transfer_def(
        {
            "directory": str(src.parent),
            "fileRegex": r"big\.bin",
            "protocol": {"name": "local"},
        },
        destination,
    )
    # Every protocol writes inside the destination directory: under a hidden
    # temporary name (sftp, local) or in a hidden receiving directory (ssh).
    watcher = Watcher(dirs["dst"])
    watcher.start()
    try:
        assert Transfer(None, f"atomic-{protocol}", definition).run() is True
    finally:
        watcher.stop.set()
        watcher.join()
    watcher.scan()
    final_sizes = {size for name, size in watcher.seen if name == "big.bin"}
    assert final_sizes == {SIZE}, sorted(final_sizes)[:5]
    # The watcher was really watching while data was written elsewhere.
    temporaries = {name for name, _ in watcher.seen if name != "big.bin"} | {
        name for name, size in watcher.seen if size < SIZE
    }
    assert temporaries, "the watcher never saw the file being written"
    assert os.listdir(dirs["dst"]) == ["big.bin"]
    assert (dirs["dst"] / "big.bin").read_bytes() == src.read_bytes()


def test_worker_staging_is_private_while_it_exists_and_removed_after(
    ssh_env, dirs, tmp_path, monkeypatch
):
    base = tmp_path / "staging-base"
    base.mkdir()
    monkeypatch.setenv("OTF_STAGING_DIR", str(base))
    ssh_env.write_file(dirs["src"] / "big.bin", os.urandom(8 * 1024 * 1024))
    second = ssh_env.make_dir(dirs["dst"].parent.name, "dst2")
    # Two destinations: the files are staged on the worker once for both.
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"big\.bin")
        | {"protocol": ssh_env.protocol("ssh1") | {"name": "sftp"}},
        remote_dest(ssh_env, "sftp", dirs["dst"]),
        remote_dest(ssh_env, "sftp", second),
    )
    modes: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in os.scandir(base):
                with contextlib.suppress(FileNotFoundError):
                    modes.append(stat.S_IMODE(entry.stat().st_mode))
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert Transfer(None, "staging-private", definition).run() is True
    finally:
        stop.set()
        watcher.join()
    assert modes, "the staging directory was never seen"
    assert set(modes) == {0o700}
    assert os.listdir(base) == []
    assert (dirs["dst"] / "big.bin").stat().st_size == 8 * 1024 * 1024
    assert (second / "big.bin").read_bytes() == (dirs["dst"] / "big.bin").read_bytes()
