"""Memory stays flat whatever the file size: 64 MiB through the real CLI.

The peak RSS of the ``task-run`` process and of each child is sampled every
20 ms while it transfers a large file. The ``task-run`` process is compared
with the peak of the same task moving a 1-byte file (same imports, same code
paths): growth must stay well below the file size. A child (the reader
process of a streamed large file) must stay below ``MAX_CHILD`` in all, an
interpreter with paramiko plus bounded buffers. No whole-file reads or
writes anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from support.helpers import transfer_def, write_json
from support.ssh_helpers import remote_dest, remote_source

MIB = 1024 * 1024
SIZE = 64 * MIB
MAX_GROWTH = 48 * MIB
MAX_CHILD = 64 * MIB


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        for _ in range(size // MIB):
            handle.write(os.urandom(MIB))
        handle.write(os.urandom(size % MIB))


def peak_rss_of_cli(cfg_dir: Path, task_id: str, env: dict) -> int:
    """Run ``task-run`` for ``task_id``; return its own peak RSS (bytes).

    Every child's peak is checked against ``MAX_CHILD`` on the way.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    full_env.update({k: v for k, v in env.items() if k != "OTF_LOG_LEVEL"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "opentaskpy", "-t", task_id, "-c", str(cfg_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
    )
    peaks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        try:
            watched = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            try:
                family = [watched, *watched.children(recursive=True)]
            except psutil.Error:
                family = [watched]
            for member in family:
                try:
                    rss = member.memory_info().rss
                except psutil.Error:
                    continue
                peaks[member.pid] = max(peaks.get(member.pid, 0), rss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        _, stderr = proc.communicate(timeout=240)
    finally:
        done.set()
        sampler.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.decode()[-3000:]
    peak = peaks.get(proc.pid, 0)
    assert peak > 0
    children = {pid: rss for pid, rss in peaks.items() if pid != proc.pid}
    assert all(rss < MAX_CHILD for rss in children.values()), children
    return peak


def test_sftp_to_sftp_64mib_keeps_memory_flat(ssh_env, dirs, cfg_dir, ssh_client_env):
    small_dir = ssh_env.make_dir(dirs["src"].parent.name, "small")
    ssh_env.write_file(small_dir / "tiny.bin", b"x")
    big = dirs["src"] / "big.bin"
    write_random(big, SIZE)
    ssh_env.chown(big)
    for name, directory, regex in (
        ("mem-sftp-tiny", small_dir, r"tiny\.bin"),
        ("mem-sftp-big", dirs["src"], r"big\.bin"),
    ):
        write_json(
            cfg_dir / "transfers" / f"{name}.json",
            transfer_def(
                remote_source(ssh_env, "sftp", directory, regex),
                remote_dest(ssh_env, "sftp", dirs["dst"]),
            ),
        )
    baseline = peak_rss_of_cli(cfg_dir, "mem-sftp-tiny", ssh_client_env)
    peak = peak_rss_of_cli(cfg_dir, "mem-sftp-big", ssh_client_env)
    out = dirs["dst"] / "big.bin"
    assert out.stat().st_size == SIZE
    assert _same_content(out, big)
    assert peak - baseline < MAX_GROWTH, (baseline, peak)


def test_local_to_local_64mib_keeps_memory_flat(cfg_dir, tmp_path, ssh_client_env):
    src, small, dst = tmp_path / "src", tmp_path / "small", tmp_path / "dst"
    for directory in (src, small, dst):
        directory.mkdir()
    (small / "tiny.bin").write_bytes(b"x")
    big = src / "big.bin"
    write_random(big, SIZE)
    for name, directory, regex in (
        ("mem-local-tiny", small, r"tiny\.bin"),
        ("mem-local-big", src, r"big\.bin"),
    ):
        write_json(
            cfg_dir / "transfers" / f"{name}.json",
            transfer_def(
                {
                    "directory": str(directory),
                    "fileRegex": regex,
                    "protocol": {"name": "local"},
                },
                {"directory": str(dst), "protocol": {"name": "local"}},
            ),
        )
    baseline = peak_rss_of_cli(cfg_dir, "mem-local-tiny", ssh_client_env)
    peak = peak_rss_of_cli(cfg_dir, "mem-local-big", ssh_client_env)
    assert (dst / "big.bin").stat().st_size == SIZE
    assert _same_content(dst / "big.bin", big)
    assert peak - baseline < MAX_GROWTH, (baseline, peak)


def _same_content(a: Path, b: Path) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            chunk_a, chunk_b = fa.read(MIB), fb.read(MIB)
            if chunk_a != chunk_b:
                return False
            if not chunk_a:
                return True


def test_sftp_download_256mib_keeps_memory_flat(
    ssh_env, dirs, cfg_dir, tmp_path, ssh_client_env
):
    """The download path alone (sftp -> local), large enough that a reader
    falling behind the server would buffer a large part of the file."""
    size = 256 * MIB
    small_dir = ssh_env.make_dir(dirs["src"].parent.name, "small")
    ssh_env.write_file(small_dir / "tiny.bin", b"x")
    big = dirs["src"] / "big.bin"
    write_random(big, size)
    ssh_env.chown(big)
    dst = tmp_path / "dst"
    dst.mkdir()
    for name, directory, regex in (
        ("mem-dl-tiny", small_dir, r"tiny\.bin"),
        ("mem-dl-big", dirs["src"], r"big\.bin"),
    ):
        write_json(
            cfg_dir / "transfers" / f"{name}.json",
            transfer_def(
                remote_source(ssh_env, "sftp", directory, regex),
                {"directory": str(dst), "protocol": {"name": "local"}},
            ),
        )
    baseline = peak_rss_of_cli(cfg_dir, "mem-dl-tiny", ssh_client_env)
    peak = peak_rss_of_cli(cfg_dir, "mem-dl-big", ssh_client_env)
    assert (dst / "big.bin").stat().st_size == size
    assert _same_content(dst / "big.bin", big)
    assert peak - baseline < MAX_GROWTH, (baseline, peak)
