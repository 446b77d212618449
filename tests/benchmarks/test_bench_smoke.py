"""The benchmark command works: it verifies results and writes its table.

These tests never look at timings; they prove the harness runs the real CLI,
checks every result, and reports a run that did not do the work as FAILED.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "benchmarks" / "run.py"
sys.path.insert(0, str(REPO / "benchmarks"))

from benchlib.core import Case, Workload, run_workload, time_ratio_target  # noqa: E402
from benchlib.report import build_rows, markdown_table  # noqa: E402

LOCAL_ROWS = {
    "startup-small",
    "startup-small-nocache",
    "startup-5000vars",
    "startup-sftp",
    "startup-sftp-cold",
    "batch-chain",
    "batch-fan",
    "batch-chain-flow",
    "batch-fan-flow",
    "local-big 1MiB",
    "records-startup",
    "records-batch",
}
SSH_ROWS = {
    "ssh-exec",
    "ssh-batch",
    "sftp-many 20x4KiB",
    "sftp-big 1MiB",
    "ssh-big 1MiB",
}


def _sshd_usable() -> bool:
    # Host-to-host scp needs the dedicated test user, which needs root.
    return os.geteuid() == 0 and Path("/usr/sbin/sshd").exists()


def test_smoke_mode_verifies_every_run_and_writes_tables(tmp_path: Path) -> None:
    results = tmp_path / "results"
    argv = [
        sys.executable,
        str(RUN),
        "--smoke",
        "--json",
        "--results",
        str(results),
        "--cache",
        str(tmp_path / "cache"),
    ]
    with_ssh = _sshd_usable()
    if not with_ssh:
        argv.append("--no-ssh")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=900, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    report = json.loads(proc.stdout)
    rows = {row["workload"]: row for row in report["rows"]}
    expected = LOCAL_ROWS | (SSH_ROWS if with_ssh else set())
    assert set(rows) == expected
    for name, row in rows.items():
        assert row["verdict"] in ("PASS", "MISS"), (name, row["note"])
        assert row["runs"] == "1/1", name
        assert row["median_s"] > 0 and row["limit_median_s"] > 0, name
        assert row["ratio"] is not None, name
    # The batch rows needed their extra cases verified too.
    assert rows["batch-fan"]["extras"]["sleep-cap5"]["runs_ok"] == 1
    assert rows["batch-chain"]["extras"]["chain-1"]["runs_ok"] == 1
    # The flow rows measure the plain batches in the same run.
    for extra in ("chain-1", "plain", "plain-1"):
        assert rows["batch-chain-flow"]["extras"][extra]["runs_ok"] == 1
    assert rows["batch-fan-flow"]["extras"]["plain"]["runs_ok"] == 1
    assert rows["local-big 1MiB"]["mb_s"] > 0

    md = (results / "latest-smoke.md").read_text()
    saved = json.loads((results / "latest-smoke.json").read_text())
    assert saved["info"]["mode"] == "smoke"
    assert {r["workload"] for r in saved["rows"]} == expected
    for name in expected:
        assert f"| {name} |" in md


def test_run_that_did_not_do_the_work_is_failed_and_not_timed() -> None:
    did_nothing = Case(["true"], verify=lambda sample: "destination file missing")
    exit_one = Case(["false"])
    wl = Workload("demo", did_nothing, exit_one, time_ratio_target(1.5))
    run_workload(wl, 2, lambda msg: None, warmup=False)

    row = build_rows([wl])[0]
    assert row["verdict"] == "FAILED"
    assert row["runs"] == "0/2"
    assert row["median_s"] is None and row["limit_median_s"] is None
    assert row["ratio"] is None
    assert "destination file missing" in row["note"]
    assert wl.stats("limit").failures[0].reason.startswith("exit code 1")
    assert "| demo | 0/2 | - |" in markdown_table([row])


def test_verified_runs_are_timed_and_judged() -> None:
    ours = Case(["sh", "-c", "exit 0"], verify=lambda sample: None)
    limit = Case(["true"])
    wl = Workload("demo", ours, limit, time_ratio_target(1.5))
    run_workload(wl, 3, lambda msg: None, warmup=False)

    row = build_rows([wl])[0]
    assert row["runs"] == "3/3"
    assert row["min_s"] <= row["median_s"] <= row["max_s"]
    assert row["ratio"] == row["median_s"] / row["limit_median_s"]
    assert row["verdict"] != "FAILED"


SCALE_LOCAL = {
    "local-many 50x4KiB",
    "batch-chain 10",
    "batch-fan 10",
    "batch-rss 20",
    "listing-local 1000/10",
}
SCALE_SSH = {"sftp-many 50x4KiB", "listing-sftp 1000/10"}


def test_scale_rows_run_verified_at_smoke_size(tmp_path: Path) -> None:
    # Not part of the default smoke set (that stays fast); asked for by name.
    only = "local-many,batch-scale,batch-rss,listing-local"
    with_ssh = _sshd_usable()
    if with_ssh:
        only += ",sftp-many-scale,listing-sftp"
    argv = [sys.executable, str(RUN), "--smoke", "--json", "--only", only]
    argv += ["--results", str(tmp_path / "r"), "--cache", str(tmp_path / "cache")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=900, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    rows = {row["workload"]: row for row in json.loads(proc.stdout)["rows"]}
    assert set(rows) == SCALE_LOCAL | (SCALE_SSH if with_ssh else set())
    for name, row in rows.items():
        assert row["verdict"] in ("PASS", "MISS"), (name, row["note"])
        assert row["runs"] == "1/1", name
    # Every step's RSS was recorded by the batch process itself.
    assert "kB/step" in rows["batch-rss 20"]["note"]
    listing = rows["listing-local 1000/10"]
    assert listing["extras"]["small-dir"]["runs_ok"] == 1
    assert listing["extras"]["small-dir-limit"]["runs_ok"] == 1
    assert "ms/file" in rows["local-many 50x4KiB"]["note"]
    if with_ssh:
        assert "ms/file" in rows["sftp-many 50x4KiB"]["note"]
