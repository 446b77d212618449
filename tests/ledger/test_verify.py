"""Verification: a destination that stores other bytes than were sent.

The destination host's SFTP subsystem is the real ``sftp-server`` behind a
proxy (tests/support/flip_sftp.py) that flips the first byte of every
upload, a real corruption on the way in: with verification nothing may be
published under the final name, and the failure names both hashes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.helpers import REPO_ROOT, local_source, transfer_def, write_json
from support.ledger_helpers import ledger_rows, make_files, sha256_of
from support.ssh_helpers import remote_dest, remote_source
from support.sshd import SSHTestEnv, start_extra_host, stop_extra_host

FLIPPER = REPO_ROOT / "tests" / "support" / "flip_sftp.py"


@pytest.fixture(scope="module")
def corrupting_host(ssh_env: SSHTestEnv) -> Iterator[str]:
    """A server at 127.0.0.4 whose SFTP uploads arrive with one byte flipped."""
    if not os.path.exists("/usr/lib/openssh/sftp-server"):
        pytest.skip("sftp-server not installed")
    wrapper = ssh_env.base / "flip_sftp.py"
    shutil.copy(FLIPPER, wrapper)
    python = "/usr/bin/python3"  # the system one: the test user cannot reach a venv
    wrapper.write_text(f"#!{python}\n" + wrapper.read_text().split("\n", 1)[1])
    wrapper.chmod(0o755)
    start_extra_host(ssh_env, "corrupt", "127.0.0.4", str(wrapper))
    try:
        yield "corrupt"
    finally:
        stop_extra_host(ssh_env, "corrupt")


def _transfer(src: Path, dest: dict) -> dict:
    return transfer_def(local_source(src, r"f\d\.dat"), dest)


@pytest.mark.parametrize("protocol", ["sftp", "ssh"])
def test_mismatch_fails_and_publishes_nothing(
    protocol: str,
    corrupting_host: str,
    ssh_env: SSHTestEnv,
    ssh_client_env: dict,
    dirs,
    cfg_dir: Path,
    tmp_path: Path,
    task_run,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    hashes = make_files(src, 2, 70000)
    os.chmod(src, 0o755)
    for path in src.iterdir():
        path.chmod(0o644)
    dest = remote_dest(ssh_env, corrupting_host, dirs["dst"])
    dest["protocol"]["name"] = protocol
    db = tmp_path / "runs.db"
    env = {**ssh_client_env, "OTF_RUNS_DB": str(db)}

    # Without verification the corruption goes unnoticed: the wrapper is real.
    write_json(cfg_dir / "plain.json", _transfer(src, dest))
    plain = task_run("-t", "plain", "-c", cfg_dir, env=env)
    assert plain.returncode == 0, plain.stderr
    landed = {p.name: sha256_of(p) for p in dirs["dst"].iterdir()}
    assert set(landed) == set(hashes) and all(landed[n] != hashes[n] for n in hashes)
    for path in dirs["dst"].iterdir():
        path.unlink()

    write_json(cfg_dir / "checked.json", _transfer(src, {**dest, "verify": True}))
    checked = task_run("-t", "checked", "-c", cfg_dir, env=env)
    assert checked.returncode == 1
    assert list(dirs["dst"].iterdir()) == []  # nothing published, no temporary left
    # Each refused file is named in a line with both hashes (an SSH
    # destination stops publishing at its first failure and names it, SFTP
    # tries all; files already in flight at an SSH destination are still
    # checked, and recorded, but not named).
    lines = [x for x in checked.stderr.splitlines() if "Verification failed" in x]
    named = set()
    for line in lines:
        [name] = {n for n in hashes if f"/{n}: source" in line}
        named.add(name)
        assert (
            f"source sha256 {hashes[name]}, destination sha256 {landed[name]}" in line
        )
    assert len(named) == (2 if protocol == "sftp" else 1)
    rows = ledger_rows(db, task_id="checked")
    assert {r["outcome"] for r in rows} == {"failed"} and len(rows) == 2
    checked_rows = [r for r in rows if r["dest_sha256"]]
    if protocol == "sftp":
        assert len(checked_rows) == len(named)
    else:
        assert named <= {Path(r["source_path"]).name for r in checked_rows}
    for row in checked_rows:
        assert row["dest_sha256"] == landed[Path(row["source_path"]).name]
        assert row["verified"] == 0


def test_streamed_copy_verified_on_a_healthy_host(
    ssh_env: SSHTestEnv,
    ssh_client_env: dict,
    dirs,
    cfg_dir: Path,
    tmp_path: Path,
    task_run,
) -> None:
    """SFTP to SFTP streams (one destination): hashed in the stream, read back."""
    hashes = make_files(dirs["src"], 2, 300_000, ssh_env.chown)
    source = remote_source(ssh_env, "sftp", dirs["src"], r"f\d\.dat")
    dest = remote_dest(ssh_env, "sftp", dirs["dst"], verify=True)
    write_json(cfg_dir / "streamed.json", transfer_def(source, dest))
    db = tmp_path / "runs.db"
    result = task_run(
        "-t", "streamed", "-c", cfg_dir, env={**ssh_client_env, "OTF_RUNS_DB": str(db)}
    )
    assert result.returncode == 0, result.stderr
    assert {p.name: sha256_of(p) for p in dirs["dst"].iterdir()} == hashes
    rows = ledger_rows(db)
    assert {r["mechanism"] for r in rows} == {"stream"} and len(rows) == 2
    for row in rows:
        name = Path(row["source_path"]).name
        assert row["sha256"] == row["dest_sha256"] == hashes[name]
        assert row["verified"] == 1 and row["bytes"] == 300_000
