"""Task ids and run ids cannot put a log file outside the log directory.

``-t ../../x`` used to be refused by the task lookup only after its log had
been written to ``<logdir>/../../x/``; ``-r ../../y`` wrote the whole run's
logs there. Ids that are not plain names are refused with one line before
anything is written.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from opentaskpy import otflogging
from support.helpers import local_exec, write_json
from support.processes import task_run_env

OK_TASK = local_exec("true")

BAD = [
    (["-t", "../../escape/x"], {}, "-t '../../escape/x'"),
    (["-t", "ok", "-r", "../../escape/y"], {}, "-r '../../escape/y'"),
    (["-t", "ok", "-r", ".."], {}, "-r '..'"),
    (["-t", "ok"], {"OTF_RUN_ID": "../../escape/z"}, "OTF_RUN_ID '../../escape/z'"),
    (["-t", "/abs/ok"], {}, "-t '/abs/ok'"),
    (["-t", "ok\nforged"], {}, "-t 'ok\\nforged'"),
]


@pytest.mark.parametrize(("args", "env", "named"), BAD)
def test_traversing_id_is_refused_before_anything_is_written(
    task_run, cfg_dir, tmp_path, args, env, named
):
    write_json(cfg_dir / "ok.json", OK_TASK)
    outer = tmp_path / "outer"
    log_dir = outer / "inner" / "logs"
    proc = task_run(
        *args, "-c", cfg_dir, env={"OTF_LOG_DIRECTORY": str(log_dir), **env}
    )
    assert not outer.exists(), sorted(map(str, outer.rglob("*")))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"task-run: error: {named} is not a valid "), lines


def test_batch_validator_refuses_traversing_task_id(cfg_dir, tmp_path, isolated_env):
    outer = tmp_path / "outer"
    env = {
        "OTF_LOG_DIRECTORY": str(outer / "inner" / "logs"),
        "OTF_TASK_ID": "../../escape/v",
    }
    for args in (["-t", "../../escape/w"], ["-t", "b"]):
        proc = subprocess.run(
            [sys.executable, "-m", "opentaskpy.cli.batch_validator", *args],
            capture_output=True,
            text=True,
            env=task_run_env(**env),
            cwd=isolated_env,
            timeout=120,
        )
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, proc.stderr
        assert re.match(r"otf-batch-validator: error: \S+ '\.\./\.\./escape/", lines[0])
    assert not outer.exists()


def test_library_refuses_traversing_ids(isolated_env, monkeypatch, tmp_path):
    monkeypatch.setenv("OTF_LOG_DIRECTORY", str(tmp_path / "inner" / "logs"))
    with pytest.raises(otflogging.InvalidNameError):
        otflogging.init_logging("hardening.ids", task_id="../escape", task_type="T")
    monkeypatch.setenv("OTF_RUN_ID", "../escape")
    with pytest.raises(otflogging.InvalidNameError):
        otflogging.init_logging("hardening.ids", task_id="ok", task_type="T")
    assert not (tmp_path / "inner").exists()


def test_plain_ids_still_work(task_run, cfg_dir, isolated_env):
    write_json(cfg_dir / "execs" / "deep.json", OK_TASK)
    write_json(cfg_dir / "-odd name.v2.json", OK_TASK)
    proc = task_run("-t", "execs/deep", "-c", cfg_dir, "-r", "nightly-2026.12.06_1")
    assert proc.returncode == 0, proc.stderr
    proc = task_run("--taskId=-odd name.v2", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    found = (isolated_env / "logs").rglob("*.log")
    logs = sorted(str(p.relative_to(isolated_env)) for p in found)
    assert len(logs) == 4, logs
    assert [x for x in logs if x.startswith("logs/nightly-2026.12.06_1/")]
    assert [x for x in logs if x.startswith("logs/-odd name.v2/")]
