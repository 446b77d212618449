"""A destination that fails then recovers gets only the missing files on the rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.helpers import transfer_def, write_json
from support.ledger_helpers import (
    file_states,
    ledger_rows,
    make_files,
    missing_second_destination,
    sha256_of,
)
from support.ssh_helpers import remote_dest, remote_source
from support.sshd import SSHTestEnv


def _run_twice(task_run, cfg: Path, db: Path, task: str, d1: Path, d2: Path, make_d2):
    """Run (d2 missing: fails), create d2, rerun; return d1's states around it."""
    env = {"OTF_RUNS_DB": str(db)}
    first = task_run("-t", task, "-c", cfg, env=env)
    assert first.returncode == 1, first.stderr
    before = file_states(d1)
    assert before and not d2.exists()
    make_d2()
    second = task_run("-t", task, "-c", cfg, env=env)
    assert second.returncode == 0, second.stderr
    return before, file_states(d1)


def _check_ledger(
    db: Path, task: str, names: set[str], d1: Path, d2: Path, hashed: bool = True
) -> None:
    """Two runs: everything at d1 and failed at d2, then d1 skipped, d2 sent.

    ``hashed=False``: local copies run in the kernel, so without verification
    or ``deliverOnce`` no sha256 is recorded (nothing reads the bytes).
    """
    rows = ledger_rows(db, task_id=task)
    runs = list(dict.fromkeys(r["record_id"] for r in rows))  # oldest row first
    assert len(runs) == 2
    first, second = ([r for r in rows if r["record_id"] == run] for run in runs)
    assert {(Path(r["source_path"]).name, r["outcome"]) for r in first} == {
        *((n, "delivered") for n in names),
        *((n, "failed") for n in names),
    }
    d1_second = [r for r in second if r["dest_dir"] == str(d1)]
    d2_second = [r for r in second if r["dest_dir"] == str(d2)]
    assert {r["outcome"] for r in d1_second} == {"skipped"}
    assert {Path(r["source_path"]).name for r in d1_second} == names
    assert {r["outcome"] for r in d2_second} == {"delivered"}
    for row in d2_second:
        assert row["dest_path"] == f"{d2}/{Path(row['source_path']).name}"
        landed = sha256_of(d2 / Path(row["source_path"]).name)
        assert row["sha256"] == (landed if hashed else None)


def test_local_rerun_sends_only_missing_then_all_after_success(
    cfg_dir: Path, tmp_path: Path, task_run
) -> None:
    d1, d2, hashes = missing_second_destination(cfg_dir, tmp_path, "two", 3, 1000)
    db = tmp_path / "runs.db"
    before, after = _run_twice(task_run, cfg_dir, db, "two", d1, d2, d2.mkdir)
    assert after == before  # d1 untouched: same inodes, same mtimes
    assert {p.name: sha256_of(p) for p in d2.iterdir()} == hashes
    _check_ledger(db, "two", set(hashes), d1, d2, hashed=False)
    # After a success the next run sends everything again (as the reference).
    third = task_run("-t", "two", "-c", cfg_dir, env={"OTF_RUNS_DB": str(db)})
    assert third.returncode == 0, third.stderr
    assert all(file_states(d1)[n] != before[n] for n in hashes)


def _remote_rerun(
    ssh_env: SSHTestEnv,
    dirs,
    cfg_dir: Path,
    task_run,
    task: str,
    hosts: tuple[str, str],
    env: dict,
) -> tuple[Path, Path, dict]:
    """Two destinations on ``hosts[1]``, the second created after a failed run."""
    d1 = ssh_env.make_dir(dirs["dst"].parent.name, "d1")
    d2 = dirs["dst"].parent / "d2"
    hashes = make_files(dirs["src"], 3, 5000, ssh_env.chown)
    write_json(
        cfg_dir / f"{task}.json",
        transfer_def(
            remote_source(ssh_env, hosts[0], dirs["src"], r"f\d\.dat"),
            remote_dest(ssh_env, hosts[1], d1),
            remote_dest(ssh_env, hosts[1], d2),
        ),
    )
    first = task_run("-t", task, "-c", cfg_dir, env=env)
    assert first.returncode == 1
    before = file_states(d1)
    ssh_env.make_dir(dirs["dst"].parent.name, "d2")
    second = task_run("-t", task, "-c", cfg_dir, env=env)
    assert second.returncode == 0, second.stderr
    assert file_states(d1) == before
    assert {p.name: sha256_of(p) for p in d2.iterdir()} == hashes
    return d1, d2, hashes


def test_sftp_rerun_sends_only_missing(
    ssh_env: SSHTestEnv,
    ssh_client_env: dict,
    dirs,
    cfg_dir: Path,
    tmp_path: Path,
    task_run,
) -> None:
    db = tmp_path / "runs.db"
    env = {**ssh_client_env, "OTF_RUNS_DB": str(db)}
    d1, d2, hashes = _remote_rerun(
        ssh_env, dirs, cfg_dir, task_run, "sftp2", ("sftp", "sftp"), env
    )
    _check_ledger(db, "sftp2", set(hashes), d1, d2)


@pytest.mark.usefixtures("needs_host_to_host")
def test_ssh_rerun_sends_only_missing(
    ssh_env: SSHTestEnv,
    ssh_client_env: dict,
    dirs,
    cfg_dir: Path,
    tmp_path: Path,
    task_run,
) -> None:
    db = tmp_path / "runs.db"
    # scp copies host to host (no bytes pass here): OTF_VERIFY=1 makes both
    # hosts hash with sha256sum, so the rows have the sha256 anyway.
    env = {**ssh_client_env, "OTF_RUNS_DB": str(db), "OTF_VERIFY": "1"}
    d1, d2, hashes = _remote_rerun(
        ssh_env, dirs, cfg_dir, task_run, "ssh2", ("ssh1", "ssh2"), env
    )
    _check_ledger(db, "ssh2", set(hashes), d1, d2)
    delivered = ledger_rows(db, outcome="delivered")
    assert {r["mechanism"] for r in delivered} == {"direct"}
    assert {r["verified"] for r in delivered} == {1}
    assert all(r["dest_sha256"] == r["sha256"] for r in delivered)


def test_batch_step_rerun_sends_only_missing(
    cfg_dir: Path, tmp_path: Path, task_run
) -> None:
    d1, d2, hashes = missing_second_destination(cfg_dir, tmp_path, "step", 2, 500)
    write_json(
        cfg_dir / "nightly.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "step"}]},
    )
    db = tmp_path / "runs.db"
    before, after = _run_twice(task_run, cfg_dir, db, "nightly", d1, d2, d2.mkdir)
    assert after == before
    assert {p.name: sha256_of(p) for p in d2.iterdir()} == hashes
    _check_ledger(db, "step", set(hashes), d1, d2, hashed=False)
    assert all(r["record_id"].endswith(".1") for r in ledger_rows(db))  # the step's
