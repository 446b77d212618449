"""``--summary FILE`` / ``OTF_SUMMARY_FILE``: the JSON a run leaves for schedulers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from support.helpers import local_exec, local_transfer, write_json


def _local_transfer(cfg: Path, task_id: str, source: Path, *dests: Path) -> None:
    write_json(cfg / f"{task_id}.json", local_transfer(source, r".*\.txt", *dests))


def _times(data: dict) -> None:
    started = datetime.fromisoformat(data["started"])
    ended = datetime.fromisoformat(data["ended"])
    assert started.tzinfo is not None and started <= ended
    assert data["duration_seconds"] >= 0


def test_summary_of_successful_transfer(cfg_dir: Path, tmp_path: Path, task_run):
    source, one, two = tmp_path / "src", tmp_path / "one", tmp_path / "two"
    for path in (source, one, two):
        path.mkdir()
    (source / "a.txt").write_text("a" * 10)
    (source / "b.txt").write_text("b" * 30)
    _local_transfer(cfg_dir, "copy-two", source, one, two)
    summary = tmp_path / "out" / "summary.json"
    summary.parent.mkdir()
    proc = task_run(
        "-t", "copy-two", "-c", cfg_dir, "-r", "run-42", "--summary", summary
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(summary.read_text())
    assert data["version"] == 1
    assert data["task_id"] == "copy-two"
    assert data["run_id"] == "run-42"
    assert data["type"] == "transfer"
    assert data["outcome"] == "succeeded"
    assert data["exit_code"] == 0
    assert data["error_class"] is None
    assert data["error"] is None
    assert data["signal"] is None
    _times(data)
    assert data["files"] == {"total": 4, "done": 4, "bytes_total": 80, "bytes": 80}
    assert data["destinations"] == [
        {"name": f"local:{one}", "files": 2, "bytes": 40},
        {"name": f"local:{two}", "files": 2, "bytes": 40},
    ]
    assert data["output_lines"] == 0
    assert data["steps"] == []
    # Nothing but the summary is left in its directory (no temporary file).
    assert [p.name for p in summary.parent.iterdir()] == ["summary.json"]


def test_summary_of_failed_batch_from_environment(
    cfg_dir: Path, tmp_path: Path, task_run
):
    for task_id, command in (
        ("say-hello", "echo hello; echo world"),
        ("fail-step", "exit 3"),
    ):
        write_json(cfg_dir / f"{task_id}.json", local_exec(command, str(tmp_path)))
    # At the top of the config dir: the error line names this file.
    write_json(
        cfg_dir / "two-steps.json",
        {
            "type": "batch",
            "tasks": [
                {"order_id": 1, "task_id": "say-hello"},
                {"order_id": 2, "task_id": "fail-step", "dependencies": [1]},
            ],
        },
    )
    summary = tmp_path / "batch-summary.json"
    proc = task_run(
        "-t", "two-steps", "-c", cfg_dir, env={"OTF_SUMMARY_FILE": str(summary)}
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(summary.read_text())
    assert data["task_id"] == "two-steps"
    assert data["run_id"] is None
    assert data["type"] == "batch"
    assert data["outcome"] == "failed"
    assert data["exit_code"] == 1
    assert data["error_class"] == "execution"
    # The same line as the last one on stderr: where and why it failed.
    assert data["error"] == (
        f"{cfg_dir}/two-steps.json: task fail-step: "
        "[LOCALHOST] Got return code 3 from command"
    )
    assert proc.stderr.rstrip().splitlines()[-1] == f"task-run: error: {data['error']}"
    assert data["signal"] is None
    _times(data)
    assert data["files"] == {"total": 0, "done": 0, "bytes_total": 0, "bytes": 0}
    assert data["destinations"] == []
    assert data["output_lines"] == 2
    steps = data["steps"]
    assert [(s["batch"], s["order_id"], s["task_id"], s["outcome"]) for s in steps] == [
        ("two-steps", 1, "say-hello", "completed"),
        ("two-steps", 2, "fail-step", "failed"),
    ]
    assert all(s["duration_seconds"] >= 0 for s in steps)


def test_summary_of_configuration_error(cfg_dir: Path, tmp_path: Path, task_run):
    summary = tmp_path / "summary.json"
    proc = task_run("-t", "no-such-task", "-c", cfg_dir, "--summary", summary)
    assert proc.returncode == 1
    data = json.loads(summary.read_text())
    assert (data["outcome"], data["error_class"], data["type"]) == (
        "failed",
        "configuration",
        None,
    )
    assert "no-such-task" in data["error"]
    assert data["error"] in proc.stderr


def test_summary_replaces_a_link_without_following_it(
    cfg_dir: Path, tmp_path: Path, task_run
):
    source, dest = tmp_path / "src", tmp_path / "dest"
    source.mkdir()
    dest.mkdir()
    (source / "a.txt").write_text("x")
    _local_transfer(cfg_dir, "copy-one", source, dest)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    summary = tmp_path / "summary.json"
    summary.symlink_to(victim)
    proc = task_run("-t", "copy-one", "-c", cfg_dir, "--summary", summary)
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "keep me"
    assert not summary.is_symlink()
    assert json.loads(summary.read_text())["outcome"] == "succeeded"


def test_unwritable_summary_warns_and_keeps_exit_code(
    cfg_dir: Path, tmp_path: Path, task_run
):
    write_json(
        cfg_dir / "ok.json",
        {
            "type": "execution",
            "protocol": {"name": "local"},
            "directory": str(tmp_path),
            "command": "true",
        },
    )
    missing = tmp_path / "missing-dir" / "summary.json"
    proc = task_run("-t", "ok", "-c", cfg_dir, "--summary", missing)
    assert proc.returncode == 0
    assert f"task-run: warning: summary file {missing}: " in proc.stderr
    assert "Traceback" not in proc.stderr
