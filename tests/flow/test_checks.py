"""Whole-config checks: every problem in one run, --all, --list, task ids."""

from __future__ import annotations

from pathlib import Path

from support.flow import batch_task, exec_task
from support.flow import run_validator as validator
from support.helpers import local_exec, write_json


def test_cycle_is_named(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    exec_task(cfg_dir, "a", "true", tmp_path)
    exec_task(cfg_dir, "b", "true", tmp_path)
    batch_task(
        cfg_dir,
        "cycle",
        [
            {"order_id": 1, "task_id": "a", "dependencies": [2]},
            {"order_id": 2, "task_id": "b", "dependencies": [1]},
        ],
    )
    proc = validator("-t", "cycle", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert "dependency cycle: 1 (a) -> 2 (b) -> 1 (a)" in proc.stderr


def test_missing_step_fails_validator_and_noop(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    exec_task(cfg_dir, "real", "true", tmp_path)
    batch_task(
        cfg_dir,
        "ghostly",
        [{"order_id": 1, "task_id": "real"}, {"order_id": 2, "task_id": "ghost"}],
    )
    proc = validator("-t", "ghostly", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert "Couldn't find task with name: ghost" in proc.stderr
    noop = task_run("--noop", "-t", "ghostly", "-c", cfg_dir)
    assert noop.returncode == 1
    assert "Couldn't find task with name: ghost" in noop.stderr
    assert "Traceback" not in noop.stderr


def _three_problems(cfg: Path, workdir: Path) -> Path:
    exec_task(cfg, "good", "true", workdir)
    bad = write_json(
        cfg / "steps" / "bad-dir.json",
        {
            "type": "execution",
            "directory": ["not", "a", "string"],
            "command": "true",
            "protocol": {"name": "local"},
        },
    )
    batch_task(
        cfg,
        "three",
        [
            {"order_id": 1, "task_id": "good", "dependencies": [7]},
            {"order_id": 2, "task_id": "bad-dir"},
            {"order_id": 3, "task_id": "good", "skip_if": "MISSPELT == 1"},
        ],
    )
    return bad


def test_three_errors_reported_together(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    bad = _three_problems(cfg_dir, tmp_path)
    for proc in (
        validator("-t", "three", "-c", cfg_dir, cwd=isolated_env),
        task_run("--noop", "-t", "three", "-c", cfg_dir),
    ):
        assert proc.returncode == 1
        assert "Task 1 has a dependency on task 7 which is not defined" in proc.stderr
        assert f"{bad}: $.directory" in proc.stderr
        assert (
            "step 3 (good): skip_if 'MISSPELT == 1': unknown name(s) MISSPELT"
            in proc.stderr
        )
        assert "Traceback" not in proc.stderr


def test_nested_batch_steps_are_checked(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
):
    bad = _three_problems(cfg_dir, tmp_path)
    batch_task(cfg_dir, "outer", [{"order_id": 1, "task_id": "three"}])
    proc = validator("-t", "outer", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert f"{bad}: $.directory" in proc.stderr


def test_misspelt_batch_field_is_an_error(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
):
    exec_task(cfg_dir, "a", "true", tmp_path)
    path = batch_task(cfg_dir, "typo", [{"order_id": 1, "task_id": "a", "retrys": 2}])
    proc = validator("-t", "typo", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert f"{path}: $.tasks[0]" in proc.stderr
    assert "retrys" in proc.stderr


def test_all_checks_every_task(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    exec_task(cfg_dir, "fine", "true", tmp_path)
    assert validator("--all", "-c", cfg_dir, cwd=isolated_env).returncode == 0
    bad = _three_problems(cfg_dir, tmp_path)
    proc = validator("--all", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert f"{bad}: $.directory" in proc.stderr
    assert "tasks checked" in proc.stderr


def _shared_line(proc_stderr: str, path: Path) -> list[str]:
    """The --all lines saying that ``path``'s task id names other files too."""
    return [
        line
        for line in proc_stderr.splitlines()
        if f"{path}: task id " in line and "is shared by" in line
    ]


def test_all_reports_a_shared_id_and_checks_each_file(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
):
    fine = exec_task(cfg_dir, "fine", "true", tmp_path)
    bad_exec = local_exec("true", str(tmp_path)) | {"directory": ["not", "a", "dir"]}
    in_a = write_json(cfg_dir / "a" / "job.json", bad_exec)
    in_b = write_json(
        cfg_dir / "b" / "job.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "ghost"}]},
    )
    plain = write_json(cfg_dir / "twin.json", local_exec("true"))
    templated = write_json(cfg_dir / "twin.json.j2", {"type": "transfr"})
    proc = validator("--all", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    # One line per file of a shared id, naming the others and how to pick it.
    for path, other, hint in (
        (in_a, in_b, "use -t a/job"),
        (in_b, in_a, "use -t b/job"),
        (plain, templated, "no -t finds it alone"),
        (templated, plain, "no -t finds it alone"),
    ):
        lines = _shared_line(proc.stderr, path)
        assert len(lines) == 1, proc.stderr
        assert f"(also {other})" in lines[0]
        assert "2 files" in lines[0] and lines[0].endswith(hint)
    # Each file of a shared id is still checked on its own, under its path.
    assert f"{in_a}: $.directory" in proc.stderr
    assert f"{in_b}: step 1 (ghost)" in proc.stderr
    assert "Couldn't find task with name: ghost" in proc.stderr
    assert f"{templated}: type: unknown task type 'transfr'" in proc.stderr
    # A valid file of a shared id has that one problem only.
    plain_lines = [ln for ln in proc.stderr.splitlines() if f"{plain}:" in ln]
    assert plain_lines == _shared_line(proc.stderr, plain)
    assert f"{fine}" not in proc.stderr
    assert "5 tasks checked, 4 with problems, 2 task id(s) used by more" in proc.stderr


def test_all_fails_on_a_shared_id_of_valid_files(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
):
    in_a = write_json(cfg_dir / "a" / "same.json", local_exec("true", str(tmp_path)))
    in_b = write_json(cfg_dir / "b" / "same.json", local_exec("true", str(tmp_path)))
    proc = validator("--all", "-c", cfg_dir, cwd=isolated_env)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 2, proc.stderr
    assert _shared_line(proc.stderr, in_a) and _shared_line(proc.stderr, in_b)


def test_list_tasks(cfg_dir: Path, tmp_path: Path, task_run):
    step = exec_task(cfg_dir, "listed-exec", "true", tmp_path)
    batch = batch_task(cfg_dir, "listed-batch", [{"order_id": 1, "task_id": "x"}])
    proc = task_run("--list", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()}
    assert rows["listed-exec"] == ["execution", str(step)]
    assert rows["listed-batch"] == ["batch", str(batch)]
    assert "variables" not in rows


def test_list_shows_every_file_of_a_duplicate_id(
    cfg_dir: Path, tmp_path: Path, task_run
):
    unique = exec_task(cfg_dir, "only-one", "true", tmp_path)
    in_a = write_json(
        cfg_dir / "a" / "job.json", local_exec("touch a.ran", str(tmp_path))
    )
    in_b = write_json(
        cfg_dir / "b" / "job.json", local_exec("touch b.ran", str(tmp_path))
    )
    plain = write_json(cfg_dir / "twin.json", local_exec("true"))
    templated = write_json(cfg_dir / "twin.json.j2", {"type": "batch", "tasks": []})
    proc = task_run("--list", "-c", cfg_dir)
    # A listed id that -t cannot use as it is: the listing says so.
    assert proc.returncode == 1
    rows = {line.split()[2]: line for line in proc.stdout.splitlines()}
    assert sorted(rows) == sorted(map(str, [unique, in_a, in_b, plain, templated]))
    assert "DUPLICATE" not in rows[str(unique)]
    assert rows[str(in_a)].endswith("DUPLICATE id (2 files): use -t a/job")
    assert rows[str(in_b)].endswith("DUPLICATE id (2 files): use -t b/job")
    for twin in (plain, templated):
        assert rows[str(twin)].endswith("DUPLICATE id (2 files): no -t finds it alone")
    warnings = [ln for ln in proc.stderr.splitlines() if "warning: task id" in ln]
    assert len(warnings) == 2
    job = next(ln for ln in warnings if "'job'" in ln)
    assert "2 files" in job and str(in_a) in job and str(in_b) in job
    # The id the listing gives runs that file and no other.
    assert task_run("-t", "b/job", "-c", cfg_dir).returncode == 0
    assert (tmp_path / "b.ran").exists() and not (tmp_path / "a.ran").exists()


def test_end_of_name_match_warns(cfg_dir: Path, tmp_path: Path, task_run):
    path = exec_task(cfg_dir, "sleep10", "touch sleep10.ran", tmp_path)
    proc = task_run("-t", "ep10", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sleep10.ran").exists()
    assert f"Task id 'ep10' matches no file name exactly; using {path}" in proc.stderr


def test_exact_name_wins_over_end_of_name(cfg_dir: Path, tmp_path: Path, task_run):
    exec_task(cfg_dir, "basic", "touch basic.ran", tmp_path)
    exec_task(cfg_dir, "scp-basic", "touch scp.ran", tmp_path)
    proc = task_run("-t", "basic", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "basic.ran").exists()
    assert not (tmp_path / "scp.ran").exists()
    assert "matches no file name exactly" not in proc.stderr


def test_two_candidates_are_an_error(cfg_dir: Path, tmp_path: Path, task_run):
    one = exec_task(cfg_dir, "a-job", "true", tmp_path)
    two = exec_task(cfg_dir, "b-job", "true", tmp_path)
    proc = task_run("-t", "job", "-c", cfg_dir)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("task-run: error:")]
    assert len(lines) == 1
    assert str(one) in lines[0] and str(two) in lines[0]


def test_version(task_run, isolated_env: Path):
    from importlib import metadata

    expected = metadata.version("opentaskpy")
    proc = task_run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"task-run {expected}"
    proc = validator("--version", cwd=isolated_env)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"otf-batch-validator {expected}"
