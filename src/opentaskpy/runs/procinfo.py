"""Who this process is, and whether a recorded process is still alive."""

from __future__ import annotations

import os


def start_ticks(pid: int) -> str | None:
    """Return the process start time (clock ticks since boot), if known.

    Together with the pid it names one process: a pid reused by another
    process has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses.
    fields = text[text.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def user_name() -> str:
    """Return the user running this process."""
    # Schedulers set these; a passwd lookup can cost milliseconds (NSS).
    name = os.environ.get("USER") or os.environ.get("LOGNAME")
    if name:
        return name
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or str(os.getuid())


def is_alive(pid: int, recorded_start: str | None) -> bool:
    """Whether process ``pid`` exists and is the one that was recorded."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if recorded_start is None:
        return True
    current = start_ticks(pid)
    if current is None:  # no /proc here: the pid check is all there is
        return True
    if current != recorded_start:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :].split()[:1] == ["Z"]
