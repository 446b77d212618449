"""The JSON summary a run leaves for its scheduler (``--summary FILE``).

Written at the end of every run, succeeded, failed or killed, atomically: the
JSON goes to a new temporary file beside the target (created exclusively,
so a planted link is never followed), is flushed to disk, then renamed over
the target (a link at the target is replaced, not followed). Fields:

* ``version`` (1), ``task_id``, ``run_id``, ``type`` (``transfer``,
  ``execution``, ``batch`` or ``null`` when the definition never loaded);
* ``outcome``: ``succeeded``, ``failed`` or ``killed``; ``exit_code``;
* ``error_class`` (see :class:`opentaskpy.exceptions.ErrorClass`) and
  ``error`` (one line), both ``null`` on success; ``signal`` (``SIGTERM``...);
* ``started``, ``ended`` (ISO 8601, UTC) and ``duration_seconds``;
* ``files``: ``total`` and ``done`` (per destination, so one file sent to two
  destinations counts twice), ``bytes_total`` and ``bytes``;
* ``destinations``: ``name``, ``files`` and ``bytes`` for each destination;
* ``output_lines``: lines of output of the executions;
* ``steps``: for batches, each step's ``batch``, ``order_id``, ``task_id``,
  ``outcome`` (completed, failed, timed_out, killed, skipped) and
  ``duration_seconds``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

from opentaskpy import ending, redaction
from opentaskpy.exceptions import ErrorClass
from opentaskpy.progress import PROGRESS


class Outcome(NamedTuple):
    """How the run ended, as the CLI determined it."""

    task_id: str
    task_type: str | None
    started: float  # time.time() at the start
    duration: float  # seconds
    error_class: ErrorClass | None
    line: str | None
    code: int
    signum: int | None


def build(run: Outcome) -> dict[str, Any]:
    """Return the summary of ``run`` as JSON-ready data."""
    ended = time.time()
    outcome = "succeeded" if run.code == 0 else "failed"
    if run.signum is not None:
        outcome = "killed"
    line = None if run.code == 0 else run.line
    error_class = run.error_class
    signum = run.signum
    return {
        "version": 1,
        "task_id": run.task_id,
        "run_id": os.environ.get("OTF_RUN_ID"),
        "type": run.task_type,
        "outcome": outcome,
        "exit_code": run.code,
        "error_class": None if error_class is None else str(error_class),
        "error": None if line is None else redaction.mask_values(line),
        "signal": None if signum is None else ending.signal_name(signum),
        "started": _iso(run.started),
        "ended": _iso(ended),
        "duration_seconds": round(run.duration, 3),
        "files": {
            "total": PROGRESS.files_total,
            "done": PROGRESS.files_done,
            "bytes_total": PROGRESS.bytes_total,
            "bytes": PROGRESS.bytes_done,
        },
        "destinations": [
            {"name": name, "files": dest.files, "bytes": dest.bytes}
            for name, dest in list(PROGRESS.destinations.items())
        ],
        "output_lines": PROGRESS.output_lines,
        "steps": [step.as_dict() for step in list(PROGRESS.steps)],
    }


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def write(path: str, run: Outcome) -> bool:
    """Write the summary of ``run`` to ``path``; one warning line on failure."""
    try:
        write_atomically(path, build(run))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"task-run: warning: summary file {path}: {reason}",
            file=sys.stderr,
            flush=True,
        )
        return False
    return True


def write_atomically(path: str, data: object) -> None:
    """Replace ``path`` with ``data`` as JSON in one rename.

    Raises:
        OSError: the directory cannot be written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
