"""Run one command and measure its wall time and the peak RSS of its tree.

Peak RSS is sampled every ``POLL_SECONDS`` by a thread that walks the
process and all its descendants with psutil and keeps the larger of

* the summed current RSS of the tree (multi-process trees: a batch that
  spawns shells), and
* the largest ``VmHWM`` (the kernel's per-process RSS high-water mark) seen
  for any single process of the tree, which also catches a spike that fell
  between two polls.

``ru_maxrss`` from ``wait4`` is not used: it includes the harness's own
pages that the forked child held before ``exec``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

POLL_SECONDS = 0.02


@dataclass
class Sample:
    """One measured execution of a command."""

    argv: list[str]
    returncode: int
    wall: float
    peak_rss: int
    # User + system CPU seconds of the command and the children it waited
    # for (from wait4): far less sensitive to a busy machine than the wall.
    cpu: float = 0.0
    stdout: str = ""
    stderr: str = ""
    ok: bool = True
    reason: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(summed RSS of the tree, largest single-process high-water mark)."""
    total = 0
    hwm = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
        hwm = max(hwm, _hwm(p.pid))
    return total, hwm


class _RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._stop_evt = threading.Event()
        try:
            self._proc: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._proc = None

    def run(self) -> None:
        if self._proc is None:
            return
        while not self._stop_evt.is_set():
            total, hwm = _tree_rss(self._proc)
            self.peak = max(self.peak, total, hwm)
            self._stop_evt.wait(POLL_SECONDS)

    def stop(self) -> None:
        self._stop_evt.set()
        self.join()


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
) -> Sample:
    """Run ``argv`` to completion and return timing and memory figures.

    Output is captured to temporary files (not pipes) so a chatty child can
    never block on a full pipe and skew the timing.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd
        )
        sampler = _RssSampler(proc.pid)
        sampler.start()
        # Blocking wait4 gives the exact end time; a timer kills a hung child.
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    peak = sampler.peak
    cpu = usage.ru_utime + usage.ru_stime
    sample = Sample(argv, proc.returncode, wall, peak, cpu, stdout, stderr)
    if proc.returncode != 0:
        sample.ok = False
        sample.reason = f"exit code {proc.returncode}: {_tail(stderr or stdout)}"
    return sample


def _tail(text: str, lines: int = 2) -> str:
    """The most telling lines of a failed run's output (errors first)."""
    all_lines = text.strip().splitlines()
    errors = [ln for ln in all_lines if "ERROR" in ln or "Error" in ln]
    return " | ".join((errors or all_lines)[-lines:])[:400]
