"""task-run facts from cli.md / logging.md found untested by the spec audit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli_helpers import PREFIX, matches

from support.helpers import local_exec, local_transfer, write_json


def _local_basic(cfg_dir: Path, root: Path) -> None:
    (root / "src").mkdir()
    (root / "dst").mkdir()
    (root / "src" / "a.txt").write_text("hello\n")
    write_json(
        cfg_dir / "transfers" / "local-basic.json",
        local_transfer(root / "src", r"a\.txt", root / "dst"),
    )


def test_run_id_env_gives_exactly_two_files_for_local_basic(
    task_run, cfg_dir, isolated_env
):
    # The reference's image tests run `-t local-basic -v 2` with
    # OTF_RUN_ID=docker_log_test and expect exactly two files, both naming
    # local-basic, in logs/docker_log_test.
    _local_basic(cfg_dir, isolated_env)
    proc = task_run(
        "-t",
        "local-basic",
        "-v",
        "2",
        "-c",
        cfg_dir,
        env={"OTF_RUN_ID": "docker_log_test"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (isolated_env / "dst" / "a.txt").read_text() == "hello\n"
    names = sorted(os.listdir(isolated_env / "logs" / "docker_log_test"))
    assert len(names) == 2, names
    assert all("local-basic" in name for name in names), names
    assert sorted(os.listdir(isolated_env / "logs")) == ["docker_log_test"]
    files = [f"logs/docker_log_test/{n}" for n in names]
    assert matches(rf"logs/docker_log_test/{PREFIX}_WRAPPER_local-basic\.log", files)
    assert matches(rf"logs/docker_log_test/{PREFIX}_T_local-basic\.log", files)


def test_otf_noop_with_any_value_is_noop_but_lookups_run(
    task_run, cfg_dir, isolated_env
):
    # TaskRun treats OTF_NOOP with any value as noop, while the
    # lookup short-circuit needs exactly "true" (upstream quirk).
    secret = isolated_env / "value.txt"
    secret.write_text("looked-up\n")
    write_json(
        cfg_dir / "touch-it.json",
        local_exec(f"touch {isolated_env}/{{{{ lookup('file', path='{secret}') }}}}"),
    )
    proc = task_run("-t", "touch-it", "-c", cfg_dir, "-v", "1", env={"OTF_NOOP": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "Noop set, exiting" in proc.stderr
    assert not (isolated_env / "looked-up").exists()
    # The plugin really ran: its result (masked, as every lookup result is a
    # secret) is in the evaluated definition instead of the text "noop".
    assert f"touch {isolated_env}/********" in proc.stderr
    assert f"touch {isolated_env}/noop" not in proc.stderr
    assert "looked-up" not in proc.stderr


def test_evaluated_task_definition_logged_at_verbose1_and_redacted(
    task_run, cfg_dir, isolated_env
):
    # The evaluated definition is logged at level 12 as
    # "Evaluated task definition: {redact(json.dumps(definition))}".
    _local_basic(cfg_dir, isolated_env)
    definition = json.loads((cfg_dir / "transfers" / "local-basic.json").read_text())
    definition["password"] = "hunter2-top-level"
    write_json(cfg_dir / "ok.json", definition)
    proc = task_run("-t", "ok", "-c", cfg_dir, "-v", "1", env={"OTF_NOOP": "x"})
    assert proc.returncode == 0, proc.stderr
    lines = [
        line
        for line in proc.stderr.splitlines()
        if "Evaluated task definition: " in line
    ]
    assert len(lines) == 1, proc.stderr
    assert "VERBOSE1" in lines[0]
    assert '"fileRegex": "a\\\\.txt"' in lines[0]
    assert '"password": "********"' in lines[0]
    assert "hunter2-top-level" not in proc.stderr
    # Not shown at the default INFO level.
    quiet = task_run("-t", "ok", "-c", cfg_dir, env={"OTF_NOOP": "x"})
    assert "Evaluated task definition" not in quiet.stderr
