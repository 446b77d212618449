"""SIGKILL at random points of a multi-file, multi-destination transfer.

After each kill the transfer is rerun until it succeeds (or its source is
empty: the killed run may have finished its post-copy action). Then every
file is exactly once under its final name at every destination, with the
source's sha256, no other file is there (no temporary file either; an empty
receiving directory of a killed SSH run is removed by the next delivery to
that destination), and the
post-copy action (a move to an archive directory) moved each file once and
never before every destination had it.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.helpers import local_dest, local_source, transfer_def, write_json
from support.ledger_helpers import listing, make_files
from support.runs_helpers import runs_env
from support.ssh_helpers import remote_dest, remote_source
from support.sshd import SSHTestEnv

FILES = 10
SIZE = 300_000
#: Kill points per protocol (32 in all).
POINTS = {"local": 12, "sftp": 10, "ssh": 10}


def _command(cfg: Path, task: str) -> list[str]:
    return [sys.executable, "-m", "opentaskpy", "-t", task, "-c", str(cfg)]


def _check_post_copy(src: Path, archive: Path, dests: list[Path], hashes: dict) -> None:
    """A file that left the source is at every destination already."""
    for name in hashes:
        if not (src / name).exists():
            assert (archive / name).exists(), name
            for dest in dests:
                assert listing(dest).get(name) == hashes[name], (dest, name)


def _progress(dests: list[Path], archive: Path) -> int:
    """Files published at the destinations plus files moved to the archive."""
    return sum(
        1 for d in (*dests, archive) for p in d.iterdir() if not p.name.startswith(".")
    )


def _kill_points(
    layout: Callable[[int], tuple[Path, Path, list[Path], dict, str]],
    cfg: Path,
    env: dict,
    cwd: Path,
    count: int,
    seed: int,
) -> tuple[int, int]:
    """Kill ``count`` runs at random points of their progress.

    Each run is killed once a random number of files is published or
    archived (a few milliseconds later at most), so kills land before,
    between and after publishes, ledger writes and post-copy moves.
    Returns how many runs were killed and how many of those mid-delivery
    (some file at a destination, some still at the source).
    """
    rng = random.Random(seed)
    killed = middle = 0
    for point in range(count):
        src, archive, dests, hashes, task = layout(point)
        target = rng.randrange(0, (len(dests) + 1) * len(hashes))
        process = subprocess.Popen(
            _command(cfg, task),
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if _progress(dests, archive) >= target:
                time.sleep(rng.uniform(0, 0.004))
                break
            time.sleep(0.0005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()
        if any(listing(d) for d in dests) and any(src.iterdir()):
            middle += 1
        _check_post_copy(src, archive, dests, hashes)
        for _ in range(3):
            if not any(src.iterdir()):
                break
            rerun = subprocess.run(
                _command(cfg, task), env=env, cwd=cwd, capture_output=True
            )
            _check_post_copy(src, archive, dests, hashes)
            if rerun.returncode == 0:
                break
        assert not any(src.iterdir()), f"kill point {point}: source not emptied"
        assert listing(archive) == hashes, f"kill point {point}"
        for dest in dests:
            assert listing(dest) == hashes, f"kill point {point}: {dest}"
    print(f"{count} kill points: {killed} killed, {middle} mid-delivery")
    return killed, middle


def test_sigkill_local(cfg_dir: Path, tmp_path: Path, isolated_env: Path) -> None:
    def layout(point: int) -> tuple[Path, Path, list[Path], dict, str]:
        base = tmp_path / f"p{point}"
        src, archive, d1, d2 = (base / n for n in ("src", "archive", "d1", "d2"))
        for directory in (src, archive, d1, d2):
            directory.mkdir(parents=True)
        hashes = make_files(src, FILES, SIZE)
        source = local_source(
            src,
            r"f\d+\.dat",
            postCopyAction={"action": "move", "destination": f"{archive}/"},
        )
        task = f"kill{point}".replace("-", "m")
        write_json(
            cfg_dir / f"{task}.json",
            transfer_def(source, local_dest(d1), local_dest(d2)),
        )
        return src, archive, [d1, d2], hashes, task

    env = runs_env(tmp_path / "runs.db")
    killed, middle = _kill_points(
        layout, cfg_dir, env, isolated_env, POINTS["local"], 1
    )
    assert killed >= POINTS["local"] // 2 and middle >= POINTS["local"] // 4


@pytest.mark.parametrize("protocol", ["sftp", "ssh"])
def test_sigkill_remote(
    protocol: str,
    ssh_env: SSHTestEnv,
    ssh_client_env: dict,
    dirs,
    cfg_dir: Path,
    tmp_path: Path,
    isolated_env: Path,
    request: pytest.FixtureRequest,
) -> None:
    if protocol == "ssh":
        request.getfixturevalue("needs_host_to_host")
    source_host, dest_host = (
        ("sftp", "sftp") if protocol == "sftp" else ("ssh1", "ssh2")
    )
    root = dirs["src"].parent.name

    def layout(point: int) -> tuple[Path, Path, list[Path], dict, str]:
        src, archive, d1, d2 = (
            ssh_env.make_dir(root, f"p{point}", n)
            for n in ("src", "archive", "d1", "d2")
        )
        hashes = make_files(src, FILES, SIZE, ssh_env.chown)
        source = remote_source(
            ssh_env,
            source_host,
            src,
            r"f\d+\.dat",
            postCopyAction={"action": "move", "destination": f"{archive}/"},
        )
        task = f"{protocol}kill{point}".replace("-", "m")
        definition = transfer_def(
            source,
            remote_dest(ssh_env, dest_host, d1),
            remote_dest(ssh_env, dest_host, d2),
        )
        write_json(cfg_dir / f"{task}.json", definition)
        return src, archive, [d1, d2], hashes, task

    env = runs_env(tmp_path / "runs.db", **ssh_client_env)
    killed, middle = _kill_points(
        layout, cfg_dir, env, isolated_env, POINTS[protocol], 2
    )
    assert killed >= POINTS[protocol] // 2 and middle >= POINTS[protocol] // 4
