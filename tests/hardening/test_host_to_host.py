"""Host-to-host copies land in the destination directory, one run never
disturbs another, and no temporary file outlives a run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from support.helpers import transfer_def, write_json
from support.ssh_faults import files_below
from support.ssh_helpers import cli_env, remote_dest, remote_source

SIZE = 32 * 1024 * 1024


def _home_entries(ssh_env) -> set[str]:
    return set(os.listdir(ssh_env.home))


def test_concurrent_runs_of_one_task_both_deliver_inside_the_directory(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host
):
    for name in ("a.bin", "b.bin"):
        ssh_env.write_file(dirs["src"] / name, os.urandom(1024) * (SIZE // 1024))
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r".*\.bin"),
        remote_dest(ssh_env, "ssh2", dirs["dst"], mode="0640"),
    )
    write_json(cfg_dir / "transfers" / "h2h-twice.json", definition)
    home_before = _home_entries(ssh_env)
    # Overlapping runs of one definition are what this test is about: the
    # run-records overlap lock would otherwise hold the second one back.
    env = {**cli_env(ssh_client_env), "OTF_LOCK": "0"}
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda _: task_run("-t", "h2h-twice", "-c", cfg_dir, env=env),
                range(2),
            )
        )
    for result in runs:
        assert result.returncode == 0, result.stderr[-3000:]
    assert files_below(dirs["dst"]) == ["a.bin", "b.bin"]
    for name in ("a.bin", "b.bin"):
        assert (dirs["dst"] / name).read_bytes() == (dirs["src"] / name).read_bytes()
        assert (dirs["dst"] / name).stat().st_mode & 0o777 == 0o640
    # Nothing was written outside the destination directory (no ~/otf).
    assert _home_entries(ssh_env) == home_before
    assert not (ssh_env.home / "otf").exists()


def test_a_failed_copy_leaves_no_temporary_file(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host
):
    ssh_env.write_file(dirs["src"] / "a-ok.txt", "ok")
    ssh_env.write_file(dirs["src"] / "b-locked.txt", "locked")
    os.chmod(dirs["src"] / "b-locked.txt", 0)  # unreadable for the test user
    # scp copies a-ok.txt into the receiving directory, then fails.
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r".*\.txt"),
        remote_dest(ssh_env, "ssh2", dirs["dst"]),
    )
    write_json(cfg_dir / "transfers" / "h2h-fail.json", definition)
    result = task_run("-t", "h2h-fail", "-c", cfg_dir, env=cli_env(ssh_client_env))
    assert result.returncode != 0
    assert files_below(dirs["dst"]) == []
    assert not (ssh_env.home / "otf").exists()
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert any("Permission denied" in line for line in errors), result.stderr


def test_stage_in_home_directory_keeps_the_reference_behaviour(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host
):
    ssh_env.write_file(dirs["src"] / "r.txt", "r")
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"r\.txt"),
        remote_dest(ssh_env, "ssh2", dirs["dst"], stageInHomeDirectory=True),
    )
    write_json(cfg_dir / "transfers" / "h2h-home.json", definition)
    result = task_run("-t", "h2h-home", "-c", cfg_dir, env=cli_env(ssh_client_env))
    assert result.returncode == 0, result.stderr[-3000:]
    assert files_below(dirs["dst"]) == ["r.txt"]
    staging = ssh_env.home / "otf" / "h2h-home"
    assert staging.is_dir() and os.listdir(staging) == []
    assert f"{staging}/" in result.stderr  # the scp target was ~/otf/<task>/


def test_a_killed_runs_receiving_directory_is_removed_by_the_next_run(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host
):
    dead_owner = subprocess.run(
        [
            sys.executable,
            "-c",
            "from opentaskpy.fs import owner; print(owner.tag())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    debris = ssh_env.make_dir(
        dirs["dst"].parent.name, "dst", f".otf-run.{dead_owner}.otf-partial"
    )
    ssh_env.write_file(debris / "half.bin", b"x" * 1000)
    ssh_env.write_file(dirs["src"] / "n.txt", "n")
    definition = transfer_def(
        remote_source(ssh_env, "ssh1", dirs["src"], r"n\.txt"),
        remote_dest(ssh_env, "ssh2", dirs["dst"]),
    )
    write_json(cfg_dir / "transfers" / "h2h-debris.json", definition)
    result = task_run("-t", "h2h-debris", "-c", cfg_dir, env=cli_env(ssh_client_env))
    assert result.returncode == 0, result.stderr[-3000:]
    assert files_below(dirs["dst"]) == ["n.txt"]
