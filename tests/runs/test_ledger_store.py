"""The delivery ledger in both engines, read back with ``otf-runs files``/``show``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from support.ledger_helpers import missing_second_destination, sha256_of
from support.runs_helpers import otf_runs, otf_runs_json, runs_env


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_files_and_show(
    engine: str,
    cfg_dir: Path,
    tmp_path: Path,
    task_run,
    request: pytest.FixtureRequest,
) -> None:
    db = (
        request.getfixturevalue("pg_url") if engine == "postgres" else tmp_path / "r.db"
    )
    d1, d2, hashes = missing_second_destination(
        cfg_dir, tmp_path, "ledgered", 2, 2000, verify=True
    )
    env = {"OTF_RUNS_DB": str(db)}
    assert (
        task_run("-t", "ledgered", "-c", cfg_dir, "-r", "one", env=env).returncode == 1
    )
    d2.mkdir()
    assert (
        task_run("-t", "ledgered", "-c", cfg_dir, "-r", "two", env=env).returncode == 0
    )
    cli = runs_env(db)

    rows = otf_runs_json(cli, "files", "--task", "ledgered")
    assert len(rows) == 8  # 2 files x 2 destinations in each run
    first = otf_runs_json(cli, "files", "--run", "one")
    assert sorted((r["dest_dir"], r["outcome"]) for r in first) == [
        (str(d1), "delivered"),
        (str(d1), "delivered"),
        (str(d2), "failed"),
        (str(d2), "failed"),
    ]
    for row in first:
        name = Path(row["source_path"]).name
        assert row["sha256"] == hashes[name]  # verification hashed the source
        assert row["size"] == 2000 and row["task_id"] == "ledgered"
        if row["outcome"] == "delivered":
            assert row["verified"] is True and row["dest_sha256"] == hashes[name]
            assert row["dest_path"] == f"{d1}/{name}" and row["bytes"] == 2000
            assert row["mechanism"] == "worker"
    second = otf_runs_json(cli, "files", "--run", "two", "--destination", str(d2))
    assert {(Path(r["source_path"]).name, r["outcome"]) for r in second} == {
        ("f0.dat", "delivered"),
        ("f1.dat", "delivered"),
    }
    assert all(
        sha256_of(Path(r["dest_path"])) == hashes[Path(r["dest_path"]).name]
        for r in second
    )
    named = otf_runs_json(cli, "files", "--name", "f1.dat", "--outcome", "skipped")
    assert [(r["dest_dir"], Path(r["source_path"]).name) for r in named] == [
        (str(d1), "f1.dat")
    ]
    assert otf_runs_json(cli, "files", "--since", "1h", "--task", "other") == []

    shown = otf_runs_json(cli, "show", "one")
    assert sorted(f["sha256"] for f in shown["files"]) == sorted(
        2 * list(hashes.values())
    )
    text = otf_runs(cli, "show", "one").stdout
    for sha in hashes.values():
        assert sha in text  # full hashes in the people's table too


def test_schema_one_store_is_upgraded(cfg_dir: Path, tmp_path: Path, task_run) -> None:
    db = tmp_path / "r.db"
    _, d2, _ = missing_second_destination(
        cfg_dir, tmp_path, "ledgered", 2, 2000, verify=True
    )
    d2.mkdir()
    env = {"OTF_RUNS_DB": str(db)}
    assert task_run("-t", "ledgered", "-c", cfg_dir, env=env).returncode == 0
    with sqlite3.connect(db) as conn:  # as the previous release left it
        conn.execute("DROP TABLE otf_files")
        conn.execute("UPDATE otf_meta SET value = '1' WHERE key = 'schema_version'")
    assert task_run("-t", "ledgered", "-c", cfg_dir, env=env).returncode == 0
    with sqlite3.connect(db) as conn:
        meta = dict(conn.execute("SELECT key, value FROM otf_meta"))
        count = conn.execute("SELECT count(*) FROM otf_files").fetchone()[0]
    assert meta["schema_version"] == "2" and meta["min_reader_version"] == "1"
    assert count == 4
