"""Log files: the rule for task and run ids, private files and directories.

Task ids and run ids become directory and file names below the log
directory; :func:`check_task_id` and :func:`check_run_id` refuse anything
that could climb out of it (``..``, an absolute path) or split a log line.

Log files are created with mode 0600 and log directories with 0700, less
whatever the process umask removes (a stricter umask such as 0277 gives
read-only files). Directories that already exist keep their mode.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time

# Held while a log file is opened, closed or renamed (shared with otflogging).
file_lock = threading.RLock()

# C0 and C1 controls, DEL, line/paragraph separators, lone surrogates. All
# are unprintable, so printable text is never searched (and the pattern,
# costly to compile, is compiled on first use through re's cache).
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]"


class InvalidNameError(ValueError):
    """A task id, run id or log prefix that would leave the log directory."""


def _id_problem(value: str, allow_subdirs: bool) -> str | None:
    if not value:
        return "it is empty"
    if not value.isprintable() and re.search(_CONTROL, value):
        return "it holds a control character"
    if value.startswith("/"):
        return "it is an absolute path"
    if "/" in value and not allow_subdirs:
        return "it holds '/'"
    parts = value.split("/")
    if "" in parts:
        return "it has an empty part"
    dots = next((p for p in parts if p in (".", "..")), None)
    if dots is not None:
        return f"it is {dots!r}" if len(parts) == 1 else f"it has a {dots!r} part"
    return None


def check_task_id(task_id: str, label: str = "task id") -> str:
    """Return ``task_id`` if it is a plain name, else raise :class:`InvalidNameError`.

    A task id names a task file under the config directory: names separated
    by ``/`` (``execs/deep``), none of them empty, ``.`` or ``..``, no leading
    ``/`` and no control characters. Anything else could put a log file
    outside the log directory. A leading ``-`` is allowed: ids never reach a
    command line as an argument.
    """
    problem = _id_problem(task_id, allow_subdirs=True)
    if problem:
        raise InvalidNameError(
            f"{label} {task_id!r} is not a valid task id: {problem} (a task id "
            "is a task file name, optionally below sub-directories: names "
            "separated by '/', none of them empty, '.' or '..')"
        )
    return task_id


def check_run_id(run_id: str, label: str = "run id") -> str:
    """Return ``run_id`` if it is a plain name, else raise :class:`InvalidNameError`.

    A run id is one directory name below the log directory: not empty, not
    ``.`` or ``..``, without ``/`` or control characters.
    """
    problem = _id_problem(run_id, allow_subdirs=False)
    if problem:
        raise InvalidNameError(
            f"{label} {run_id!r} is not a valid run id: {problem} (a run id is "
            "one directory name: no '/', not '.' or '..')"
        )
    return run_id


def make_private_dirs(directory: str) -> None:
    """Create ``directory`` and missing parents with mode 0700 (less the umask).

    Existing directories are left as they are. ``os.makedirs`` would give
    intermediate directories the default mode.
    """
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(directory)
    if parent and parent != directory and not os.path.lexists(parent):
        make_private_dirs(parent)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise


class TaskFileHandler(logging.FileHandler):
    """A lazily opened, line-buffered, private file handler.

    Log files are created with mode 0600 and their directories with 0700,
    less whatever the process umask removes: logs can hold host names, paths
    and command output that other local users have no business reading.
    A symlink planted at the log path is not followed.
    """

    def __init__(
        self,
        filename: str,
        mode: str = "a",
        encoding: str | None = None,
        delay: bool = True,
    ):
        make_private_dirs(os.path.dirname(os.path.abspath(filename)))
        super().__init__(filename, mode, encoding, delay)

    def _open(self):  # type: ignore[no-untyped-def]
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        flags |= os.O_APPEND if "a" in self.mode else os.O_TRUNC
        with file_lock:
            make_private_dirs(os.path.dirname(self.baseFilename))
            fd = os.open(self.baseFilename, flags, 0o600)
            return open(  # noqa: SIM115 - the handler owns the stream
                fd,
                "a" if "a" in self.mode else "w",
                encoding=self.encoding or "utf-8",
                buffering=1,
            )


def run_prefix() -> str:
    """Return the run's log prefix for now: ``YYYYmmdd-HHMMSS.mmm``, local time.

    What ``datetime.now().strftime("%Y%m%d-%H%M%S.%f")[:-3]`` gives (the
    same clock, truncated to the millisecond, a leap second shown as 59),
    without importing ``datetime`` at every start.
    """
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    local = time.localtime(seconds)
    if local.tm_sec > 59:
        local = time.struct_time((*local[:5], 59, *local[6:]))
    return f"{time.strftime('%Y%m%d-%H%M%S', local)}.{nanoseconds // 1_000_000:03d}"


def resume_log_settings() -> tuple[int, str]:
    """Return ``OTF_STALE_RUNNING_LOG_SECONDS`` (-1: off) and the log date wanted.

    A date that is not ``YYYYMMDD`` is warned about (no log can match it).

    Raises:
        ValueError: the stale seconds are not a whole number (one line).
    """
    stale_text = os.environ.get("OTF_STALE_RUNNING_LOG_SECONDS", "-1")
    try:
        stale = int(stale_text)
    except ValueError:
        raise ValueError(
            f"environment variable OTF_STALE_RUNNING_LOG_SECONDS={stale_text!r}: "
            "must be a whole number of seconds"
        ) from None
    wanted_date = os.environ.get("OTF_BATCH_RESUME_LOG_DATE") or (
        time.strftime("%Y%m%d")
    )
    if not re.fullmatch(r"\d{8}", wanted_date):
        logging.getLogger(__name__).warning(
            f"OTF_BATCH_RESUME_LOG_DATE={wanted_date!r} is not YYYYMMDD: "
            "no earlier log can match it"
        )
    return stale, wanted_date
