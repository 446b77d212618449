"""Helpers for the batch tests: batches, logs, processes.

Writing a batch and its tasks into a config dir: :mod:`support.flow`.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from opentaskpy import otflogging
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.taskhandlers.batch import Batch


def make_batch(cfg: Path, task_id: str) -> Batch:
    """Construct a Batch through a fresh ConfigLoader, as TaskRun does."""
    loader = ConfigLoader(str(cfg))
    global_variables = loader.get_global_variables()
    return Batch(
        global_variables, task_id, loader.load_task_definition(task_id), loader
    )


def new_prefix(monkeypatch, day: datetime.date | None = None) -> str:  # noqa: ANN001
    """Give the following log files a new timestamp prefix (a 'new process')."""
    time.sleep(0.002)  # two prefixes must not collide at millisecond resolution
    now = datetime.datetime.now()
    if day is not None:
        now = now.replace(year=day.year, month=day.month, day=day.day)
    prefix = now.strftime("%Y%m%d-%H%M%S.%f")[:-3]
    monkeypatch.setenv("OTF_LOG_RUN_PREFIX", prefix)
    return prefix


def log_path(task_id: str, task_type: str, state: str = "") -> Path:
    """This process's log file of ``task_id``; state "", "_failed" or "_running"."""
    running = otflogging._define_log_file_name(task_id, task_type)
    return Path(running.replace("_running", state))


def logs_of(task_id: str) -> list[str]:
    """Names of every log file under ``logs/<task_id>``."""
    directory = Path("logs") / task_id
    return sorted(os.listdir(directory)) if directory.is_dir() else []
