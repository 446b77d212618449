"""The overlap lock: one run at a time per task id and rendered definition.

The key is the task id plus the sha256 of the rendered definition, so runs
of one task with different overrides (another host, another file) do not
block each other. The lock always belongs to something the operating system
or the database frees when the process dies, kill -9 included: an OS file
lock (``flock``) for SQLite, a session advisory lock for PostgreSQL. The
holder's details are written beside it only to name it to the next run.
"""

from __future__ import annotations

import json
import os
import time

from opentaskpy.digests import sha256
from opentaskpy.exceptions import ErrorClass, OTFError

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

#: How often a waiting run tries the lock again (seconds).
POLL_SECONDS = 0.2


class RunLockedError(OTFError):
    """Another run of the same task and definition holds the lock."""

    error_class = ErrorClass.LOCKED
    otf_plain_line = True


def lock_key(task_id: str, definition_sha256: str) -> str:
    """Return the lock key of a task id and a definition hash."""
    return str(sha256(f"{task_id}\0{definition_sha256}".encode()).hexdigest())


def locked_error(task_id: str, holder: dict[str, Any] | None) -> RunLockedError:
    """Build the one-line error naming the run that holds the lock."""
    if holder:
        started = time.strftime(
            "%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder.get("started_at", 0)))
        )
        who = (
            f"host {holder.get('host')}, pid {holder.get('pid')}, "
            f"run id {holder.get('run_id')}, started {started}"
        )
    else:
        who = "holder unknown"
    return RunLockedError(
        f"task {task_id} is already running with the same definition ({who}); "
        "not starting another (OTF_LOCK_WAIT=SECONDS waits for it, OTF_LOCK=0 "
        "allows overlapping runs)"
    )


class FileLock:
    """An ``flock`` on ``<directory>/<key>.lock``, held until released or exit."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(
        cls, directory: str, key: str, holder: dict[str, Any], wait: float
    ) -> FileLock:
        """Take the lock, waiting up to ``wait`` seconds.

        Raises:
            RunLockedError: another live process holds it.
            OSError: the lock file cannot be created.
        """
        import fcntl

        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{key}.lock")
        # O_APPEND-free, no truncation before the lock is ours.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise locked_error(
                        str(holder.get("task_id")), _read_holder(path)
                    ) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        return cls(fd)

    def release(self) -> None:
        """Release the lock (the OS does it too when the process ends)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_holder(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.loads(handle.read() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
