"""``task-run --plan`` for transfers and executions: real task-run, real sshd.

Each plan is checked against the files as they are, and every directory a
run would touch (source, destinations, archive, the working directory for
logs) is checked unchanged afterwards: no file, no partial or staging file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from support.helpers import transfer_def, write_json
from support.plan_helpers import by_dest_name, run_plan, tree_snapshot
from support.ssh_helpers import cli_env, remote_dest, remote_source


def _old(path: Path, seconds: float = 3600) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_local_plan_with_rename_conditionals_and_post_copy_move(
    tmp_path, cfg_dir, task_run, isolated_env
):
    src, dst, archive = (tmp_path / n for n in ("src", "dst", "archive"))
    for folder in (src, dst, archive):
        folder.mkdir()
    (src / "a.txt").write_text("alpha\n")
    (src / "b.txt").write_text("bravo bravo\n")
    (src / "tiny.txt").write_text("t")  # too small: excluded by conditionals
    (src / "c.log").write_text("not matched\n")
    source = {
        "directory": str(src),
        "fileRegex": r".*\.txt",
        "protocol": {"name": "local"},
        "conditionals": {"size": {"gt": 2}},
        "postCopyAction": {"action": "move", "destination": str(archive)},
    }
    dest = {
        "directory": str(dst),
        "protocol": {"name": "local"},
        "rename": {"pattern": r"^(.*)\.txt$", "sub": r"\1.csv"},
    }
    write_json(cfg_dir / "local-plan.json", transfer_def(source, dest))
    staging = tmp_path / "staging"
    staging.mkdir()
    env = {"OTF_STAGING_DIR": str(staging)}
    before = tree_snapshot(src, dst, archive, isolated_env, staging)

    plan = run_plan(task_run, cfg_dir, "local-plan", env)

    assert tree_snapshot(src, dst, archive, isolated_env, staging) == before
    assert not (isolated_env / "logs").exists()
    assert [f["source_path"] for f in plan["files"]] == [
        str(src / "a.txt"),
        str(src / "b.txt"),
    ]
    assert plan["excluded_by_conditionals"] == [str(src / "tiny.txt")]
    files = by_dest_name(plan["destinations"][0])
    assert sorted(files) == ["a.csv", "b.csv"]
    assert files["a.csv"]["dest_path"] == str(dst / "a.csv")
    assert files["a.csv"]["size"] == 6
    assert files["a.csv"]["mtime"] == (src / "a.txt").stat().st_mtime
    assert plan["post_copy_action"]["action"] == "move"
    targets = [f["target"] for f in plan["post_copy_action"]["files"]]
    assert targets == [str(archive / "a.txt"), str(archive / "b.txt")]

    text = run_plan(task_run, cfg_dir, "local-plan", as_json=False)
    assert f"-> {dst / 'b.csv'}" in text
    assert f"{src / 'b.txt'} -> {archive / 'b.txt'}" in text
    assert tree_snapshot(src, dst, archive, isolated_env) == before


def test_sftp_source_plan_lists_and_stats_only(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, isolated_env
):
    ssh_env.write_file(dirs["src"] / "a.dat", b"A" * 100)
    ssh_env.write_file(dirs["src"] / "b.dat", b"B" * 10)
    ssh_env.write_file(dirs["src"] / "fresh.dat", b"F" * 100)
    for name in ("a.dat", "b.dat"):
        _old(dirs["src"] / name)
    definition = transfer_def(
        remote_source(
            ssh_env,
            "sftp",
            dirs["src"],
            r".*\.dat",
            conditionals={"age": {"gt": 600}},
            postCopyAction={
                "action": "rename",
                "destination": f"{dirs['archive']}/",
                "pattern": r"\.dat$",
                "sub": ".done",
            },
        ),
        remote_dest(
            ssh_env, "sftp", dirs["dst"], rename={"pattern": r"^", "sub": "in_"}
        ),
    )
    write_json(cfg_dir / "sftp-plan.json", definition)
    before = tree_snapshot(dirs["src"], dirs["dst"], dirs["archive"], isolated_env)

    plan = run_plan(task_run, cfg_dir, "sftp-plan", cli_env(ssh_client_env))

    assert tree_snapshot(dirs["src"], dirs["dst"], dirs["archive"], isolated_env) == (
        before
    )
    files = by_dest_name(plan["destinations"][0])
    assert sorted(files) == ["in_a.dat", "in_b.dat"]
    assert files["in_b.dat"]["size"] == 10
    assert files["in_a.dat"]["dest_path"] == f"{dirs['dst']}/in_a.dat"
    assert int(files["in_a.dat"]["mtime"]) == int(
        (dirs["src"] / "a.dat").stat().st_mtime
    )
    assert plan["excluded_by_conditionals"] == [f"{dirs['src']}/fresh.dat"]
    targets = [f["target"] for f in plan["post_copy_action"]["files"]]
    assert targets == [f"{dirs['archive']}/a.done", f"{dirs['archive']}/b.done"]


def test_ssh_source_plan_with_watches_as_conditions_and_count_conditional(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, isolated_env
):
    for name in ("r1.csv", "r2.csv", "r3.csv"):
        ssh_env.write_file(dirs["src"] / name, "x,y\n")
    source = remote_source(
        ssh_env,
        "ssh1",
        dirs["src"],
        r"r.*\.csv",
        fileWatch={"timeout": 900, "fileRegex": r"ready\.flag"},
        logWatch={
            "directory": str(dirs["src"]),
            "log": "app.log",
            "contentRegex": "DONE",
            "timeout": 900,
        },
        conditionals={"count": {"maxCount": 2}},
        postCopyAction={"action": "delete"},
    )
    write_json(
        cfg_dir / "ssh-plan.json",
        transfer_def(source, remote_dest(ssh_env, "ssh2", dirs["dst"])),
    )
    before = tree_snapshot(dirs["src"], dirs["dst"], dirs["archive"], isolated_env)

    plan = run_plan(task_run, cfg_dir, "ssh-plan", cli_env(ssh_client_env))

    assert tree_snapshot(dirs["src"], dirs["dst"], dirs["archive"], isolated_env) == (
        before
    )
    kinds = {c["kind"]: c for c in plan["conditions"]}
    assert kinds["file watch"]["fileRegex"] == r"ready\.flag"
    assert kinds["file watch"]["timeout"] == 900
    assert kinds["log watch"]["log"] == f"{dirs['src']}/app.log"
    # Three files match, maxCount is 2: a run would find nothing to send.
    assert plan["files"] == []
    assert len(plan["excluded_by_conditionals"]) == 3
    assert plan["outcome_if_run"] == "fails: no file matches"

    source["conditionals"] = {"count": {"maxCount": 5}}
    source.pop("fileWatch")
    source.pop("logWatch")
    write_json(
        cfg_dir / "ssh-plan.json",
        transfer_def(
            source,
            remote_dest(
                ssh_env, "ssh2", dirs["dst"], rename={"pattern": "csv$", "sub": "txt"}
            ),
        ),
    )
    plan = run_plan(task_run, cfg_dir, "ssh-plan", cli_env(ssh_client_env))
    assert sorted(by_dest_name(plan["destinations"][0])) == [
        "r1.txt",
        "r2.txt",
        "r3.txt",
    ]
    assert [f["then"] for f in plan["post_copy_action"]["files"]] == ["delete"] * 3
    assert tree_snapshot(dirs["src"], dirs["dst"], dirs["archive"], isolated_env) == (
        before
    )


def test_execution_plan_shows_command_and_hosts(cfg_dir, task_run, tmp_path):
    marker = tmp_path / "ran"
    write_json(
        cfg_dir / "exe.json",
        {
            "type": "execution",
            "protocol": {"name": "ssh", "credentials": {"username": "app"}},
            "hosts": ["127.0.0.1", "127.0.0.2"],
            "directory": "/tmp",
            "command": f"touch {marker}",
        },
    )
    plan = run_plan(task_run, cfg_dir, "exe")
    assert plan["hosts"] == ["127.0.0.1", "127.0.0.2"]
    assert plan["command"] == f"touch {marker}"
    assert not marker.exists()


def test_invalid_definition_is_one_line_and_status_1(cfg_dir, task_run):
    write_json(cfg_dir / "bad.json", {"type": "transfer", "source": {"x": 1}})
    result = task_run("--plan", "-t", "bad", "-c", cfg_dir)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.json" in lines[0], result.stderr
