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
from typing import TYPE_CHECKING, Any

from opentaskpy import ending, redaction
from opentaskpy.progress import PROGRESS

if TYPE_CHECKING:
    from opentaskpy.cli.ending import RunState
    from opentaskpy.exceptions import ErrorClass


def build(
    run: RunState, error_class: ErrorClass | None, code: int, signum: int | None
) -> dict[str, Any]:
    """Return the summary of ``run`` as JSON-ready data."""
    from opentaskpy.cli.ending import failure_line

    ended = time.time()
    outcome = "succeeded" if code == 0 else "failed"
    if signum is not None:
        outcome = "killed"
    line = None if code == 0 else failure_line()
    return {
        "version": 1,
        "task_id": run.task_id,
        "run_id": os.environ.get("OTF_RUN_ID"),
        "type": (run.definition or {}).get("type"),
        "outcome": outcome,
        "exit_code": code,
        "error_class": None if error_class is None else str(error_class),
        "error": None if line is None else redaction.mask_values(line),
        "signal": None if signum is None else ending.signal_name(signum),
        "started": _iso(run.started),
        "ended": _iso(ended),
        "duration_seconds": round(time.monotonic() - run.started_monotonic, 3),
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


def write(
    run: RunState, error_class: ErrorClass | None, code: int, signum: int | None
) -> bool:
    """Write the summary to ``run.summary_path``; one warning line on failure."""
    assert run.summary_path is not None
    try:
        write_atomically(run.summary_path, build(run, error_class, code, signum))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"task-run: warning: summary file {run.summary_path}: {reason}",
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
