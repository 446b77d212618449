"""The live progress line: on a terminal only, never in logs or pipes."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
from pathlib import Path

from opentaskpy.cli.progress_line import CLEAR, describe, human_bytes
from opentaskpy.progress import Progress
from support.flow import batch_task
from support.helpers import local_transfer, wait_for, write_json
from support.processes import log_names, start_task_run, task_run_env


class TerminalRun:
    """``task-run`` with stderr on a pseudo-terminal, read in the background."""

    def __init__(self, *args: object, cwd: Path, env: dict[str, str]):
        master, slave = pty.openpty()
        self.proc = start_task_run(
            *args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=slave
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not data:
                return
            self._chunks.append(data)

    @property
    def text(self) -> str:
        """Everything written to the terminal so far."""
        return b"".join(self._chunks).decode("utf-8", errors="replace")

    def finish(self) -> int:
        """Wait for the run and the reader; return the exit code."""
        try:
            code = self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout=10)
        os.close(self._master)
        return code


def _waiting_batch(cfg: Path, work: Path) -> None:
    write_json(
        cfg / "wait-for-go.json",
        {
            "type": "execution",
            "protocol": {"name": "local"},
            "directory": str(work),
            "command": "while [ ! -f go ]; do sleep 0.05; done",
        },
    )
    batch_task(cfg, "waiting-batch", [{"order_id": 1, "task_id": "wait-for-go"}])


def test_batch_progress_line_on_a_terminal(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    _waiting_batch(cfg_dir, tmp_path)
    run = TerminalRun(
        "-t", "waiting-batch", "-c", cfg_dir, cwd=isolated_env, env=task_run_env()
    )
    try:
        assert wait_for(lambda: "running: 1 wait-for-go" in run.text), run.text
        text = run.text
        assert "waiting-batch" in text and "steps 0/1 done" in text
        (tmp_path / "go").touch()
    finally:
        code = run.finish()
    assert code == 0, run.text
    # The line was cleared at the end: nothing follows the last clear but logs.
    last = run.text.rsplit(CLEAR, 1)[-1]
    assert "running:" not in last and "steps " not in last
    for name in log_names(isolated_env):
        content = (isolated_env / name).read_text()
        assert "\x1b[K" not in content and "steps 0/1" not in content, name


def test_transfer_progress_line_counts_files(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    source, dest = tmp_path / "src", tmp_path / "dest"
    source.mkdir()
    dest.mkdir()
    (source / "a.bin").write_bytes(b"a" * 3000)
    os.mkfifo(source / "b.bin")  # the transfer waits here until it is closed
    write_json(
        cfg_dir / "two-files.json",
        local_transfer(source, r".*\.bin", dest),
    )
    run = TerminalRun(
        "-t", "two-files", "-c", cfg_dir, cwd=isolated_env, env=task_run_env()
    )
    try:
        assert wait_for(lambda: "files 1/2" in run.text), run.text
        assert "2.9 KiB of 2.9 KiB" in run.text
        os.close(os.open(source / "b.bin", os.O_WRONLY))  # an empty second file
    finally:
        code = run.finish()
    assert code == 0, run.text
    assert sorted(p.name for p in dest.iterdir()) == ["a.bin", "b.bin"]


def test_no_progress_line_without_a_terminal(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    _waiting_batch(cfg_dir, tmp_path)
    proc = start_task_run("-t", "waiting-batch", "-c", cfg_dir, cwd=isolated_env)
    try:
        batch_log = isolated_env / "logs" / "waiting-batch"
        assert wait_for(
            lambda: (
                batch_log.exists()
                and "Spawned thread"
                in ("".join(p.read_text() for p in batch_log.iterdir()))
            )
        )
        # Long enough for a line to have been drawn had there been a terminal.
        threading.Event().wait(1.5)
        (tmp_path / "go").touch()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "\r" not in stderr and "\x1b[K" not in stderr
    assert "running:" not in stderr


def test_progress_line_off_with_otf_progress_0(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    _waiting_batch(cfg_dir, tmp_path)
    run = TerminalRun(
        "-t",
        "waiting-batch",
        "-c",
        cfg_dir,
        cwd=isolated_env,
        env=task_run_env(OTF_PROGRESS="0"),
    )
    try:
        assert wait_for(lambda: "Spawned thread" in run.text)
        threading.Event().wait(1.5)
        (tmp_path / "go").touch()
    finally:
        code = run.finish()
    assert code == 0
    assert "\x1b[K" not in run.text and "running:" not in run.text


def test_describe_transfer_rate_and_eta() -> None:
    progress = Progress()
    progress.add_files_total(4, 4 * 1024 * 1024)
    progress.file_delivered("local:/x", 1024 * 1024)
    text = describe(progress, "big-copy", now=progress.started + 2)
    assert text == (
        "big-copy | 0:02 | files 1/4 | 1.0 MiB of 4.0 MiB at 512.0 KiB/s, ETA 0:06"
    )
    assert human_bytes(512) == "512 B"
