"""Values that go into a run record (ids, hashes, log paths, masked lines)."""

from __future__ import annotations

import os
import sys
import time

_TYPE_LETTERS = {"transfer": "T", "execution": "E", "batch": "B"}
#: Error class of a task that failed without an exception saying more.
_TYPE_ERROR_CLASSES = {"transfer": "transfer", "execution": "execution"}


def new_id() -> str:
    """Make a new record id: sortable by time, unique across hosts."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + os.urandom(5).hex()


def definition_sha256(definition: dict) -> str:
    """Hash a rendered definition (sha256; keys sorted, so order is irrelevant)."""
    import json

    from opentaskpy.digests import sha256

    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return str(sha256(text.encode()).hexdigest())


def log_file_for(task_id: str, task_type: str | None) -> str | None:
    """Return the ``_running`` log path a ``task_type`` task writes here."""
    if "OTF_NO_LOG" in os.environ:
        return None
    from opentaskpy import otflogging

    letter = _TYPE_LETTERS.get(task_type or "")
    return os.path.abspath(otflogging._define_log_file_name(task_id, letter))


def final_log_file(path: str | None) -> str | None:
    """Where a ``_running`` log ended up after it was closed."""
    if not path or not path.endswith("_running.log"):
        return path
    stem = path[: -len("_running.log")]
    for candidate in (stem + ".log", stem + "_failed.log"):
        if os.path.exists(candidate):
            return candidate
    return path


def one_line(text: str) -> str:
    """``text`` as one masked line (the store never holds a secret)."""
    from opentaskpy.redaction import redact

    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return redact(lines[0] if lines else "")[:500]


def progress_json() -> str:
    """Return the progress counters of this process as JSON text."""
    import json

    from opentaskpy.progress import PROGRESS

    return json.dumps(PROGRESS.snapshot())


def warn(message: str) -> None:
    """Print one warning line on stderr."""
    sys.stderr.write(f"task-run: warning: {message}\n")
    sys.stderr.flush()


def type_error_class(task_type: str | None) -> str:
    """Return the error class of a task that failed without saying why."""
    return _TYPE_ERROR_CLASSES.get(task_type or "", "error")


def first_error_of(task_id: str) -> str | None:
    """Return the first error logged by ``task_id`` in this run, if it was first."""
    from opentaskpy import otflogging

    finder = getattr(otflogging, "first_error", None)
    found = finder() if finder is not None else None
    if found and found[0] == task_id:
        return one_line(found[1])
    return None
