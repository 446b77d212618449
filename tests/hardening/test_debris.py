"""Debris of a killed run is removed by the next run; SIGTERM cleans up at once.

SIGKILL leaves a local destination's ``.otf-partial`` and the worker's
``OTF_STAGING_*`` directory behind; the next run finds that their owner is
dead and removes them. SIGTERM during a large local->SFTP upload removes the
destination's partial file before the process exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.helpers import transfer_def, wait_for, write_json
from support.processes import start_task_run, task_run_env
from support.ssh_helpers import remote_dest, remote_source

pytestmark = pytest.mark.usefixtures("ssh_client_env")

SIZE = 200 * 1024 * 1024


def _big_file(path: Path, env=None) -> None:
    with path.open("wb") as handle:
        block = os.urandom(1024 * 1024)
        for _ in range(SIZE // len(block)):
            handle.write(block)
    if env is not None:
        env.chown(path)


def _start(cfg_dir: Path, task: str, env: dict) -> subprocess.Popen:
    full = task_run_env(**env)
    return start_task_run("-t", task, "-c", cfg_dir, cwd=Path.cwd(), env=full)


def _signal_when(proc: subprocess.Popen, predicate, sig: int) -> float:
    """Send ``sig`` once ``predicate`` holds; return when it was sent."""
    try:
        assert wait_for(predicate, timeout=120), "the transfer never got under way"
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.communicate(timeout=120)
        return sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _growing(directory: Path, suffix: str = ".otf-partial"):
    def check() -> bool:
        for path in directory.rglob("*"):
            try:
                if path.name.endswith(suffix) and path.stat().st_size > 8 << 20:
                    return True
            except FileNotFoundError:
                continue
        return False

    return check


def test_sigkill_partial_at_a_local_destination_is_removed_by_the_next_run(
    ssh_env, dirs, tmp_path, cfg_dir, task_run, ssh_client_env
):
    _big_file(dirs["src"] / "big.bin", ssh_env)
    dst = tmp_path / "dst"
    dst.mkdir()
    source = remote_source(ssh_env, "sftp", dirs["src"], r"big\.bin")
    definition = transfer_def(
        source, {"directory": str(dst), "protocol": {"name": "local"}}
    )
    write_json(cfg_dir / "transfers" / "kill-local.json", definition)
    proc = _start(cfg_dir, "kill-local", ssh_client_env)
    _signal_when(proc, _growing(dst), signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in dst.iterdir() if p.name.endswith(".otf-partial")]

    # The next run (here: of another file) removes the dead run's debris.
    ssh_env.write_file(dirs["src"] / "small.bin", b"small")
    definition["source"]["fileRegex"] = r"small\.bin"
    write_json(cfg_dir / "transfers" / "kill-local.json", definition)
    rerun = task_run("-t", "kill-local", "-c", cfg_dir, env=ssh_client_env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert os.listdir(dst) == ["small.bin"]


def test_sigkill_staging_directory_is_removed_by_the_next_run(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, staging_base
):
    _big_file(dirs["src"] / "big.bin", ssh_env)
    staging = staging_base
    env = {**ssh_client_env, "OTF_STAGING_DIR": str(staging)}
    second = ssh_env.make_dir(dirs["dst"].parent.name, "dst2")
    # Two destinations: the file is staged on the worker once for both.
    definition = transfer_def(
        remote_source(ssh_env, "sftp", dirs["src"], r"big\.bin"),
        remote_dest(ssh_env, "sftp", dirs["dst"]),
        remote_dest(ssh_env, "sftp", second),
    )
    write_json(cfg_dir / "transfers" / "kill-staging.json", definition)
    proc = _start(cfg_dir, "kill-staging", env)
    _signal_when(proc, _growing(staging, suffix="big.bin"), signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    debris = [p.name for p in staging.iterdir()]
    assert debris and debris[0].startswith(f"OTF_STAGING_{proc.pid}.")

    # A live run's staging directory is left alone.
    alive = subprocess.Popen(["sleep", "60"])
    try:
        live = staging / f"OTF_STAGING_{alive.pid}.1"
        live.mkdir(mode=0o700)
        ssh_env.write_file(dirs["src"] / "small.bin", b"small")
        definition["source"]["fileRegex"] = r"small\.bin"
        write_json(cfg_dir / "transfers" / "kill-staging.json", definition)
        rerun = task_run("-t", "kill-staging", "-c", cfg_dir, env=env)
    finally:
        alive.kill()
        alive.wait()
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert os.listdir(staging) == [live.name]


def test_sigterm_removes_the_sftp_partial_before_exiting(
    ssh_env, dirs, tmp_path, cfg_dir, ssh_client_env
):
    src = tmp_path / "src"
    src.mkdir()
    _big_file(src / "big.bin")
    definition = transfer_def(
        {
            "directory": str(src),
            "fileRegex": r"big\.bin",
            "protocol": {"name": "local"},
        },
        remote_dest(ssh_env, "sftp", dirs["dst"]),
    )
    write_json(cfg_dir / "transfers" / "term-sftp.json", definition)
    proc = _start(cfg_dir, "term-sftp", ssh_client_env)
    sent = _signal_when(proc, _growing(dirs["dst"]), signal.SIGTERM)
    took = time.monotonic() - sent
    print(f"SIGTERM to exit: {took:.2f} s")  # measured, not asserted
    assert proc.returncode == 128 + signal.SIGTERM
    assert os.listdir(dirs["dst"]) == [], "the partial upload was left behind"
