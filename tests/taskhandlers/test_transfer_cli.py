"""Local transfers through the real CLI (``python -m opentaskpy``)."""

from __future__ import annotations

import glob
import os
import resource
import signal
from pathlib import Path

from support.helpers import local_dest, local_transfer, write_json
from support.processes import run_task_run


def _local_transfer(
    cfg: Path, name: str, src: Path, dst: Path, **source_extra: object
) -> None:
    write_json(
        cfg / "transfers" / f"{name}.json",
        local_transfer(src, r".*\.csv", local_dest(dst, mode="0644"), **source_extra),
    )


def _logs(workdir: Path, task_id: str) -> list[str]:
    return sorted(
        os.path.basename(p)
        for p in glob.glob(str(workdir / "logs" / task_id / "*.log"))
    )


def test_cli_local_transfer_success(
    task_run, cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "orders.csv").write_text("id,qty\n1,2\n")
    _local_transfer(cfg_dir, "cli-ok", src, dst, postCopyAction={"action": "delete"})
    result = task_run("-t", "cli-ok", "-c", cfg_dir)
    assert result.returncode == 0, result.stderr
    assert (dst / "orders.csv").read_text() == "id,qty\n1,2\n"
    assert os.listdir(src) == []
    logs = _logs(isolated_env, "cli-ok")
    assert (
        len(logs) == 2
        and any(n.endswith("_T.log") for n in logs)
        and any(n.endswith("_WRAPPER.log") for n in logs)
    )
    transfer_log = next(n for n in logs if n.endswith("_T.log"))
    text = (isolated_env / "logs" / "cli-ok" / transfer_log).read_text()
    assert "Running transfer" in text and f" * {src}/orders.csv" in text


def test_cli_file_watch_timeout_fails(
    task_run, cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    _local_transfer(
        cfg_dir, "cli-fw", tmp_path / "src", tmp_path / "dst", fileWatch={"timeout": 1}
    )
    result = task_run("-t", "cli-fw", "-c", cfg_dir)
    assert result.returncode == 1
    assert "No valid files found after 1 seconds" in result.stderr
    assert any(n.endswith("_T_failed.log") for n in _logs(isolated_env, "cli-fw"))


def test_cli_error_false_with_no_files_succeeds(
    task_run, cfg_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    _local_transfer(
        cfg_dir, "cli-noerr", tmp_path / "src", tmp_path / "dst", error=False
    )
    result = task_run("-t", "cli-noerr", "-c", cfg_dir)
    assert result.returncode == 0, result.stderr
    assert "But not erroring due to config" in result.stderr


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))


def test_cli_copy_failing_half_way_leaves_no_partial_file(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "big.csv").write_bytes(
        os.urandom(1024 * 1024)
    )  # larger than the child's file size limit
    _local_transfer(
        cfg_dir, "cli-partial", src, dst, postCopyAction={"action": "delete"}
    )
    result = run_task_run(
        "-t",
        "cli-partial",
        "-c",
        cfg_dir,
        cwd=isolated_env,
        timeout=120,
        preexec_fn=_limit_file_size,
    )
    assert result.returncode == 1
    assert "Push of files to destination errored" in result.stderr
    assert os.listdir(dst) == []  # neither a partial final file nor a temporary one
    assert os.listdir(src) == ["big.csv"]  # the post-copy action did not run
