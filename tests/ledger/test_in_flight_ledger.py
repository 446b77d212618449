"""Files in flight publish from worker threads: the ledger still sees each one.

Two transfers run in parallel in one batch process, each with several files
in flight over SFTP and verification on. Every file must have its ledger row
with its final path and its verified destination hash: a publish in a worker
thread is observed by the transfer that started it, not lost or given to the
other transfer.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from support.flow import batch_task
from support.helpers import transfer_def, write_json
from support.ledger_helpers import ledger_rows
from support.ssh_helpers import remote_dest, remote_source
from support.sshd import SSHTestEnv


def test_parallel_transfers_with_files_in_flight_record_every_file(
    ssh_env: SSHTestEnv,
    ssh_client_env: dict,
    dirs,
    cfg_dir: Path,
    tmp_path: Path,
    task_run,
) -> None:
    hashes = {}
    for prefix in ("a", "b"):
        for n in range(8):
            data = os.urandom(50_000)
            ssh_env.write_file(dirs["src"] / f"{prefix}{n}.dat", data)
            hashes[f"{prefix}{n}.dat"] = hashlib.sha256(data).hexdigest()
    for prefix in ("a", "b"):
        write_json(
            cfg_dir / "transfers" / f"t{prefix}.json",
            transfer_def(
                remote_source(ssh_env, "sftp", dirs["src"], rf"{prefix}\d\.dat"),
                remote_dest(ssh_env, "sftp", dirs["dst"], verify=True),
            ),
        )
    batch_task(
        cfg_dir,
        "both",
        [{"order_id": 1, "task_id": "ta"}, {"order_id": 2, "task_id": "tb"}],
    )
    db = tmp_path / "runs.db"
    env = {**ssh_client_env, "OTF_RUNS_DB": str(db), "OTF_SFTP_FILES_IN_FLIGHT": "4"}
    result = task_run("-t", "both", "-c", cfg_dir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = ledger_rows(db)
    assert sorted(Path(r["source_path"]).name for r in rows) == sorted(hashes)
    for row in rows:
        name = Path(row["source_path"]).name
        assert row["outcome"] == "delivered"
        assert row["dest_path"] == f"{dirs['dst']}/{name}"
        assert row["dest_sha256"] == hashes[name]
        assert row["verified"] == 1
