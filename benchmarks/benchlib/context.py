"""Where a benchmark run keeps its files and how it calls the CLI."""

from __future__ import annotations

import compileall
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchlib.core import Case
from benchlib.data import reset_dir
from benchlib.measure import Sample

if TYPE_CHECKING:
    from benchlib.core import Workload
    from benchlib.scale import Scale

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"

# Batch timing knobs (env-vars.md). The defaults (5 s poll, 1 s pause per
# spawned step) are kept for upstream compatibility; a benchmark of engine
# overhead sets them low, as a latency-sensitive user would.
BATCH_ENV = {"OTF_BATCH_POLL_INTERVAL": "0.01", "OTF_NO_THREAD_SLEEP": "1"}

# ``run.py --src DIR``: run ``python -m opentaskpy`` from another source tree
# (e.g. a patched copy of src/) to A/B a proposed fix without touching the
# working tree. PYTHONPATH wins over the editable install's finder.
SRC_OVERRIDE: str | None = None


def compile_sources(source: Path | None = None) -> str:
    """Write the bytecode of the package under test, as ``pip install`` does.

    An editable install never writes ``__pycache__`` when
    ``PYTHONDONTWRITEBYTECODE`` is set (as in some sandboxes), and every run
    would then compile our modules again (~65 ms here), which no installed
    copy pays. Returns the directory compiled.
    """
    source = source or (Path(SRC_OVERRIDE) if SRC_OVERRIDE else REPO / "src")
    compileall.compile_dir(str(source), quiet=1)
    return str(source)


def add_baseline(wl: Workload, source: Path) -> None:
    """Add a ``baseline`` case: our side run from another source tree.

    Only for workloads whose ``ours`` case is ``python -m opentaskpy``
    (``--baseline`` makes ours start that way too, so only the code differs).
    """
    argv = wl.ours.argv
    if not wl.runnable or argv[1:3] != ["-m", "opentaskpy"]:
        return
    env = dict(wl.ours.env or os.environ)
    env["PYTHONPATH"] = str(source)
    wl.extras["baseline"] = dataclasses.replace(wl.ours, env=env)


def python_exe() -> str:
    """The project's interpreter (the venv's when present)."""
    venv_python = VENV_BIN / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def task_run_argv() -> list[str]:
    """The real CLI: the installed console script, else ``python -m``."""
    script = VENV_BIN / "task-run"
    if script.exists() and SRC_OVERRIDE is None:
        return [str(script)]
    return [python_exe(), "-m", "opentaskpy"]


@dataclass
class Mode:
    """Sizes and repetitions of one harness mode."""

    name: str
    reps: int
    big_sizes: list[int]  # sftp-big runs at every size; others at the last
    many_count: int
    many_size: int
    fan_sleep: float
    # Repetitions of the workloads whose runs take about a second or less
    # (start-up, batches, local-big, ssh-exec): a median of 3 such runs
    # moves with every hiccup of the machine; more cost little.
    fast_reps: int = 0
    # Counts of the scale rows (benchlib/scale.py).
    scale: Scale | None = None
    workloads: list[str] | None = None  # None: all


@dataclass
class Context:
    """A temp root holding config, logs, staging and per-workload dirs."""

    root: Path
    cache: Path
    mode: Mode
    base_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cfg = self.root / "cfg"
        self.cfg.mkdir(parents=True, exist_ok=True)
        (self.cfg / "variables.json.j2").write_text(
            json.dumps({"BENCH_ROOT": str(self.root), "GREETING": "hello"})
        )
        self.staging = self.root / "staging"
        self.staging.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
        env["OTF_STAGING_DIR"] = str(self.staging)
        # The validation cache lives in the run's temp dir, not in ~/.cache;
        # the warm-up run of each case fills it, as a scheduler's first run does.
        env["OTF_VALIDATION_CACHE_DIR"] = str(self.root / "validation-cache")
        # Run records (on by default, as for a user) also stay in the temp dir.
        env["XDG_STATE_HOME"] = str(self.root / "state")
        if SRC_OVERRIDE is not None:
            env["PYTHONPATH"] = SRC_OVERRIDE
        self.base_env = env

    def env_for(self, label: str, extra: dict[str, str] | None = None) -> dict:
        """Environment for one case, with its own log directory."""
        env = dict(self.base_env)
        env["OTF_LOG_DIRECTORY"] = str(self.log_dir(label))
        env.update(extra or {})
        return env

    def log_dir(self, label: str) -> Path:
        """The log directory of one case (wiped before each run)."""
        return self.root / "logs" / label

    def wipe_logs(self, label: str) -> None:
        """Remove one case's logs so verification sees only the current run."""
        shutil.rmtree(self.log_dir(label), ignore_errors=True)

    def task(self, task_id: str, definition: dict, cfg: Path | None = None) -> str:
        """Write a task definition into the config dir; return its id."""
        path = (cfg or self.cfg) / f"{task_id}.json"
        path.write_text(json.dumps(definition, indent=2))
        return task_id

    def task_run(self, task_id: str, cfg: Path | None = None, *flags: str) -> list:
        """argv of ``task-run`` for one task."""
        return [*task_run_argv(), *flags, "-t", task_id, "-c", str(cfg or self.cfg)]

    def transfer_case(
        self, task_id: str, label: str, dst: Path, verify: Callable
    ) -> Case:
        """Our run of ``task_id``: ``dst`` emptied and its logs wiped before each."""

        def prepare() -> None:
            reset_dir(dst)
            self.wipe_logs(label)

        return Case(
            self.task_run(task_id),
            env=self.env_for(label),
            cwd=self.root,
            prepare=prepare,
            verify=verify,
        )

    def transfer_vs_shell(
        self,
        task_id: str,
        label: str,
        dirs: tuple[Path, Path],
        script: str,
        check: Callable[[Path], str | None],
    ) -> tuple[Case, Case]:
        """Ours: ``task_id`` into ``dirs[0]``; the limit: ``script`` into ``dirs[1]``.

        Each side's directory is emptied before each run and ``check``-ed after.
        """
        ours_dst, limit_dst = dirs
        ours = self.transfer_case(task_id, label, ours_dst, lambda s: check(ours_dst))
        limit = Case(
            ["sh", "-c", script],
            prepare=lambda: reset_dir(limit_dst),
            verify=lambda s: check(limit_dst),
        )
        return ours, limit

    def log_text(self, label: str) -> str:
        """All log file contents of one case, concatenated."""
        parts = []
        for path in sorted(self.log_dir(label).rglob("*.log")):
            parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


def expect_text(sample: Sample, needle: str) -> str | None:
    """Failure reason unless ``needle`` appears in the run's output."""
    if needle in sample.stderr or needle in sample.stdout:
        return None
    return f"output lacks {needle!r}"
