"""One run's clean-up never removes another live run's temporary file.

Temporary names carry their owner; clean-up removes only partial files whose
owner is provably dead, or that are older than OTF_PARTIAL_MAX_AGE_SECONDS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from opentaskpy.fs import fileops
from opentaskpy.fs.localfs import LocalFileSystem
from support.helpers import local_source, transfer_def, wait_for, write_json
from support.processes import start_task_run, task_run_env
from support.ssh_helpers import remote_dest, sftp_filesystem

SIZE = 128 * 1024 * 1024


def _partials(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".otf-partial")]


def _source(directory: Path, data: bytes, copies: int = 1) -> dict:
    directory.mkdir()
    with (directory / "same.bin").open("wb") as handle:
        for _ in range(copies):
            handle.write(data)
    return local_source(directory, r"same\.bin")


def test_a_second_run_leaves_the_first_runs_upload_alone(
    ssh_env, dirs, tmp_path, task_run, cfg_dir, ssh_client_env
):
    block = os.urandom(1024 * 1024)
    first = transfer_def(
        _source(tmp_path / "a", block, SIZE // len(block)),
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    second = transfer_def(
        _source(tmp_path / "b", b"small"), remote_dest(ssh_env, "sftp", dirs["dst"])
    )
    write_json(cfg_dir / "transfers" / "first.json", first)
    write_json(cfg_dir / "transfers" / "second.json", second)
    proc = start_task_run(
        "-t", "first", "-c", cfg_dir, cwd=Path.cwd(), env=task_run_env(**ssh_client_env)
    )
    try:
        started = wait_for(
            lambda: any(p.stat().st_size > 1024 * 1024 for p in _partials(dirs["dst"]))
        )
        assert started, "the first run never started its upload"
        # Freeze the first run mid-upload while the second one runs.
        proc.send_signal(signal.SIGSTOP)
        try:
            result = task_run("-t", "second", "-c", cfg_dir, env=ssh_client_env)
        finally:
            proc.send_signal(signal.SIGCONT)
        assert result.returncode == 0, result.stderr[-2000:]
        _, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    # The first run renamed last: its complete upload is the final file.
    assert (dirs["dst"] / "same.bin").stat().st_size == SIZE
    assert os.listdir(dirs["dst"]) == ["same.bin"]


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _plant_partials(directory: Path, make) -> dict[str, Path]:
    """Partial files of every kind of owner; returns kind -> path."""
    from opentaskpy.fs import owner

    here = f"{owner.host_id()}-{owner.boot_id()}"
    my_start = owner.start_ticks(os.getpid())
    names = {
        "live": fileops.temporary_name("same.bin"),
        "dead": f".same.bin.{here}-{_dead_pid()}-12345-abcdef.otf-partial",
        "reused_pid": f".x.{here}-{os.getpid()}-{my_start + 1}-abcdef.otf-partial",
        "rebooted": f".y.{owner.host_id()}-00c0ffee-{os.getpid()}-1-abcdef.otf-partial",
        "other_host": f".same.bin.0badc0de-{owner.boot_id()}-1-1-abcdef.otf-partial",
        "other_host_old": ".z.0badc0de-00000000-1-1-abcdef.otf-partial",
        "unowned": ".same.bin.0123456789ab.otf-partial",
        "unowned_old": ".same.bin.ba9876543210.otf-partial",
    }
    paths = {kind: make(directory / name) for kind, name in names.items()}
    two_days_ago = time.time() - 2 * 86400
    for kind in ("other_host_old", "unowned_old"):
        os.utime(paths[kind], (two_days_ago, two_days_ago))
    return paths


EXPECTED_REMOVED = {"dead", "reused_pid", "rebooted", "other_host_old", "unowned_old"}


def _check(paths: dict[str, Path]) -> None:
    removed = {kind for kind, path in paths.items() if not path.exists()}
    assert removed == EXPECTED_REMOVED


def test_local_clean_up_removes_only_partials_of_dead_owners(tmp_path):
    def make(path: Path) -> Path:
        path.write_bytes(b"partial")
        return path

    paths = _plant_partials(tmp_path, make)
    fileops.remove_stale_partials(LocalFileSystem(), str(tmp_path), {"same.bin"})
    _check(paths)


def test_sftp_clean_up_removes_only_partials_of_dead_owners(ssh_env, dirs):
    paths = _plant_partials(dirs["dst"], lambda p: ssh_env.write_file(p, b"partial"))
    with sftp_filesystem(ssh_env, "sftp") as fs:
        fileops.remove_stale_partials(fs, str(dirs["dst"]), {"same.bin"})
    _check(paths)


def test_the_age_limit_is_configurable(tmp_path, monkeypatch):
    old = tmp_path / ".same.bin.0badc0de-00000000-1-1-abcdef.otf-partial"
    old.write_bytes(b"")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    fileops.remove_stale_partials(LocalFileSystem(), str(tmp_path), {"same.bin"})
    assert old.exists()  # another host's file, younger than the default day
    monkeypatch.setenv("OTF_PARTIAL_MAX_AGE_SECONDS", "600")
    fileops.remove_stale_partials(LocalFileSystem(), str(tmp_path), {"same.bin"})
    assert not old.exists()


pytestmark = pytest.mark.usefixtures("ssh_client_env")
